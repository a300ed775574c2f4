"""seqnn.qc: the five planted pitfalls found with exact counts, a clean simulation that raises
nothing, MinHash against exact Jaccard, bad input, and the report written atomically."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seqnn.data.datamodule import IntervalDataModule, TableDataModule
from seqnn.data.encoding import decode, encode, reverse_complement_codes
from seqnn.data.genome import write_fasta
from seqnn.qc import QCError, QCSettings, qc_data, run_qc, table_data, write_report
from seqnn.qc.hashing import pair_jaccard, row_hashes, sketches

LENGTH = 200
MOTIF = encode("TGACTCAT")  # a real signal: the positives' motif (an AP-1 site)


def simulate(n: int = 600, seed: int = 0, gc: float = 0.5) -> pd.DataFrame:
    """A clean table: random sequences, a motif in each positive, a seeded train/val/test
    column (70 / 15 / 15)."""
    rng = np.random.default_rng(seed)
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    codes = rng.choice(4, (n, LENGTH), p=p).astype(np.uint8)
    label = (np.arange(n) % 2 == 0).astype(int)
    at = rng.integers(0, LENGTH - len(MOTIF), n)
    for i in np.flatnonzero(label):
        codes[i, at[i] : at[i] + len(MOTIF)] = MOTIF
    split = rng.choice(["train", "val", "test"], n, p=[0.7, 0.15, 0.15])
    return pd.DataFrame({"sequence": decode(codes), "label": label, "split": split})


def check(table: pd.DataFrame, **settings) -> dict:
    module = TableDataModule(table, target_columns=["label"], target_kind="binary")
    result = run_qc(qc_data(module), QCSettings(**settings))
    return result


def names(result) -> set[str]:
    return {f.check for f in result.findings}


def test_clean_simulation_raises_nothing():
    result = check(simulate())
    f = result.figures
    assert result.findings == []
    assert f["duplicates_across_splits"] == 0
    assert f["rc_duplicates_across_splits"] == 0
    assert f["near_duplicates_across_splits"] == 0
    assert f["conflicting_labels"] == {"groups": 0, "rows": 0}
    # the motif shows in the 4-mer spectrum (the bar to beat), not in GC or length
    assert f["baseline_auroc"]["label"] > 0.6
    assert f["low_order_auroc"]["label"] < 0.6


def _rows(table: pd.DataFrame, stage: str) -> np.ndarray:
    return np.flatnonzero(table["split"].to_numpy() == stage)


def test_duplicates_rc_and_near_copies_across_splits_are_counted():
    table = simulate()
    train, val, test = (_rows(table, s) for s in ("train", "val", "test"))
    seqs = table["sequence"].to_numpy(object).copy()
    labels = table["label"].to_numpy().copy()
    rng = np.random.default_rng(1)
    for src, dst in zip(train[:5], test[:5], strict=True):  # 5 exact copies in test
        seqs[dst], labels[dst] = seqs[src], labels[src]
    for src, dst in zip(train[5:8], val[:3], strict=True):  # 3 reverse complements in val
        seqs[dst] = decode(reverse_complement_codes(encode(seqs[src])))
        labels[dst] = labels[src]
    for src, dst in zip(train[8:12], test[5:9], strict=True):  # 4 copies with 3 substitutions
        codes = encode(seqs[src]).copy()
        at = rng.choice(LENGTH, 3, replace=False)
        codes[at] = (codes[at] + 1) % 4
        seqs[dst], labels[dst] = decode(codes), labels[src]
    result = check(table.assign(sequence=seqs, label=labels))
    f = result.figures
    assert f["duplicates_across_splits"] == 5
    assert f["duplicates_per_split"] == {"val": 0, "test": 5}
    assert f["rc_duplicates_across_splits"] == 3
    copied = table["label"].to_numpy()[train[:5]].sum()
    assert f["duplicates_by_class"] == {"positive": copied, "negative": 5 - copied}
    assert f["near_duplicates_across_splits"] == 4
    assert {e["partner"] for e in f["examples"]["duplicates"]} == set(train[:5].tolist())
    assert all(e["jaccard"] >= 0.5 for e in f["examples"]["near_duplicates"])
    assert {"duplicates", "rc_duplicates", "near_duplicates"} <= names(result)
    assert all(x.level == "error" for x in result.findings if x.check.endswith("duplicates"))
    assert len(result.leak_rows["test"]) == 9 and len(result.leak_rows["val"]) == 3


def test_negatives_with_shifted_gc_are_a_shortcut_and_a_confounder():
    table = simulate()
    shifted = simulate(seed=5, gc=0.65)
    negative = table["label"].to_numpy() == 0
    table.loc[negative, "sequence"] = shifted.loc[negative, "sequence"].to_numpy()
    result = check(table)
    gc = result.figures["distributions"]["label"]["gc"]
    assert gc["flagged"] and gc["statistic"] > 0.8
    assert result.figures["low_order_auroc"]["label"] > 0.9
    assert names(result) == {"shortcut", "confounder"}


def test_a_1_to_50_class_ratio_is_flagged():
    table = simulate(n=1020)
    label = np.zeros(len(table), int)
    label[::51] = 1  # 20 positives : 1,000 negatives
    result = check(table.assign(label=label))
    balance = result.figures["class_balance"]["train"]["label"]
    assert balance["ratio"] < 0.05
    assert "class_balance" in names(result)
    assert "duplicates" not in names(result)


def test_identical_sequences_with_conflicting_labels():
    table = simulate()
    train = _rows(table, "train")
    seqs = table["sequence"].to_numpy(object).copy()
    labels = table["label"].to_numpy().copy()
    seqs[train[1]], labels[train[1]] = seqs[train[0]], 1 - labels[train[0]]  # same split
    rc = decode(reverse_complement_codes(encode(seqs[train[2]])))
    seqs[train[3]], labels[train[3]] = rc, 1 - labels[train[2]]  # the other strand
    result = check(table.assign(sequence=seqs, label=labels))
    assert result.figures["conflicting_labels"] == {"groups": 2, "rows": 4}
    assert "conflicting_labels" in names(result)


# ----------------------------------------------------------------------------- intervals
def genome_and_intervals(tmp_path, n: int = 300, seed: int = 0):
    """A 3-contig random genome and non-overlapping 200-bp intervals, random labels, a split
    column."""
    rng = np.random.default_rng(seed)
    contigs = {f"chr{i}": decode(rng.integers(0, 4, 40_000).astype(np.uint8)) for i in (1, 2, 3)}
    fasta = write_fasta(tmp_path / "genome.fa", contigs)
    slots = rng.choice(3 * 150, n, replace=False)  # 150 slots of 260 bp per contig
    chrom = np.array(["chr1", "chr2", "chr3"])[slots // 150]
    start = (slots % 150) * 260 + 30
    frame = pd.DataFrame(
        {
            "chrom": chrom,
            "start": start,
            "end": start + LENGTH,
            "label": rng.integers(0, 2, n),
            "split": rng.choice(["train", "val", "test"], n, p=[0.7, 0.15, 0.15]),
        }
    )
    return fasta, frame


def check_intervals(fasta, frame: pd.DataFrame, **settings):
    module = IntervalDataModule(
        fasta, frame, target_columns=["label"], target_kind="binary", num_workers=0
    )
    return run_qc(qc_data(module), QCSettings(**settings))


def test_clean_intervals_raise_nothing(tmp_path):
    fasta, frame = genome_and_intervals(tmp_path)
    result = check_intervals(fasta, frame)
    assert result.findings == []
    assert result.figures["overlapping_intervals_across_splits"] == 0
    assert set(result.figures["distributions"]["label"]) >= {"contig", "contig_end_distance"}


def test_labels_tied_to_a_contig_are_a_confounder(tmp_path):
    fasta, frame = genome_and_intervals(tmp_path)
    frame["label"] = (frame["chrom"] == "chr2").astype(int)
    result = check_intervals(fasta, frame)
    assert result.figures["distributions"]["label"]["contig"]["statistic"] == 1.0
    assert names(result) == {"confounder"}


def test_overlapping_intervals_across_splits(tmp_path):
    fasta, frame = genome_and_intervals(tmp_path)
    train = np.flatnonzero(frame["split"] == "train")[:4]
    moved = frame.iloc[train].assign(split="test")
    moved["start"] += LENGTH // 2  # half-overlapping: k-mer Jaccard ~0.3, not a near copy
    moved["end"] += LENGTH // 2
    result = check_intervals(fasta, pd.concat([frame, moved], ignore_index=True))
    f = result.figures
    assert f["overlapping_intervals_across_splits"] == 4
    assert f["near_duplicates_across_splits"] == 0
    assert names(result) == {"overlapping_intervals"}
    gap = check_intervals(fasta, frame, max_gap=61)  # the slots are 60 bp apart
    assert gap.figures["overlapping_intervals_across_splits"] > 0


# ----------------------------------------------------------------------------- hashing
def test_row_hashes_are_strand_canonical(rng):
    codes = rng.integers(0, 4, (50, 81)).astype(np.uint8)
    fwd, rev = row_hashes(codes)
    fwd_rc, rev_rc = row_hashes(reverse_complement_codes(codes))
    np.testing.assert_array_equal(fwd, rev_rc)
    np.testing.assert_array_equal(np.minimum(fwd, rev), np.minimum(fwd_rc, rev_rc))
    assert len(np.unique(fwd)) == 50


def test_minhash_estimates_exact_jaccard_within_tolerance(rng):
    """128 one-permutation hashes: mean absolute error <= 0.03, every pair within 0.15 of the
    exact Jaccard of its canonical 10-mer sets (1 kb and 200 bp pairs, 0-30% substituted)."""
    for length in (1000, 200):
        a = rng.integers(0, 4, (300, length)).astype(np.uint8)
        b = a.copy()
        mutate = rng.random(b.shape) < rng.uniform(0, 0.3, (300, 1))
        b[mutate] = (b[mutate] + rng.integers(1, 4, mutate.sum())) % 4
        sa, _ = sketches(a, k=10, n_hashes=128)
        sb, _ = sketches(b, k=10, n_hashes=128)
        estimate = (sa == sb).mean(axis=1)
        exact = pair_jaccard(a, b, k=10)
        error = np.abs(estimate - exact)
        assert error.mean() <= 0.03, (length, error.mean())
        assert error.max() <= 0.15, (length, error.max())
        assert exact.min() < 0.1 and exact.max() > 0.9  # the pairs span the range


def test_a_reverse_complement_has_jaccard_one(rng):
    a = rng.integers(0, 4, (3, 150)).astype(np.uint8)
    np.testing.assert_allclose(pair_jaccard(a, reverse_complement_codes(a)), 1.0)


# ----------------------------------------------------------------------------- bad input
def test_empty_training_split_is_refused():
    table = simulate().assign(split="test")
    with pytest.raises(QCError, match="training split is empty"):
        run_qc(table_data(table, ["label"]))


def test_one_class_is_refused():
    with pytest.raises(QCError, match="one class in the training rows"):
        check(simulate().assign(label=1))


def test_mixed_lengths_work_and_a_length_gap_is_flagged():
    table = simulate()
    positive = table["label"] == 1
    table.loc[positive, "sequence"] = table.loc[positive, "sequence"].str[:150]
    result = run_qc(table_data(table, ["label"]))
    assert result.figures["distributions"]["label"]["length"]["flagged"]
    assert result.figures["low_order_auroc"]["label"] == 1.0


def test_an_index_too_large_for_memory_names_the_fix():
    with pytest.raises(QCError, match="near=false"):
        check(simulate(), max_index_bytes=1000)
    assert (
        check(simulate(), near=False, max_index_bytes=1000).figures[
            "near_duplicates_across_splits"
        ]
        is None
    )


# ----------------------------------------------------------------------------- report
def test_report_and_json_written(tmp_path):
    table = simulate()
    result = check(table)
    paths = write_report(result, tmp_path / "qc", labels=table["label"].to_numpy())
    assert {p.name for p in paths} == {"gc.png", "roc.png", "report.md", "qc.json"}
    figures = json.loads((tmp_path / "qc" / "qc.json").read_text())
    for key in (
        "duplicates_across_splits",
        "rc_duplicates_across_splits",
        "near_duplicates_across_splits",
        "baseline_auroc",
    ):
        assert key in figures
    assert "![roc.png](roc.png)" in (tmp_path / "qc" / "report.md").read_text()
    assert not list((tmp_path / "qc").glob(".*tmp"))


def test_a_failed_write_leaves_no_json(tmp_path, monkeypatch):
    result = check(simulate())

    def broken(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(json, "dump", broken)
    with pytest.raises(OSError):
        write_report(result, tmp_path / "qc")
    assert not (tmp_path / "qc" / "qc.json").exists()
    assert not list((tmp_path / "qc").glob(".*tmp"))


def test_drop_rows_leaves_leaks_out_of_the_evaluated_split():
    table = simulate()
    train, test = _rows(table, "train"), _rows(table, "test")
    seqs = table["sequence"].to_numpy(object).copy()
    seqs[test[:2]] = seqs[train[:2]]
    module = TableDataModule(table.assign(sequence=seqs), target_columns=["label"])
    result = run_qc(qc_data(module))
    assert module.drop_rows("test", result.leak_rows["test"]) == 2
    assert len(module.datasets["test"]) == len(test) - 2
    assert run_qc(qc_data(module)).figures["duplicates_across_splits"] == 0
