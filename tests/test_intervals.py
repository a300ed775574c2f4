"""Intervals: reading BED/narrowPeak/TSV/CSV with line numbers, validation messages and
policies, resize, tile, and chromosome / block splits."""

import gzip
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from genome_files import piped

from seqnn.data.datasets import centred_codes
from seqnn.data.encoding import decode
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.intervals import (
    IntervalError,
    centred_start,
    contig_indices,
    iter_intervals,
    read_intervals,
    resize,
    split_by_blocks,
    split_by_chromosome,
    strand_flags,
    tile,
    validate_intervals,
)

SIZES = {"chr1": 10_000, "chr2": 4000}


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- reading
def test_bed_skips_comments_track_browser_and_header_keeping_line_numbers(tmp_path):
    text = (
        "# a comment\ntrack name=x\nbrowser position chr1\nchrom\tstart\tend\n"
        "chr1\t10\t20\n\nchr2\t30\t40\n"
    )
    df = read_intervals(write(tmp_path, "regions.bed", text))
    assert list(df.columns) == ["chrom", "start", "end", "line"]
    assert df["chrom"].tolist() == ["chr1", "chr2"]
    assert df["start"].dtype == np.int64 and df["end"].tolist() == [20, 40]
    assert df["line"].tolist() == [5, 7]
    assert df.attrs["source"] == "regions.bed"


def test_bed6_narrowpeak_and_extra_columns(tmp_path):
    bed6 = read_intervals(write(tmp_path, "a.bed", "chr1\t1\t5\tp1\t0.5\t-\textra\n"))
    assert list(bed6.columns)[:7] == [
        "chrom", "start", "end", "name", "score", "strand", "col7",
    ]  # fmt: skip
    assert bed6["strand"].iloc[0] == "-"
    peak = read_intervals(
        write(tmp_path, "p.narrowPeak", "chr1\t1\t5\t.\t0\t.\t3.2\t4.1\t2.0\t2\n")
    )
    assert list(peak.columns)[6:10] == ["signal_value", "p_value", "q_value", "peak"]
    assert peak["peak"].iloc[0] == 2
    named = read_intervals(write(tmp_path, "n.bed", "#chrom\ts\te\tname\tscore\tstrand\ttss\n"
                                 "chr1\t1\t5\tx\t0\t+\t3\n"))  # fmt: skip
    assert "tss" in named.columns


def test_tsv_and_csv_with_header_names(tmp_path):
    tsv = read_intervals(write(tmp_path, "t.tsv", "label\tchr\tstart\tend\n1\tchr1\t3\t9\n"))
    assert tsv[["chrom", "start", "end", "label"]].values.tolist() == [["chr1", 3, 9, 1]]
    csv = read_intervals(write(tmp_path, "t.csv", "chromosome,start,end,y\nchr2,0,5,0.5\n"))
    assert csv["chrom"].tolist() == ["chr2"] and csv["y"].tolist() == [0.5]


def test_gzip_bed(tmp_path):
    path = tmp_path / "r.bed.gz"
    path.write_bytes(gzip.compress(b"chr1\t1\t5\n"))
    assert read_intervals(path)["end"].tolist() == [5]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("chr1\t1\t5\nchr1 1 5\n", "regions.bed:2: fields are separated by spaces, not tabs"),
        ("chr1\t1\t5\nchr1\t7\n", "regions.bed:2: 2 column\\(s\\), an interval needs at least 3"),
        ("chr1\t1\t5\nchr1\t1.5\t9\n", "regions.bed:2: start '1.5' is not an integer"),
        ("chr1\t1\t5\nchr1\t1\tx\n", "regions.bed:2: end 'x' is not an integer"),
        ("", "regions.bed: no intervals"),
        ("# only a comment\n", "regions.bed: no intervals"),
    ],
)
def test_read_errors_name_the_line(tmp_path, text, match):
    with pytest.raises(IntervalError, match=match):
        read_intervals(write(tmp_path, "regions.bed", text))


def test_crlf_scattered_comments_and_blank_lines_keep_line_numbers(tmp_path):
    text = "track x\r\nchr1\t1\t5\r\n\r\n  # indented comment\r\nchr2\t2\t6\r\n   \r\nchr1\t3\t7"
    df = read_intervals(write(tmp_path, "r.bed", text))
    assert df["line"].tolist() == [2, 5, 7]
    assert df["chrom"].tolist() == ["chr1", "chr2", "chr1"] and df["end"].tolist() == [5, 6, 7]


