"""Backgrounds: dinucleotide shuffles keep counts and ends; random windows avoid the positives,
skip N-rich regions and follow the positives' GC."""

import numpy as np
import pandas as pd
import pytest

from seqnn.data.background import (
    dinucleotide_shuffle,
    gc_fraction,
    random_background_intervals,
    shuffled_negatives,
)
from seqnn.data.encoding import encode
from seqnn.data.genome import Genome, write_fasta


def dinucleotides(seq: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in range(len(seq) - 1):
        counts[seq[i : i + 2]] = counts.get(seq[i : i + 2], 0) + 1
    return counts


def test_shuffle_keeps_dinucleotides_and_ends(rng):
    seqs = ["".join(rng.choice(list("ACGTN"), int(n))) for n in rng.integers(3, 120, 200)]
    seqs += ["acgtACGTnnAC", "A", "", "AC"]
    shuffled = dinucleotide_shuffle(seqs, seed=0)
    for s, t in zip(seqs, shuffled, strict=True):
        assert dinucleotides(s) == dinucleotides(t)
        assert s[:1] == t[:1] and s[-1:] == t[-1:]
    assert sum(s != t for s, t in zip(seqs, shuffled, strict=True)) > 150
    assert shuffled == dinucleotide_shuffle(seqs, seed=0)
    assert shuffled != dinucleotide_shuffle(seqs, seed=1)


def test_shuffle_codes_batch(rng):
    codes = rng.integers(0, 4, (2000, 100)).astype(np.uint8)
    shuffled = dinucleotide_shuffle(codes, seed=3)
    assert shuffled.shape == codes.shape and shuffled.dtype == np.uint8
    pairs = lambda c: np.sort(c[:, :-1].astype(int) * 16 + c[:, 1:], axis=1)  # noqa: E731
    assert np.array_equal(pairs(codes), pairs(shuffled))
    assert np.array_equal(codes[:, [0, -1]], shuffled[:, [0, -1]])
    assert (shuffled != codes).mean() > 0.5
    one = dinucleotide_shuffle(codes[0], seed=3)
    assert one.shape == (100,)


def test_shuffle_is_uniform_over_paths():
    # "ACAGA" has the dinucleotide-preserving arrangements ACAGA and AGACA only.
    seen = dinucleotide_shuffle(["ACAGA"] * 400, seed=0)
    assert set(seen) == {"ACAGA", "AGACA"} and 150 < seen.count("ACAGA") < 250


def test_shuffled_negatives_order(rng):
    seqs = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(5)]
    negatives = shuffled_negatives(seqs, n_per_sequence=3, seed=1)
    assert len(negatives) == 15
    for i, s in enumerate(seqs):
        for t in negatives[3 * i : 3 * i + 3]:
            assert dinucleotides(t) == dinucleotides(s)
    codes = shuffled_negatives(encode(seqs), n_per_sequence=2, seed=1)
    assert codes.shape == (10, 50)


@pytest.fixture
def gc_genome(tmp_path, rng) -> Genome:
    """Blocks of 1 kb with GC 0.2, 0.35, 0.5, 0.65, 0.8 in turn, and an N-block on chr2."""

    def block(gc: float) -> str:
        p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        return "".join(rng.choice(list("ACGT"), 1000, p=p))

    chr1 = "".join(block(gc) for gc in [0.2, 0.35, 0.5, 0.65, 0.8] * 8)
    chr2 = "".join(block(gc) for gc in [0.8, 0.5, 0.2] * 4) + "N" * 8000
    write_fasta(tmp_path / "gc.fa", {"chr1": chr1, "chr2": chr2})
    return Genome(tmp_path / "gc.fa")


def test_background_avoids_positives_and_n(gc_genome, rng):
    starts = rng.integers(0, 39_000, 40)
    positives = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 200})
    bg = random_background_intervals(
        gc_genome, 300, 100, exclude=positives, min_distance=50, seed=0
    )
    assert len(bg) == 300 and (bg["end"] - bg["start"] == 100).all()
    for row in bg.itertuples():
        if row.chrom == "chr1":
            gap_ok = (row.end + 50 <= positives["start"]) | (row.start - 50 >= positives["end"])
            assert gap_ok.all()
        else:
            assert row.end <= 12_000  # never in the N block
    again = random_background_intervals(gc_genome, 300, 100, exclude=positives, min_distance=50)
    assert again.equals(bg)


def test_background_is_gc_matched(gc_genome, rng):
    starts = rng.integers(0, 40, 60) * 1000 + 200  # in the blocks of GC 0.65 and 0.8
    starts = starts[np.isin((starts // 1000) % 5, [3, 4])]
    positives = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 100})
    bg = random_background_intervals(gc_genome, 200, 100, exclude=positives, gc_match=positives)
    s = positives["start"].to_numpy()
    pos_gc = gc_fraction(gc_genome.fetch_codes(positives["chrom"].to_numpy(object), s, s + 100))
    bg_gc = gc_fraction(
        gc_genome.fetch_codes(bg["chrom"].to_numpy(object), bg["start"], bg["end"])
    )
    assert np.allclose(bg_gc, bg["gc"])
    assert abs(bg_gc.mean() - pos_gc.mean()) < 0.03
    assert np.histogram(bg_gc, bins=5, range=(0, 1))[0][:2].sum() == 0  # no AT-rich windows
    plain = random_background_intervals(gc_genome, 200, 100, exclude=positives, seed=0)
    assert abs(plain["gc"].mean() - pos_gc.mean()) > 0.1  # without matching it would differ
