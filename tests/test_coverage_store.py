"""Coverage stores: values equal pyBigWig's, CoverageTargets through a store equals direct
reads, the grid rule, stale / truncated / concurrent stores, contig names on the store path."""

import json
import multiprocessing
import os
import pickle
import time
import warnings

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from test_coverage import truth, write_bigwig

from seqnn.data import coverage_store
from seqnn.data.coverage import CoverageTargets, TargetError
from seqnn.data.coverage_store import CoverageStore
from seqnn.data.datasets import IntervalDataset
from seqnn.data.genome import Genome, _meta_digest, write_fasta

# contig ends off every grid below (203, 101), a NaN run, a contig with no data
ODD = {"chr1": 203, "chr2": 101, "chr3": 60}


def odd_truth() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    chr1 = rng.poisson(3.0, 203).astype(np.float32)
    chr1[50:77] = np.nan
    chr1[190:] = np.nan  # no data up to the contig end
    chr2 = rng.random(101).astype(np.float32) * 100
    chr2[:7] = np.nan
    return {"chr1": chr1, "chr2": chr2}  # chr3: in the header, no data


@pytest.fixture
def odd(tmp_path):
    return write_bigwig(tmp_path / "odd.bw", odd_truth(), sizes=ODD)


def reference_bins(values: np.ndarray, size: int, stat: str, nan: str) -> np.ndarray:
    """Bins from pyBigWig's per-base values, the slow obvious way."""
    out = []
    for lo in range(0, len(values), size):
        part = np.full(size, np.nan)
        part[: len(values[lo : lo + size])] = values[lo : lo + size]
        if nan == "zero":
            part = np.nan_to_num(part)
        out.append(part.sum() if stat == "sum" else part.max())
    return np.array(out, dtype=np.float32)


