"""Simulated sequences with known ground truth: motifs implanted at recorded positions.

Positives are random background with 1..k motif instances sampled from position probability
matrices (either strand, non-overlapping); negatives are background only. Everything is drawn
from one seeded generator, so a seed gives the same data on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.atomic import atomic_open, atomic_path
from seqnn.data.encoding import decode
from seqnn.data.genome import write_fasta


@dataclass
class MotifSimulation:
    """Simulated sequences and where their motifs are.

    Attributes:
        table: one row per sequence: ``sequence``, ``label`` (1 = has motifs) and one 0/1
            column ``motif_<id>`` per motif (for multi-label tasks).
        mask: (N, L) bool, True at every implanted base.
        implants: one row per instance: ``row``, ``motif``, ``start``, ``end``, ``strand``.
    """

    table: pd.DataFrame
    mask: np.ndarray
    implants: pd.DataFrame

    def to_csv(self, path) -> None:
        """Write ``table`` as CSV (what ``seqnn-train data=table`` reads)."""
        if hasattr(path, "write"):  # a buffer or an open file
            self.table.to_csv(path, index=False)
            return
        compression = pd.io.common.infer_compression(str(path), "infer")  # from the real name
        with atomic_path(path) as tmp:
            self.table.to_csv(tmp, index=False, compression=compression)


def implant_motifs(
    motifs: Mapping[str, np.ndarray] | Sequence,
    n_sequences: int,
    length: int = 200,
    positive_fraction: float = 0.5,
    motifs_per_sequence: tuple[int, int] = (1, 3),
    gc: float = 0.5,
    seed: int = 0,
) -> MotifSimulation:
    """Random background with motif instances implanted in a fraction of the sequences.

    Args:
        motifs: ``{id: (4, W) matrix}`` or objects with ``.id`` and ``.counts`` (e.g.
            :class:`seqnn.interpret.Motif`); counts are normalised per column.
        n_sequences: number of sequences.
        length: sequence length (bp).
        positive_fraction: fraction of sequences with motifs (label 1).
        motifs_per_sequence: (min, max) instances per positive; the motifs of one sequence
            are distinct while ``max`` <= the number of motifs, drawn uniformly.
        gc: GC fraction of the background.
        seed: seed of the generator.

    Returns:
        A :class:`MotifSimulation`.
    """
    pwms = _probabilities(motifs)
    lo, hi = motifs_per_sequence
    widest = max(p.shape[1] for p in pwms.values())
    if not 1 <= lo <= hi or hi * widest > length:
        raise ValueError(
            f"motifs_per_sequence={motifs_per_sequence}: need 1 <= min <= max and max x the "
            f"widest motif ({widest} bp) <= length ({length})"
        )
    rng = np.random.default_rng(seed)
    background = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    codes = rng.choice(4, size=(n_sequences, length), p=background).astype(np.uint8)
    labels = (rng.random(n_sequences) < positive_fraction).astype(np.int64)
    mask = np.zeros((n_sequences, length), dtype=bool)
    rows = []
    for row in np.flatnonzero(labels):
        rows += _implant_row(codes[row], mask[row], row, pwms, rng, int(rng.integers(lo, hi + 1)))
    implants = pd.DataFrame(rows, columns=["row", "motif", "start", "end", "strand"])
    table = pd.DataFrame({"sequence": decode(codes), "label": labels})
    for name in pwms:
        hit = np.zeros(n_sequences, dtype=np.int64)
        hit[implants.loc[implants.motif == name, "row"].to_numpy(dtype=np.int64)] = 1
        table[f"motif_{name}"] = hit
    return MotifSimulation(table, mask, implants)


def _implant_row(codes, mask, row, pwms, rng, n) -> list[tuple]:
    """Implant ``n`` instances into one sequence's codes (in place), non-overlapping."""
    names = list(pwms)
    # distinct motifs while there are enough: a second copy of a motif is redundant for a
    # max-pooling network, so neither it nor its attribution would be well defined
    chosen = [names[i] for i in rng.choice(len(names), size=n, replace=n > len(names))]
    widths = [pwms[m].shape[1] for m in chosen]
    # split the free space into n + 1 random gaps: instances never overlap
    gaps = rng.multinomial(len(codes) - sum(widths), np.ones(n + 1) / (n + 1))
    out, start = [], int(gaps[0])
    for k, (name, width) in enumerate(zip(chosen, widths, strict=True)):
        p = pwms[name]
        site = np.array([rng.choice(4, p=p[:, j]) for j in range(width)], dtype=np.uint8)
        strand = "+" if rng.random() < 0.5 else "-"
        codes[start : start + width] = site if strand == "+" else 3 - site[::-1]
        mask[start : start + width] = True
        out.append((row, name, start, start + width, strand))
        start += width + int(gaps[k + 1])
    return out


