"""The shipped CTCF peaks and ``ctcf_table``: peaks vs dinucleotide shuffles, balanced, seeded."""

from collections import Counter

import pandas as pd
import pytest

from seqnn.data.embedded import CTCF_PEAKS, ctcf_table, resource_path


def dinucleotide_counts(seq: str) -> Counter:
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def test_shipped_peaks_are_100bp_acgt_positives():
    peaks = pd.read_csv(resource_path(CTCF_PEAKS))
    assert list(peaks.columns) == ["sequence", "label", "region"]
    assert len(peaks) == 10_000 and (peaks.label == 1).all()
    assert (peaks.sequence.str.len() == 100).all()
    assert peaks.sequence.str.fullmatch("[ACGT]+").all()
    assert not peaks.region.duplicated().any()


@pytest.mark.parametrize("negative_ratio", [1, 3])
def test_labels_are_balanced_by_the_ratio(negative_ratio):
    table = ctcf_table(n=50, negative_ratio=negative_ratio)
    assert list(table.columns) == ["sequence", "label", "region"]
    assert (table.label == 1).sum() == 50
    assert (table.label == 0).sum() == 50 * negative_ratio
    assert (table.sequence.str.len() == 100).all()


def test_all_peaks_by_default():
    table = ctcf_table()
    assert len(table) == 20_000 and table.label.sum() == 10_000


def test_each_shuffle_keeps_its_peaks_dinucleotides():
    table = ctcf_table(n=100, negative_ratio=2, seed=1)
    peaks = table[table.label == 1].set_index("region").sequence
    shuffles = table[table.label == 0]
    for region, shuffle in zip(shuffles.region, shuffles.sequence, strict=True):
        peak = peaks[region]
        assert dinucleotide_counts(shuffle) == dinucleotide_counts(peak)
        assert (shuffle[0], shuffle[-1]) == (peak[0], peak[-1])
    assert (shuffles.sequence.to_numpy() != peaks[shuffles.region].to_numpy()).all()
    # each peak is followed by its own shuffles
    assert table.label.tolist()[:6] == [1, 0, 0, 1, 0, 0]
    assert table.region.iloc[0] == table.region.iloc[1] == table.region.iloc[2]


def test_seeded():
    first = ctcf_table(n=30, seed=4)
    pd.testing.assert_frame_equal(first, ctcf_table(n=30, seed=4))
    other = ctcf_table(n=30, seed=5)
    assert set(other.region) != set(first.region)
    # same peaks (all of them), other shuffles
    everything = ctcf_table(seed=0), ctcf_table(seed=1)
    assert everything[0].region.tolist() == everything[1].region.tolist()
    assert (everything[0].sequence != everything[1].sequence).sum() > 9_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, r"n=0 must be between 1 and 10000"),
        ({"n": 10_001}, r"n=10001 must be between 1 and 10000"),
        ({"negative_ratio": 0}, r"negative_ratio=0 must be >= 1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ctcf_table(**kwargs)
