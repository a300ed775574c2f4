"""Peak sets -> 0/1 window labels (seqnn.data.peaks) and the genome tiler (seqnn.data.tiling)."""

import gzip
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from seqnn.data import write_fasta
from seqnn.data.genome import Genome
from seqnn.data.intervals import IntervalError
from seqnn.data.peaks import PeakLabels, merge_intervals, peak_labels, peak_names
from seqnn.data.tiling import label_tiles, label_windows, tile_genome, tile_windows


def bed(tmp_path, name: str, rows) -> str:
    """Write (chrom, start, end) rows as a BED file (gzip when the name ends in .gz)."""
    text = "".join(f"{c}\t{s}\t{e}\n" for c, s, e in rows).encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    return str(path)


def windows(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def labels_of(tmp_path, peaks, wins, **kwargs) -> np.ndarray:
    return peak_labels(wins, [bed(tmp_path, "p.bed", peaks)], **kwargs)[:, 0]


# ----------------------------------------------------------------------------- overlap rules
def test_touching_intervals_do_not_overlap_and_ends_are_half_open(tmp_path):
    wins = windows(("chr1", 100, 200))
    cases = {
        (200, 300): 0,  # starts where the window ends
        (50, 100): 0,  # ends where the window starts
        (199, 200): 1,  # the window's last base
        (99, 101): 1,  # its first base
        (120, 130): 1,  # inside
        (0, 1000): 1,  # around
    }
    for (s, e), want in cases.items():
        assert labels_of(tmp_path, [("chr1", s, e)], wins)[0] == want, (s, e)
    assert labels_of(tmp_path, [("chr2", 100, 200)], wins)[0] == 0  # other contig


@pytest.mark.parametrize(
    ("length", "fraction", "bases"), [(100, 0.5, 50), (10, 0.3, 3), (101, 0.5, 51), (7, 1.0, 7)]
)
def test_min_overlap_exactly_at_the_fraction_is_positive_one_base_less_is_not(
    tmp_path, length, fraction, bases
):
    wins = windows(("chr1", 1000, 1000 + length))
    for from_left in (True, False):
        for covered, want in ((bases, 1), (bases - 1, 0)):
            s, e = (1000 - 5, 1000 + covered) if from_left else (1000 + length - covered, 5000)
            got = labels_of(tmp_path, [("chr1", s, e)], wins, min_overlap=fraction)
            assert got[0] == want, (covered, from_left)


def test_centre_mode_needs_the_centre_base(tmp_path):
    even, odd = ("chr1", 0, 100), ("chr1", 0, 101)  # centre base 50 for both
    wins = windows(even, odd, ("chr1", 200, 300))
    assert list(labels_of(tmp_path, [("chr1", 50, 51)], wins, centre=True)) == [1, 1, 0]
    assert list(labels_of(tmp_path, [("chr1", 0, 50)], wins, centre=True)) == [0, 0, 0]
    assert list(labels_of(tmp_path, [("chr1", 51, 260)], wins, centre=True)) == [0, 0, 1]
    # a 1-base overlap is enough without centre=True
    assert list(labels_of(tmp_path, [("chr1", 0, 50)], wins)) == [1, 1, 0]


def test_overlapping_peaks_in_one_file_are_merged(tmp_path):
    wins = windows(("chr1", 0, 100))
    # two overlapping peaks cover 60 bases together, 40 each
    split = [("chr1", 0, 40), ("chr1", 20, 60)]
    assert labels_of(tmp_path, split, wins, min_overlap=0.6)[0] == 1
    assert labels_of(tmp_path, split, wins, min_overlap=0.61)[0] == 0
    # duplicates count once (a sum of overlaps would say 80)
    twice = [("chr1", 0, 40), ("chr1", 0, 40), ("chr1", 10, 30)]
    assert labels_of(tmp_path, twice, wins, min_overlap=0.5)[0] == 0
    starts, ends = merge_intervals(np.array([5, 0, 20, 40, 60]), np.array([30, 10, 40, 50, 60]))
    assert starts.tolist() == [0] and ends.tolist() == [50]  # touching merge, empty dropped


def test_several_files_give_columns_in_order_with_names(tmp_path):
    files = [
        bed(tmp_path, "CTCF.narrowPeak.gz", [("chr1", 0, 10)]),
        bed(tmp_path, "DNase.bed", [("chr1", 100, 110), ("chr2", 0, 5)]),
        bed(tmp_path, "H3K27ac.bed.gz", [("chr2", 0, 5)]),
    ]
    assert peak_names(files) == ["CTCF", "DNase", "H3K27ac"]
    wins = windows(("chr1", 0, 50), ("chr1", 90, 150), ("chr2", 0, 50), ("chrX", 0, 50))
    got = peak_labels(wins, files)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, [[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 0]])
    named = PeakLabels(files, names=["a", "b", "c"])
    assert named.target_names == ["a", "b", "c"] and named.n_targets == 3
    assert PeakLabels(files).target_names == ["CTCF", "DNase", "H3K27ac"]
    assert peak_labels(wins, files, dtype=np.float32).dtype == np.float32


