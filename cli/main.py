"""The ``neurocodec`` command: argument parsing and printing only, over the library.

Subcommands come from the modules of this package that define ``add_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from neurocodec import __version__
from neurocodec.errors import NeurocodecError

EPILOG = """examples:
  neurocodec encode photo.png -o photo.ncs            default image codec and quality
  neurocodec encode photo.png -o photo.ncs --codec shallow-jpeglike --quality 2
  neurocodec decode photo.ncs -o photo_hat.png
  neurocodec info photo.ncs
  neurocodec list
  neurocodec bench entropy --symbols 1000000
exit status: 0 success, 2 bad input or undecodable file (one line on stderr), 1 internal error."""

ORDER = ("encode", "decode", "info", "list", "classify", "bench", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurocodec", description="Learned compression for images, audio and video.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"neurocodec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    package = sys.modules[__package__]
    modules = [importlib.import_module(m.name) for m in pkgutil.iter_modules(package.__path__, __package__ + ".")]
    for module in modules:
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
    # Show commands in a sensible order rather than by module name.
    rank = {name: i for i, name in enumerate(ORDER)}
    sub._choices_actions.sort(key=lambda a: rank.get(a.dest, len(ORDER)))
    return parser


def main(argv: list[str] | None = None) -> int:
    # compressai's import triggers torch's deprecation notice for torch.jit.script: not the user's concern.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NeurocodecError as exc:
        print(f"neurocodec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurocodec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
