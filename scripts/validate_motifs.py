"""Motif discovery against ground truth and on the shipped models (JSON lines).

1. ``simulation``: the motif simulation of ``validate_interpretation.py`` (three JASPAR CORE
   motifs, one per positive, 200 bp); ``seqnn-train`` fits the default CNN (exponential first
   layer); ``seqnn.interpret.modisco`` (DeepLIFT/SHAP hypothetical contributions, TF-MoDISco,
   Tomtom vs all of JASPAR 2024 CORE) on held-out positives. ``modisco_recovered``: implanted
   motifs that some pattern matches best (rank 1) with q < 0.05 (of ``n_implanted``);
   ``modisco_spurious_fraction``: the largest seqlet share of a pattern whose best match is
   not an implanted motif (target < 0.05).
2. ``sigma70``: the shipped ``ecoli-sigma70`` model on the 839 real promoters (TSS -60..+20):
   does a pattern hold a TATAAT-like (-10) and a TTGACA-like (-35) box (a 6-mer of its
   consensus within one mismatch)?
3. ``ctcf``: the shipped ``ctcf-peaks`` model on a seeded subset of the shipped CTCF peaks:
   the top pattern's best Tomtom match and its q-value (target: MA0139, q < 0.05).
4. ``profile``: ``seqnn-train experiment=coverage_profile`` on ``simulate_coverage``
   (``validate_profiles.py``'s simulation); count-head DeepLIFT/SHAP on the held-out chr3
   windows ranks the implanted positions: ``profile_count_attr_auroc`` (target >= 0.9).

    python scripts/validate_motifs.py [--only simulation,sigma70,ctcf,profile] [--out DIR]

Sizes are kept modest (stated in each line): TF-MoDISco needs a few hundred seqlets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import seqnn
from seqnn.data.embedded import ctcf_table, ecoli_fasta, ecoli_promoters
from seqnn.data.genome import Genome
from seqnn.data.intervals import read_intervals
from seqnn.data.simulate import implant_motifs, simulate_coverage
from seqnn.interpret import (
    deeplift_shap,
    hypothetical_attributions,
    jaspar_core,
    modisco,
    position_auroc,
)

sys.path.insert(0, str(Path(__file__).parent))
from validate_interpretation import LENGTH, MOTIFS, PER_SEQUENCE, simulate_and_train  # noqa: E402

SPLIT = ["data.val_chroms=[chr2]", "data.test_chroms=[chr3]"]


def emit(name: str, value: float, unit: str, **extra) -> None:
    value = float(value)
    value = round(value, 4) if abs(value) >= 1e-3 or value == 0 else float(f"{value:.3g}")
    print(json.dumps({"bench": name, "value": value, "unit": unit, **extra}), flush=True)


def best_matches(result) -> pd.DataFrame:
    """Per pattern: seqlet share, consensus, best match id and its q-value."""
    return result.summary().assign(best_id=lambda t: t.best_match.str.split().str[0])


def simulation(out: Path, n: int, epochs: int, n_shuffles: int, reuse: Path | None) -> None:
    if reuse is None:
        model, motifs = simulate_and_train(n, out / "simulation", epochs)
    else:  # a model trained by an earlier run
        database = {m.id: m for m in jaspar_core()}
        model, motifs = seqnn.load_pretrained(reuse), [database[i].trim(0.5) for i in MOTIFS]
    held_out = implant_motifs(motifs, 1000, LENGTH, motifs_per_sequence=PER_SEQUENCE, seed=1)
    positives = held_out.table.sequence[held_out.table.label == 1].tolist()
    t0 = time.perf_counter()
    result = modisco(model, positives, target=0, n_shuffles=n_shuffles)
    table = best_matches(result)
    significant = table[table.q_value < 0.05]
    recovered = sorted(set(MOTIFS) & set(significant.best_id))
    spurious = table[~table.best_id.isin(MOTIFS)]
    if not (out / "simulation_report").exists():
        result.write(out / "simulation_report")
    patterns = table[["pattern", "n_seqlets", "best_id", "q_value"]].to_dict("records")
    emit("modisco_recovered", len(recovered), "motifs", n_implanted=len(MOTIFS),
         recovered=recovered, patterns=patterns, sequences=len(positives),
         seconds=round(time.perf_counter() - t0))  # fmt: skip
    emit("modisco_spurious_fraction", spurious.seqlet_fraction.max() if len(spurious) else 0.0,
         "fraction of seqlets", target=0.05, spurious=spurious.pattern.tolist())  # fmt: skip


def near(consensus: str, word: str, mismatches: int = 1) -> bool:
    """Some 6-mer of ``consensus`` is within ``mismatches`` of ``word``."""
    w = len(word)
    return any(
        sum(a != b for a, b in zip(consensus[i : i + w], word, strict=True)) <= mismatches
        for i in range(len(consensus) - w + 1)
    )


def cached_hypothetical(path: Path, model, sequences: list[str], n_shuffles: int) -> np.ndarray:
    """DeepLIFT/SHAP hypothetical contributions, saved to ``path`` and reused by later runs."""
    if path.exists():
        return np.load(path)
    hypothetical = hypothetical_attributions(model, sequences, target=0, n_shuffles=n_shuffles)
    np.save(path, hypothetical)
    return hypothetical


def sigma70(out: Path, n_shuffles: int, model_name: str = "ecoli-sigma70") -> None:
    model = seqnn.load_pretrained(model_name)
    genome = Genome(ecoli_fasta())
    promoters = ecoli_promoters()
    seqs = [genome.fetch(r.chrom, r.start, r.end, r.strand) for r in promoters.itertuples()]
    t0 = time.perf_counter()
    hypothetical = cached_hypothetical(out / "sigma70_hypothetical.npy", model, seqs, n_shuffles)
    # 81-bp promoters hold the two 6-bp boxes 17 bp apart: a 15-bp window (default 21 + 2 x 10
    # flank finds no seqlet cluster of 100 here)
    result = modisco(model, seqs, hypothetical=hypothetical, window=15, flank=5)
    table = best_matches(result)
    seconds = round(time.perf_counter() - t0)
    for box, word in (("minus10", "TATAAT"), ("minus35", "TTGACA")):
        # astype(bool): an empty map is dtype object, which pandas reads as column names
        hits = table[table.consensus.map(lambda c, w=word: near(c, w)).astype(bool)]
        emit(f"sigma70_{box}_pattern", len(hits) > 0, "found", canonical=word, model=model_name,
             patterns=hits[["pattern", "n_seqlets", "consensus"]].to_dict("records"),
             sequences=len(seqs), seconds=seconds)  # fmt: skip
    emit("sigma70_patterns", len(table), "patterns",
         consensus=table[["pattern", "n_seqlets", "consensus"]].to_dict("records"))  # fmt: skip


def ctcf(out: Path, n_peaks: int, n_shuffles: int) -> None:
    model = seqnn.load_pretrained("ctcf-peaks")
    table = ctcf_table(n=n_peaks, seed=1)
    peaks = table.sequence[table.label == 1].tolist()
    t0 = time.perf_counter()
    hypothetical = cached_hypothetical(out / f"ctcf{n_peaks}_hypothetical.npy", model, peaks,
                                       n_shuffles)  # fmt: skip
    result = modisco(model, peaks, hypothetical=hypothetical)
    summary = best_matches(result)
    top = summary.sort_values("n_seqlets", ascending=False).iloc[0]
    emit("ctcf_top_pattern_q", top.q_value, "q-value", target="MA0139 at q < 0.05",
         match=top.best_match, matches_ctcf=str(top.best_id).startswith("MA0139"),
         n_seqlets=int(top.n_seqlets), consensus=top.consensus, peaks=len(peaks),
         seconds=round(time.perf_counter() - t0))  # fmt: skip


def profile(out: Path, epochs: int | None, n_shuffles: int) -> None:
    database = {m.id: m for m in jaspar_core()}
    sim = simulate_coverage(out / "profile_data", [database[i].trim(0.5) for i in MOTIFS], seed=0)
    run = out / "profile_run"
    if not (run / "model").exists():
        command = [sys.executable, "-m", "seqnn.cli.train", "experiment=coverage_profile",
                   f"data.genome={sim.fasta}", f"data.intervals={sim.windows}",
                   f"data.targets.paths=[{sim.bigwig}]", *SPLIT, "logger=csv",
                   "callbacks.progress_bar=null", f"hydra.run.dir={run}"]  # fmt: skip
        if epochs is not None:  # else the experiment's own schedule (60, early stopping)
            command.append(f"trainer.max_epochs={epochs}")
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    model = seqnn.load_pretrained(run / "model")
    windows = read_intervals(sim.windows)
    windows = windows[windows.chrom == "chr3"].reset_index(drop=True)  # held out
    codes = Genome(sim.fasta).fetch_codes(windows.chrom, windows.start, windows.end)
    mask = implant_mask(windows, sim.implants)
    t0 = time.perf_counter()
    attr = deeplift_shap(model, codes, target=0, output="count", n_shuffles=n_shuffles)
    keep = mask.any(axis=1)
    emit("profile_count_attr_auroc", position_auroc(attr[keep], mask[keep]), "AUROC",
         target=0.9, method="deeplift_shap", output="count", windows=int(keep.sum()),
         epochs=epochs or "the experiment's (max 60, early stopping)",
         seconds=round(time.perf_counter() - t0))  # fmt: skip


def implant_mask(windows: pd.DataFrame, implants: pd.DataFrame) -> np.ndarray:
    """(N, L) True at the implanted motif positions inside each window."""
    length = int((windows.end - windows.start).iloc[0])
    same = windows.chrom.to_numpy()[:, None] == implants.chrom.to_numpy()[None, :]  # (N, I)
    lo = implants.start.to_numpy()[None, :] - windows.start.to_numpy()[:, None]
    hi = implants.end.to_numpy()[None, :] - windows.start.to_numpy()[:, None]
    lo, hi = np.clip(lo, 0, length), np.clip(hi, 0, length)
    row, k = np.nonzero(same & (hi > lo))  # the (window, implant) pairs that overlap
    edges = np.zeros((len(windows), length + 1), np.int32)  # +1 at starts, -1 at ends
    np.add.at(edges, (row, lo[row, k]), 1)
    np.add.at(edges, (row, hi[row, k]), -1)
    return edges.cumsum(axis=1)[:, :length] > 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="simulation,sigma70,ctcf,profile")
    parser.add_argument("--out", type=Path, default=Path("outputs/validate_motifs"))
    parser.add_argument("--n", type=int, default=6000, help="simulated training sequences")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--sim-model", type=Path, help="reuse a simulation model trained before")
    parser.add_argument("--profile-epochs", type=int, default=None,
                        help="default: experiment=coverage_profile's schedule")  # fmt: skip
    parser.add_argument(
        "--sigma70-model",
        default="ecoli-sigma70",
        help="the σ70 model explained: a shipped name or a package folder",
    )
    parser.add_argument("--ctcf-peaks", type=int, default=2000)
    parser.add_argument("--n-shuffles", type=int, default=10)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    if "simulation" in only:
        simulation(args.out, args.n, args.epochs, args.n_shuffles, args.sim_model)
    if "sigma70" in only:
        sigma70(args.out, args.n_shuffles, args.sigma70_model)
    if "ctcf" in only:
        ctcf(args.out, args.ctcf_peaks, args.n_shuffles)
    if "profile" in only:
        profile(args.out, args.profile_epochs, args.n_shuffles)


if __name__ == "__main__":
    main()
