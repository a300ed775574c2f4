"""A seeded synthetic workload shaped like hg38 + ENCODE, at any genome size (for bench_scale).

``make_workload(workdir, genome_gb, tracks)`` writes (once per workdir; a file already there
is reused, so a second call costs nothing):

- ``genome.fa``: hg38's primary contigs (chr1..22, X, Y; chrM at its real 16,569 bp) scaled
  to ``genome_gb`` Gb, 60-column lines; an N run at both ends of each contig (telomeres,
  10 kb scaled, at least 1 kb) and one in the middle (a centromere, 2 % of the contig);
  half the bases soft-masked (lowercase runs of ~300 bp). Written a 16 Mb chunk at a time:
  memory does not grow with the genome (3.1 Gb take a few minutes, most of it disk).
- ``peaks_<i>.narrowPeak`` (i < tracks): 50,000 peaks each, sorted, widths log-normal
  (median ~400 bp, 150-3,000), summit near the middle, off the N runs.
- ``signal_<i>.bw``: a bigWig per peak file, signal in 50-bp bins over each peak and 500 bp
  around it (a bump at the summit); no data elsewhere. Written per contig by one vectorised
  ``addEntries``.
- ``variants_10k.vcf`` / ``variants_1m.vcf``: sorted SNVs off the N runs whose REF is the
  FASTA's base (upper case), taken from the chunks as the FASTA is written.
- ``regions_10k.bed`` / ``regions_1m.bed``: random 1-kb regions inside the contigs (in
  random order, as a sampled training or query set is).

Files are written to a temp name and renamed, so an interrupted run leaves none half-made.
The folder is ``workdir/g<genome_gb>_s<seed>``: files made with other parameters never mix.

Usage: python scripts/scale_workload.py --genome-gb 0.1 [--tracks 10] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.atomic import atomic_open, atomic_path

#: hg38 primary assembly contig sizes (bp)
HG38 = {
    "chr1": 248_956_422, "chr2": 242_193_529, "chr3": 198_295_559, "chr4": 190_214_555,
    "chr5": 181_538_259, "chr6": 170_805_979, "chr7": 159_345_973, "chr8": 145_138_636,
    "chr9": 138_394_717, "chr10": 133_797_422, "chr11": 135_086_622, "chr12": 133_275_309,
    "chr13": 114_364_328, "chr14": 107_043_718, "chr15": 101_991_189, "chr16": 90_338_345,
    "chr17": 83_257_441, "chr18": 80_373_285, "chr19": 58_617_616, "chr20": 64_444_167,
    "chr21": 46_709_983, "chr22": 50_818_468, "chrX": 156_040_895, "chrY": 57_227_415,
    "chrM": 16_569,
}  # fmt: skip
WIDTH = 60  # FASTA line width
CHUNK = WIDTH * 2**18  # bases generated at a time (~15.7 Mb)
LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)
N_PEAKS = 50_000
BIN = 50  # bigWig bin (bp)
FLANK = 500  # signal around each peak (bp)


@dataclass
class Workload:
    """The paths of one workload and its contig sizes."""

    folder: Path
    fasta: Path
    sizes: dict[str, int]
    peaks: list[Path]
    bigwigs: list[Path]
    vcf: dict[int, Path]  # n variants -> file
    regions: dict[int, Path]  # n regions -> file


def contig_sizes(genome_gb: float) -> dict[str, int]:
    """hg38's contig sizes scaled to ``genome_gb`` Gb (chrM kept at its size)."""
    scale = genome_gb * 1e9 / sum(v for k, v in HG38.items() if k != "chrM")
    return {k: v if k == "chrM" else int(v * scale) for k, v in HG38.items()}


def n_runs(size: int, genome_gb: float) -> np.ndarray:
    """(k, 2) [start, end) of a contig's N runs: both ends and the middle (none for small
    contigs such as chrM)."""
    if size < 100_000:
        return np.zeros((0, 2), dtype=np.int64)
    end = max(1_000, int(10_000 * genome_gb / 3.1))
    mid, half = size // 2, size // 100
    return np.array([[0, end], [mid - half, mid + half], [size - end, size]], dtype=np.int64)


def off_n(rng: np.random.Generator, size: int, runs: np.ndarray, n: int, margin: int):
    """n sorted positions in [margin, size - margin) at least ``margin`` bp from any N run."""
    out = np.zeros(0, dtype=np.int64)
    while len(out) < n:
        pos = rng.integers(margin, size - margin, 2 * (n - len(out)) + 16)
        bad = np.zeros(len(pos), dtype=bool)
        for start, end in runs:
            bad |= (pos >= start - margin) & (pos < end + margin)
        out = np.concatenate([out, pos[~bad]])
    return np.sort(out[:n])


def share(sizes: dict[str, int], n: int) -> dict[str, int]:
    """n items over the contigs in proportion to their sizes (largest remainder)."""
    raw = np.array(list(sizes.values()), dtype=np.float64) / sum(sizes.values()) * n
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(raw - counts)[::-1][: n - counts.sum()]] += 1
    return dict(zip(sizes, counts.tolist(), strict=True))