def test_only_the_ucsc_forms_of_track_and_browser_are_headers(tmp_path):
    text = "track\nbrowser hide all\n  track name=x\ntrackA\t1\t5\ntrack\t2\t6\nbrowser_1\t3\t7\n"
    df = read_intervals(write(tmp_path, "r.bed", text))
    assert df["chrom"].tolist() == ["trackA", "track", "browser_1"]
    assert df["line"].tolist() == [4, 5, 6]


@pytest.mark.parametrize("bad", ["-1", "minus", "?", "1"])
def test_strand_spellings_other_than_plus_minus_dot_are_refused(tmp_path, bad):
    text = f"chr1\t1\t5\ta\t0\t+\nchr1\t1\t5\tb\t0\t.\nchr1\t1\t5\tc\t0\t{bad}\n"
    df = read_intervals(write(tmp_path, "r.bed", text))
    message = f"r.bed:3: strand '{bad}' is not '+', '-' or '.': write '-' for the reverse"
    with pytest.raises(IntervalError, match=re.escape(message)):
        strand_flags(df)


def test_strand_flags():
    df = pd.DataFrame({"chrom": ["a"] * 3, "start": 0, "end": 1, "strand": ["+", "-", "."]})
    assert strand_flags(df).tolist() == [False, True, False]


@pytest.mark.parametrize("compress", [False, True])
def test_a_pipe_is_read_whole(compress):
    text = b"chr1\t1\t5\nchr2\t2\t6\n"
    with piped(gzip.compress(text) if compress else text) as path:  # <(cat r.bed)
        df = read_intervals(path)
    assert df["chrom"].tolist() == ["chr1", "chr2"] and df["end"].tolist() == [5, 6]


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808", "1e30"])
def test_coordinates_past_int64_are_refused_not_wrapped(tmp_path, value):
    path = write(tmp_path, "r.bed", f"chr1\t1\t5\nchr1\t0\t{value}\n")
    with pytest.raises(IntervalError, match="r.bed:2: end .* is beyond any genome coordinate"):
        read_intervals(path)


def test_more_columns_than_the_first_row_names_the_line(tmp_path):
    text = "# c\nchr1\t1\t5\n\nchr1\t1\t5\tx\n"
    with pytest.raises(IntervalError, match="r.bed:4: more columns than the first data row"):
        read_intervals(write(tmp_path, "r.bed", text))


def test_header_only_is_no_intervals(tmp_path):
    with pytest.raises(IntervalError, match="r.bed: no intervals"):
        read_intervals(write(tmp_path, "r.bed", "chrom\tstart\tend\n"))


def test_contig_indices():
    chrom = pd.Series(["chr2", "chrX", "chr1", "chr2"])
    expected = [1, -1, 0, 1]
    assert contig_indices(chrom, ["chr1", "chr2"]).tolist() == expected
    assert contig_indices(chrom.astype("category"), ["chr1", "chr2"]).tolist() == expected


# ----------------------------------------------------------------------------- validation
@pytest.fixture
def bad_bed(tmp_path) -> pd.DataFrame:
    text = "chr1\t0\t100\nchr2\t3900\t5000\nchr1\t-5\t10\nchr1\t50\t40\nchr1\t9990\t10010\n"
    return read_intervals(write(tmp_path, "regions.bed", text))


def test_past_the_end_exact_message(bad_bed):
    with pytest.raises(IntervalError) as err:
        validate_intervals(bad_bed.iloc[:2], SIZES)
    assert str(err.value).startswith(
        "regions.bed:2: end 5000 is past the end of chr2 (length 4000)"
    )


def test_negative_start_and_end_before_start(bad_bed):
    with pytest.raises(IntervalError, match="regions.bed:3: start -5 is negative"):
        validate_intervals(bad_bed.iloc[[0, 2]], SIZES)
    with pytest.raises(IntervalError, match="regions.bed:4: start 50 is not before end 40"):
        validate_intervals(bad_bed, SIZES, on_invalid="pad")


