"""Choose each named recipe across all the real sets, by the protocol of docs/results.md#recipes.

Every candidate of every recipe name (``CANDIDATES``) is trained on every set (``SETS``): a
stratified k-fold cross-validation of each table (``data.folds=k``, each fold once), the σ70
genome task on its fixed held-out genome blocks. Each run is one ``seqnn-train`` process under
``nice -n 19``, one at a time, with the protocol's budget cap; each appends one JSON line to
``--results`` (``{"recipe", "candidate", "set", "fold", "mcc", "auroc", "sn", "sp",
"threshold", "wall_s", "load"}``), and a rerun skips the runs already there, so the grid can be
measured in pieces. Then a table per recipe name: each candidate's mean test-fold MCC per set,
its rank on each set, its mean rank over the sets measured for every candidate, and the choice
(best mean rank; ties: the higher mean MCC).

Usage: python scripts/select_recipes.py --results runs.jsonl [--runs DIR] [--folds 3]
       [--sets bsubtilis ecoli sigma70 ctcf] [--recipes promoter tf_binding] [--table-only]
       [--pause-file PATH]

``--pause-file``: while that file exists, the next run waits to start (the one under way
finishes), so a benchmark or CI can have the machine between runs without cutting into a run's
wall-time cap.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LABEL = "data.target_columns=[label]"
CTCF_PEAKS = SHARED / "tf_peaks" / "ctcf_positives.csv.gz"

# the candidates of docs/results.md#recipes, in its order (the first is the committed default)
CANDIDATES: dict[str, dict[str, list[str]]] = {
    "promoter": {
        "P1": ["recipe=promoter"],
        "P2": ["recipe=promoter", "model=ensemble"],
        "P3": ["recipe=promoter", "model=kmer_cnn"],
        # amendment 1 of the protocol (docs/results.md, "Protocol"): declared after P1-P3
        "P4": ["recipe=promoter", "monitor.metric=val/auroc"],
    },
    "tf_binding": {
        "T1": ["recipe=tf_binding"],
        "T2": ["recipe=tf_binding", "model=cnn"],
        "T3": [
            "recipe=tf_binding",
            "data.transforms=[{_target_:seqnn.data.ReverseComplement,p:0.5}]",
        ],
    },
}
# the sets, in the protocol's order; None: the σ70 genome task's own split (no folds)
SETS: dict[str, list[str] | None] = {
    "bsubtilis": ["data=table", f"data.table={SHARED / 'promoters' / 'bsubtilis.csv.gz'}", LABEL],
    "ecoli": ["data=table", f"data.table={SHARED / 'promoters' / 'ecoli_sigma70.csv.gz'}", LABEL],
    "sigma70": None,
    "ctcf": [
        "data=table",
        f"data.table={{_target_:seqnn.data.embedded.ctcf_table,peaks:'{CTCF_PEAKS}'}}",
        LABEL,
    ],
}
# the protocol's cap on each run (2 shared CPU cores)
CAP = ["trainer.max_epochs=15", "callbacks.budget.max_minutes=20"]
QUIET = ["logger=csv", "~callbacks.progress_bar", "+trainer.enable_progress_bar=false"]
FIGURES = {"mcc": "test/mcc", "auroc": "test/auroc", "sn": "test/sensitivity",
           "sp": "test/specificity", "threshold": "test/threshold"}  # fmt: skip


def runs_of(folds: int, sets: list[str], recipes: list[str]) -> list[tuple[str, str, str, int]]:
    """(recipe, candidate, set, fold) in the protocol's order: by set, then candidate."""
    grid = []
    for name in sets:
        n_folds = 1 if SETS[name] is None else folds
        for recipe in recipes:
            for candidate in CANDIDATES[recipe]:
                grid += [(recipe, candidate, name, fold) for fold in range(n_folds)]
    return grid


def command(recipe: str, candidate: str, name: str, fold: int, folds: int, run: Path) -> list[str]:
    data = SETS[name]
    split = [] if data is None else [*data, f"data.folds={folds}", f"data.fold={fold}"]
    overrides = [*CANDIDATES[recipe][candidate], *split, *CAP, *QUIET, f"hydra.run.dir={run}"]
    return ["nice", "-n", "19", sys.executable, "-m", "seqnn.cli.train", *overrides]


