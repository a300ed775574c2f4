"""seqnn.qc on tiled genome windows (data=peaks): interval overlaps across splits counted on
the window runs (planted leaks, exact counts, and a brute-force comparison), the checks on a
seeded sample of windows, a contig-tied label, and soft-masking read from the FASTA."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from genome_files import write_bgzf
from hydra_run import seqnn_cache  # noqa: F401
from test_train import FEW_BATCHES, QUIET, TINY, run_train

from seqnn.cli.data_qc import QCFailed, checked, data_of
from seqnn.data.datamodule import IntervalDataModule
from seqnn.data.encoding import decode
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.peaks import PeakLabels
from seqnn.data.tiling import tile_windows
from seqnn.qc import QCSettings, qc_data, run_qc
from seqnn.qc.duplicates import leak_free_windows, window_overlaps
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


def near_earlier(frame: pd.DataFrame, stage: np.ndarray, i: int, gap: int) -> np.ndarray:
    """Brute force, window by window: which windows of split ``i`` (``stage == i``) overlap
    or come less than ``gap`` bp from a window of an earlier split (``0 <= stage < i``)."""
    chrom, start = frame["chrom"].to_numpy(), frame["start"].to_numpy()
    ref, rows = np.flatnonzero((stage >= 0) & (stage < i)), np.flatnonzero(stage == i)
    same = chrom[rows][:, None] == chrom[ref][None, :]
    # less than gap bp apart (or overlapping): x < b + gap and x + w > a - gap
    near = (start[rows][:, None] < start[ref][None, :] + WINDOW + gap) & (
        start[rows][:, None] + WINDOW > start[ref][None, :] - gap
    )
    return (same & near).any(axis=1)


@pytest.mark.parametrize("gap", [0, 1, 150, 1000])
def test_run_counts_and_drops_match_a_brute_force_check_of_every_window(tmp_path, gap):
    fasta, _ = soft_masked_genome(tmp_path)
    windows = tile_windows(fasta, WINDOW, 100)
    rng = np.random.default_rng(gap)
    stage = rng.choice(3, len(windows), p=[0.6, 0.2, 0.2])  # many short runs
    splits = {
        s: windows.take(np.flatnonzero(stage == i)) for i, s in enumerate(("train", "val", "test"))
    }
    frame = windows.to_frame()
    leaking = {s: near_earlier(frame, stage, i, gap) for i, s in ((1, "val"), (2, "test"))}
    assert window_overlaps(splits, gap) == {s: int(x.sum()) for s, x in leaking.items()}
    kept = leak_free_windows(splits, gap)
    for i, s in ((1, "val"), (2, "test")):
        expected = frame.iloc[np.flatnonzero(stage == i)[~leaking[s]]].reset_index(drop=True)
        # the rest, in their order (an empty frame's chrom column is object, not str)
        pd.testing.assert_frame_equal(kept[s].to_frame(), expected, check_dtype=False)


def test_windows_without_ranges_keep_the_rest_in_row_order(tmp_path):
    fasta, _ = soft_masked_genome(tmp_path)
    windows = tile_windows(fasta, WINDOW, 100)
    rng = np.random.default_rng(0)
    shuffled = windows.take(rng.permutation(len(windows)))  # 1-window runs, any order
    for source in (windows, shuffled):
        contig = rng.integers(0, 3, 30)
        lo = rng.integers(-5, 400, 30)
        hi = lo + rng.integers(0, 40, 30)  # some empty, some overlapping each other
        frame = source.to_frame()
        k = frame["start"].to_numpy() // 100
        c = frame["chrom"].map({"chr1": 0, "chr2": 1, "chr3": 2}).to_numpy()
        cut = ((c[:, None] == contig) & (k[:, None] >= lo) & (k[:, None] < hi)).any(axis=1)
        got = source.without(contig, lo, hi)
        pd.testing.assert_frame_equal(got.to_frame(), frame[~cut].reset_index(drop=True))
        assert len(got.count) <= len(source.count) + 30


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


@pytest.mark.parametrize("chunk", [3000, 1 << 22])
def test_soft_masked_fraction_of_a_bgzip_fasta(tmp_path, chunk):
    plain, contigs = soft_masked_genome(tmp_path)
    bgzip = Genome(write_bgzf(tmp_path / "genome.fa.gz", plain.read_bytes()))  # 1 kb blocks
    rng = np.random.default_rng(1)
    contig = rng.integers(0, 3, 300)
    starts = np.r_[rng.integers(-350, SIZE + 50, 297), 0, SIZE, -300]  # some past either end
    got = bgzip.soft_masked_fraction(contig, starts, 300, chunk=chunk)
    expected = Genome(plain).soft_masked_fraction(contig, starts, 300)
    np.testing.assert_allclose(got, expected)  # NaN where a window is wholly outside
    assert np.isnan(got[-2:]).all() and np.isnan(got).sum() < 20
    for c, s, value in zip(contig[:50], starts[:50], got[:50], strict=True):
        text = contigs[bgzip.names[c]][max(s, 0) : max(s + 300, 0)]
        if text:
            assert value == pytest.approx(sum(x.islower() for x in text) / len(text))


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


@pytest.mark.parametrize(("gap", "went"), [(0, [10000]), (50, [10000, 10100])])
def test_qc_drop_leaves_the_overlapping_windows_out_of_the_evaluated_splits(
    tmp_path, monkeypatch, gap, went
):
    fasta, _ = soft_masked_genome(tmp_path)
    dm, splits = planted_splits(fasta)
    before = {s: w.to_frame() for s, w in splits.items()}
    monkeypatch.setattr(dm, "_split", lambda frame, full: dict(splits))  # the planted split
    dm.datasets = {}
    settings = QCSettings(near=False, baseline=False, max_gap=gap, drop=True)
    # qc=error goes on with drop: the leaking windows are left out instead
    result = checked("error", settings, data_of(dm, settings), tmp_path / "qc", True, dm)
    assert result.figures["dropped"] == {"val": 0, "test": len(went)}
    assert f"test {len(went)}" in (tmp_path / "qc" / "report.md").read_text()
    rows = dm.split_rows()[2]
    test = before["test"]
    pd.testing.assert_frame_equal(
        rows["test"].to_frame(), test[~test["start"].isin(went)].reset_index(drop=True)
    )
    for stage in ("train", "val"):  # nothing else changes
        pd.testing.assert_frame_equal(rows[stage].to_frame(), before[stage])
    assert len(dm.datasets["test"]) == 50 - len(went)
    assert len(dm.datasets["val"]) == len(before["val"])


def test_qc_drop_on_a_block_split_matches_a_brute_force_check(tmp_path):
    fasta, _ = soft_masked_genome(tmp_path)
    dm = module(fasta, peaks_bed(tmp_path, random_peaks()), stride=100)
    whole = dm.split_rows()[0].windows
    before = {s: w.to_frame() for s, w in dm.split_rows()[2].items()}
    # which split each window is in (-1: none, it straddles two blocks), brute force
    frame = whole.to_frame()
    key = frame["chrom"] + ":" + frame["start"].astype(str)
    stage = np.full(len(frame), -1)
    for i, s in enumerate(("train", "val", "test")):
        stage[key.isin(before[s]["chrom"] + ":" + before[s]["start"].astype(str))] = i
    assert (stage == -1).any()  # windows across two blocks are in no split
    settings = QCSettings(near=False, baseline=False, max_gap=150, drop=True)
    result = checked("warn", settings, data_of(dm, settings), tmp_path / "qc", True, dm)
    rows = dm.split_rows()[2]
    for i, s in ((1, "val"), (2, "test")):
        leaking = near_earlier(frame, stage, i, 150)
        assert result.figures["dropped"][s] == leaking.sum() > 0
        expected = frame.iloc[np.flatnonzero(stage == i)[~leaking]].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows[s].to_frame(), expected, check_dtype=False)
    pd.testing.assert_frame_equal(rows["train"].to_frame(), before["train"])


def peaks_run(fasta, bed, *more: str) -> list[str]:
    """seqnn-train on tiled windows labelled by a peak file, a tiny model and few batches
    (not fast_dev_run, which skips the QC step)."""
    return [
        "data=peaks",
        f"data.genome={fasta}",
        f"data.targets.peaks=[{bed}]",
        f"data.input_length={WINDOW}",
        "data.n_blocks=20",
        *TINY["cnn"],
        "trainer.max_epochs=1",
        *FEW_BATCHES,
        *QUIET,
        "qc_settings.near=false",
        *more,
    ]


def test_seqnn_train_on_tiled_peaks_runs_the_qc_step(tmp_path):
    fasta, _ = soft_masked_genome(tmp_path)
    bed = peaks_bed(tmp_path, random_peaks())
    run_train(peaks_run(fasta, bed), tmp_path / "run")
    figures = json.loads((tmp_path / "run" / "qc" / "qc.json").read_text())
    assert (tmp_path / "run" / "qc" / "report.md").is_file()
    assert figures["overlapping_intervals_across_splits"] == 0
    assert figures["sample"]["train"]["rows"] > 0
    # windows beside a block of an earlier split leak at max_gap 150: qc=error names them
    with pytest.raises(QCFailed, match=r"qc=error: .*overlap"):
        run_train(peaks_run(fasta, bed, "qc=error", "qc_settings.max_gap=150"), tmp_path / "e")
    assert not (tmp_path / "e" / "checkpoints").exists()  # stopped before fitting
    leaked = json.loads((tmp_path / "e" / "qc" / "qc.json").read_text())
    assert leaked["overlapping_intervals_across_splits"] > 0
    # qc_settings.drop=true leaves exactly those windows out and trains on
    more = ("qc=error", "qc_settings.max_gap=150", "qc_settings.drop=true")
    run_train(peaks_run(fasta, bed, *more), tmp_path / "d")
    dropped = json.loads((tmp_path / "d" / "qc" / "qc.json").read_text())["dropped"]
    assert dropped == leaked["overlapping_intervals_per_split"]
    assert (tmp_path / "d" / "model" / "seqnn.json").is_file()
