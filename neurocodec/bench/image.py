"""Image benches: lossy rate-distortion (bpp, PSNR, MS-SSIM) and lossless (bits per dimension).

Inputs: image files (read by `neurocodec.media.read_image`: 8-bit RGB or grayscale), or whole
sets of uint8 images in one file: `.npz` (array `x`, [N, H, W] or [N, H, W, 3]) and IDX files
(`*-ubyte`, `*-ubyte.gz`, the MNIST format), which must be named directly.

Exact: bpp = 8 * encoded bytes / (H * W) per image, bits per dimension = 8 * bytes / (H * W * C)
per image, and for the whole set 8 * total bytes / total dimensions. PSNR and MS-SSIM: see
`metrics`. Lossy results are means over images (PSNR: mean of per-image PSNR, the field's
convention, not the PSNR of the mean error). Times are wall-clock seconds per image in this
process, including the conversion to and from the codec's image type.
"""

from __future__ import annotations

import gzip
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurocodec.bench.classical import IMAGE_CODECS, LOSSLESS_CODECS, Coder, resolve
from neurocodec.bench.metrics import bits_per_dim, bpp, ms_ssim, ms_ssim_db, psnr
from neurocodec.bench.report import Layout, Metric, list_inputs, parse_qualities, prepare_out_dir, summarize, sweep, write_report
from neurocodec.errors import NeurocodecError
from neurocodec.media import IMAGE_EXTENSIONS, read_image

TIMES = ("encoding_time", "decoding_time")

LOSSY = Layout(
    modality="image",
    rate="bpp",
    rate_label="bits per pixel",
    metrics=(Metric("psnr-rgb", "PSNR RGB (dB)"), Metric("ms-ssim-rgb", "MS-SSIM RGB (dB)", transform=ms_ssim_db)),
    times=TIMES,
    description=(
        "Image bench: bpp = 8 * encoded file bytes / (H * W); psnr-rgb = mean over images of per-image PSNR "
        "on all RGB samples (the field's convention, as CompressAI); ms-ssim-rgb = mean over images of "
        "pytorch-msssim MS-SSIM on float RGB, data_range 255 (plots and BD-rates use -10 log10(1 - MS-SSIM)); "
        "bpp is a mean over images too; times are mean wall-clock seconds per image"
    ),
)
LOSSLESS = Layout(
    modality="lossless-image",
    rate="bpd",
    rate_label="bits per dimension (whole set)",
    metrics=(),
    times=TIMES,
    extra=("bpd-mean", "exact"),
    description=(
        "Lossless image bench: bpd = 8 * total encoded bytes / total dimensions (H * W * C) of the whole "
        "set; bpd-mean = mean over images of per-image bpd; exact = every image decoded bit exactly; "
        "times are mean wall-clock seconds per image"
    ),
)


def load_images(paths: Sequence[str | Path], limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 array) of every image in `paths`, the first `limit` only."""
    images: list[tuple[str, np.ndarray]] = []
    for path in list_inputs(paths, (*IMAGE_EXTENSIONS, ".npz")):
        images += _read(path)
        if limit and len(images) >= limit:
            break
    return images[:limit] if limit else images


def _read(path: Path) -> list[tuple[str, np.ndarray]]:
    name = path.name.lower()
    if name.endswith((".npz", "-ubyte", "-ubyte.gz")):
        array = _read_npz(path) if name.endswith(".npz") else _read_idx(path)
        if array.dtype != np.uint8 or array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[-1] != 3):
            raise NeurocodecError(f"{path}: expected uint8 images [N, H, W] or [N, H, W, 3], got {array.dtype} {array.shape}")
        return [(f"{path.name}[{i}]", image) for i, image in enumerate(array)]
    return [(path.name, read_image(path))]


def _read_npz(path: Path) -> np.ndarray:
    with np.load(path) as archive:
        if "x" not in archive:
            raise NeurocodecError(f"{path}: no array named 'x' (it has {', '.join(archive.files)})")
        return archive["x"]


def _read_idx(path: Path) -> np.ndarray:
    """An IDX array (the MNIST format): 0, 0, type 0x08 (uint8), rank, big-endian uint32 sizes, data."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(raw) < 4 or raw[:3] != b"\0\0\x08":
        raise NeurocodecError(f"{path}: not a uint8 IDX file")
    rank = raw[3]
    shape = struct.unpack(f">{rank}I", raw[4 : 4 + 4 * rank])
    if len(raw) != 4 + 4 * rank + int(np.prod(shape)):
        raise NeurocodecError(f"{path}: IDX size does not match its header {shape}")
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(shape)


