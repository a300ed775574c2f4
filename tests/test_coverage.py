"""Coverage targets: golden binned values, crops, strands, missing data, contig names, workers."""

import pickle

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import torch

from seqnn.data.coverage import CoverageTargets, TargetError, check_contig_names
from seqnn.data.datasets import DatasetError, IntervalDataset
from seqnn.data.encoding import reverse_complement_one_hot
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.transforms import RandomShift, offsets_of
from seqnn.errors import SeqnnInputError

SIZES = {"chr1": 200, "chr2": 100}


def truth() -> dict[str, np.ndarray]:
    """Per-base coverage, NaN where the bigWig has no data.

    chr1: base i has value i + 1 on [0, 150), no data on [150, 200).
    chr2: 3.0 on [0, 40) and [60, 100) (data up to the contig end), no data on [40, 60).
    """
    chr1 = np.full(200, np.nan, dtype=np.float32)
    chr1[:150] = np.arange(1, 151)
    chr2 = np.full(100, 3.0, dtype=np.float32)
    chr2[40:60] = np.nan
    return {"chr1": chr1, "chr2": chr2}


def write_bigwig(path, values: dict[str, np.ndarray], sizes: dict[str, int] = SIZES):
    """One per-base entry for every non-NaN value."""
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(sizes.items()))
    for chrom in sizes:
        where = np.flatnonzero(~np.isnan(values.get(chrom, np.array([np.nan]))))
        if len(where):
            bw.addEntries(
                [chrom] * len(where),
                where.tolist(),
                ends=(where + 1).tolist(),
                values=values[chrom][where].astype(float).tolist(),
            )
    bw.close()
    return path


@pytest.fixture
def tracks(tmp_path):
    """Two bigWigs: a.bw = truth(), b.bw = 2 * truth()."""
    a = write_bigwig(tmp_path / "a.bw", truth())
    b = write_bigwig(tmp_path / "b.bw", {k: 2 * v for k, v in truth().items()})
    return [a, b]


@pytest.fixture
def genome(tmp_path, rng) -> Genome:
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in SIZES.items()}
    return Genome(write_fasta(tmp_path / "genome.fa", seqs))


def call(targets, chrom, start, end, strand="+"):
    return targets([chrom], [start], [end], [strand])[0]


# ----------------------------------------------------------------------------- values
def test_per_base_profile(tracks):
    targets = CoverageTargets(tracks)
    y = targets(["chr1", "chr2"], [10, 0], [30, 20])
    assert y.shape == (2, 2, 20) and y.dtype == np.float32
    np.testing.assert_array_equal(y[0, 0], np.arange(11, 31))
    np.testing.assert_array_equal(y[0, 1], 2 * np.arange(11, 31))
    np.testing.assert_array_equal(y[1], [[3.0] * 20, [6.0] * 20])
    assert targets.target_names == ["a", "b"] and targets.n_targets == 2


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("mean", [2.5, 6.5]), ("sum", [10.0, 26.0]), ("max", [4.0, 8.0])],
)
def test_binned_profile_golden(tracks, aggregation, expected):
    targets = CoverageTargets(tracks[0], bin_size=4, aggregation=aggregation)
    np.testing.assert_allclose(call(targets, "chr1", 0, 8), [expected])
    assert targets.output_length(8) == 2


def test_binned_matches_numpy_reference(tracks):
    targets = CoverageTargets(tracks, bin_size=5, aggregation="mean", store_bin_size=1)
    y = call(targets, "chr1", 37, 137)  # off the 5-bp grid: a per-base store reads it
    ref = np.nan_to_num(truth()["chr1"][37:137]).reshape(20, 5).mean(axis=1)
    np.testing.assert_allclose(y, [ref, 2 * ref], rtol=1e-6)


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("mean", 2.5), ("sum", 10.0), ("max", 4.0), ("log_count", np.log(11.0))],
)
def test_scalar(tracks, aggregation, expected):
    targets = CoverageTargets(tracks[0], mode="scalar", aggregation=aggregation)
    y = targets(["chr1", "chr1"], [0, 0], [4, 4])
    assert y.shape == (2, 1)
    np.testing.assert_allclose(y[:, 0], [expected, expected], rtol=1e-6)


def test_target_length_crops_the_centre(tracks):
    targets = CoverageTargets(tracks[0], target_length=4)
    np.testing.assert_array_equal(call(targets, "chr1", 0, 10), [[4, 5, 6, 7]])
    assert targets.output_length(10) == 4
    binned = CoverageTargets(
        tracks[0], target_length=8, bin_size=4, aggregation="sum", store_bin_size=1
    )
    np.testing.assert_array_equal(
        call(binned, "chr1", 100, 120), [[107 + 108 + 109 + 110, 111 + 112 + 113 + 114]]
    )


