"""Shipped weights: safetensors files under ``data/weights/`` and their manifest.

Loading never executes code (safetensors, no pickle), and every file is checked against the
SHA-256 recorded in the manifest. A file's *fingerprint* identifies the decoder setting, the
weights and the quality: 16 bits of SHA-256(weights hash, quality). It is written into every
``.ncs`` file, so decoding with other weights fails clearly, and a variable-rate model (one
weights file, many qualities) needs no extra header field for its quality.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from .errors import NeurocodecError

MANIFEST = "manifest.json"


def weights_dir() -> Path:
    """Folder of the shipped weights (inside the installed package)."""
    return Path(str(resources.files("neurocodec.data").joinpath("weights")))


@dataclass(frozen=True)
class WeightsEntry:
    """One manifest row: which file holds which codec at which quality, and how it was made."""

    codec: str
    quality: int | None
    file: str
    sha256: str
    data: str = ""
    steps: int = 0
    device: str = ""
    measured: dict = field(default_factory=dict)  # on its benchmark set: Kodak bpp/psnr for image codecs
    notes: str = ""

    @property
    def fingerprint(self) -> int:
        return fingerprint(self.sha256, self.quality)

    @property
    def path(self) -> Path:
        return weights_dir() / self.file


def fingerprint(sha256_hex: str, quality: int | None) -> int:
    """16-bit fingerprint of (weights file, quality), never 0 (0 marks codecs without weights)."""
    digest = hashlib.sha256(f"{sha256_hex}:{quality}".encode()).digest()
    return int.from_bytes(digest[:2], "big") or 1


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(folder: Path | None = None) -> list[WeightsEntry]:
    """All manifest entries (empty when no weights are shipped)."""
    path = (folder or weights_dir()) / MANIFEST
    if not path.is_file():
        return []
    return [WeightsEntry(**row) for row in json.loads(path.read_text())["weights"]]


def find(codec: str, quality: int | None) -> WeightsEntry:
    for entry in manifest():
        if entry.codec == codec and entry.quality == quality:
            return entry
    shipped = sorted({e.quality for e in manifest() if e.codec == codec and e.quality is not None})
    hint = (f"shipped qualities: {', '.join(map(str, shipped))}" if shipped else
            f"none are shipped yet: train them with `neurocodec train {codec} --data DIR`")
    raise NeurocodecError(f"no shipped weights for {codec} at quality {quality} ({hint})")


def load_state(path: str | Path, expected_sha256: str | None = None) -> dict:
    """Tensors of a safetensors file, after checking its hash when one is expected."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise NeurocodecError(f"weights file not found: {path}")
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise NeurocodecError(f"weights file {path.name} does not match its manifest hash")
    return load_file(str(path))


def record(entry: WeightsEntry, folder: Path | None = None) -> None:
    """Add or replace ``entry`` (same codec and quality) in the manifest, keeping it sorted."""
    folder = folder or weights_dir()
    rows = [e for e in manifest(folder) if (e.codec, e.quality) != (entry.codec, entry.quality)]
    rows.append(entry)
    rows.sort(key=lambda e: (e.codec, -1 if e.quality is None else e.quality))
    text = json.dumps({"weights": [asdict(e) for e in rows]}, indent=1)
    (folder / MANIFEST).write_text(text + "\n")
