"""Transforms: seeded, batch-independent draws; RC and shift on codes, one-hot and targets;
shifted genome windows bring in real neighbouring bases."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqnn.data.datasets import IntervalDataset
from seqnn.data.encoding import decode, encode, one_hot, reverse_complement_codes
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.transforms import RandomShift, ReverseComplement, uniform


@pytest.fixture
def codes(rng) -> np.ndarray:
    return rng.integers(0, 4, (16, 30)).astype(np.uint8)


def test_draws_depend_only_on_seed_epoch_index():
    index = np.arange(100)
    full = uniform(3, 1, index)
    assert np.array_equal(full[[5, 70]], uniform(3, 1, np.array([5, 70])))
    assert not np.allclose(full, uniform(3, 2, index))
    assert not np.allclose(full, uniform(4, 1, index))
    assert ((full >= 0) & (full < 1)).all() and 0.35 < full.mean() < 0.65


def test_reverse_complement_extremes(codes):
    x, _ = ReverseComplement(p=1.0)(codes)
    assert np.array_equal(x, reverse_complement_codes(codes))
    x, _ = ReverseComplement(p=0.0)(codes)
    assert np.array_equal(x, codes)


def test_reverse_complement_is_seeded_and_consistent_across_layouts(codes):
    rc = ReverseComplement(p=0.5, seed=7)
    index = np.arange(40, 56)
    a, _ = rc(codes, index=index, epoch=2)
    assert np.array_equal(a, rc(codes, index=index, epoch=2)[0])
    flipped = rc.flips(index, 2)
    assert 0 < flipped.sum() < len(flipped)
    assert np.array_equal(a[~flipped], codes[~flipped])
    oh, _ = rc(one_hot(codes), index=index, epoch=2)
    assert np.array_equal(oh, one_hot(a))
    torch_x, _ = rc(torch.from_numpy(codes), index=index, epoch=2)
    assert np.array_equal(torch_x.numpy(), a)


def test_reverse_complement_flips_profile_targets_only(codes):
    profile = np.arange(16 * 2 * 30, dtype=np.float32).reshape(16, 2, 30)
    _, y = ReverseComplement(p=1.0)(codes, profile)
    assert np.array_equal(y, profile[..., ::-1])
    scalar = np.ones((16, 3), dtype=np.float32)
    _, y = ReverseComplement(p=1.0)(codes, scalar)
    assert y is scalar


def test_random_shift_on_sequences(codes):
    shift = RandomShift(4, seed=1)
    index = np.arange(16)
    offsets = shift.offsets(index)
    assert (np.abs(offsets) <= 4).all() and len(set(offsets.tolist())) > 3
    x, _ = shift(codes, index=index)
    for row, s in enumerate(offsets):
        for j in range(30):
            expected = codes[row, j + s] if 0 <= j + s < 30 else 4  # N enters at the edges
            assert x[row, j] == expected
    oh, _ = shift(one_hot(codes), index=index)
    assert np.array_equal(oh, one_hot(x))


def test_shifted_intervals_are_real_neighbouring_bases(tmp_path, rng):
    sequence = "".join(rng.choice(list("ACGT"), 1000))
    write_fasta(tmp_path / "g.fa", {"chr1": sequence})
    genome = Genome(tmp_path / "g.fa")
    starts = np.arange(100, 900, 40)
    intervals = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 20})
    shift = RandomShift(10, seed=3)
    ds = IntervalDataset(genome, intervals, transforms=[shift], output="codes")
    ds.set_epoch(4)
    x = ds.__getitems__(list(range(len(starts))))
    offsets = shift.offsets(np.arange(len(starts)), epoch=4)
    assert (offsets != 0).any()
    for i, (start, s) in enumerate(zip(starts, offsets, strict=True)):
        assert decode(x[i]) == sequence[start + s : start + s + 20]
    assert not (x.numpy() == 4).any()  # no N padding
    assert np.array_equal(
        x[0].numpy(),
        encode(genome.fetch("chr1", starts[0] + offsets[0], starts[0] + offsets[0] + 20)),
    )
