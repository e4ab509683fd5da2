"""``neurocodec bench entropy``: the entropy core against the ideal code length and raw constriction.

For each model kind, on the same random symbols (default 10^6):
- coded size vs the ideal -sum log2 p under the model the coder uses (target <= 0.1 % + 64 bits);
- encode/decode throughput vs calling constriction directly on the same symbols and parameters
  (target >= 0.8x), with the same coder. "Raw" means constriction's own parametric model where
  one exists (per-symbol QuantizedGaussian/QuantizedLaplace on the signed symbols); otherwise
  constriction's Categorical on the same tables, fed the same signed, channel-major symbols, so
  it slices each channel and subtracts its offset, the least code a direct caller must write.
Times are the best of ``--repeat`` runs; model/table construction is timed separately.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import constriction
import numpy as np

from neurocodec.entropy import TOTAL, Decoder, Encoder, PerSymbolCategorical, TableModel, quantize_pmf, scale_table

_cm = constriction.stream.model
SIZE_TARGET = (0.001, 64)  # relative, absolute bits
SPEED_TARGET = 0.8


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _raw(ops: list[tuple], coder: str) -> tuple[Callable, Callable]:
    """Encode/decode closures calling constriction directly on (symbols, model, *params)."""
    stack = coder == "ans"

    def encode():
        enc = constriction.stream.stack.AnsCoder() if stack else constriction.stream.queue.RangeEncoder()
        for symbols, shift, model, *params in (reversed(ops) if stack else ops):
            (enc.encode_reverse if stack else enc.encode)(symbols - shift if shift else symbols, model, *params)
        return enc.get_compressed()

    def decode(words):
        dec = constriction.stream.stack.AnsCoder(words) if stack else constriction.stream.queue.RangeDecoder(words)
        return [dec.decode(model, *(params or [symbols.size])) + shift for symbols, shift, model, *params in ops]

    return encode, decode


def _cases(n: int, rng: np.random.Generator) -> dict[str, dict]:
    """Symbols, our model and indexes, and the equivalent raw constriction calls, per model kind."""
    scales = scale_table()
    idx = rng.integers(0, 48, n).astype(np.int32)  # scales 0.11 .. ~35
    cases = {}
    for family, sampler, raw in (("gaussian", rng.normal, _cm.QuantizedGaussian),
                                 ("laplace", rng.laplace, _cm.QuantizedLaplace)):
        symbols = np.round(sampler(0.0, scales[idx])).astype(np.int32)
        bound = int(np.abs(symbols).max()) + 1
        cases[family] = dict(symbols=symbols, model=getattr(TableModel, family)(), indexes=idx,
                             raw=[(symbols, 0, raw(-bound, bound), np.zeros(n), scales[idx])])
    # A learned factorized prior: one table per channel, symbols channel-major as in a latent tensor.
    channels = 192
    pmfs = [rng.dirichlet(np.ones(33) * 0.5) for _ in range(channels)]
    chan = np.repeat(np.arange(channels), -(-n // channels))[:n].astype(np.int32)
    offsets = rng.integers(-20, -12, channels)
    symbols = np.concatenate([rng.choice(33, size=int((chan == c).sum()), p=p) + offsets[c]
                              for c, p in enumerate(pmfs)]).astype(np.int32)
    factorized = TableModel([quantize_pmf(p) for p in pmfs], offsets)
    raw_models = [_cm.Categorical(t / TOTAL, perfect=False) for t in factorized.tables]
    bounds = np.searchsorted(chan, np.arange(channels + 1))
    cases["factorized"] = dict(symbols=symbols, model=factorized, indexes=chan,
                               raw=[(symbols[bounds[c]:bounds[c + 1]], np.int32(offsets[c]), raw_models[c])
                                    for c in range(channels)])
    probs = rng.dirichlet(np.ones(256) * 0.3)
    symbols = rng.choice(256, size=n, p=probs).astype(np.int32)
    fixed = TableModel.categorical(probs)
    cases["categorical"] = dict(symbols=symbols, model=fixed, indexes=None,
                                raw=[(symbols, 0, _cm.Categorical(fixed.tables[0] / TOTAL, perfect=False))])
    m = max(n // 10, 1)  # per-symbol rows are 256 floats each: a tenth of the symbols
    rows = rng.dirichlet(np.ones(256) * 0.3, size=m)
    freqs = np.stack([quantize_pmf(r[:-1], r[-1]) for r in rows])
    u = rng.integers(0, TOTAL, size=m)[:, None]
    symbols = (np.cumsum(freqs, axis=1) <= u).sum(axis=1).astype(np.int32)  # exact inverse-CDF sampling
    per_symbol = PerSymbolCategorical(freqs)
    cases["per-symbol categorical"] = dict(symbols=symbols, model=per_symbol, indexes=None,
                                           raw=[(symbols, 0, _cm.Categorical(perfect=False), per_symbol.probabilities)])
    return cases


def run(n: int = 1_000_000, repeat: int = 3, seed: int = 0) -> list[dict]:
    """Measure every model kind with both coders; returns one row per (model, coder)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, case in _cases(n, rng).items():
        symbols, model, indexes = case["symbols"], case["model"], case["indexes"]
        build = time.perf_counter()
        if isinstance(model, TableModel):
            model.coder_models  # noqa: B018 - build and cache the constriction tables once
        build = time.perf_counter() - build
        ideal = model.information(symbols) if indexes is None else model.information(symbols, indexes)
        for coder in ("ans", "range"):
            raw_encode, raw_decode = _raw(case["raw"], coder)
            raw_enc_t, words = _best(raw_encode, repeat)
            raw_dec_t, _ = _best(lambda: raw_decode(words), repeat)
            def encode():
                enc = Encoder(coder)
                enc.encode(symbols, model, indexes)
                return enc.finish()

            def decode():
                dec = Decoder(data, coder)
                return dec.decode(model) if indexes is None and not isinstance(model, TableModel) else \
                    dec.decode(model, indexes, count=symbols.size)

            enc_t, data = _best(encode, repeat)
            dec_t, out = _best(decode, repeat)
            assert np.array_equal(out, symbols), f"{name}/{coder} did not round-trip"
            bits = 8 * len(data)
            row = {"model": name, "coder": coder, "symbols": int(symbols.size), "ideal_bits": ideal,
                   "coded_bits": bits, "overhead_percent": 100 * (bits - ideal) / ideal,
                   "size_target_met": bits <= ideal * (1 + SIZE_TARGET[0]) + SIZE_TARGET[1],
                   "encode_symbols_per_s": symbols.size / enc_t, "decode_symbols_per_s": symbols.size / dec_t,
                   "raw_constriction_bits": int(32 * words.size),
                   "raw_encode_symbols_per_s": symbols.size / raw_enc_t, "raw_decode_symbols_per_s": symbols.size / raw_dec_t,
                   "encode_vs_raw": raw_enc_t / enc_t, "decode_vs_raw": raw_dec_t / dec_t, "table_build_s": build}
            row["speed_target_met"] = min(row["encode_vs_raw"], row["decode_vs_raw"]) >= SPEED_TARGET
            rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    head = (f"{'model':<24}{'coder':<7}{'symbols':>9}{'over ideal':>12}{'size':>6}"
            f"{'enc Msym/s':>12}{'raw':>7}{'ratio':>7}{'dec Msym/s':>12}{'raw':>7}{'ratio':>7}{'speed':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<24}{r['coder']:<7}{r['symbols']:>9}{r['overhead_percent']:>11.4f}%"
                     f"{'ok' if r['size_target_met'] else 'MISS':>6}"
                     f"{r['encode_symbols_per_s'] / 1e6:>12.2f}{r['raw_encode_symbols_per_s'] / 1e6:>7.2f}{r['encode_vs_raw']:>7.2f}"
                     f"{r['decode_symbols_per_s'] / 1e6:>12.2f}{r['raw_decode_symbols_per_s'] / 1e6:>7.2f}{r['decode_vs_raw']:>7.2f}"
                     f"{'ok' if r['speed_target_met'] else 'MISS':>7}")
    lines.append(f"targets: size <= ideal * {1 + SIZE_TARGET[0]} + {SIZE_TARGET[1]} bits; "
                 f"throughput >= {SPEED_TARGET}x raw constriction (same coder) on the same symbols and parameters")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", type=int, default=1_000_000, help="symbols per model (default 10^6)")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats, best kept (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="also save the measurements as JSON")


def main(args: argparse.Namespace) -> int:
    rows = run(args.symbols, args.repeat, args.seed)
    print(format_table(rows))
    if args.json:
        from neurocodec.bench.report import machine_info
        from neurocodec.files import write_bytes

        write_bytes(args.json, json.dumps({"machine": machine_info(), "rows": rows}, indent=1).encode())
        print(f"saved {args.json}")
    return 0