# ----------------------------------------------------------------------------- store values
@pytest.mark.parametrize("bin_size", [1, 3, 4, 32, 500])
@pytest.mark.parametrize("stat", ["sum", "max"])
@pytest.mark.parametrize("nan", ["zero", "mask"])
def test_store_values_equal_pybigwig(odd, bin_size, stat, nan):
    store = CoverageStore(odd, bin_size, stat, nan).open()
    handle = pyBigWig.open(str(odd))
    for i, (chrom, size) in enumerate(ODD.items()):
        expected = reference_bins(handle.values(chrom, 0, size, numpy=True), bin_size, stat, nan)
        n = len(expected)
        got = store.gather(store.contig_index([chrom]), np.array([0]), n)[0, :, 0]
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        assert store.n_bins[i] == n == -(-size // bin_size)
    assert store.path.name == f"odd.bw.bin{bin_size}.{stat}-{nan}.seqnn-cov"
    assert store.values.dtype == np.float32 and not store.values.flags.writeable
    assert store.values.shape == (sum(-(-n // bin_size) for n in ODD.values()), 1)


def test_store_gather_outside_contigs_is_missing(odd):
    zero = CoverageStore(odd, 4).open()
    rows = zero.contig_index(["chr2", "chr2", "chrUn", "chr3"])
    assert rows.tolist() == [1, 1, -1, 2]
    got = zero.gather(rows, np.array([-1, 24, 0, 0]), 3)[..., 0]  # chr2 has 26 bins
    expected = reference_bins(odd_truth()["chr2"], 4, "sum", "zero")
    np.testing.assert_allclose(got[0], [0, *expected[:2]], rtol=1e-6)
    np.testing.assert_allclose(got[1], [*expected[24:], 0], rtol=1e-6)
    assert not got[2:].any()
    masked = CoverageStore(odd, 4, nan="mask").open()
    got = masked.gather(rows, np.array([-1, 24, 0, 0]), 3)[..., 0]
    assert np.isnan(got[[0, 2, 3], 0]).all() and np.isnan(got[1, 2])


@pytest.mark.parametrize("nan", ["zero", "mask"])
def test_a_store_of_several_tracks_holds_each_tracks_bins(odd, tmp_path, nan):
    """Tracks side by side: each column equals that bigWig's own store, over the union of
    the contigs (a track lacking one, or shorter there, has no data)."""
    other = write_bigwig(tmp_path / "other.bw", truth(), sizes={"chr2": 100, "chrX": 40})
    both = CoverageStore([odd, other], 4, nan=nan).open()
    assert both.n_tracks == 2 and both.values.shape[1] == 2
    assert both.path.name.startswith("odd.bw.2tracks-") and both.path.name.endswith(".seqnn-cov")
    assert list(both._index) == ["chr1", "chr2", "chr3", "chrX"]
    missing = 0.0 if nan == "zero" else np.nan
    for t, path in enumerate([odd, other]):
        alone = CoverageStore(path, 4, nan=nan).open()
        for chrom, size in {**ODD, "chrX": 40}.items():
            n = -(-size // 4)
            got = both.gather(both.contig_index([chrom]), np.array([0]), n)[0, :, t]
            row = alone.contig_index([chrom])
            expected = alone.gather(row, np.array([0]), n)[0, :, 0]  # missing where absent
            np.testing.assert_array_equal(got, expected)
            if row[0] < 0:
                np.testing.assert_array_equal(got, np.full(n, missing, dtype=np.float32))
    # chr2 is 101 bp in odd.bw but 100 in other.bw: its last bin (4 bp) has 0 bases of other
    last = both.gather(both.contig_index(["chr2"]), np.array([25]), 1)[0, 0]
    assert last[1] == 0.0 if nan == "zero" else np.isnan(last[1])


def test_a_store_belongs_to_its_list_of_tracks(odd, tmp_path):
    other = write_bigwig(tmp_path / "other.bw", truth(), sizes=ODD)
    one, two = CoverageStore([odd, other], 2), CoverageStore([other, odd], 2)
    assert len({one.path, two.path, CoverageStore(odd, 2).path}) == 3
    np.testing.assert_array_equal(one.open().values, two.open().values[:, ::-1])
    before = one.values.copy()
    write_bigwig(other, {k: 10 * v for k, v in truth().items()}, sizes=ODD)  # track 2 changes
    again = CoverageStore([odd, other], 2).open()
    np.testing.assert_array_equal(again.values[:, 0], before[:, 0])
    np.testing.assert_array_equal(again.values[:, 1], 10 * before[:, 1])


def test_store_lives_in_the_cache_dir(odd, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQNN_CACHE_DIR", str(tmp_path / "cache"))
    store = CoverageStore(odd, 8).open()
    assert store.path.parent == tmp_path / "cache" and store.path.name.startswith("odd.bw.")
    assert store.meta_path.is_file()
    assert not (odd.parent / "odd.bw.bin8.sum-zero.seqnn-cov").exists()


# ----------------------------------------------------------------------------- targets
def windows(rng, n: int, width: int, grid: int, sizes=ODD):
    chroms = rng.choice(list(sizes) + ["chrUn"], n)
    starts = rng.integers(-2, 40, n) * grid  # some before a contig start, past an end
    strands = rng.choice(["+", "-"], n)
    return chroms, starts, starts + width, strands


OPTIONS = [
    {"mode": "profile", "bin_size": 1},
    {"mode": "profile", "bin_size": 4, "aggregation": "mean"},
    {"mode": "profile", "bin_size": 4, "aggregation": "sum", "store_bin_size": 2},
    {"mode": "profile", "bin_size": 8, "aggregation": "max"},
    {"mode": "profile", "bin_size": 4, "target_length": 16},
    {"mode": "profile", "bin_size": 2, "transform": "log1p"},
    {"mode": "scalar", "aggregation": "mean", "store_bin_size": 4},
    {"mode": "scalar", "aggregation": "sum"},
    {"mode": "scalar", "aggregation": "max", "store_bin_size": 8},
    {"mode": "scalar", "aggregation": "log_count", "store_bin_size": 2},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("nan", ["zero", "mask"])
def test_targets_through_the_store_equal_direct_reads(odd, rng, options, nan):
    direct = CoverageTargets([odd, odd], nan=nan, cache=False, **options)
    stored = CoverageTargets([odd, odd], nan=nan, cache=True, **options)
    grid = stored.store_bin_size
    # width: a multiple of the bins; (width - target_length) / 2 keeps crops on the grid
    for width in (24, 32):
        batch = windows(rng, 64, width, grid * 4 if "target_length" in options else grid)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # every window is on the grid: no fallback
            got = stored(*batch)
        np.testing.assert_allclose(got, direct(*batch), rtol=2e-6, atol=1e-6)
    assert stored._handles is None  # not one direct read


def test_windows_off_the_grid_are_read_directly_with_a_warning(odd, rng):
    direct = CoverageTargets(odd, bin_size=4, cache=False)
    stored = CoverageTargets(odd, bin_size=4)
    chroms, starts, ends, strands = windows(rng, 32, 16, 4)
    starts[::3] += 1  # every third window off the 4-bp grid
    with pytest.warns(UserWarning, match="11 of 32 windows do not start on the 4-bp grid"):
        got = stored(chroms, starts, starts + 16, strands)
    np.testing.assert_allclose(got, direct(chroms, starts, starts + 16, strands), rtol=1e-6)


def test_pickling_drops_the_maps(odd):
    targets = CoverageTargets(odd, bin_size=4)
    before = targets(["chr1"], [0], [16])
    assert targets.store()._values is not None
    copy = pickle.loads(pickle.dumps(targets))
    assert copy.store()._values is None  # a worker maps the file again
    np.testing.assert_array_equal(copy(["chr1"], [0], [16]), before)


def test_store_bin_size_must_divide_bin_size(odd):
    with pytest.raises(ValueError, match="store_bin_size 3 must be >= 1 and divide bin_size 4"):
        CoverageTargets(odd, bin_size=4, store_bin_size=3)


def test_dataset_batches_with_workers_equal_direct_reads(tmp_path, odd):
    seqs = {c: "ACGT" * (n // 4 + 1) for c, n in ODD.items()}
    genome = Genome(write_fasta(tmp_path / "g.fa", seqs))
    frame = pd.DataFrame(
        {"chrom": ["chr1", "chr2"] * 8, "start": np.arange(16) % 4 * 16, "strand": ["+", "-"] * 8}
    )
    frame["end"] = frame["start"] + 32
    batches = []
    for cache in (False, True):
        targets = CoverageTargets(odd, bin_size=8, cache=cache)
        data = IntervalDataset(genome, frame, use_strand=True, targets=targets)
        batches.append([y for _, y in data.loader(batch_size=4, num_workers=2 * cache)])
    for direct, stored in zip(*batches, strict=True):
        np.testing.assert_allclose(stored.numpy(), direct.numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("same_stat", [False, True])
def test_a_changed_bigwig_rebuilds_the_store(tmp_path, same_stat):
    path = write_bigwig(tmp_path / "t.bw", truth())
    before = CoverageTargets(path, bin_size=2, aggregation="sum")(["chr1"], [0], [4])
    write_bigwig(path, {k: 10 * v for k, v in truth().items()})  # a new version
    if same_stat:  # as if size, mtime and inode were all the same: the sampled digest differs
        store = CoverageStore(path, 2)
        meta = json.loads(store.meta_path.read_text())
        meta["bigwigs"] = store._key()["bigwigs"]
        meta["digest"] = _meta_digest(meta)
        store.meta_path.write_text(json.dumps(meta))
    after = CoverageTargets(path, bin_size=2, aggregation="sum")(["chr1"], [0], [4])
    np.testing.assert_array_equal(before, [[[3, 7]]])
    np.testing.assert_array_equal(after, [[[30, 70]]])


@pytest.mark.parametrize("damage", ["truncate", "overwrite", "sidecar"])
def test_a_damaged_store_is_rebuilt(odd, damage):
    store = CoverageStore(odd, 2).open()
    expected = store.values.copy()
    if damage == "truncate":
        os.truncate(store.path, store.path.stat().st_size // 2)
    elif damage == "overwrite":
        store.path.write_bytes(np.zeros_like(expected).tobytes())
    else:
        meta = json.loads(store.meta_path.read_text())
        meta["offsets"][1] += 1
        store.meta_path.write_text(json.dumps(meta))
    again = CoverageStore(odd, 2).open()
    np.testing.assert_array_equal(again.values, expected)


def test_a_stale_store_that_cannot_be_rebuilt_names_the_file_and_the_fix(tmp_path, monkeypatch):
    path = write_bigwig(tmp_path / "t.bw", truth())
    CoverageStore(path, 2).open()
    write_bigwig(path, {k: 10 * v for k, v in truth().items()})
    # a read-only folder (chmod does not stop root, who runs these tests in CI containers)
    monkeypatch.setattr(coverage_store, "_writable", lambda folder: False)
    with pytest.raises(TargetError, match=r"t.bw: cannot write its coverage store .* cache_dir="):
        CoverageStore(path, 2).open()


def test_a_corrupt_bigwig_fails_the_build_naming_the_file(tmp_path):
    values = np.random.default_rng(0).random(2000)
    path = write_bigwig(tmp_path / "c.bw", {"chr1": values}, sizes={"chr1": 2000})
    data = bytearray(path.read_bytes())
    n = len(data)
    data[int(n * 0.3) : int(n * 0.8)] = bytes(int(n * 0.8) - int(n * 0.3))
    path.write_bytes(bytes(data))
    with pytest.raises(TargetError, match=r"c.bw: chr1:0-2000: cannot read its values .* store"):
        CoverageTargets(path)(["chr1"], [0], [40])
    assert not list(tmp_path.glob("*.seqnn-cov")) + list(tmp_path.glob("*.json"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_contig_names_are_checked_before_a_store_is_built(tmp_path, odd):
    numbered = Genome(write_fasta(tmp_path / "numbered.fa", {"1": "ACGT" * 60, "2": "A" * 100}))
    frame = pd.DataFrame({"chrom": ["1"], "start": [0], "end": [8]})
    with pytest.raises(TargetError, match=r"odd.bw: contigs not in numbered.fa: 'chr1' \(did"):
        IntervalDataset(numbered, frame, targets=CoverageTargets(odd, cache=True))
    assert not list(tmp_path.glob("*.seqnn-cov"))


def _build_and_sum(path: str, barrier, results) -> None:
    builds = []
    write = CoverageStore._write

    def slow_write(self, *args) -> None:  # a build that surely overlaps the other's
        builds.append(1)
        time.sleep(1.5)
        write(self, *args)

    CoverageStore._write = slow_write
    barrier.wait()  # both processes open the missing store at the same moment
    store = CoverageStore(path, 1, progress=False).open()
    total = float(np.nansum(store.values, dtype=np.float64))
    results.put((total, len(store.values), len(builds)))


def test_two_processes_building_one_store_both_end_correct(tmp_path):
    sizes = {"chr1": 3_000_000, "chr2": 1_000_000}
    rng = np.random.default_rng(0)
    values = {c: rng.random(n).astype(np.float32) for c, n in sizes.items()}
    path = tmp_path / "big.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(sizes.items()))
    for chrom, v in values.items():  # fixed-step entries: fast to write
        bw.addEntries(chrom, 0, values=v.astype(np.float64), span=1, step=1)
    bw.close()
    expected = sum(float(v.sum(dtype=np.float64)) for v in values.values())
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_build_and_sum, args=(str(path), barrier, queue)) for _ in "ab"]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    for total, n, _ in results:
        assert n == 4_000_000 and total == pytest.approx(expected, rel=1e-6)
    # the lock: one process builds, the other waits for it and reads its store (without
    # the lock both builds run, each 1.5 s long, at once)
    assert sorted(built for _, _, built in results) == [0, 1]
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind
    again = CoverageStore(path, 1)
    assert again._load_meta() is not None  # a valid store, not rebuilt
