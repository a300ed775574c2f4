"""Train / val / test splits: which rows of a sequence table or of genome intervals go where.

Every scheme is a plain function that returns ``{"train": rows, "val": rows, "test": rows}``,
sorted int64 row indices (positions, not index labels), so that the data modules, scripts and
tests use one implementation:

- :func:`split_by_label`: a column of train / val / test labels;
- :func:`stratified_split`: seeded random fractions, each class split alike;
- :func:`fold_split`: fold ``k`` of a stratified k-fold cross-validation;
- :func:`redeal_val`: the same test rows, validation rows drawn anew with another seed;
- :func:`interval_split`: genome intervals by held-out chromosomes
  (:func:`~seqnn.data.intervals.split_by_chromosome`) or genome blocks
  (:func:`~seqnn.data.intervals.split_by_blocks`), both re-exported here;
  on tiled :class:`~seqnn.data.tiling.Windows` the same rules run by run (the splits are
  Windows too, so no per-window array is made).

``labels`` are the rows' class labels, (n,) or (n, T) (a class is a distinct row of labels),
or None for no stratification.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from seqnn.data.intervals import (
    IntervalError,
    _assign_blocks,
    _block_size,
    split_by_blocks,
    split_by_chromosome,
)
from seqnn.data.tiling import Windows

STAGES = ("train", "val", "test")
Split = dict[str, np.ndarray]

__all__ = [
    "STAGES",
    "fold_split",
    "interval_split",
    "redeal_val",
    "split_by_blocks",
    "split_by_chromosome",
    "split_by_label",
    "stratified_split",
]


def split_by_label(labels: pd.Series) -> Split:
    """Rows by their train / val / test label (``valid`` / ``validation`` mean val).

    Raises:
        ValueError: a label that is none of them, naming its row and column.
    """
    values = labels.astype(str).str.lower().replace({"valid": "val", "validation": "val"})
    bad = ~values.isin(STAGES)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise ValueError(
            f"row {i}: split {labels.iloc[i]!r} in column {labels.name!r} is not one of "
            f"{STAGES}: fix the label or drop the row"
        )
    return {s: np.flatnonzero((values == s).to_numpy()) for s in STAGES}


def _strata(n: int, labels: np.ndarray | None, seed: int) -> Iterator[np.ndarray]:
    """Each class's rows (a class is a distinct row of labels), shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    strata = (
        np.zeros(n, np.int64)
        if labels is None
        else np.unique(labels.reshape(n, -1), axis=0, return_inverse=True)[1].ravel()
    )
    for stratum in np.unique(strata):
        yield rng.permutation(np.flatnonzero(strata == stratum))


def stratified_split(
    n: int, labels: np.ndarray | None, val_fraction: float, test_fraction: float, seed: int
) -> Split:
    """Random split of ``n`` rows; each class is split in the same fractions (seeded)."""
    if not 0 <= val_fraction + test_fraction < 1:
        raise ValueError(
            f"val_fraction + test_fraction must be in [0, 1), got {val_fraction + test_fraction}"
        )
    parts: dict[str, list[np.ndarray]] = {s: [] for s in STAGES}
    for rows in _strata(n, labels, seed):
        n_val, n_test = round(len(rows) * val_fraction), round(len(rows) * test_fraction)
        parts["val"].append(rows[:n_val])
        parts["test"].append(rows[n_val : n_val + n_test])
        parts["train"].append(rows[n_val + n_test :])
    return {s: np.sort(np.concatenate(parts[s])) for s in STAGES}


def redeal_val(
    parts: Split, n: int, labels: np.ndarray | None, val_seed: int | None, seed: int
) -> Split:
    """The same test rows, and each class's validation rows drawn anew with ``val_seed`` from
    its train + val rows (as many as before); ``parts`` itself for None or ``seed``."""
    if val_seed is None or val_seed == seed:
        return parts
    rng = np.random.default_rng(val_seed)
    pool = np.concatenate([parts["train"], parts["val"]])
    in_val = np.isin(pool, parts["val"])
    val = []
    for rows in _strata(n, labels, 0):
        mine = np.isin(pool, rows)
        candidates = rng.permutation(pool[mine])
        val.append(candidates[: int(in_val[mine].sum())])
    val = np.sort(np.concatenate(val))
    return {"train": np.setdiff1d(pool, val), "val": val, "test": parts["test"]}