def brute_force(wins: pd.DataFrame, peaks: pd.DataFrame, min_overlap, centre) -> np.ndarray:
    """A loop over windows, with each window's covered bases as a set."""
    out = np.zeros(len(wins), dtype=np.uint8)
    for i, (chrom, s, e) in enumerate(wins[["chrom", "start", "end"]].itertuples(index=False)):
        on = peaks[peaks["chrom"] == chrom]
        covered = set()
        for ps, pe in zip(on["start"], on["end"], strict=True):
            covered |= set(range(max(ps, s), min(pe, e)))
        if centre:
            out[i] = (s + e) // 2 in covered
        else:
            need = max(int(np.ceil(round(min_overlap * (e - s), 9))), 1) if min_overlap else 1
            out[i] = len(covered) >= need
    return out


@pytest.mark.parametrize(
    ("min_overlap", "centre"), [(None, False), (0.5, False), (0.25, False), (None, True)]
)
def test_vectorised_labels_equal_a_brute_force_loop(tmp_path, min_overlap, centre):
    rng = np.random.default_rng(7)
    n = 300
    peak_chrom = rng.choice(["chr1", "chr2"], n)
    peak_start = rng.integers(0, 5000, n)
    peaks = pd.DataFrame(
        {"chrom": peak_chrom, "start": peak_start, "end": peak_start + rng.integers(0, 60, n)}
    )
    path = tmp_path / "random.bed"
    peaks.to_csv(path, sep="\t", header=False, index=False)
    m = 2000
    win_start = rng.integers(0, 5000, m)
    wins = pd.DataFrame(
        {
            "chrom": rng.choice(["chr1", "chr2", "chr3"], m),
            "start": win_start,
            "end": win_start + rng.integers(1, 120, m),
        }
    )
    got = peak_labels(wins, [path], min_overlap=min_overlap, centre=centre)[:, 0]
    want = brute_force(wins, peaks, min_overlap, centre)
    assert 0 < want.sum() < m  # both classes occur, so the check can fail
    np.testing.assert_array_equal(got, want)


def test_peak_labels_pickles_and_labels_batches(tmp_path):
    files = [bed(tmp_path, "a.bed", [("chr1", 0, 10)]), bed(tmp_path, "b.bed", [("chr2", 5, 9)])]
    labels = PeakLabels(files, min_overlap=0.1)
    chroms, starts, ends = ["chr1", "chr2", "chr2"], [0, 0, 9], [20, 50, 30]
    y = labels(chroms, starts, ends, strands=["+", "-", "+"])
    assert y.dtype == np.float32 and y.shape == (3, 2)
    np.testing.assert_array_equal(y, [[1, 0], [0, 0], [0, 0]])  # 4 of 50 bases < 10 %
    again = pickle.loads(pickle.dumps(labels))
    np.testing.assert_array_equal(again(chroms, starts, ends), y)
    assert again.target_names == ["a", "b"]


