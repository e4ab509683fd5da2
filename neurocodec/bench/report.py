"""Plumbing shared by every bench: inputs, quality sweeps, the measuring loop and the result files.

A bench run measures rows (one per codec, quality and input file) and hands them to
`write_report`, which writes into the output folder:
- `<codec>.json` per codec, in CompressAI's results shape (`name`, `description`, `results`
  with one list per measured column, one entry per quality) plus a `machine` key;
- `summary.csv` (one row per codec and quality: means over the files) and `per_file.csv`;
- `rd.png`, the rate-distortion plot of every codec (a bar chart for lossless runs);
- `summary.txt`, the printed table with BD-rates against the anchor.
Existing result files are never overwritten unless the caller passes `force`.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import os
import platform
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurocodec.bench import bdrate
from neurocodec.bench.classical import BenchCodec
from neurocodec.errors import NeurocodecError
from neurocodec.files import write_bytes

SUMMARY_FILES = ("summary.csv", "per_file.csv", "rd.png", "summary.txt")


@dataclass(frozen=True)
class Metric:
    """A measured quality column, how to read it, and whether BD-rates are computed on it."""

    column: str
    label: str
    higher_is_better: bool = True
    transform: Callable[[float], float] | None = None  # applied for plots and BD-rates (e.g. MS-SSIM to dB)
    bd: bool = True


@dataclass(frozen=True)
class Layout:
    """What one kind of bench measures: its rate column, quality metrics, timings and their meaning."""

    modality: str
    rate: str
    rate_label: str
    metrics: tuple[Metric, ...]
    times: tuple[str, ...]
    description: str  # how the numbers are made; goes into every JSON description
    log_rate: bool = False
    extra: tuple[str, ...] = ()  # further summary columns for the JSON and the table


def list_inputs(paths: Sequence[str | Path], extensions: Iterable[str], limit: int | None = None) -> list[Path]:
    """Files named in `paths`, each folder expanded to its files with `extensions` (sorted), then the first `limit`."""
    extensions = {e.lower() for e in extensions}
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in extensions)
        elif path.is_file():
            files.append(path)
        else:
            raise NeurocodecError(f"no such file or folder: {path}")
    if not files:
        raise NeurocodecError(f"no input files ({', '.join(sorted(extensions))}) in {', '.join(map(str, paths))}")
    return files[:limit] if limit else files


def parse_qualities(specs: Sequence[str] | None, codecs: Sequence[BenchCodec]) -> dict[str, tuple[int, ...]]:
    """Quality sweep per codec: each codec's default, overridden by `specs`.

    A spec is `Q1,Q2,...` (every codec) or `NAME=Q1,Q2,...` (that codec); later specs win.
    """
    sweep = {codec.name: codec.qualities for codec in codecs}
    for spec in specs or ():
        name, _, values = spec.rpartition("=")
        targets = [name] if name else list(sweep)
        if name and name not in sweep:
            raise NeurocodecError(f"--qualities names {name!r}, which is not among the codecs being run")
        try:
            qualities = tuple(int(v) for v in values.split(",") if v.strip())
        except ValueError:
            raise NeurocodecError(f"--qualities takes integers like 10,50,90 or jpeg=10,50; got {spec!r}") from None
        if not qualities:
            raise NeurocodecError(f"--qualities {spec!r} lists no quality")
        for target in targets:
            sweep[target] = qualities
    return sweep


def prepare_out_dir(out: Path, codecs: Sequence[BenchCodec], force: bool) -> None:
    """Create `out`; refuse, unless `force`, when any file this run would write is already there."""
    existing = [p.name for p in _result_paths(out, codecs) if p.exists()]
    if existing and not force:
        raise NeurocodecError(f"{out} already holds results ({', '.join(existing)}); pass --force to overwrite them")
    out.mkdir(parents=True, exist_ok=True)


def _result_paths(out: Path, codecs: Sequence[BenchCodec]) -> list[Path]:
    return [out / f"{codec.name}.json" for codec in codecs] + [out / name for name in SUMMARY_FILES]


def sweep(
    codecs: Sequence[BenchCodec],
    qualities: dict[str, tuple[int, ...]],
    items: Sequence[tuple[str, Any]],
    measure: Callable[[Any, Any], dict[str, Any]],
    unit: str,
) -> list[dict[str, Any]]:
    """Measure every (codec, quality, item) with a progress bar; one row per measurement.

    `items` are (name, input) pairs; `measure(coder, input)` returns the row's measured columns,
    where `coder` is `codec.load(quality)`, loaded once per quality.
    """
    from tqdm import tqdm

    total = sum(len(qualities[c.name]) for c in codecs) * len(items)
    rows = []
    with tqdm(total=total, unit=unit, dynamic_ncols=True, file=sys.stderr) as bar:
        for codec in codecs:
            for quality in qualities[codec.name]:
                bar.set_description(f"{codec.name} q={quality}")
                coder = codec.load(quality)
                for name, item in items:
                    rows.append({"codec": codec.name, "quality": quality, "file": name, **measure(coder, item)})
                    bar.update()
    return rows


def summarize(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (codec, quality), in first-seen order: the file count and the mean of each column."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["codec"], row["quality"]), []).append(row)
    return [
        {"codec": codec, "quality": quality, "files": len(group)}
        | {c: float(np.mean([r[c] for r in group], dtype=np.float64)) for c in columns}
        for (codec, quality), group in groups.items()
    ]


def write_report(
    out: Path,
    layout: Layout,
    codecs: Sequence[BenchCodec],
    rows: Sequence[dict[str, Any]],
    summary: Sequence[dict[str, Any]],
    anchor: str | None,
) -> str:
    """Write every result file for a finished run into `out` and return the summary table."""
    machine = machine_info()
    columns = ["quality", layout.rate, *(m.column for m in layout.metrics), *layout.extra, *layout.times]
    for codec in codecs:
        points = [s for s in summary if s["codec"] == codec.name]
        results = {c: [_json_number(p[c]) for p in points] for c in columns}
        document = {
            "name": codec.name,
            "description": f"{codec.description}. {layout.description}",
            "results": results,
            "machine": machine,
        }
        _write_text(out / f"{codec.name}.json", _dumps(document))
    _write_text(out / "summary.csv", _csv(summary))
    _write_text(out / "per_file.csv", _csv(rows))
    curves = {c.name: [s for s in summary if s["codec"] == c.name] for c in codecs}
    write_bytes(out / "rd.png", _plot(layout, curves))
    table = _table(layout, curves, anchor)
    _write_text(out / "summary.txt", table + "\n")
    return table


def machine_info() -> dict[str, Any]:
    """Facts that decide timings and codec versions: CPU, threads, library versions, date (UTC)."""
    import av
    import PIL
    import torch
    from PIL import features

    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "pillow": PIL.__version__,
        "pillow_codecs": {f: features.version(f) for f in ("jpg", "webp", "avif", "jpg_2000", "zlib")},
        "av": av.__version__,
        "ffmpeg_libs": {name: ".".join(map(str, v)) for name, v in av.library_versions.items()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _curve(points: Sequence[dict[str, Any]], layout: Layout, metric: Metric) -> tuple[list[float], list[float]]:
    """(rate, quality) of one codec, with the metric's transform applied."""
    f = metric.transform or (lambda v: v)
    return [p[layout.rate] for p in points], [f(p[metric.column]) for p in points]