def fold_split(
    n: int, labels: np.ndarray | None, val_fraction: float, folds: int, fold: int, seed: int
) -> Split:
    """Fold ``fold`` of a stratified k-fold CV: each class's shuffled rows are dealt round-robin
    into ``folds`` folds; that fold is test, and ``val_fraction`` of the class (from the other
    folds) is val. The test folds of one seed partition the rows."""
    if folds < 2 or not 0 <= fold < folds:
        raise ValueError(f"need folds >= 2 and 0 <= fold < folds, got folds={folds}, fold={fold}")
    if not 0 <= val_fraction + 1 / folds < 1:
        raise ValueError(f"val_fraction {val_fraction} + the test fold 1/{folds} must be below 1")
    parts: dict[str, list[np.ndarray]] = {s: [] for s in STAGES}
    for rows in _strata(n, labels, seed):
        held = np.zeros(len(rows), bool)
        held[fold::folds] = True
        rest = rows[~held]
        n_val = round(len(rows) * val_fraction)
        parts["test"].append(rows[held])
        parts["val"].append(rest[:n_val])
        parts["train"].append(rest[n_val:])
    return {s: np.sort(np.concatenate(parts[s])) for s in STAGES}


def _check_held_out(
    held_out: Mapping[str, list[str]], sizes: Mapping[str, int], used: set[str]
) -> None:
    """Held-out chromosomes must be contigs of the genome that hold intervals: a typo would
    otherwise leave a split empty, and training would stop after a whole epoch."""
    for key, names in held_out.items():
        unknown = [n for n in names if n not in sizes]
        if unknown:
            shown = ", ".join(list(sizes)[:8]) + (", ..." if len(sizes) > 8 else "")
            raise IntervalError(
                f"{key}={unknown}: not contigs of the genome (it has {shown}): give contigs "
                "that hold intervals"
            )
        if names and not used & set(names):
            raise IntervalError(
                f"{key}={names}: no interval lies on these contigs, so that split would be "
                "empty: give contigs that hold intervals"
            )


def interval_split(
    intervals: pd.DataFrame | Windows,
    sizes: Mapping[str, int],
    val_chroms: Sequence[str] | None = None,
    test_chroms: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    n_blocks: int = 100,
    seed: int = 0,
) -> Split | dict[str, Windows]:
    """Rows of ``intervals`` by held-out chromosomes when any are named, else by seeded genome
    blocks of the genome of ``sizes`` ({contig: size}; see
    :func:`~seqnn.data.intervals.split_by_blocks`: an interval straddling two blocks is in no
    split). Tiled :class:`~seqnn.data.tiling.Windows` give Windows: the same windows as their
    table would, in the same order, computed on the runs (cost: runs + blocks)."""
    held_out = {"val_chroms": list(val_chroms or []), "test_chroms": list(test_chroms or [])}
    if isinstance(intervals, Windows):
        if val_chroms or test_chroms:
            _check_held_out(held_out, sizes, set(intervals.contig_names()))
        return _windows_split(
            intervals, sizes, held_out, val_fraction, test_fraction, n_blocks, seed
        )
    frame = intervals.assign(_row=np.arange(len(intervals)))
    if val_chroms or test_chroms:
        _check_held_out(held_out, sizes, set(frame["chrom"]))
        parts = split_by_chromosome(
            frame, val=held_out["val_chroms"], test=held_out["test_chroms"]
        )
    else:
        parts = split_by_blocks(frame, sizes, val_fraction, test_fraction, n_blocks, seed)
    return {s: np.sort(parts[s]["_row"].to_numpy(np.int64)) for s in STAGES}


def _windows_split(
    windows: Windows, sizes, held_out, val_fraction, test_fraction, n_blocks, seed
) -> dict[str, Windows]:
    val, test = held_out["val_chroms"], held_out["test_chroms"]
    if val or test:
        if set(val) & set(test):
            raise IntervalError(
                f"split_by_chromosome: {sorted(set(val) & set(test))} are in both val and test"
            )
        return {
            "train": windows.on_contigs([*val, *test], keep=False),
            "val": windows.on_contigs(val),
            "test": windows.on_contigs(test),
        }
    block_size = _block_size(sizes, n_blocks)
    n_total = int((-(-windows.sizes // block_size)).sum())
    parts = windows.by_blocks(
        block_size, _assign_blocks(n_total, val_fraction, test_fraction, seed)
    )
    return dict(zip(STAGES, parts, strict=True))
