"""``encode``, ``decode``, ``info`` and ``list``: thin wrappers over the library."""

from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

from neurocodec import container, media, registry, weights
from neurocodec.errors import NeurocodecError
from neurocodec.files import check_output, write_bytes
from neurocodec.modality import MODALITIES

_OUTPUT_SUFFIX = {"image": ".png", "audio": ".wav", "video": ".mp4"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="compress a media file into a .ncs file",
                       description="Compress an image, audio or video file into a .ncs file.",
                       epilog="examples:\n  neurocodec encode kodim01.png -o kodim01.ncs --quality 3\n"
                              "  neurocodec encode kodim01.png -o kodim01.ncs --quality 3 --effort 100\n"
                              "  neurocodec encode clip.mp4 -o clip.ncs --codec hnerv --bpp 0.02 --minutes 20\n"
                              "  neurocodec encode clip.mp4 -o clip.ncs --codec nerv++ --size 100000 --device cuda --preset quality\n"
                              "  neurocodec encode digits.npy -o digits.ncs --codec pc-lossless",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="image (png/jpg/webp...), audio (wav/flac/ogg/mp3) or video (mp4/mkv/264/y4m); "
                   "pc-lossless also takes a .npy stack of images [N, 28, 28] uint8 (one file for all)")
    p.add_argument("-o", "--output", help="output .ncs file (default: INPUT with .ncs suffix)")
    p.add_argument("--codec", help="codec name (default: the best installed codec for the input's modality)")
    p.add_argument("--quality", type=int, help="quality level; `neurocodec list` shows each codec's levels")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--device", choices=("cpu", "cuda"),
                   help="where the encoder's networks run (learned image and video INR codecs; decoding "
                        "needs no GPU); video INR default: cuda if available")
    learned = p.add_argument_group("learned image codecs (shallow-*, mbt2018-mean, bmshj2018-hyperprior)")
    learned.add_argument("--effort", type=int, metavar="STEPS",
                         help="iterative encoding: refine the latents for STEPS steps (measured: 6 %% fewer "
                              "bits at equal PSNR for shallow-jpeglike at 100 steps; slower encoding, same decoder)")
    inr = p.add_argument_group("video INR codecs (hnerv, nerv++)")
    inr.add_argument("--bpp", type=float, help="target bits per pixel (picks the model size; instead of --quality)")
    inr.add_argument("--size", type=int, help="target file size in bytes (picks the model size)")
    inr.add_argument("--minutes", type=float, help="fitting time budget in minutes (the schedule shrinks to fit it)")
    inr.add_argument("--preset", choices=("fast", "quality"),
                     help="fitting effort: fast (30 epochs, CPU default; measured 9-16 min for HNeRV, 28 for "
                          "NeRV++, on a 250-frame 640x272 clip, 2 cores) or quality (300 epochs, GPU default; "
                          "80-93 min for HNeRV at 0.005-0.01 bpp on 2 cores)")
    inr.add_argument("--epochs", type=int, help="epochs instead of the preset's (e.g. --epochs 100 --minutes 30: "
                                                "as many as 30 minutes allow)")
    inr.add_argument("--batch", type=int, help="frames per fitting step (default 1)")
    p.set_defaults(func=encode)

    p = sub.add_parser("decode", help="reconstruct a media file from a .ncs file",
                       description="Reconstruct media from a .ncs file; the output format follows its extension.",
                       epilog="examples:\n  neurocodec decode kodim01.ncs -o kodim01_hat.png\n"
                              "  neurocodec decode clip.ncs -o clip.y4m\n"
                              "  neurocodec decode clip.ncs -o part.mp4 --frames 10:20\n"
                              "  neurocodec decode clip.ncs -o frame42.png --frames 42",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help=".ncs file")
    p.add_argument("-o", "--output", help="output file: .png for images (.npy for a pc-lossless stack), .wav/.flac for "
                   "audio, .mp4/.mkv/.y4m for video")
    p.add_argument("--frames", help="video INR codecs: frames A:B (A included, B not) or one frame N (.png output allowed)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=decode)

    p = sub.add_parser("info", help="describe a .ncs file", description="Describe a .ncs file without decoding it.")
    p.add_argument("input", help=".ncs file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=info)

    p = sub.add_parser("list", help="list codecs and shipped weights", description="List codecs and shipped weights.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=list_codecs)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise NeurocodecError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NeurocodecError(f"{path} is a directory") from None
    except OSError as exc:
        raise NeurocodecError(f"cannot read {path}: {exc.strerror}") from None


def encode(args: argparse.Namespace) -> int:
    src = Path(args.input)
    if not src.is_file():
        raise NeurocodecError(f"{src}: no such file")
    out = check_output(args.output or src.with_suffix(".ncs"), (src,), args.force)
    name = args.codec or registry.default_codec(media.modality_of(src))
    options = {k: getattr(args, k) for k in _CODEC_OPTIONS if getattr(args, k) is not None}
    accepted = inspect.signature(registry.codec_class(name)).parameters
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise NeurocodecError(f"{name} takes no " + ", ".join(f"--{k}" for k in unknown)
                              + " (`neurocodec encode --help` says which codecs do)")
    if "progress" in accepted:
        options["progress"] = True
    codec = registry.load(name, quality=args.quality, **options)
    start = time.perf_counter()
    data = codec.encode_file(src)
    write_bytes(out, data)
    print(f"{out}: {len(data)} bytes, {name} quality {codec.quality}, {time.perf_counter() - start:.2f} s"
          + _rate_note(data))
    return 0


_CODEC_OPTIONS = ("effort", "device", "bpp", "size", "minutes", "preset", "epochs", "batch")  # passed only when given


def _frame_range(spec: str) -> range:
    """``A:B`` or ``N`` as a range of frame indexes."""
    try:
        if ":" in spec:
            start, stop = (int(v) for v in spec.split(":"))
            return range(start, stop)
        return range(int(spec), int(spec) + 1)
    except ValueError:
        raise NeurocodecError(f"--frames takes A:B or N, not {spec!r}") from None


def _rate_note(data: bytes) -> str:
    parsed = container.unpack(data)
    cls = registry.class_for_id(parsed.codec_id)
    if cls is None or cls.modality not in ("image", "features", "video"):
        return ""
    pixels = cls.coded_pixels(*MODALITIES[cls.modality].from_fields(parsed.fields))
    return f", {8 * len(data) / pixels:.4f} bpp"


def decode(args: argparse.Namespace) -> int:
    data = _read(args.input)
    codec = registry.codec_for(data)
    default = Path(args.input).with_suffix(_OUTPUT_SUFFIX.get(codec.modality, ".out"))
    out = check_output(args.output or default, (args.input,), args.force)
    options = {}
    if args.frames is not None:
        if "frames" not in inspect.signature(codec.decode_file).parameters:
            raise NeurocodecError(f"{codec.name} files cannot be decoded by frame range")
        options["frames"] = _frame_range(args.frames)
    start = time.perf_counter()
    codec.decode_file(data, out, **options)
    print(f"{out}: decoded with {codec.name} quality {codec.quality} in {time.perf_counter() - start:.2f} s")
    return 0


def describe(data: bytes) -> dict:
    """Header facts of a .ncs file (no decoding)."""
    parsed = container.unpack(data)
    facts: dict = {"size_bytes": len(data), "format_version": container.VERSION, "codec_id": parsed.codec_id,
                   "fingerprint": f"{parsed.fingerprint:04x}", "streams": [len(s) for s in parsed.streams],
                   "overhead_bytes": container.overhead(parsed), "fields": list(parsed.fields)}
    cls = registry.class_for_id(parsed.codec_id)
    if cls is None:
        facts["codec"] = "unknown (newer neurocodec or missing plugin)"
        return facts
    facts["codec"], facts["modality"] = cls.name, cls.modality
    meta, extra = MODALITIES[cls.modality].from_fields(parsed.fields)
    facts["meta"] = {k: v for k, v in vars(meta).items()}
    if cls.modality in ("image", "features"):
        facts["bpp"] = 8 * len(data) / cls.coded_pixels(meta, extra)
    try:
        codec = registry.codec_for(data)
        facts["quality"] = codec.quality
        facts["weights"] = "installed"
        facts.update(codec.describe(meta, extra))
    except NeurocodecError as exc:
        facts["weights"] = str(exc)
    return facts


def info(args: argparse.Namespace) -> int:
    facts = describe(_read(args.input))
    if args.json:
        print(json.dumps(facts, indent=1))
    else:
        for key, value in facts.items():
            print(f"{key:>15}: {value}")
    return 0


def list_codecs(args: argparse.Namespace) -> int:
    shipped = weights.manifest()
    rows = []
    for c in registry.available():
        entries = [e for e in shipped if e.codec == c.name]
        rows.append({"name": c.name, "id": c.codec_id, "modality": c.modality, "qualities": list(c.qualities),
                     "default_quality": c.default_quality, "description": c.description,
                     "weights": [{"quality": e.quality, "file": e.file, "sha256": e.sha256[:12], "data": e.data,
                                  "steps": e.steps, "device": e.device, "measured": e.measured} for e in entries]})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no codecs installed")
    for r in rows:
        q = ",".join(map(str, r["qualities"])) or "-"
        print(f"{r['name']:<22} id {r['id']:<3} {r['modality']:<9} qualities {q:<14} {r['description']}")
        files = {}  # one line per weights file, then its qualities' measurements
        for w in r["weights"]:
            files.setdefault((w["file"], w["sha256"], w["steps"], w["device"], w["data"]), []).append(w)
        for (file, sha, steps, device, data), entries in files.items():
            print(f"{'':<24}{file} (sha256 {sha}): {steps} steps on {device}; {data}")
            for w in entries:
                if w["measured"]:
                    print(f"{'':<26}q{w['quality']}: " + ", ".join(f"{k} {_short(v)}" for k, v in w["measured"].items()))
    return 0


def _short(value: object) -> str:
    """A measurement for people: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
