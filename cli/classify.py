"""``neurocodec classify FILE.ncs``: the server half of split compression (``entropic-student``)."""

from __future__ import annotations

import argparse
import json

from .coding import _read


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="top ImageNet classes of an entropic-student file",
                       description="Finish the classifier on the features of an entropic-student .ncs file and "
                                   "print the top classes, best first: index, WordNet id, name, probability.")
    p.add_argument("input", help=".ncs file written with --codec entropic-student")
    p.add_argument("--top", type=int, default=5, metavar="K", help="how many classes (default 5)")
    p.add_argument("--weights", help="a weights file other than the shipped one")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neurocodec.codecs.student.codec import classify

    predictions = classify(_read(args.input), args.top, args.weights)
    if args.json:
        print(json.dumps([p._asdict() for p in predictions], indent=1))
    else:
        for p in predictions:
            print(f"{p.index}\t{p.wnid}\t{p.name}\t{p.prob:.4f}")
    return 0