def test_unknown_contig_suggests_the_chr_prefix(tmp_path):
    df = read_intervals(write(tmp_path, "r.bed", "chr1\t0\t10\n1\t0\t10\n"))
    with pytest.raises(IntervalError, match="r.bed:2: contig '1' is not in the genome .*'chr1'"):
        validate_intervals(df, SIZES)
    with pytest.raises(IntervalError, match="did you mean 'chr2'"):
        validate_intervals(df.assign(chrom="CHR2"), SIZES, on_invalid="pad")
    with pytest.raises(IntervalError, match="did you mean 'chrX_random'"):
        validate_intervals(df.assign(chrom="chrX_randm"), {"chrX_random": 100})


def test_drop_warns_with_counts_and_pad_keeps_out_of_bounds(bad_bed):
    with pytest.warns(UserWarning, match="dropped 4 of 5 intervals .*1 start >= end"):
        kept = validate_intervals(bad_bed, SIZES, on_invalid="drop")
    assert kept["line"].tolist() == [1]
    padded = validate_intervals(bad_bed.drop(index=3), SIZES, on_invalid="pad")
    assert len(padded) == 4


def test_validate_against_a_genome(tmp_path):
    genome = Genome(write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 10}))
    df = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [41]})
    with pytest.raises(IntervalError, match="intervals: row 0: end 41 is past the end of chr1"):
        validate_intervals(df, genome)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(validate_intervals(df.assign(end=40), genome)) == 1


# ----------------------------------------------------------------------------- resize / tile
def test_resize_is_centred_and_deterministic():
    df = pd.DataFrame(
        {"chrom": ["a"] * 3, "start": [0, 0, 10], "end": [10, 11, 11], "y": [1, 2, 3]}
    )
    out = resize(df, 4)
    assert out["start"].tolist() == [3, 3, 8] and out["end"].tolist() == [7, 7, 12]
    assert (out["end"] - out["start"]).eq(4).all() and out["y"].tolist() == [1, 2, 3]
    assert resize(df, 5)["start"].tolist() == [3, 3, 8]
    assert df["start"].tolist() == [0, 0, 10]  # a copy


@pytest.mark.parametrize("length", [4, 5, 11, 15, 16])
def test_one_centring_rule_for_intervals_and_sequences(length):
    """resize (intervals) and the cut / N-pad of a sequence (centred_codes, which
    predict_sequences and the tables use) place a window of the input length where
    centred_start says: one rule, written once."""
    seq = "ACGTACGTACG"  # 11 bp, centre 5
    start = centred_start(0, len(seq), length)
    assert start == 5 - length // 2
    row = resize(pd.DataFrame({"chrom": ["a"], "start": [0], "end": [11]}), length)
    assert (row["start"][0], row["end"][0]) == (start, start + length)
    left, right = max(0, -start), max(0, start + length - len(seq))
    codes = centred_codes([seq], length, str)[0]
    assert decode(codes[0]) == "N" * left + seq[max(start, 0) : start + length] + "N" * right
    starts = centred_start(np.array([0, 10]), np.array([11, 21]), length)  # arrays too
    assert starts.tolist() == [start, start + 10]


def test_tile_regions_and_contigs():
    regions = pd.DataFrame(
        {"chrom": ["a", "b"], "start": [0, 100], "end": [25, 105], "id": [7, 8]}
    )
    full = tile(regions, window=10, stride=5)
    assert full["start"].tolist() == [0, 5, 10, 15] and (full["end"] - full["start"]).eq(10).all()
    kept = tile(regions, window=10, stride=5, keep_last=True)
    assert kept["start"].tolist() == [0, 5, 10, 15, 100]
    assert kept["end"].tolist() == [10, 15, 20, 25, 105] and kept["id"].tolist() == [7] * 4 + [8]
    short_last = tile(regions.iloc[:1], window=10, keep_last=True)
    assert short_last["end"].tolist() == [10, 20, 25]
    contigs = tile({"x": 30, "y": 9}, window=10)
    assert contigs["chrom"].tolist() == ["x"] * 3 and contigs["start"].tolist() == [0, 10, 20]


# ----------------------------------------------------------------------------- splits
def test_split_by_chromosome():
    df = pd.DataFrame({"chrom": ["chr1", "chr2", "chr3", "chr1"], "start": 0, "end": 1})
    parts = split_by_chromosome(df, val=["chr2"], test=["chr3"])
    assert parts["train"].index.tolist() == [0, 3]
    assert parts["val"]["chrom"].tolist() == ["chr2"] and parts["test"]["chrom"].tolist() == [
        "chr3"
    ]
    with pytest.warns(UserWarning, match="no intervals on \\['2'\\].*did you mean 'chr2'"):
        split_by_chromosome(df, val=["2"])
    with pytest.raises(IntervalError, match="both val and test"):
        split_by_chromosome(df, val=["chr2"], test=["chr2"])