# ----------------------------------------------------------------------------- FASTA + VCF
def _mask(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n,) bool: alternating runs (mean 300 bp), half of them soft-masked."""
    lengths = rng.geometric(1 / 300, n // 150 + 16)
    while lengths.sum() < n:
        lengths = np.concatenate([lengths, rng.geometric(1 / 300, n // 150 + 16)])
    flags = np.arange(len(lengths)) % 2 == rng.integers(0, 2)
    return np.repeat(flags, lengths)[:n]


def write_genome(fasta: Path, vcfs: dict[int, Path], genome_gb: float, seed: int) -> None:
    """The FASTA and its SNV VCFs (REF read from the chunks as they are written)."""
    rng = np.random.default_rng(seed)
    sizes = contig_sizes(genome_gb)
    n_max = max(vcfs)
    per_contig = share(sizes, n_max)
    snv_chrom, snv_pos, snv_ref = [], [], []
    with atomic_open(fasta, "wb") as fh:
        for chrom, size in sizes.items():
            runs = n_runs(size, genome_gb)
            pos = off_n(rng, size, runs, per_contig[chrom], 1)
            fh.write(f">{chrom}\n".encode())
            for at in range(0, size, CHUNK):
                n = min(CHUNK, size - at)
                seq = LETTERS[rng.integers(0, 4, n, dtype=np.uint8)]
                here = pos[(pos >= at) & (pos < at + n)]
                snv_chrom.append(np.full(len(here), chrom, dtype=object))
                snv_pos.append(here)
                snv_ref.append(seq[here - at])
                seq |= _mask(rng, n).astype(np.uint8) * 32  # lowercase
                for start, end in runs:
                    seq[max(start - at, 0) : max(min(end - at, n), 0)] = ord("N")
                full = n // WIDTH * WIDTH
                lines = np.empty((full // WIDTH, WIDTH + 1), dtype=np.uint8)
                lines[:, :WIDTH] = seq[:full].reshape(-1, WIDTH)  # (lines, 60) + newline
                lines[:, WIDTH] = 10
                fh.write(lines.tobytes())
                if n > full:
                    fh.write(seq[full:].tobytes() + b"\n")
    chrom, pos, ref = (np.concatenate(x) for x in (snv_chrom, snv_pos, snv_ref))
    _write_vcfs(vcfs, chrom, pos, ref, rng)


def _write_vcfs(vcfs: dict[int, Path], chrom, pos, ref, rng: np.random.Generator) -> None:
    codes = np.searchsorted(LETTERS, ref)
    alt = LETTERS[(codes + rng.integers(1, 4, len(codes))) % 4]
    table = pd.DataFrame(
        {
            "#CHROM": chrom,
            "POS": pos + 1,
            "ID": "v" + pd.Series(np.arange(len(pos))).astype(str),
            "REF": ref.view("S1").astype(str),
            "ALT": alt.view("S1").astype(str),
            "QUAL": ".",
            "FILTER": "PASS",
            "INFO": ".",
        }
    )
    for n, path in vcfs.items():
        keep = np.sort(rng.choice(len(table), n, replace=False)) if n < len(table) else None
        rows = table if keep is None else table.iloc[keep]
        with atomic_open(path) as fh:
            fh.write("##fileformat=VCFv4.2\n##source=seqnn scale_workload (synthetic)\n")
            rows.to_csv(fh, sep="\t", index=False)


# ----------------------------------------------------------------------------- peaks, bigWigs
def make_peaks(
    sizes: dict[str, int], genome_gb: float, seed: int, n_peaks: int = N_PEAKS
) -> pd.DataFrame:
    """``n_peaks`` sorted narrowPeak rows: log-normal widths, summit near the middle."""
    rng = np.random.default_rng(seed)
    parts = []
    for chrom, n in share(sizes, n_peaks).items():
        if n == 0:
            continue
        width = np.clip(rng.lognormal(np.log(400), 0.5, n), 150, 3_000).astype(np.int64)
        margin = 3_000 + FLANK
        centre = off_n(rng, sizes[chrom], n_runs(sizes[chrom], genome_gb), n, margin)
        start = centre - width // 2
        order = np.argsort(start, kind="stable")  # sorted by start, as peak callers write
        frame = {"chrom": chrom, "start": start[order], "end": (start + width)[order]}
        parts.append(pd.DataFrame(frame))
    peaks = pd.concat(parts, ignore_index=True)
    n = len(peaks)
    signal = rng.gamma(2.0, 5.0, n).round(3)
    width = (peaks["end"] - peaks["start"]).to_numpy()
    return peaks.assign(
        name="peak" + pd.Series(np.arange(n)).astype(str),
        score=np.minimum(1000, (signal * 20).astype(np.int64)),
        strand=".",
        signal_value=signal,
        p_value=(signal * 1.5).round(3),
        q_value=(signal * 1.2).round(3),
        peak=(width // 2 + rng.integers(-20, 21, n)).clip(0, width - 1),
    )


def write_bigwig(path: Path, peaks: pd.DataFrame, sizes: dict[str, int]) -> None:
    """Signal in 50-bp bins over each peak +- 500 bp: a bump of height signal_value at the
    summit; overlapping bumps add. One addEntries per contig (bins sorted, no overlaps)."""
    import pyBigWig

    with atomic_path(path) as tmp:
        bw = pyBigWig.open(tmp, "w")
        bw.addHeader(list(sizes.items()))
        for chrom, group in peaks.groupby("chrom", sort=False):
            start = (group["start"].to_numpy() - FLANK) // BIN
            end = -(-(group["end"].to_numpy() + FLANK) // BIN)
            n = end - start
            # a ragged arange: every bin of every peak, (sum n,)
            bins = np.repeat(start - np.cumsum(n) + n, n) + np.arange(n.sum())
            summit = np.repeat((group["start"] + group["peak"]).to_numpy() // BIN, n)
            height = np.repeat(group["signal_value"].to_numpy(), n)
            value = height * np.exp(-0.5 * ((bins - summit) * BIN / 150.0) ** 2)
            uniq, inverse = np.unique(bins, return_inverse=True)
            total = np.bincount(inverse, weights=value).astype(np.float64)
            starts = (uniq * BIN).astype(np.int64)
            ends = np.minimum(starts + BIN, sizes[chrom]).astype(np.int64)
            ok = starts < ends
            bw.addEntries(
                [chrom] * int(ok.sum()), starts[ok].tolist(), ends=ends[ok].tolist(),
                values=total[ok].tolist(),
            )  # fmt: skip
        bw.close()


def write_regions(path: Path, sizes: dict[str, int], n: int, seed: int, length: int = 1_000):
    rng = np.random.default_rng(seed)
    names = np.array(list(sizes))
    lengths = np.array(list(sizes.values()))
    chrom = rng.choice(len(names), n, p=lengths / lengths.sum())
    start = (rng.random(n) * (lengths[chrom] - length)).astype(np.int64)
    frame = pd.DataFrame({"chrom": names[chrom], "start": start, "end": start + length})
    with atomic_open(path) as fh:
        frame.to_csv(fh, sep="\t", header=False, index=False)


# ----------------------------------------------------------------------------- all
def make_workload(
    workdir: str | Path,
    genome_gb: float,
    tracks: int = 10,
    seed: int = 0,
    variants: tuple[int, ...] = (10_000, 1_000_000),
    regions: tuple[int, ...] = (10_000, 1_000_000),
    log=print,
    n_bigwigs: int | None = None,
    n_peaks: int = N_PEAKS,
) -> Workload:
    """Write what is missing of the workload in ``workdir/g<genome_gb>_s<seed>``.

    Args:
        workdir: the parent folder (kept between runs).
        genome_gb: the genome size in Gb (0.1, 1 or 3.1).
        tracks: the number of peak files (and of bigWigs unless ``n_bigwigs`` is given).
        seed: the seed of everything.
        variants, regions: the sizes of the VCFs and of the regions BEDs.
        log: called with one line per file written.
        n_bigwigs: the number of bigWigs (at most ``tracks``; default ``tracks``).
        n_peaks: peaks per file.

    Returns:
        The :class:`Workload`.
    """
    folder = Path(workdir) / f"g{genome_gb:g}_s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    sizes = contig_sizes(genome_gb)
    work = Workload(
        folder=folder,
        fasta=folder / "genome.fa",
        sizes=sizes,
        peaks=[folder / f"peaks_{i}.narrowPeak" for i in range(tracks)],
        bigwigs=[folder / f"signal_{i}.bw" for i in range(min(n_bigwigs or tracks, tracks))],
        vcf={n: folder / f"variants_{_tag(n)}.vcf" for n in variants},
        regions={n: folder / f"regions_{_tag(n)}.bed" for n in regions},
    )
    t0 = time.perf_counter()
    if not work.fasta.exists() or any(not p.exists() for p in work.vcf.values()):
        write_genome(work.fasta, work.vcf, genome_gb, seed)
        log(f"wrote {work.fasta} + VCFs in {time.perf_counter() - t0:.1f} s")
    for i, peak_path in enumerate(work.peaks):
        bw_path = work.bigwigs[i] if i < len(work.bigwigs) else None
        if peak_path.exists() and (bw_path is None or bw_path.exists()):
            continue
        peaks = make_peaks(sizes, genome_gb, seed=seed * 1_000 + 100 + i, n_peaks=n_peaks)
        with atomic_open(peak_path) as fh:
            peaks.to_csv(fh, sep="\t", header=False, index=False)
        if bw_path is not None:
            write_bigwig(bw_path, peaks, sizes)
    for n, path in work.regions.items():
        if not path.exists():
            write_regions(path, sizes, n, seed=seed * 1_000 + n % 997)
    log(f"workload ready in {folder} ({time.perf_counter() - t0:.1f} s)")
    return work


def _tag(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1_000}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome-gb", type=float, default=0.1)
    parser.add_argument("--tracks", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path("scale_workdir"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make_workload(args.workdir, args.genome_gb, args.tracks, args.seed)


if __name__ == "__main__":
    main()