def test_bad_options_and_peaks_raise(tmp_path):
    good = bed(tmp_path, "ok.bed", [("chr1", 0, 10)])
    with pytest.raises(ValueError, match="min_overlap"):
        PeakLabels([good], min_overlap=1.5)
    with pytest.raises(ValueError, match="not both"):
        PeakLabels([good], min_overlap=0.5, centre=True)
    with pytest.raises(ValueError, match="2 names for 1"):
        PeakLabels([good], names=["a", "b"])
    bad = bed(tmp_path, "bad.bed", [("chr1", 0, 10), ("chr1", 50, 40)])
    with pytest.raises(IntervalError, match=r"bad\.bed:2: .*chr1:50-40"):
        PeakLabels([bad])


# ----------------------------------------------------------------------------- tiling
@pytest.fixture
def genome(tmp_path) -> Genome:
    rng = np.random.default_rng(3)

    def seq(n: int) -> str:
        return "".join(rng.choice(list("ACGT"), n))

    records = {
        "chr1": seq(1000),
        "chr2": seq(250),
        "chr3": seq(99),  # shorter than a window
        "chrN": "N" * 10 + seq(90) + "N" * 11 + seq(89) + "n" * 60 + seq(40),  # 300 bp
    }
    return Genome(write_fasta(tmp_path / "tiny.fa", records))


def test_tiler_makes_every_full_window_per_contig(genome):
    got = tile_genome(genome, window=100, stride=50, max_n_fraction=1)
    counts = got.groupby("chrom").size().to_dict()
    # (size - window) // stride + 1 full windows
    assert counts == {"chr1": 19, "chr2": 4, "chrN": 5}
    assert list(got.columns) == ["chrom", "start", "end"]
    assert (got["end"] - got["start"] == 100).all()
    chr2 = tile_genome(genome, window=100, stride=30, max_n_fraction=1, contigs=["chr2"])
    assert chr2["start"].tolist() == [0, 30, 60, 90, 120, 150]  # the last ends at 250
    with pytest.raises(IntervalError, match="no contig 'chr9'"):
        tile_genome(genome, 100, 50, contigs=["chr9"])


def test_tiler_drops_blacklisted_windows(genome, tmp_path):
    black = bed(tmp_path, "black.bed", [("chr1", 300, 350), ("chr2", 0, 1)])
    got = tile_genome(genome, 100, 50, blacklist=black, contigs=["chr1", "chr2"])
    chr1 = set(got.loc[got["chrom"] == "chr1", "start"])
    # [250, 350) and [300, 400) overlap [300, 350); [200, 300) and [350, 450) only touch it
    assert {200, 350} <= chr1 and not {250, 300} & chr1 and len(chr1) == 17
    assert got.loc[got["chrom"] == "chr2", "start"].tolist() == [50, 100, 150]
    frame = windows(("chr1", 300, 350), ("chr2", 0, 1))
    pd.testing.assert_frame_equal(
        tile_genome(genome, 100, 50, blacklist=frame, contigs=["chr1", "chr2"]), got
    )


def test_tiler_drops_windows_with_too_many_ns(genome):
    # chrN: N at [0, 10), [100, 111), [200, 260) (soft-masked 'n' is N too)
    got = tile_genome(genome, 100, 100, max_n_fraction=0.1, contigs=["chrN"])
    assert got["start"].tolist() == [0]  # 10 % N is kept, 11 % and 60 % are not
    loose = tile_genome(genome, 100, 100, max_n_fraction=0.11, contigs=["chrN"])
    assert loose["start"].tolist() == [0, 100]
    strict = tile_genome(genome, 100, 100, max_n_fraction=0.0, contigs=["chrN"])
    assert strict.empty


def test_label_windows_adds_one_column_per_peak_file(genome, tmp_path):
    files = [
        bed(tmp_path, "A.bed", [("chr1", 120, 130), ("chr2", 240, 250)]),
        bed(tmp_path, "B.narrowPeak", [("chr1", 0, 60)]),
    ]
    got = label_windows(genome, files, 100, 50, min_overlap=0.1, contigs=["chr1", "chr2"])
    assert list(got.columns) == ["chrom", "start", "end", "A", "B"]
    assert got["A"].dtype == np.uint8
    assert got.loc[got["A"] == 1, "start"].tolist() == [50, 100, 150]  # 10 of 100 bases
    assert got.loc[got["B"] == 1, "start"].tolist() == [0, 50]
    tiled = tile_genome(genome, 100, 50, contigs=["chr1", "chr2"])
    np.testing.assert_array_equal(got[["A", "B"]], peak_labels(tiled, files, min_overlap=0.1))


