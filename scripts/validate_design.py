"""In-silico experiments and sequence design shown to work (JSON lines, one per figure).

1. Spacing (``--part spacing``): random 100-bp sequences; positives hold motif A (AGATAA), a
   gap of exactly ``GAP`` bp, then motif B (CACGTG); negatives hold nothing, A alone, B alone,
   or the pair at any other gap (0..20 bp). ``seqnn-train`` fits the default CNN on the table
   (``model=cnn``, ``data=table``, the command a user runs); ``seqnn.interpret.spacing`` on
   random backgrounds must then put the curve's maximum at ``GAP`` in the ``++`` orientation
   (``spacing_best_distance``; ``spacing_peak_ratio``: the maximum over the next highest
   distance's effect).
2. Design (``--part design``): 100 random 81-bp starts (GC 0.5), ``seqnn.design.evolve`` on
   the shipped ``ecoli-sigma70`` model, greedy, 20 rounds: the fraction whose score (the
   promoter probability) exceeds 0.9 within 20 rounds (target >= 0.9). Then the boxes: the
   8 6-mers most enriched in the designed sequences over the starts, each made a PWM from its
   instances (Hamming distance <= 1) in the designed sequences, go to Tomtom (memelite)
   against the 4,279 JASPAR 2024 CORE matrices plus two consensus PWMs, TATAAT (-10) and
   TTGACA (-35), each column 0.85 the consensus base and 0.05 the others (JASPAR CORE has no
   bacterial sigma factor matrix); q-values are Benjamini-Hochberg over each query's targets.
   ``design_box_*_q`` is the best q of any query whose top match is that box.

    python scripts/validate_design.py [--part spacing|design|all] [--out outputs/validate_design]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

import seqnn
from seqnn.data.encoding import decode, encode
from seqnn.design import evolve
from seqnn.interpret import jaspar_core, spacing

MOTIF_A, MOTIF_B, GAP, LENGTH = "AGATAA", "CACGTG", 5, 100
BOXES = {"-10 TATAAT": "TATAAT", "-35 TTGACA": "TTGACA"}


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(float(value), 4), "unit": unit, **extra}))


# ----------------------------------------------------------------------------- spacing
def spacing_table(n: int, seed: int = 0) -> pd.DataFrame:
    """Sequences and labels: 1 only for A, exactly GAP bp, then B."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, LENGTH)).astype(np.uint8)
    kind = rng.choice(5, n, p=[0.4, 0.15, 0.15, 0.15, 0.15])  # pair, A, B, wrong gap, none
    gaps = np.where(kind == 0, GAP, rng.choice([g for g in range(21) if g != GAP], n))
    a, b = encode(MOTIF_A), encode(MOTIF_B)
    first = rng.integers(0, LENGTH - len(a) - 20 - len(b), n)
    for i in np.flatnonzero(kind != 4):  # a few thousand rows: a script, not the library
        if kind[i] in (0, 1, 3):
            codes[i, first[i] : first[i] + len(a)] = a
        if kind[i] in (0, 2, 3):
            at = first[i] + len(a) + gaps[i]
            codes[i, at : at + len(b)] = b
    return pd.DataFrame({"sequence": decode(codes), "label": (kind == 0).astype(int)})