def test_minus_strand_reverses_profiles_and_keeps_track_order(tracks):
    targets = CoverageTargets(tracks)
    y = targets(["chr1", "chr1"], [0, 0], [8, 8], ["+", "-"])
    np.testing.assert_array_equal(y[1], y[0][:, ::-1])
    np.testing.assert_array_equal(y[1, 1], 2 * np.arange(8, 0, -1))
    binned = CoverageTargets(tracks[0], bin_size=4, aggregation="sum")
    np.testing.assert_array_equal(call(binned, "chr1", 0, 8, "-"), [[26, 10]])


def test_minus_strand_crop_lines_up_with_the_reverse_complement(tracks):
    # window [0, 11), 4 bp of targets: offset 3 from the window's start as the model reads it
    targets = CoverageTargets(tracks[0], target_length=4)
    np.testing.assert_array_equal(call(targets, "chr1", 0, 11, "+"), [[4, 5, 6, 7]])
    # '-': input position j is genome base 10 - j, so positions 3..6 are bases 7..4
    np.testing.assert_array_equal(call(targets, "chr1", 0, 11, "-"), [[8, 7, 6, 5]])


def test_boolean_strands(tracks):
    targets = CoverageTargets(tracks[0])
    y = targets(np.array(["chr1"]), np.array([0]), np.array([3]), np.array([True]))
    np.testing.assert_array_equal(y, [[[3, 2, 1]]])


# ----------------------------------------------------------------------------- missing data
@pytest.mark.parametrize(
    ("chrom", "start", "end", "expected"),
    [
        ("chr1", 146, 154, [147, 148, 149, 150, np.nan, np.nan, np.nan, np.nan]),  # no data
        ("chr2", 96, 102, [3, 3, 3, 3, np.nan, np.nan]),  # past the contig end
        ("chr2", -2, 2, [np.nan, np.nan, 3, 3]),  # before the contig start
    ],
)
def test_nan_rule(tracks, chrom, start, end, expected):
    expected = np.array(expected, dtype=np.float32)
    masked = call(CoverageTargets(tracks[0], nan="mask"), chrom, start, end)[0]
    np.testing.assert_array_equal(masked, expected)
    zeroed = call(CoverageTargets(tracks[0]), chrom, start, end)[0]
    np.testing.assert_array_equal(zeroed, np.nan_to_num(expected))


def test_nan_mask_spreads_to_bins_and_scalars(tracks):
    binned = CoverageTargets(tracks[0], bin_size=4, nan="mask", aggregation="sum")
    with pytest.warns(UserWarning, match="1 of 1 windows do not start on the 4-bp grid"):
        got = call(binned, "chr1", 146, 154)  # read directly
    np.testing.assert_array_equal(got, [[147 + 148 + 149 + 150, np.nan]])
    np.testing.assert_array_equal(
        call(binned, "chr1", 144, 152),
        [[145 + 146 + 147 + 148, np.nan]],  # from the store
    )
    scalar = CoverageTargets(tracks[0], mode="scalar", nan="mask")
    assert np.isnan(call(scalar, "chr2", 30, 50)[0])
    zero = CoverageTargets(tracks[0], mode="scalar", aggregation="sum")
    assert call(zero, "chr2", 30, 50)[0] == 30.0


def test_contig_missing_from_the_bigwig_is_missing_data(tmp_path):
    path = write_bigwig(tmp_path / "chr1_only.bw", truth(), sizes={"chr1": 200})
    np.testing.assert_array_equal(call(CoverageTargets(path), "chr2", 0, 3), [[0, 0, 0]])
    assert np.isnan(call(CoverageTargets(path, nan="mask"), "chr2", 0, 3)).all()


# ----------------------------------------------------------------------------- transforms
def test_clip_and_log1p(tracks):
    clip = CoverageTargets(tracks[0], transform="clip", clip_max=2.5)
    np.testing.assert_array_equal(call(clip, "chr1", 0, 4), [[1, 2, 2.5, 2.5]])
    log = CoverageTargets(tracks[0], transform="log1p", bin_size=2, aggregation="sum")
    np.testing.assert_allclose(call(log, "chr1", 0, 4), [np.log1p([3.0, 7.0])], rtol=1e-6)