def test_label_windows_names_peak_files_on_other_contig_names(genome, tmp_path):
    ensembl = bed(tmp_path, "ens.bed", [("1", 0, 100)])
    with pytest.raises(IntervalError, match=r"ens\.bed:1: .*'1'.*did you mean 'chr1'"):
        label_windows(genome, [ensembl], 100, 50)


def test_a_peak_on_a_contig_missing_from_the_genome_names_file_line_and_contig(genome, tmp_path):
    # an ENCODE-style file: most peaks on the genome's contigs, a few on alt / decoy contigs
    rows = [("chr1", 100, 200), ("chr1_KI270706v1_random", 5, 50), ("chr2", 0, 40)]
    rows += [("chrUn_GL000195v1", 1, 9), ("chr1_KI270706v1_random", 60, 70)]
    path = bed(tmp_path, "ENCFF001.bed", rows)
    with pytest.raises(IntervalError, match=r"ENCFF001\.bed:2: contig 'chr1_KI270706v1_random'"):
        label_windows(genome, [path], 100, 50)
    try:
        PeakLabels([path]).check(genome)
    except IntervalError as err:
        assert "2 peak(s)" in str(err) and "unknown_contigs='drop'" in str(err)
        assert "1 more peak(s) on 1 other" in str(err)
    labels = PeakLabels([path], unknown_contigs="drop")
    with pytest.warns(UserWarning, match=r"dropped 3 peaks on 2 contig\(s\) not in tiny\.fa"):
        labels.check(genome)
    assert labels.contigs_of(0) == ["chr1", "chr2"]
    with pytest.warns(UserWarning, match="dropped 3 peaks"):
        got = label_windows(genome, [path], 100, 50, unknown_contigs="drop")
    assert got.loc[got["ENCFF001"] == 1, "start"].tolist() == [50, 100, 150, 0]
    only_alt = bed(tmp_path, "alt.bed", [("chrUn_GL000195v1", 1, 9)])
    with pytest.warns(UserWarning):  # a file left without peaks labels everything 0
        assert label_windows(genome, [only_alt], 100, 50, unknown_contigs="drop")["alt"].sum() == 0
    with pytest.raises(ValueError, match="unknown_contigs"):
        PeakLabels([path], unknown_contigs="ignore")


def reference_tiles(genome: Genome, window: int, stride: int, blacklist, max_n: float):
    """Brute force: every grid window of every contig, its unknown bases counted one by one."""
    rows = []
    black = [] if blacklist is None else list(blacklist.itertuples(index=False))
    for chrom in genome.names:
        codes = np.asarray(genome.contig_codes(chrom))
        for start in range(0, len(codes) - window + 1, stride):
            n_unknown = int((codes[start : start + window] >= 4).sum())
            hit = any(c == chrom and s < start + window and e > start for c, s, e in black)
            if n_unknown <= max_n * window and not hit:
                rows.append((chrom, start, start + window))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def random_genome(tmp_path, rng, name: str) -> Genome:
    records = {}
    for c in range(int(rng.integers(1, 4))):
        seq = rng.choice(list("ACGT"), int(rng.integers(1, 1500)))
        for _ in range(int(rng.integers(0, 4))):  # N runs, some touching, some at contig ends
            a = int(rng.integers(0, len(seq)))
            seq[a : a + int(rng.integers(1, 300))] = "N"
        records[f"chr{c}"] = "".join(seq)
    records["chrEmpty"] = "ACGT" * 5  # shorter than most windows: no windows, no peaks
    return Genome(write_fasta(tmp_path / f"{name}.fa", records))


