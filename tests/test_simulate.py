"""Motif-implant simulations: reproducible, and the mask says exactly where the motifs are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqnn.data import implant_motifs
from seqnn.data.encoding import encode, reverse_complement


def word(letters: str) -> np.ndarray:
    """A deterministic (4, W) PWM spelling ``letters``."""
    return np.eye(4)[:, encode(letters)]


MOTIFS = {"gata": word("AGATAAGG"), "ebox": word("CACGTG")}


def test_implants_sit_where_the_table_says_on_either_strand():
    sim = implant_motifs(MOTIFS, 300, length=60, seed=3)
    assert len(sim.table) == 300 and sim.mask.shape == (300, 60)
    seqs = sim.table.sequence.tolist()
    letters = {"gata": "AGATAAGG", "ebox": "CACGTG"}
    for r in sim.implants.itertuples():
        site = seqs[r.row][r.start : r.end]
        assert site == (
            letters[r.motif] if r.strand == "+" else reverse_complement(letters[r.motif])
        )
    assert set(sim.implants.strand) == {"+", "-"}
    # the mask is exactly the union of the implanted intervals
    expected = np.zeros_like(sim.mask)
    for r in sim.implants.itertuples():
        expected[r.row, r.start : r.end] = True
    np.testing.assert_array_equal(sim.mask, expected)


def test_to_csv_writes_the_table_seqnn_train_reads(tmp_path):
    sim = implant_motifs(MOTIFS, 20, length=60, seed=3)
    sim.to_csv(tmp_path / "sim.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "sim.csv"), sim.table)
    sim.to_csv(tmp_path / "sim.csv.gz")  # compressed as the name says
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "sim.csv.gz"), sim.table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.csv", "sim.csv.gz"]  # no temp


def test_labels_counts_and_negatives():
    sim = implant_motifs(MOTIFS, 2000, length=60, positive_fraction=0.3, seed=0)
    labels = sim.table.label.to_numpy()
    assert 0.25 < labels.mean() < 0.35
    assert not sim.mask[labels == 0].any()  # negatives are pure background
    per_row = sim.implants.groupby("row").size()
    assert per_row.min() >= 1 and per_row.max() <= 3
    assert set(per_row.index) == set(np.flatnonzero(labels))
    for name in MOTIFS:  # multi-label columns agree with the implants
        rows = set(sim.implants.row[sim.implants.motif == name])
        assert set(np.flatnonzero(sim.table[f"motif_{name}"])) == rows


def test_instances_never_overlap_and_fit():
    sim = implant_motifs(MOTIFS, 500, length=30, motifs_per_sequence=(3, 3), seed=1)
    assert (sim.mask.sum(1)[sim.table.label == 1] >= 18).all()  # 3 non-overlapping >= 6 bp
    for _, group in sim.implants.groupby("row"):
        spans = sorted(zip(group.start, group.end, strict=True))
        assert all(
            a_end <= b_start
            for (_, a_end), (b_start, _) in zip(spans[:-1], spans[1:], strict=True)
        )
        assert spans[-1][1] <= 30


def test_seeded_and_gc():
    a = implant_motifs(MOTIFS, 50, seed=7).table
    b = implant_motifs(MOTIFS, 50, seed=7).table
    assert a.equals(b)
    assert not a.equals(implant_motifs(MOTIFS, 50, seed=8).table)
    rich = "".join(implant_motifs(MOTIFS, 200, positive_fraction=0, gc=0.8, seed=0).table.sequence)
    assert 0.77 < (rich.count("G") + rich.count("C")) / len(rich) < 0.83


def test_bad_requests():
    with pytest.raises(ValueError, match="widest motif"):
        implant_motifs(MOTIFS, 10, length=20, motifs_per_sequence=(1, 3))
    with pytest.raises(ValueError, match="motif bad"):
        implant_motifs({"bad": np.ones((3, 5))}, 10)
    with pytest.raises(ValueError, match="at least one motif"):
        implant_motifs({}, 10)


def test_simulate_coverage_writes_footprints_windows_and_peaks(tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    from seqnn.data import Genome
    from seqnn.data.simulate import simulate_coverage

    sizes = {"chr1": 30_000, "chr2": 20_000}
    sim = simulate_coverage(
        tmp_path, MOTIFS, sizes, n_per_motif=20, window=400, n_background_windows=10, seed=0
    )
    assert Genome(sim.fasta).sizes == sizes
    assert len(sim.implants) == 40 and set(sim.implants.motif) == set(MOTIFS)
    seqs = {c: Genome(sim.fasta).fetch(c, 0, n) for c, n in sizes.items()}
    letters = {"gata": "AGATAAGG", "ebox": "CACGTG"}
    bw = pyBigWig.open(str(sim.bigwig))
    for r in sim.implants.itertuples():
        site = seqs[r.chrom][r.start : r.end]
        assert site == (
            letters[r.motif] if r.strand == "+" else reverse_complement(letters[r.motif])
        )
        centre = (r.start + r.end) // 2
        shoulders = np.nanmean(bw.values(r.chrom, centre - 30, centre - 10))
        assert shoulders > 5  # strength >= 20 vs background 0.5
    assert len(sim.windows.read_text().splitlines()) == 50  # one per instance + 10 random
    assert [len(p.read_text().splitlines()) for p in sim.peaks] == [20, 20]
