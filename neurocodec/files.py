"""Safe output files: written to a temporary name, renamed into place only on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import NeurocodecError


def check_output(output: str | Path, inputs: tuple[str | Path, ...] = (), force: bool = False) -> Path:
    """Refuse to write over an input, or over an existing file without ``force``."""
    out = Path(output)
    for src in inputs:
        if Path(src).exists() and out.exists() and out.resolve() == Path(src).resolve():
            raise NeurocodecError(f"refusing to write the output over the input {src}")
    if out.exists() and not force:
        raise NeurocodecError(f"{out} exists; use --force to overwrite it")
    if out.is_dir():
        raise NeurocodecError(f"{out} is a directory")
    if not out.parent.exists():
        raise NeurocodecError(f"folder {out.parent} does not exist")
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(output: str | Path) -> Iterator[Path]:
    """A temporary path beside ``output`` (same suffix); renamed to ``output`` if the block succeeds.

    The file gets the permissions a plain ``open(output, "w")`` would give (0o666 less the umask),
    not the owner-only ones of the temporary file."""
    out = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".part{out.suffix}", dir=out.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(output: str | Path, data: bytes) -> None:
    """Write ``data`` atomically."""
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)
