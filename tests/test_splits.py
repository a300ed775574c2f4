"""seqnn.data.splits: the split schemes as plain functions of rows."""

import numpy as np
import pandas as pd
import pytest

from seqnn.data.splits import (
    STAGES,
    fold_split,
    interval_split,
    redeal_val,
    split_by_label,
    stratified_split,
)

LABELS = np.r_[np.ones(20), np.zeros(80)][:, None]  # (n, 1) binary labels


def disjoint_and_complete(parts: dict[str, np.ndarray], n: int) -> bool:
    joined = np.concatenate([parts[s] for s in STAGES])
    return len(joined) == len(set(joined)) == n


def test_stratified_split_keeps_each_class_in_proportion():
    parts = stratified_split(100, LABELS, 0.1, 0.2, seed=0)
    assert disjoint_and_complete(parts, 100)
    assert [LABELS[parts[s], 0].sum() for s in STAGES] == [14, 2, 4]
    assert np.array_equal(parts["test"], stratified_split(100, LABELS, 0.1, 0.2, 0)["test"])
    with pytest.raises(ValueError, match="must be in"):
        stratified_split(100, LABELS, 0.5, 0.5, 0)


def test_fold_split_test_folds_partition_the_rows():
    tests = [fold_split(100, LABELS, 0.1, 5, k, seed=3) for k in range(5)]
    assert all(disjoint_and_complete(parts, 100) for parts in tests)
    joined = np.concatenate([parts["test"] for parts in tests])
    assert sorted(joined) == list(range(100))
    assert all(LABELS[parts["test"], 0].sum() == 4 for parts in tests)  # stratified
    with pytest.raises(ValueError, match="need folds >= 2"):
        fold_split(100, LABELS, 0.1, 5, 5, 0)


def test_redeal_val_keeps_the_test_rows():
    parts = stratified_split(100, LABELS, 0.1, 0.2, seed=0)
    assert redeal_val(parts, 100, LABELS, None, 0) is parts
    other = redeal_val(parts, 100, LABELS, 7, 0)
    assert np.array_equal(other["test"], parts["test"]) and disjoint_and_complete(other, 100)
    assert len(other["val"]) == len(parts["val"]) and set(other["val"]) != set(parts["val"])


def test_split_by_label_reads_a_column_and_names_a_bad_row():
    parts = split_by_label(pd.Series(["train", "Valid", "test", "train"], name="split"))
    assert {s: parts[s].tolist() for s in STAGES} == {"train": [0, 3], "val": [1], "test": [2]}
    with pytest.raises(ValueError, match="row 1: split 'dev' in column 'split'"):
        split_by_label(pd.Series(["train", "dev"], name="split"))


def test_interval_split_by_chromosomes_or_blocks():
    intervals = pd.DataFrame(
        {"chrom": ["a", "b", "c", "a"], "start": [0, 0, 0, 500], "end": [10, 10, 10, 510]}
    )
    sizes = {"a": 1000, "b": 1000, "c": 1000}
    parts = interval_split(intervals, sizes, val_chroms=["b"], test_chroms=["c"])
    assert {s: parts[s].tolist() for s in STAGES} == {"train": [0, 3], "val": [1], "test": [2]}
    blocks = interval_split(intervals, sizes, val_fraction=0.34, test_fraction=0.34, n_blocks=3)
    assert disjoint_and_complete(blocks, 4)