def _probabilities(motifs) -> dict[str, np.ndarray]:
    items = motifs.items() if isinstance(motifs, Mapping) else [(m.id, m.counts) for m in motifs]
    out = {}
    for name, counts in items:
        c = np.asarray(counts, dtype=float)
        if c.ndim != 2 or c.shape[0] != 4 or (c < 0).any() or (c.sum(0) <= 0).any():
            raise ValueError(f"motif {name}: expected a (4, W) non-negative matrix, rows A C G T")
        out[name] = c / c.sum(0, keepdims=True)
    if not out:
        raise ValueError("give at least one motif to implant")
    return out


@dataclass
class CoverageSimulation:
    """Files of a simulated coverage experiment (see :func:`simulate_coverage`).

    Attributes:
        fasta: the genome.
        bigwig: per-base Poisson counts.
        windows: BED of windows centred (with jitter) on implanted motifs, and background ones.
        peaks: one BED per motif: the footprints of its instances (peak-set experiments).
        implants: one row per instance: ``chrom``, ``start``, ``end``, ``strand``, ``motif``.
    """

    fasta: Path
    bigwig: Path
    windows: Path
    peaks: list[Path]
    implants: pd.DataFrame


def simulate_coverage(
    folder,
    motifs: Mapping[str, np.ndarray] | Sequence,
    chrom_sizes: Mapping[str, int] | None = None,
    n_per_motif: int = 400,
    strengths: Sequence[float] | None = None,
    window: int = 400,
    background_rate: float = 0.5,
    n_background_windows: int = 0,
    seed: int = 0,
) -> CoverageSimulation:
    """A genome with implanted motifs whose instances leave footprint-shaped coverage.

    Each instance of motif ``k`` (``n_per_motif`` per motif, non-overlapping, either strand)
    adds a rate profile ``strength_k x instance_scale x shape(d)`` around its centre, where
    ``shape`` is two Gaussian shoulders (sd 12 bp) 20 bp either side of the centre — a
    footprint; ``instance_scale`` is log-normal (sd 0.1). Counts are Poisson draws of
    ``background_rate`` + the summed profiles, written per base to a bigWig (pyBigWig).

    Args:
        folder: where ``genome.fa``, ``coverage.bw``, ``windows.bed`` and the peak BEDs go.
        motifs: ``{id: (4, W) matrix}`` or objects with ``.id`` and ``.counts``.
        chrom_sizes: contig lengths (default three contigs of 400, 150 and 150 kb).
        n_per_motif: instances of each motif over the genome.
        strengths: peak height (counts per base) of each motif (default 20, 40, 60, ...).
        window: width of the windows written to ``windows.bed``.
        background_rate: counts per base everywhere.
        n_background_windows: random windows added to ``windows.bed`` besides one per
            instance (BPNet trains on peak windows only: profiles of pure background are
            noise, and their Pearson is 0 whatever the model).
        seed: seed of every draw.
    """
    import pyBigWig

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pwms = _probabilities(motifs)
    sizes = dict(chrom_sizes or {"chr1": 400_000, "chr2": 150_000, "chr3": 150_000})
    strengths = list(strengths or [20.0 * (k + 1) for k in range(len(pwms))])
    codes = {c: rng.integers(0, 4, n).astype(np.uint8) for c, n in sizes.items()}
    implants = _scatter_instances(codes, pwms, n_per_motif, window, rng)
    rates = {c: np.full(n, background_rate) for c, n in sizes.items()}
    offsets = np.arange(-60, 61)
    shape = np.exp(-0.5 * ((np.abs(offsets) - 20) / 12.0) ** 2)
    for r in implants.itertuples():
        scale = strengths[list(pwms).index(r.motif)] * rng.lognormal(0.0, 0.1)
        centre = (r.start + r.end) // 2
        lo, hi = max(0, centre - 60), min(sizes[r.chrom], centre + 61)
        rates[r.chrom][lo:hi] += scale * shape[lo - centre + 60 : hi - centre + 60]
    fasta = write_fasta(folder / "genome.fa", {c: decode(codes[c]) for c in sizes})
    bigwig = folder / "coverage.bw"
    with atomic_path(bigwig) as tmp:
        bw = pyBigWig.open(tmp, "w")
        bw.addHeader(list(sizes.items()))
        for c in sizes:
            bw.addEntries(c, 0, values=rng.poisson(rates[c]).astype(np.float64), span=1, step=1)
        bw.close()
    windows = _write_windows(
        folder / "windows.bed", implants, sizes, window, n_background_windows, rng
    )
    peaks = []
    for name in pwms:
        mine = implants[implants.motif == name]
        centre = (mine.start.to_numpy() + mine.end.to_numpy()) // 2
        frame = pd.DataFrame({"chrom": mine.chrom, "start": centre - 50, "end": centre + 50})
        peaks.append(folder / f"peaks_{name}.bed")
        with atomic_open(peaks[-1]) as fh:
            frame.sort_values(["chrom", "start"]).to_csv(fh, sep="\t", header=False, index=False)
    return CoverageSimulation(fasta, bigwig, windows, peaks, implants)