def validate_spacing(n: int, epochs: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    spacing_table(n).to_csv(out / "spacing.csv", index=False)
    run = out / "run"
    t0 = time.perf_counter()
    command = [
        sys.executable, "-m", "seqnn.cli.train", "data=table", f"data.table={out / 'spacing.csv'}",
        "data.target_columns=[label]", f"data.input_length={LENGTH}", "data.batch_size=128",
        f"trainer.max_epochs={epochs}", "logger=csv", "callbacks.progress_bar=null",
        f"hydra.run.dir={run}",
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    emit("spacing_train_seconds", time.perf_counter() - t0, "s", sequences=n)
    model = seqnn.load_pretrained(run / "model")
    curve = spacing(model, MOTIF_A, MOTIF_B, range(21), backgrounds=200, seed=1)
    best, orientation = curve.best()
    effect = curve.effect[:, 0, 0]  # "++"
    second = np.sort(np.delete(effect, best))[-1]
    emit("spacing_best_distance", best, "bp", true_distance=GAP, orientation=orientation)
    emit("spacing_peak_ratio", effect[best] / max(second, 1e-9), "x", effect=float(effect[best]))
    try:
        from seqnn.plot import spacing as plot_spacing

        plot_spacing(curve).figure.savefig(out / "spacing.png", dpi=120, bbox_inches="tight")
    except ImportError:  # matplotlib is an extra
        pass


# ----------------------------------------------------------------------------- design
def validate_design(n: int, rounds: int) -> None:
    model = seqnn.load_pretrained("ecoli-sigma70")
    t0 = time.perf_counter()
    design = evolve(model, n, rounds=rounds, seed=0)
    seconds = time.perf_counter() - t0
    t = design.trajectory
    above = t[t.score > 0.9].groupby("start")["round"].min()
    emit("design_fraction_above_0.9", len(above) / n, "fraction", starts=n, rounds=rounds,
         seconds=round(seconds, 1))  # fmt: skip
    emit("design_rounds_to_0.9_median", above.median(), "rounds",
         already_above_at_start=int((above == 0).sum()))  # fmt: skip
    starts = t[t["round"] == 0].sort_values("start")["sequence"].tolist()
    boxes(design.sequences, starts)


def boxes(designed: list[str], starts: list[str]) -> None:
    """Tomtom of the most enriched 6-mers' PWMs against JASPAR CORE + the two boxes."""
    from memelite import tomtom

    gained = Counter(kmers(designed))
    gained.subtract(Counter(kmers(starts)))
    top = [k for k, _ in gained.most_common(8)]
    queries = [instances_pwm(k, designed) for k in top]
    targets = [m.probabilities(0.1) for m in jaspar_core()]
    names = [m.name for m in jaspar_core()] + list(BOXES)
    targets += [consensus_pwm(word) for word in BOXES.values()]
    p, *_ = tomtom(queries, targets)
    q = np.array([benjamini_hochberg(row) for row in p])
    best = {box: 1.0 for box in BOXES}
    for k, word in enumerate(top):
        j = int(np.argmin(p[k]))
        print(f"# {word}: best match {names[j]} (p {p[k, j]:.2g}, q {q[k, j]:.2g})")
        if names[j] in best:
            best[names[j]] = min(best[names[j]], float(q[k, j]))
    for box, value in best.items():
        emit(f"design_box_{box.split()[0]}_q", value, "q", box=box, queries=top,
             targets="JASPAR2024 CORE + TATAAT/TTGACA consensus PWMs")  # fmt: skip


def kmers(seqs: list[str], k: int = 6) -> list[str]:
    return [s[i : i + k] for s in seqs for i in range(len(s) - k + 1)]


def instances_pwm(word: str, seqs: list[str]) -> np.ndarray:
    """(4, 6) base frequencies of the 6-mers within Hamming distance 1 of ``word``."""
    codes = np.array([encode(s) for s in seqs])
    windows = np.lib.stride_tricks.sliding_window_view(codes, len(word), axis=1)
    windows = windows.reshape(-1, len(word))
    near = windows[(windows != encode(word)).sum(axis=1) <= 1]
    counts = np.stack([(near == b).sum(axis=0) for b in range(4)]).astype(float) + 0.5
    return counts / counts.sum(axis=0)


def consensus_pwm(word: str) -> np.ndarray:
    pwm = np.full((4, len(word)), 0.05)
    pwm[encode(word), np.arange(len(word))] = 0.85
    return pwm


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["spacing", "design", "all"], default="all")
    parser.add_argument("--n", type=int, default=10000, help="simulated training sequences")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--starts", type=int, default=100, help="random starts to design from")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("outputs/validate_design"))
    args = parser.parse_args()
    if args.part in ("design", "all"):
        validate_design(args.starts, args.rounds)
    if args.part in ("spacing", "all"):
        validate_spacing(args.n, args.epochs, args.out)


if __name__ == "__main__":
    main()