def _table(layout: Layout, curves: dict[str, list[dict[str, Any]]], anchor: str | None) -> str:
    """One line per codec: points, rate range, mean times, BD-rates vs the anchor on each BD metric."""
    bd_metrics = [m for m in layout.metrics if m.bd] if anchor in curves else []
    head = ["codec", "points", f"{layout.rate} range", *layout.extra, *layout.times]
    head += [f"BD-rate {m.label} (%)" for m in bd_metrics]
    lines = [head]
    for name, points in curves.items():
        rates = [p[layout.rate] for p in points]
        line = [name, str(len(points)), _range(rates)]
        line += [_range([p[c] for p in points]) for c in layout.extra]
        line += [f"{np.mean([p[t] for p in points]):.4g}" for t in layout.times]
        for m in bd_metrics:
            value = bdrate.bd_rate(*_curve(curves[anchor], layout, m), *_curve(points, layout, m), m.higher_is_better)
            line.append("anchor" if name == anchor else "n/a" if math.isnan(value) else f"{value:+.2f}")
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines)
    if bd_metrics:
        text += (f"\nBD-rate vs {anchor}: {bdrate.METHOD} interpolation (bjontegaard package); negative = fewer bits;"
                 " n/a = fewer than two usable points or no overlap.")
    elif anchor:
        text += f"\nNo BD-rates: the anchor {anchor!r} is not among the codecs run."
    return text


def _range(values: Sequence[float | bool]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "yes" if all(values) else "no"
    low, high = min(values), max(values)
    return f"{low:.4g}" if low == high else f"{low:.4g}-{high:.4g}"


def _plot(layout: Layout, curves: dict[str, list[dict[str, Any]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(layout.metrics)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(6 * max(len(panels), 1), 4.5), squeeze=False)
    if not panels:  # lossless: one bar per codec and quality
        labels = [f"{p['codec']}" + (f" q{p['quality']}" if len(pts) > 1 else "") for pts in curves.values() for p in pts]
        axes[0, 0].bar(labels, [p[layout.rate] for pts in curves.values() for p in pts])
        axes[0, 0].set_ylabel(layout.rate_label)
        axes[0, 0].tick_params(axis="x", rotation=30)
    for ax, metric in zip(axes[0], panels):
        for name, points in curves.items():
            x, y = _curve(points, layout, metric)
            ax.plot(x, y, marker="o", markersize=3, label=name)
        ax.set_xlabel(layout.rate_label)
        ax.set_ylabel(metric.label)
        if layout.log_rate:
            ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"neurocodec bench {layout.modality}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return buffer.getvalue()


def _json_number(value: Any) -> Any:
    """Floats as JSON allows them: NaN and infinities become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _dumps(document: dict[str, Any]) -> str:
    import json

    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())
