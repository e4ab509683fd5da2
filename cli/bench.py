"""``bench``: rate-distortion benchmarks of classical and learned codecs on the same files.

Argument parsing and printing only; the measuring lives in :mod:`neurocodec.bench`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from pathlib import Path

EXAMPLES = """examples:
  neurocodec bench image --data ../shared/datasets/kodak --out results/classical_kodak
  neurocodec bench image --codecs jpeg,webp,mbt2018-mean --data kodak/ --out runs/k --limit 4
  neurocodec bench image --codecs jpeg,avif --qualities jpeg=10,50,90 --qualities avif=20,60 --data kodak/ --out runs/q
  neurocodec bench lossless --codecs png,jxl-lossless,pc-lossless --qualities pc-lossless=1 \
      --data ../shared/datasets/mnist/t10k-images-idx3-ubyte.gz --limit 1000 --out runs/mnist
  neurocodec bench video --codecs x264,x265,svtav1 --data bikes.mp4 foreman_cif_intra.264 --frames 60 --out runs/v
  neurocodec bench audio --data ../shared/datasets/audio/speech --out runs/speech
Every run writes <codec>.json (CompressAI results shape), summary.csv, per_file.csv, rd.png and
summary.txt into --out, and refuses to overwrite existing results without --force."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="rate-distortion benchmarks against classical codecs",
        description="Measure classical codecs (JPEG, WebP, AVIF, JPEG 2000, x264, x265, SVT-AV1, Opus, FLAC...) "
                    "and learned codecs from the registry on the same files, in one run.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench_command", metavar="KIND", required=True)
    _add_image(sub)
    _add_lossless(sub)
    _add_video(sub)
    _add_audio(sub)
    _add_entropy(sub)


def _common(sub: argparse._SubParsersAction, name: str, help: str, codecs_help: str,
            data_help: str) -> argparse.ArgumentParser:
    """A bench subcommand with the arguments every kind shares."""
    parser = sub.add_parser(name, help=help, description=help, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codecs", help=f"comma-separated codec names: {codecs_help}; any other name is looked up "
                                         "in the learned-codec registry (default: every classical codec available)")
    parser.add_argument("--data", nargs="+", required=True, metavar="PATH", help=data_help)
    parser.add_argument("--out", required=True, type=Path, help="folder for the result files (created if needed)")
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="use only the first N inputs")
    parser.add_argument("--force", action="store_true", help="overwrite result files already in --out")
    parser.add_argument("--qualities", action="append", metavar="[CODEC=]Q1,Q2,...",
                        help="override the quality sweep, for every codec or (CODEC=...) for one; repeatable")
    return parser


def _add_image(sub: argparse._SubParsersAction) -> None:
    from neurocodec.bench import image
    from neurocodec.bench.classical import IMAGE_CODECS

    parser = _common(sub, "image", "lossy image bench: bpp, PSNR and MS-SSIM on RGB, BD-rates",
                     ", ".join(IMAGE_CODECS), "image files or folders of them (png, jpg, ...), or .npz files")
    parser.add_argument("--anchor", default="jpeg", help="codec the BD-rates are measured against (default: jpeg)")
    parser.set_defaults(func=lambda a: _print(image.run(a.codecs, a.data, a.out, qualities=a.qualities, limit=a.limit,
                                                        anchor=a.anchor, force=a.force)))


def _add_lossless(sub: argparse._SubParsersAction) -> None:
    from neurocodec.bench import image
    from neurocodec.bench.classical import LOSSLESS_CODECS

    parser = _common(sub, "lossless", "lossless image bench: bits per dimension per file and for the whole set",
                     ", ".join(LOSSLESS_CODECS), "image files, folders, .npz (array x) or IDX files (*-ubyte[.gz])")
    parser.set_defaults(func=lambda a: _print(image.run_lossless(a.codecs, a.data, a.out, qualities=a.qualities,
                                                                 limit=a.limit, force=a.force)))


def _add_video(sub: argparse._SubParsersAction) -> None:
    from neurocodec.bench import video

    parser = _common(sub, "video", "video bench: bpp, PSNR-Y and PSNR-RGB, encode/decode fps (CRF sweeps)",
                     ", ".join(video.VIDEO_CODECS), "video files (mp4, mkv, raw .264/.265, y4m, ...) or folders")
    parser.add_argument("--frames", type=_positive_int, metavar="N", help="use only the first N frames of each clip")
    parser.add_argument("--scale", type=float, metavar="S", help="downscale frames by S in (0, 1], e.g. 0.5")
    parser.add_argument("--anchor", default="x264", help="codec the BD-rates are measured against (default: x264)")
    parser.set_defaults(func=lambda a: _print(video.run(a.codecs, a.data, a.out, qualities=a.qualities, limit=a.limit,
                                                        frames=a.frames, scale=a.scale, anchor=a.anchor,
                                                        force=a.force)))


def _add_audio(sub: argparse._SubParsersAction) -> None:
    from neurocodec.bench import audio

    parser = _common(sub, "audio", "audio bench: kbit/s, SNR, log-spectral distance, PESQ/STOI for speech",
                     ", ".join(audio.AUDIO_CODECS), "audio files (wav, flac, ogg, mp3, ...) or folders")
    parser.add_argument("--seconds", type=float, metavar="S", help="use only the first S seconds of each file")
    parser.add_argument("--anchor", default="opus", help="codec the BD-rates are measured against (default: opus)")
    parser.set_defaults(func=lambda a: _print(audio.run(a.codecs, a.data, a.out, qualities=a.qualities, limit=a.limit,
                                                        seconds=a.seconds, anchor=a.anchor, force=a.force)))


def _add_entropy(sub: argparse._SubParsersAction) -> None:
    """`bench entropy`, from neurocodec.bench.entropy (its add_arguments(parser) and main(args)) once it exists."""
    if importlib.util.find_spec("neurocodec.bench.entropy") is None:
        return
    entropy = importlib.import_module("neurocodec.bench.entropy")
    parser = sub.add_parser("entropy", help="entropy coder benchmark")
    entropy.add_arguments(parser)
    parser.set_defaults(func=entropy.main)


def _print(table: str) -> int:
    print(table)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
