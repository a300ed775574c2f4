"""seqnn.qc on tiled genome windows (data=peaks): interval overlaps across splits counted on
the window runs (planted leaks, exact counts, and a brute-force comparison), the checks on a
seeded sample of windows, a contig-tied label, and soft-masking read from the FASTA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqnn.data.datamodule import IntervalDataModule
from seqnn.data.encoding import decode
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.peaks import PeakLabels
from seqnn.data.tiling import tile_windows
from seqnn.qc import QCSettings, qc_data, run_qc
from seqnn.qc.duplicates import window_overlaps
from seqnn.qc.sources import tiled_data

SIZE, WINDOW = 40_000, 200


def soft_masked_genome(tmp_path, seed: int = 0, line_width: int = 60) -> tuple:
    """3 random contigs with lower-case runs (a repeat-masked genome): (FASTA, contigs)."""
    rng = np.random.default_rng(seed)
    contigs = {}
    for i in (1, 2, 3):
        letters = np.array(list(decode(rng.integers(0, 4, SIZE).astype(np.uint8))))
        for start in rng.choice(SIZE - 300, 40, replace=False):  # 40 masked runs of 50-300 bp
            end = start + rng.integers(50, 300)
            letters[start:end] = np.char.lower(letters[start:end])
        contigs[f"chr{i}"] = "".join(letters)
    return write_fasta(tmp_path / "genome.fa", contigs, line_width), contigs


def peaks_bed(tmp_path, frame: pd.DataFrame, name: str = "peaks.bed"):
    path = tmp_path / name
    frame[["chrom", "start", "end"]].to_csv(path, sep="\t", header=False, index=False)
    return path


def random_peaks(n: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.choice(SIZE // WINDOW - 1, n, replace=False) * WINDOW
    chrom = rng.choice(["chr1", "chr2", "chr3"], n)
    return pd.DataFrame({"chrom": chrom, "start": start, "end": start + WINDOW})


def module(fasta, *beds, stride: int = WINDOW) -> IntervalDataModule:
    windows = tile_windows(fasta, WINDOW, stride)
    return IntervalDataModule(
        fasta, windows, targets=PeakLabels(list(beds)), input_length=WINDOW, n_blocks=20
    )


def test_clean_tiled_peaks_raise_nothing(tmp_path):
    fasta, _ = soft_masked_genome(tmp_path)
    data = qc_data(module(fasta, peaks_bed(tmp_path, random_peaks())))
    result = run_qc(data)
    f = result.figures
    assert result.findings == []
    assert f["overlapping_intervals_across_splits"] == 0
    assert f["duplicates_across_splits"] == 0 and f["near_duplicates_across_splits"] == 0
    assert set(f["distributions"]["peaks"]) >= {"contig", "contig_end_distance", "soft_mask"}
    assert f["sample"]["train"]["rows"] == f["sample"]["train"]["of"] > 0  # all: a tiny genome
    assert "peaks" in f["baseline_auroc"]


def test_labels_tied_to_a_contig_are_a_confounder(tmp_path):
    fasta, _ = soft_masked_genome(tmp_path)
    whole_chr2 = pd.DataFrame({"chrom": ["chr2"], "start": [0], "end": [SIZE]})
    result = run_qc(qc_data(module(fasta, peaks_bed(tmp_path, whole_chr2))))
    assert result.figures["distributions"]["peaks"]["contig"]["statistic"] == 1.0
    assert {x.check for x in result.findings} == {"confounder"}


def planted_splits(fasta, stride: int = 100) -> tuple:
    """Windows of 200 bp every 100 bp; train = chr1 windows 0..99 (span [0, 10100)), val =
    chr2, test = chr1 windows 100..149: window 100 ([10000, 10200)) overlaps train, window
    101 ([10100, 10300)) touches it."""
    full = module(fasta, peaks_bed(fasta.parent, random_peaks()), stride=stride)
    full.setup()
    windows = full.split_rows()[0].windows
    chr1 = windows.on_contigs(["chr1"])
    splits = {
        "train": chr1.take(np.arange(100)),
        "val": windows.on_contigs(["chr2"]),
        "test": chr1.take(np.arange(100, 150)),
    }
    return full, splits


def test_a_test_window_overlapping_training_is_counted_exactly(tmp_path):
    fasta, _ = soft_masked_genome(tmp_path)
    full, splits = planted_splits(fasta)
    assert window_overlaps(splits, 0) == {"val": 0, "test": 1}
    assert window_overlaps(splits, 50) == {"val": 0, "test": 2}  # [10100, 10300) is 0 bp off
    data = tiled_data(full.split_rows()[0], splits)
    result = run_qc(data, QCSettings(near=False))
    f = result.figures
    assert f["overlapping_intervals_across_splits"] == 1
    assert f["overlapping_intervals_per_split"] == {"val": 0, "test": 1}
    assert {x.check for x in result.errors} == {"overlapping_intervals"}
    leaked = data.intervals.iloc[result.leak_rows["test"]]
    assert leaked[["chrom", "start"]].values.tolist() == [["chr1", 10000]]


@pytest.mark.parametrize("gap", [0, 1, 150, 1000])
def test_run_counts_match_a_brute_force_count_over_every_window(tmp_path, gap):
    fasta, _ = soft_masked_genome(tmp_path)
    windows = tile_windows(fasta, WINDOW, 100)
    rng = np.random.default_rng(gap)
    stage = rng.choice(3, len(windows), p=[0.6, 0.2, 0.2])  # many short runs
    splits = {
        s: windows.take(np.flatnonzero(stage == i)) for i, s in enumerate(("train", "val", "test"))
    }
    frame = windows.to_frame()
    chrom, start = frame["chrom"].to_numpy(), frame["start"].to_numpy()
    expected = {}
    for i, s in ((1, "val"), (2, "test")):
        ref, rows = np.flatnonzero(stage < i), np.flatnonzero(stage == i)
        same = chrom[rows][:, None] == chrom[ref][None, :]
        # less than gap bp apart (or overlapping): x < b + gap and x + w > a - gap
        near = (start[rows][:, None] < start[ref][None, :] + WINDOW + gap) & (
            start[rows][:, None] + WINDOW > start[ref][None, :] - gap
        )
        expected[s] = int((same & near).any(axis=1).sum())
    assert window_overlaps(splits, gap) == expected


def test_the_sample_is_seeded_and_bounded_and_the_overlaps_count_every_window(tmp_path):
    fasta, _ = soft_masked_genome(tmp_path)
    full, splits = planted_splits(fasta)
    data = tiled_data(full.split_rows()[0], splits, sample_train=30, sample_eval=10, seed=3)
    again = tiled_data(full.split_rows()[0], splits, sample_train=30, sample_eval=10, seed=3)
    assert data.sample == {
        "train": {"rows": 30, "of": 100},
        "val": {"rows": 10, "of": len(splits["val"])},
        "test": {"rows": 10, "of": 50},
    }
    assert data.intervals.equals(again.intervals)
    result = run_qc(data, QCSettings(near=False, baseline=False))
    assert result.figures["overlapping_intervals_across_splits"] == 1  # all windows, not 10


@pytest.mark.parametrize("line_width", [60, 0])
def test_soft_masked_fraction_is_read_from_the_fasta(tmp_path, line_width):
    fasta, contigs = soft_masked_genome(tmp_path, line_width=line_width)
    genome = Genome(fasta)
    rng = np.random.default_rng(0)
    contig = rng.integers(0, 3, 200)
    starts = rng.integers(-50, SIZE - 100, 200)  # some reach past either end
    got = genome.soft_masked_fraction(contig, starts, 300, chunk=3000)
    for c, s, value in zip(contig, starts, got, strict=True):
        text = contigs[genome.names[c]][max(s, 0) : s + 300]
        assert value == pytest.approx(sum(x.islower() for x in text) / len(text))
    assert 0 < np.mean(got) < 0.5


def test_soft_masked_positives_are_a_confounder(tmp_path):
    fasta, contigs = soft_masked_genome(tmp_path)
    # peaks on the windows that are mostly lower case
    frame = tile_windows(fasta, WINDOW, WINDOW).to_frame()
    genome = Genome(fasta)
    contig = np.array([genome.names.index(c) for c in frame["chrom"]])
    masked = genome.soft_masked_fraction(contig, frame["start"].to_numpy(), WINDOW) > 0.5
    result = run_qc(qc_data(module(fasta, peaks_bed(tmp_path, frame[masked]))))
    soft = result.figures["distributions"]["peaks"]["soft_mask"]
    assert soft["flagged"] and soft["statistic"] > 0.9


class GCTarget:
    """A regression target read per batch, like coverage: the window's GC fraction (times
    ``scale``), or noise."""

    target_names = ["signal"]

    def __init__(self, fasta, noise: bool = False) -> None:
        self.genome, self.noise = Genome(fasta), noise
        self.rng = np.random.default_rng(0)

    def __call__(self, chroms, starts, ends, reverse) -> np.ndarray:
        if self.noise:
            return self.rng.normal(size=(len(starts), 1, 4))
        codes = self.genome.fetch_codes(chroms, starts, ends)
        gc = np.isin(codes, (1, 2)).mean(axis=1)
        return np.repeat(gc[:, None, None], 4, axis=2)  # (B, T, L_out): a flat profile


@pytest.mark.parametrize("tiled", [True, False])
def test_a_coverage_like_target_tied_to_gc_gets_a_high_baseline_r(tmp_path, tiled):
    fasta, _ = soft_masked_genome(tmp_path)
    windows = tile_windows(fasta, WINDOW, WINDOW)
    intervals = windows if tiled else windows.to_frame()
    results = {}
    for noise in (False, True):
        dm = IntervalDataModule(
            fasta, intervals, targets=GCTarget(fasta, noise), input_length=WINDOW, n_blocks=20
        )
        results[noise] = run_qc(qc_data(dm), QCSettings(near=False))
    tied, noise = results[False].figures, results[True].figures
    assert tied["baseline_pearson"]["signal"] > 0.95
    assert "shortcut" in {x.check for x in results[False].findings}
    assert abs(noise["baseline_pearson"]["signal"]) < 0.3
    assert "shortcut" not in {x.check for x in results[True].findings}