def test_split_by_blocks_is_disjoint_complete_and_seeded():
    sizes = {"genome": 100_000, "plasmid": 5_000}
    windows = tile(sizes, window=300, stride=100)
    parts = split_by_blocks(windows, sizes, 0.2, 0.1, n_blocks=20, seed=3)
    block = 105_000 // 20
    straddle = windows["start"] // block != (windows["end"] - 1) // block
    seen = np.concatenate([p.index.to_numpy() for p in parts.values()])
    assert len(seen) == len(set(seen))  # each interval in at most one split
    assert set(seen) | set(windows.index[straddle]) == set(windows.index)  # all assigned
    assert not set(seen) & set(windows.index[straddle])  # straddlers dropped
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        blocks_a = set(zip(parts[a]["chrom"], parts[a]["start"] // block, strict=True))
        blocks_b = set(zip(parts[b]["chrom"], parts[b]["start"] // block, strict=True))
        assert not blocks_a & blocks_b  # no block in two splits
    assert all(len(p) for p in parts.values())
    again = split_by_blocks(windows, sizes, 0.2, 0.1, n_blocks=20, seed=3)
    assert all(again[k].index.equals(parts[k].index) for k in parts)
    other = split_by_blocks(windows, sizes, 0.2, 0.1, n_blocks=20, seed=4)
    assert not other["test"].index.equals(parts["test"].index)
    centre = split_by_blocks(windows, sizes, 0.2, 0.1, n_blocks=20, seed=3, straddling="centre")
    assert sum(len(p) for p in centre.values()) == len(windows)


def test_split_by_blocks_places_padded_windows_by_their_bases():
    """Windows reaching past a contig's ends (N-padded) go with the block of the bases they
    hold, not dropped as straddlers of a block before the contig or after it."""
    sizes = {"chr1": 1_000, "chr2": 1_000}
    df = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr2", "chr2"],
            "start": [-50, 950, -20, 900],
            "end": [50, 1050, 80, 1100],
        }
    )
    parts = split_by_blocks(df, sizes, 0.0, 0.0, n_blocks=2)
    assert parts["train"].index.tolist() == [0, 1, 2, 3]
    halves = split_by_blocks(df, sizes, 0.0, 0.0, n_blocks=4)  # 500-bp blocks: still one each
    assert halves["train"].index.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("gz", [False, True])
def test_iter_intervals_in_small_blocks_equals_read_intervals(tmp_path, gz):
    """Blocks cut anywhere (a few lines each) give the rows, columns and line numbers of one
    whole read: the header and comment lines are handled once, at the file's start."""
    rng = np.random.default_rng(3)
    starts = rng.integers(0, 10_000, 500)
    body = "".join(
        f"chr{1 + i % 3}\t{s}\t{s + 100}\tr{i}\t{i}\t{'+-'[i % 2]}\n"
        + ("# a comment inside\n" if i % 97 == 5 else "")
        for i, s in enumerate(starts)
    )
    text = "track name=x\n#chrom\tstart\tend\tname\tscore\tstrand\n" + body
    path = tmp_path / ("r.bed.gz" if gz else "r.bed")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    whole = read_intervals(path)
    blocks = list(iter_intervals(path, chunk_bytes=300))
    assert len(blocks) > 10
    streamed = pd.concat(blocks, ignore_index=True)
    pd.testing.assert_frame_equal(streamed, whole)
    assert streamed["line"].iloc[-1] == text.count("\n")
    assert all(b.attrs["source"] == path.name for b in blocks)


def test_iter_intervals_errors_name_the_line_of_the_file(tmp_path):
    path = tmp_path / "r.bed"
    lines = [f"chr1\t{i}\t{i + 10}\n" for i in range(200)]
    lines[150] = "chr1\t150\tx\n"
    path.write_text("".join(lines))
    with pytest.raises(IntervalError, match=r"r.bed:151: end 'x' is not an integer"):
        list(iter_intervals(path, chunk_bytes=100))
    path.write_text("# only\n# comments\n")
    with pytest.raises(IntervalError, match="no intervals"):
        list(iter_intervals(path, chunk_bytes=4))