def _code(coder: Coder, image: np.ndarray) -> tuple[bytes, np.ndarray, float, float]:
    """Encode and decode one image: (data, decoded in the input's layout, encode s, decode s)."""
    start = time.perf_counter()
    data = coder.encode(image)
    middle = time.perf_counter()
    decoded = np.asarray(coder.decode(data))
    end = time.perf_counter()
    if image.ndim == 2 and decoded.shape == (*image.shape, 3):  # codecs without a grayscale mode (WebP, AVIF)
        from PIL import Image

        decoded = np.asarray(Image.fromarray(decoded).convert("L"))
    if decoded.shape != image.shape or decoded.dtype != np.uint8:
        raise NeurocodecError(f"decoded image is {decoded.dtype} {decoded.shape}, the input uint8 {image.shape}")
    return data, decoded, middle - start, end - middle


def _measure_lossy(coder: Coder, image: np.ndarray) -> dict[str, Any]:
    data, decoded, encode_seconds, decode_seconds = _code(coder, image)
    return {
        "bytes": len(data),
        "bpp": bpp(len(data), *image.shape[:2]),
        "psnr-rgb": psnr(image, decoded),
        "ms-ssim-rgb": ms_ssim(image, decoded),
        "encoding_time": encode_seconds,
        "decoding_time": decode_seconds,
    }


def _measure_lossless(coder: Coder, image: np.ndarray) -> dict[str, Any]:
    data, decoded, encode_seconds, decode_seconds = _code(coder, image)
    return {
        "bytes": len(data),
        "dims": image.size,
        "bpd": bits_per_dim(len(data), image.size),
        "exact": bool(np.array_equal(decoded, image)),
        "encoding_time": encode_seconds,
        "decoding_time": decode_seconds,
    }


def run(
    codecs: str | None,
    data: Sequence[str | Path],
    out: Path,
    qualities: Sequence[str] | None = None,
    limit: int | None = None,
    anchor: str | None = "jpeg",
    force: bool = False,
) -> str:
    """Run the lossy image bench over `data`, write the results into `out`; return the table."""
    selected = resolve(codecs, IMAGE_CODECS, ("image",))
    sweep_qualities = parse_qualities(qualities, selected)
    images = load_images(data, limit)
    prepare_out_dir(out, selected, force)
    rows = sweep(selected, sweep_qualities, images, _measure_lossy, unit="img")
    summary = summarize(rows, ["bpp", "psnr-rgb", "ms-ssim-rgb", *TIMES])
    return write_report(out, LOSSY, selected, rows, summary, anchor)


def run_lossless(
    codecs: str | None,
    data: Sequence[str | Path],
    out: Path,
    qualities: Sequence[str] | None = None,
    limit: int | None = None,
    force: bool = False,
) -> str:
    """Run the lossless image bench over `data`, write the results into `out`; return the table.

    Learned codecs of modality "lossless-image" or "image" are accepted: exactness is measured,
    and a codec that does not give back every image exactly is named in a warning under the table.
    """
    selected = resolve(codecs, LOSSLESS_CODECS, ("lossless-image", "image"))
    sweep_qualities = parse_qualities(qualities, selected)
    images = load_images(data, limit)
    prepare_out_dir(out, selected, force)
    rows = sweep(selected, sweep_qualities, images, _measure_lossless, unit="img")
    summary = summarize(rows, ["bpd", *TIMES])
    for point in summary:
        group = [r for r in rows if (r["codec"], r["quality"]) == (point["codec"], point["quality"])]
        point["bpd-mean"] = point["bpd"]
        point["bpd"] = bits_per_dim(sum(r["bytes"] for r in group), sum(r["dims"] for r in group))
        point["exact"] = all(r["exact"] for r in group)
    table = write_report(out, LOSSLESS, selected, rows, summary, anchor=None)
    inexact = sorted({r["codec"] for r in rows if not r["exact"]})
    return table + "".join(f"\nWARNING: {name} did not decode every image exactly" for name in inexact)