# ----------------------------------------------------------------------------- errors
def test_bin_size_must_divide(tracks):
    targets = CoverageTargets(tracks[0], bin_size=3)
    with pytest.raises(TargetError, match="bin_size 3 does not divide the 10 bp"):
        call(targets, "chr1", 0, 10)
    with pytest.raises(TargetError, match="target_length 20 is longer"):
        call(CoverageTargets(tracks[0], target_length=20), "chr1", 0, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "track"}, "mode must be one of"),
        ({"aggregation": "median"}, "aggregation must be one of"),
        ({"aggregation": "log_count"}, "aggregation must be one of"),  # profile
        ({"transform": "clip"}, "needs clip_max"),
        ({"nan": "drop"}, "nan must be one of"),
        ({"bin_size": 0}, "bin_size must be >= 1"),
        ({"mode": "scalar", "bin_size": 2}, "scalar mode takes none"),
        ({"names": ["x", "y"]}, "2 names for 1 bigWigs"),
    ],
)
def test_bad_options(tracks, kwargs, message):
    with pytest.raises(ValueError, match=message):
        CoverageTargets(tracks[0], **kwargs)


def test_missing_and_unreadable_files(tmp_path, genome):
    with pytest.raises(TargetError, match="nope.bw: no such bigWig file"):
        CoverageTargets(tmp_path / "nope.bw")
    bad = tmp_path / "bad.bw"
    bad.write_text("not a bigWig\n")
    with pytest.raises(TargetError, match="bad.bw: cannot be read as a bigWig"):
        call(CoverageTargets(bad), "chr1", 0, 4)
    assert issubclass(TargetError, SeqnnInputError)


def test_a_corrupt_bigwig_block_names_the_file_and_window(tmp_path):
    values = np.random.default_rng(0).random(2000)  # blocks enough to lie past the header
    path = write_bigwig(tmp_path / "c.bw", {"chr1": values}, sizes={"chr1": 2000})
    data = bytearray(path.read_bytes())  # the header stays, the data blocks are zeroed
    n = len(data)
    data[int(n * 0.3) : int(n * 0.8)] = bytes(int(n * 0.8) - int(n * 0.3))
    path.write_bytes(bytes(data))
    with pytest.raises(TargetError, match=r"c.bw: chr1:0-40: cannot read its values"):
        call(CoverageTargets(path, cache=False), "chr1", 0, 40)  # the store: test_coverage_store


def test_unequal_windows(tracks):
    with pytest.raises(TargetError, match="window 1 .* has width 5"):
        CoverageTargets(tracks[0])(["chr1", "chr1"], [0, 0], [4, 5])


# ----------------------------------------------------------------------------- contig names
def test_contig_names_chr_prefix_mismatch(tmp_path, tracks):
    numbered = Genome(write_fasta(tmp_path / "numbered.fa", {"1": "ACGT" * 50, "2": "A" * 100}))
    with pytest.raises(TargetError) as err:
        CoverageTargets(tracks).check(numbered)
    message = str(err.value)
    assert "a.bw: contigs not in numbered.fa: 'chr1' (did you mean '1'?)" in message
    assert "'chr2' (did you mean '2'?)" in message and "b.bw:" in message
    with pytest.raises(TargetError, match="a.bw"):
        IntervalDataset(
            numbered,
            pd.DataFrame({"chrom": ["1"], "start": [0], "end": [8]}),
            targets=CoverageTargets(tracks[0]),
        )


def test_contig_names_extra_bigwig_contigs_are_fine(tmp_path, genome):
    sizes = {**SIZES, "chrEBV": 50, "chr1_KI270706v1_random": 50}
    extra = write_bigwig(tmp_path / "extra.bw", truth(), sizes=sizes)
    check_contig_names(genome, bigwig_paths=[extra])  # no error
    renamed = write_bigwig(tmp_path / "renamed.bw", {}, sizes={**SIZES, "chrm": 10})
    genome_m = Genome(write_fasta(tmp_path / "m.fa", {"chr1": "A" * 10, "chrM": "A" * 10}))
    with pytest.raises(TargetError, match=r"renamed.bw: .*'chrm' \(did you mean 'chrM'\?\)"):
        check_contig_names(genome_m, bigwig_paths=[renamed])


def test_contig_names_of_bed_files(genome):
    check_contig_names(genome, bed_names={"peaks.bed": ["chr1", "chr2"]})
    with pytest.raises(TargetError, match=r"peaks.bed: contigs not in genome.fa: '1' \(did you"):
        check_contig_names(genome, bed_names={"peaks.bed": ["1", "chr2"]})
    with pytest.raises(TargetError, match="BED: contigs not in genome.fa: 'chrX'"):
        check_contig_names(genome, bed_names=["chrX"])


