"""Design speed: seqnn.design.evolve on the shipped σ70 model, edits scored by fast ISM (the
default) or by full forward passes of every mutant (``scoring="plain"``, what a design loop without
fast ISM pays, as tangermeme's greedy_substitution does). One JSON line per figure, the median
of ``--repeats`` runs.

    python scripts/bench_design.py [--starts 20] [--rounds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import seqnn
from seqnn.design import evolve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = seqnn.load_pretrained("ecoli-sigma70")
    paths = {"fast_ism": "fast", "full_passes": "plain"}
    for name, scoring in paths.items():
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            evolve(model, args.starts, rounds=args.rounds, scoring=scoring, seed=0)
            times.append(time.perf_counter() - t0)
        value = round(statistics.median(times), 3)
        print(json.dumps({"bench": f"design_{name}", "value": value, "unit": "s",
                          "starts": args.starts, "rounds": args.rounds}))  # fmt: skip


if __name__ == "__main__":
    main()
