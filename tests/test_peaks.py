"""Peak sets -> 0/1 window labels (seqnn.data.peaks) and the genome tiler (seqnn.data.tiling)."""

import gzip
import pickle

import numpy as np
import pandas as pd
import pytest

from seqnn.data import write_fasta
from seqnn.data.genome import Genome
from seqnn.data.intervals import IntervalError
from seqnn.data.peaks import PeakLabels, merge_intervals, peak_labels, peak_names
from seqnn.data.tiling import label_windows, tile_genome


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
    with pytest.raises(IntervalError, match="ens: .*'1'.*did you mean 'chr1'"):
        label_windows(genome, [ensembl], 100, 50)