# ----------------------------------------------------------------------------- handles
def test_handles_are_lazy_and_pickling_drops_them(tracks):
    targets = CoverageTargets(tracks, cache=False)  # stores: test_coverage_store
    assert targets._handles is None
    before = targets(["chr1"], [0], [8])
    assert targets._handles is not None
    copy = pickle.loads(pickle.dumps(targets))
    assert copy._handles is None
    np.testing.assert_array_equal(copy(["chr1"], [0], [8]), before)


def test_handles_reopen_in_a_new_process(tracks):
    targets = CoverageTargets(tracks[0], cache=False)
    targets(["chr1"], [0], [8])
    first = targets._handles
    targets._pid = -1  # as a forked worker sees it: another process's handles
    targets(["chr1"], [0], [8])
    assert targets._handles is not first and targets._handles[0] is not first[0]


# ----------------------------------------------------------------------------- datasets
@pytest.fixture
def windows() -> pd.DataFrame:
    starts = np.arange(0, 160, 10)
    return pd.DataFrame(
        {
            "chrom": ["chr1", "chr2"] * 8,
            "start": starts % 80,
            "end": starts % 80 + 20,
            "strand": ["+", "+", "-", "-"] * 4,
        }
    )


def test_interval_dataset_shapes(genome, windows, tracks):
    profile = IntervalDataset(genome, windows, targets=CoverageTargets(tracks, bin_size=5))
    x, y = profile.__getitems__([0, 1, 2])
    assert x.shape == (3, 4, 20) and y.shape == (3, 2, 4) and y.dtype == torch.float32
    assert profile.target_kind == "regression" and profile.n_targets == 2
    assert profile.target_names == ["a", "b"]
    scalar = IntervalDataset(genome, windows, targets=CoverageTargets(tracks, mode="scalar"))
    x, y = scalar[0]
    assert x.shape == (4, 20) and y.shape == (2,)
    np.testing.assert_allclose(y, [np.mean(np.arange(1, 21)), 2 * np.mean(np.arange(1, 21))])
    codes = IntervalDataset(genome, windows, output="codes", targets=CoverageTargets(tracks))
    x, y = codes.__getitems__([0, 1])
    assert x.shape == (2, 20) and y.shape == (2, 2, 20)


def test_interval_dataset_strand_matches_reverse_complement(genome, windows, tracks):
    plus = IntervalDataset(genome, windows, targets=CoverageTargets(tracks))
    minus = IntervalDataset(genome, windows, use_strand=True, targets=CoverageTargets(tracks))
    rows = [2, 3]  # '-' strand rows
    (xp, yp), (xm, ym) = plus.__getitems__(rows), minus.__getitems__(rows)
    np.testing.assert_array_equal(xm.numpy(), reverse_complement_one_hot(xp.numpy()))
    np.testing.assert_array_equal(ym.numpy(), yp.numpy()[..., ::-1])


def test_interval_dataset_targets_follow_random_shift(genome, windows, tracks):
    shift = RandomShift(max_shift=5, seed=3)
    targets = CoverageTargets(tracks[0])
    data = IntervalDataset(genome, windows, transforms=[shift], targets=targets)
    index = np.arange(len(windows))
    _, y = data.__getitems__(index)
    starts = windows["start"].to_numpy() + offsets_of([shift], index, 0)
    assert np.any(starts != windows["start"].to_numpy())
    np.testing.assert_array_equal(y.numpy(), targets(windows["chrom"], starts, starts + 20))


def test_interval_dataset_rejects_both_kinds_of_targets(genome, windows, tracks):
    windows["signal"] = 1.0
    with pytest.raises(DatasetError, match="both target_columns"):
        IntervalDataset(genome, windows, "signal", targets=CoverageTargets(tracks[0]))
    with pytest.raises(DatasetError, match="regression targets"):
        IntervalDataset(genome, windows, target_kind="binary", targets=CoverageTargets(tracks[0]))


def test_workers_give_the_same_batches(genome, windows, tracks):
    targets = CoverageTargets(tracks, bin_size=4, store_bin_size=1)  # shifts stay on its grid
    data = IntervalDataset(
        genome, windows, use_strand=True, transforms=[RandomShift(3)], targets=targets
    )
    targets(["chr1"], [0], [4])  # handles open in the parent: workers must reopen
    serial = list(data.loader(batch_size=4, shuffle=True, num_workers=0))
    parallel = list(data.loader(batch_size=4, shuffle=True, num_workers=2))
    assert len(serial) == len(parallel) == 4
    for (xs, ys), (xp, yp) in zip(serial, parallel, strict=True):
        torch.testing.assert_close(xs, xp)
        torch.testing.assert_close(ys, yp)
    assert data.subset([0, 1]).target_fn is targets