@pytest.mark.parametrize("chunk", [7, 1 << 22])
def test_compact_tiles_and_bit_labels_equal_a_brute_force_and_peak_labels(
    tmp_path, monkeypatch, chunk
):
    """Random genomes (N runs, contig ends, a chunk edge of the N scan every 7 bases and 7
    windows labelled per step), random
    windows, blacklists and overlapping / touching peaks, both overlap rules and the centre
    rule: the runs give the brute-force windows and the bits PeakLabels' labels."""
    import seqnn.data.tiling as tiling

    monkeypatch.setattr(tiling, "_CHUNK", chunk)
    monkeypatch.setattr(tiling, "_CANDIDATES", chunk)  # labels a few windows at a time too
    rng = np.random.default_rng(11)
    n_positive = 0
    for trial in range(16):
        genome = random_genome(tmp_path, rng, f"g{trial}")
        window, stride = int(rng.integers(1, 200)), int(rng.integers(1, 90))
        max_n = float(rng.choice([0.0, 0.1, 0.5, 0.9, 1.0]))
        start = rng.integers(0, 1500, 4)
        black = windows(
            *zip(
                rng.choice(["chr0", "chr1"], 4), start, start + rng.integers(0, 99, 4), strict=True
            )
        )
        black = black if trial % 2 else None
        tiles = tile_windows(genome, window, stride, black, max_n)
        want = reference_tiles(genome, window, stride, black, max_n)
        pd.testing.assert_frame_equal(tiles.to_frame(), want, check_dtype=False)
        peaks = []
        for _ in range(3):
            m = int(rng.integers(1, 30))
            s = rng.integers(0, 1500, m)
            frame = windows(
                *zip(rng.choice(genome.names, m), s, s + rng.integers(0, 200, m), strict=True)
            )
            touching = frame.assign(start=frame["end"], end=frame["end"] + 10)  # touch the peaks
            peaks.append(pd.concat([frame, touching.iloc[: m // 2]], ignore_index=True))
        for rule in (
            {"min_overlap": None},
            {"min_overlap": 0.5},
            {"min_overlap": 1.0},
            {"centre": True},
        ):
            labels = PeakLabels(peaks, **rule)
            bits = label_tiles(tiles, labels)
            assert bits.shape == (len(tiles), 1) and bits.dtype == np.uint8
            got = np.unpackbits(bits, axis=1, count=3)
            frame = tiles.to_frame()
            np.testing.assert_array_equal(
                got, labels.hits(frame["chrom"], frame["start"], frame["end"])
            )
            n_positive += int(got.sum())
    assert n_positive > 100  # the comparisons saw positives


def test_windows_take_locate_and_rows_round_trip(genome):
    tiles = tile_windows(genome, 100, 30, max_n_fraction=0.1)
    frame = tiles.to_frame()
    rows = np.array([5, 6, 7, 0, 1, len(tiles) - 1, 3])
    part = tiles.take(rows)
    pd.testing.assert_frame_equal(part.to_frame(), frame.iloc[rows].reset_index(drop=True))
    assert len(part.count) == 4  # 5-7, 0-1, the last, 3: consecutive rows share a run
    contig, start = tiles.locate(np.arange(len(tiles)))
    np.testing.assert_array_equal(tiles.rows_of(contig, start // 30), np.arange(len(tiles)))
    assert tiles.rows_of(np.array([0]), np.array([10_000]))[0] == -1
    assert pickle.loads(pickle.dumps(tiles)).to_frame().equals(frame)


# ----------------------------------------------------------------------------- streaming
@pytest.mark.parametrize(
    "held_out", [{}, {"n_blocks": 7, "seed": 3}, {"val_chroms": ["chr2"], "test_chroms": ["chrN"]}]
)
def test_windows_split_equals_interval_split_of_the_table(genome, held_out):
    from seqnn.data.splits import interval_split

    tiles = tile_windows(genome, 60, 7, max_n_fraction=0.2)
    frame = tiles.to_frame()
    want = interval_split(frame, genome.sizes, **held_out)
    got = interval_split(tiles, genome.sizes, **held_out)
    for stage in ("train", "val", "test"):
        expect = frame.iloc[want[stage]].reset_index(drop=True)
        pd.testing.assert_frame_equal(got[stage].to_frame(), expect, check_dtype=False)
    assert sum(len(want[s]) for s in want) < len(frame) or held_out  # blocks drop straddlers


def test_datamodule_over_windows_serves_the_batches_of_the_table(genome, tmp_path):
    from seqnn.data.datamodule import IntervalDataModule

    peaks = [bed(tmp_path, "a.bed", [("chr1", 100, 400), ("chrN", 0, 50)])]
    batches, weights = [], []
    for tiles in (tile_windows(genome, 60, 7), tile_genome(genome, 60, 7)):
        data = IntervalDataModule(
            genome, tiles, targets=PeakLabels(peaks), batch_size=16, n_blocks=9, output="codes"
        )
        data.setup()
        batches.append([(x.clone(), y.clone()) for x, y in data.train_dataloader()])
        assert len(data.split_frame("val")) == len(data.datasets["val"]) > 0
        weights.append(data.positive_weight())
    assert isinstance(data.datasets["train"].windows, type(None))  # the table's path
    # the tiled path counts positives from the bit-packed labels, the table's batch by batch
    assert weights[0] == pytest.approx(weights[1], rel=1e-9)
    for (x1, y1), (x2, y2) in zip(*batches, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert sum(int(y.sum()) for _, y in batches[0]) > 0


STREAM = """
import sys
import numpy as np
from seqnn.data import write_fasta
from seqnn.data.datamodule import IntervalDataModule
from seqnn.data.peaks import PeakLabels
from seqnn.data.tiling import tile_windows

folder, size, tiled = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
rng = np.random.default_rng(0)
seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, size)].tobytes().decode()
fasta = write_fasta(f"{folder}/g{size}.fa", {"chr1": seq})
starts = rng.integers(0, size - 500, 20)
peaks = [f"{folder}/p{size}.bed"]
open(peaks[0], "w").write("".join(f"chr1\\t{s}\\t{s + 500}\\n" for s in starts))
windows = tile_windows(fasta, 1000, 1)
intervals = windows if tiled else windows.to_frame()
with open("/proc/self/status") as fh:  # what the imports and the genome cost
    base = int(next(l for l in fh if l.startswith("VmRSS")).split()[1])
data = IntervalDataModule(fasta, intervals, targets=PeakLabels(peaks), batch_size=64,
                          output="codes", n_blocks=3)
data.setup()
for i, _ in enumerate(data.train_dataloader()):
    if i == 20:
        break
with open("/proc/self/status") as fh:
    peak = int(next(l for l in fh if l.startswith("VmHWM")).split()[1])
print(len(windows), (peak - base) / 1024)
"""


@pytest.mark.slow
def test_a_streaming_epoch_needs_no_more_memory_for_3m_windows_than_for_10k(tmp_path):
    """The data module over tiled windows (setup + an epoch's first batches) grows by the
    sampler's int32 order only; the same windows as a table grow by ~100 bytes a window."""
    import subprocess
    import sys

    def growth_mb(size: int, tiled: bool) -> float:
        cmd = [sys.executable, "-c", STREAM, str(tmp_path), str(size), str(int(tiled))]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
        return float(out[1])

    small, large = growth_mb(10_999, True), growth_mb(3_000_999, True)
    # 2 M training windows x 4 bytes (the int32 order) = 8 MB; allow 3x that
    assert large - small < 24 + 0.2 * small, (small, large)
    table = growth_mb(3_000_999, False)
    assert table > 3 * (large - small), (table, large)  # the check can fail


def test_interval_dataset_refuses_windows_it_cannot_serve(genome, tmp_path):
    from seqnn.data.datasets import DatasetError, IntervalDataset

    tiles = tile_windows(genome, 100, 50)
    with pytest.raises(DatasetError, match="tile with window=input_length"):
        IntervalDataset(genome, tiles, input_length=200)
    other = Genome(write_fasta(tmp_path / "other.fa", {"chrZ": "ACGT" * 100}))
    with pytest.raises(DatasetError, match="tiled on another genome"):
        IntervalDataset(other, tiles)
    dataset = IntervalDataset(genome, tiles, output="codes")
    codes = dataset[len(dataset) - 1]
    contig, start = tiles.locate(np.array([len(tiles) - 1]))
    want = genome.contig_codes(genome.names[contig[0]])[start[0] : start[0] + 100]
    np.testing.assert_array_equal(codes.numpy(), want)