def _scatter_instances(codes, pwms, n_per_motif, spacing, rng) -> pd.DataFrame:
    """Implant instances at least ``spacing`` bp apart over the contigs (codes in place)."""
    chroms = list(codes)
    lengths = np.array([len(codes[c]) for c in chroms])
    slots = [
        (c, s) for c, n in zip(chroms, lengths, strict=True) for s in range(100, n - 200, spacing)
    ]
    pick = rng.choice(len(slots), size=n_per_motif * len(pwms), replace=False)
    rows = []
    for k, slot in enumerate(pick):
        name = list(pwms)[k % len(pwms)]
        p = pwms[name]
        chrom, base = slots[slot]
        start = base + int(rng.integers(0, spacing - p.shape[1] - 100))
        site = np.array([rng.choice(4, p=p[:, j]) for j in range(p.shape[1])], dtype=np.uint8)
        strand = "+" if rng.random() < 0.5 else "-"
        codes[chrom][start : start + p.shape[1]] = site if strand == "+" else 3 - site[::-1]
        rows.append((chrom, start, start + p.shape[1], strand, name))
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "strand", "motif"])


def _write_windows(path, implants, sizes, window, n_background, rng) -> Path:
    """Windows on every instance (centre jittered by up to 50 bp) and ``n_background`` random
    ones."""
    centre = (implants.start.to_numpy() + implants.end.to_numpy()) // 2
    centre = centre + rng.integers(-50, 51, len(centre))
    chroms = list(implants.chrom)
    names = list(sizes)
    for _ in range(n_background):
        c = names[int(rng.integers(0, len(names)))]
        chroms.append(c)
        centre = np.append(centre, rng.integers(window, sizes[c] - window))
    limit = np.array([sizes[c] - window for c in chroms])
    start = np.clip(centre - window // 2, 0, limit)  # whole windows inside their contig
    frame = pd.DataFrame({"chrom": chroms, "start": start, "end": start + window})
    frame = frame.sort_values(["chrom", "start"])
    with atomic_open(path) as fh:
        frame.to_csv(fh, sep="\t", header=False, index=False)
    return Path(path)