def train_one(key: tuple[str, str, str, int], folds: int, runs: Path) -> dict:
    """One seqnn-train process; its test figures as a JSON-able dict."""
    recipe, candidate, name, fold = key
    run = runs / f"{candidate}_{name}_fold{fold}"
    start, load = time.perf_counter(), os.getloadavg()[0]
    done = subprocess.run(
        command(recipe, candidate, name, fold, folds, run),
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{run}: seqnn-train failed:\n{done.stderr[-3000:]}")
    metrics = json.loads((run / "metrics.json").read_text())
    figures = {k: metrics.get(v, math.nan) for k, v in FIGURES.items()}
    return {
        "recipe": recipe, "candidate": candidate, "set": name, "fold": fold, **figures,
        "wall_s": round(time.perf_counter() - start, 1),
        "load": round((load + os.getloadavg()[0]) / 2, 1),
    }  # fmt: skip


def read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(results: list[dict], folds: int, recipe: str) -> list[str]:
    """Markdown: mean test-fold MCC per candidate and set (folds measured), ranks, choice."""
    sets = [s for s in SETS if any(r["set"] == s and r["recipe"] == recipe for r in results)]
    names = list(CANDIDATES[recipe])
    mean: dict[tuple[str, str], tuple[float, int]] = {}
    for c in names:
        for s in sets:
            mccs = [r["mcc"] for r in results if (r["candidate"], r["set"]) == (c, s)]
            mean[c, s] = (statistics.fmean(mccs) if mccs else math.nan, len(mccs))
    want = {s: 1 if SETS[s] is None else folds for s in sets}
    complete = [s for s in sets if all(mean[c, s][1] == want[s] for c in names)]
    ranks = {
        (c, s): 1 + sum(mean[o, s][0] > mean[c, s][0] for o in names)
        for c in names
        for s in complete
    }
    lines = [
        f"| {recipe} candidate | " + " | ".join(f"{s} MCC" for s in sets)
        + " | mean rank (complete sets) | mean MCC (complete sets) |",
        "|---" * (len(sets) + 3) + "|",
    ]  # fmt: skip
    scores = {}
    for c in names:
        cells = []
        for s in sets:
            value, n = mean[c, s]
            cells.append("not measured" if n == 0 else f"{value:.3f} ({n}/{want[s]})")
        rank = statistics.fmean(ranks[c, s] for s in complete) if complete else math.nan
        mcc = statistics.fmean(mean[c, s][0] for s in complete) if complete else math.nan
        scores[c] = (rank, -mcc)
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {rank:.2f} | {mcc:.3f} |")
    if len(complete) == len(SETS):
        chosen = min(names, key=lambda c: scores[c])
        lines.append(f"\nChosen for `{recipe}`: {chosen} (all {len(SETS)} sets complete).")
    else:
        missing = [s for s in SETS if s not in complete]
        lines.append(
            f"\n`{recipe}`: grid incomplete ({', '.join(missing)} not measured for every "
            f"candidate): the default stays {names[0]}."
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="JSON lines, appended")
    parser.add_argument("--runs", type=Path, default=Path("/tmp/select_recipes"))
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--recipes", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--table-only", action="store_true", help="no training: the table")
    parser.add_argument("--pause-file", type=Path, help="while it exists, no run starts")
    args = parser.parse_args(argv)
    done = {(r["candidate"], r["set"], r["fold"]) for r in read_results(args.results)}
    for key in [] if args.table_only else runs_of(args.folds, args.sets, args.recipes):
        if key[1:] in done:
            continue
        while args.pause_file is not None and args.pause_file.exists():
            time.sleep(10)
        line = json.dumps(train_one(key, args.folds, args.runs))
        with args.results.open("a") as out:  # one line per finished run: resumable
            out.write(line + "\n")
        print(line, flush=True)
    results = read_results(args.results)
    for recipe in args.recipes:
        print("\n".join(["", *table(results, args.folds, recipe)]))


if __name__ == "__main__":
    main()
