"""Build the reference σ70 −10 and −35 box PWMs from the shipped E. coli promoters (MEME).

JASPAR 2024 CORE holds no bacterial σ70 matrix, so a designed or discovered TATAAT-like box
has no true target there (an AT-rich plant matrix ranks first). These two PWMs are the
reference: ``seqnn/resources/motifs/ecoli_sigma70_boxes.meme``, read by
:func:`seqnn.interpret.sigma70_boxes`; provenance in ``seqnn/resources/PROVENANCE.md``.

Method. The 839 σ70 promoter windows of ``seqnn.data.embedded.ecoli_promoters()`` (RegulonDB
via CNNProm, TSS −60..+20 on the promoter's own strand, so the TSS is index 60) are aligned
by their TSS. Each box starts from the 839 hexamers at its canonical TSS offset (−10 box:
positions −12..−7; −35 box: −35..−30). The TSS-to-box distance varies by a few bp between
promoters, so the fixed-offset columns are diluted (1.2 and 0.3 bits in all); each promoter's
box is then placed at the hexamer that scores best (log-odds of the current PWM against a
uniform background) within ±``SHIFT`` bp of the canonical offset, the PWM is recounted from
those hexamers, and this is repeated ``ROUNDS`` times (it converges in 3). No consensus word
is used. As a control the same procedure runs on the promoters with their bases permuted
within each sequence (composition kept, boxes destroyed); the script prints both.

    python scripts/make_sigma70_boxes.py [--out seqnn/resources/motifs/ecoli_sigma70_boxes.meme]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from seqnn.data.embedded import ecoli_fasta, ecoli_promoters
from seqnn.data.encoding import encode
from seqnn.data.genome import Genome
from seqnn.interpret import Motif, write_meme

TSS = 60  # index of the TSS in the 81-bp windows (−60..+20)
WIDTH, SHIFT, ROUNDS = 6, 3, 5
BOXES = {"sigma70_minus10": ("-10_box", -12), "sigma70_minus35": ("-35_box", -35)}
OUT = Path(__file__).parents[1] / "seqnn" / "resources" / "motifs" / "ecoli_sigma70_boxes.meme"


def hexamer_counts(codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(4, WIDTH) base counts of each sequence's hexamer at ``starts`` (N,)."""
    instances = codes[np.arange(len(codes))[:, None], starts[:, None] + np.arange(WIDTH)]
    return np.stack([(instances == b).sum(axis=0) for b in range(4)]).astype(float)


def aligned_box(codes: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the box re-aligned around ``offset`` (from the TSS) and each start (N,)."""
    starts = np.full(len(codes), TSS + offset)
    counts = hexamer_counts(codes, starts)
    candidates = TSS + offset + np.arange(-SHIFT, SHIFT + 1)  # (S,)
    windows = codes[:, candidates[:, None] + np.arange(WIDTH)]  # (N, S, WIDTH)
    for _ in range(ROUNDS):
        log_odds = np.log2((counts + 0.25) / (counts + 0.25).sum(axis=0) / 0.25)  # (4, WIDTH)
        scores = log_odds[windows, np.arange(WIDTH)].sum(axis=2)  # (N, S)
        starts = candidates[scores.argmax(axis=1)]
        counts = hexamer_counts(codes, starts)
    return counts, starts


def information(counts: np.ndarray) -> float:
    p = (counts + 0.25) / (counts + 0.25).sum(axis=0)
    return float((2 + (p * np.log2(p)).sum(axis=0)).sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    genome = Genome(ecoli_fasta())
    promoters = ecoli_promoters()
    codes = np.array(
        [encode(genome.fetch(r.chrom, r.start, r.end, r.strand)) for r in promoters.itertuples()]
    )
    shuffled = np.random.default_rng(0).permuted(codes, axis=1)  # the control
    motifs = []
    for motif_id, (name, offset) in BOXES.items():
        fixed = hexamer_counts(codes, np.full(len(codes), TSS + offset))
        counts, starts = aligned_box(codes, offset)
        control, _ = aligned_box(shuffled, offset)
        shift = np.bincount(starts - TSS - offset + SHIFT, minlength=2 * SHIFT + 1)
        motif = Motif(motif_id, name, counts)
        print(f"{motif_id}: {motif.consensus()} {information(counts):.2f} bits (fixed offset "
              f"{information(fixed):.2f}; permuted control {Motif('c', 'c', control).consensus()} "
              f"{information(control):.2f}); "
              f"starts at {offset - SHIFT}..{offset + SHIFT}: {shift.tolist()}")  # fmt: skip
        motifs.append(motif)
    write_meme(motifs, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
