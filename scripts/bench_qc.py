"""Speed of the data checks (seqnn.qc): exact + reverse-complement duplicates and the
near-duplicate search on N sequences of L bp, and the composition baseline on N rows.

The target (issue 33) is 1M sequences of 1 kb, each step <= 5 minutes on 2 CPU cores. On a
shared machine run it smaller and read the extrapolated figure (``--rows 100000``: each
step's cost grows linearly with the rows, the sorts as n log n, which the extrapolation
leaves out: it is a floor at 10x, not a promise). The data: random sequences (GC 0.5) with
1% exact copies, 1% reverse complements and 1% copies with 2% of their bases substituted,
split 80 / 10 / 10.

Output: one JSON line per figure, the median of ``--repeats`` runs:
``{"bench": "qc_exact_s", "value": X, "unit": "s", "rows": N, "length": L,
"extrapolated_1m": Y, "cpu_s": C, "cpu_extrapolated_1m": Z, "loadavg": A}``: wall seconds,
and the CPU seconds of the process (all its threads; on a crowded machine, whose load
average says how crowded, the wall figure is the other jobs' as much as ours). Likewise
``qc_near_s``, ``qc_baseline_s`` (cross-validated on every training row: ``max_rows=None``),
``qc_baseline_sampled_s`` (the default ``max_rows=200000``), ``qc_features_s``; and
``qc_near_found``: near copies found across splits, beside those planted across splits (a
recall check); ``qc_peak_rss_gib``: the process's peak resident memory.

Memory grows linearly with ``--rows``: the codes (L bytes a row), the near-duplicate index
(272 bytes a row) and the baseline's features (344 float32 a training row, held twice while
a fold is fitted); ``--rows 1000000`` (1 kb) peaks near 4-5 GiB.

Usage: python scripts/bench_qc.py [--rows 100000] [--length 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

import numpy as np

from seqnn.data.encoding import reverse_complement_codes
from seqnn.qc.composition import baseline_report, features_of
from seqnn.qc.duplicates import exact_leaks, hash_rows, near_leaks
from seqnn.qc.sources import QCData

TARGET_ROWS = 1_000_000


def simulated(n: int, length: int, seed: int = 0) -> tuple[QCData, int]:
    """Random codes with planted copies; returns the data and the near copies planted in the
    evaluated splits."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length), dtype=np.uint8)
    k = n // 100
    source, target = rng.choice(n, (2, 3 * k), replace=False)
    codes[target[:k]] = codes[source[:k]]
    codes[target[k : 2 * k]] = reverse_complement_codes(codes[source[k : 2 * k]])
    near = codes[source[2 * k :]].copy()
    hit = rng.random(near.shape) < 0.02
    near[hit] = (near[hit] + rng.integers(1, 4, hit.sum(), dtype=np.uint8)) % 4
    codes[target[2 * k :]] = near
    stage = rng.choice(3, n, p=[0.8, 0.1, 0.1])
    split = {s: np.flatnonzero(stage == i) for i, s in enumerate(("train", "val", "test"))}
    labels = (rng.random((n, 1)) < 0.3).astype(np.float32)
    lengths = np.full(n, length, np.int64)
    data = QCData(
        codes=lambda index: (codes[index], lengths[index]),
        n_rows=n,
        split=split,
        labels=labels,
        target_names=["label"],
        target_kind="binary",
        source="simulated",
    )
    # near copies across splits (either one is then the evaluated row)
    planted = int((stage[target[2 * k :]] != stage[source[2 * k :]]).sum())
    return data, planted


def timed(fn) -> tuple[tuple[float, float], object]:
    """((wall s, CPU s of this process), fn())."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - start, time.process_time() - cpu), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data, planted = simulated(args.rows, args.length)
    small, _ = simulated(2000, 200, seed=1)  # compile every kernel first
    near_leaks(small, np.zeros(0, np.int64))
    features_of(small, np.arange(10))
    runs: dict[str, list[tuple[float, float]]] = {}
    found = []
    for _ in range(args.repeats):
        t_exact, (exact, rc) = timed(lambda: exact_leaks(data, *hash_rows(data)))
        skip = np.concatenate([*exact.rows.values(), *rc.rows.values()])
        t_near, near = timed(lambda: near_leaks(data, skip))  # noqa: B023
        found.append(near.count)
        train = data.split["train"]
        # results are dropped at once: at 1M rows the features alone are 1.1 GB
        t_feat = timed(lambda: features_of(data, train))[0]  # noqa: B023
        t_base = timed(lambda: baseline_report(data, max_rows=None))[0]
        t_sampled = timed(lambda: baseline_report(data))[0]
        for name, value in (
            ("qc_exact_s", t_exact),
            ("qc_near_s", t_near),
            ("qc_features_s", t_feat),
            ("qc_baseline_s", t_base),
            ("qc_baseline_sampled_s", t_sampled),
        ):
            runs.setdefault(name, []).append(value)
    scale = TARGET_ROWS / args.rows
    load = os.getloadavg()[0]
    for name, values in runs.items():
        value = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        line = {"bench": name, "value": round(value, 3), "unit": "s", "rows": args.rows}
        line |= {"length": args.length, "extrapolated_1m": round(value * scale, 1)}
        line |= {"cpu_s": round(cpu, 3), "cpu_extrapolated_1m": round(cpu * scale, 1)}
        print(json.dumps(line | {"loadavg": load}), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(json.dumps({"bench": "qc_peak_rss_gib", "value": round(peak, 2), "unit": "GiB"}))
    print(
        json.dumps(
            {
                "bench": "qc_near_found",
                "value": int(statistics.median(found)),
                "unit": "rows",
                "planted": planted,
            }
        )
    )


if __name__ == "__main__":
    main()
