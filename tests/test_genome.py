"""Genome: padded and reverse-complemented fetches, the code cache against pyfaidx, cache
rebuilds, pickling, and one test per kind of bad input (each checks the message)."""

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from genome_files import BGZF_EOF, bgzf_blocks, mapped_kb, piped, write_bgzf

import seqnn.data.genome as genome_mod
from seqnn.data.encoding import (
    EncodingPolicy,
    decode,
    encode,
    one_hot,
    reverse_complement,
    reverse_complement_codes,
)
from seqnn.data.genome import Genome, GenomeError, write_fasta


def random_dna(rng: np.random.Generator, n: int, letters: str = "ACGT") -> str:
    return "".join(rng.choice(list(letters), n))


@pytest.fixture
def records(rng) -> dict[str, str]:
    chr1 = random_dna(rng, 503, "ACGTacgtN")
    chr2 = "NNNN" + random_dna(rng, 300) + "ryswkmbdhvRYSWKMBDHV" + random_dna(rng, 77, "acgt")
    return {"chr1": chr1, "chr2": chr2, "chrM": random_dna(rng, 16)}


@pytest.fixture
def genome(tmp_path, records) -> Genome:
    return Genome(write_fasta(tmp_path / "g.fa", records, line_width=60))


def test_names_sizes_contains(genome, records):
    assert genome.names == list(records)
    assert genome.sizes == {k: len(v) for k, v in records.items()}
    assert len(genome) == 3 and "chr2" in genome and "chr9" not in genome


def test_fetch_pads_with_n_at_both_ends(genome, records):
    seq = records["chr1"].upper()
    assert genome.fetch("chr1", -5, 5) == "N" * 5 + seq[:5]
    assert genome.fetch("chr1", 500, 510) == seq[500:] + "N" * 7
    assert genome.fetch("chr1", -20, -10) == "N" * 10
    assert genome.fetch("chr1", 600, 610) == "N" * 10
    assert genome.fetch("chrM", -3, 19) == "NNN" + records["chrM"] + "NNN"
    starts = np.array([-5, 500, -20, 600, 10])
    codes = genome.fetch_codes(["chr1"] * 5, starts, starts + 10)
    expected = [genome.fetch("chr1", s, s + 10) for s in starts]
    assert decode(codes) == expected


def test_minus_strand_is_reverse_complement(genome, rng):
    chroms = rng.choice(genome.names, 50)
    starts = rng.integers(-30, 520, 50)
    strands = rng.choice(["+", "-"], 50)
    plus = genome.fetch_codes(chroms, starts, starts + 40)
    mixed = genome.fetch_codes(chroms, starts, starts + 40, strands)
    minus = strands == "-"
    np.testing.assert_array_equal(mixed[~minus], plus[~minus])
    np.testing.assert_array_equal(mixed[minus], reverse_complement_codes(plus[minus]))
    assert genome.fetch("chr2", 290, 330, "-") == reverse_complement(
        genome.fetch("chr2", 290, 330)
    )
    np.testing.assert_array_equal(
        genome.fetch_codes(chroms, starts, starts + 40, np.where(minus, -1, 1)), mixed
    )


@pytest.mark.parametrize("policy", [EncodingPolicy(), EncodingPolicy("quarter", "n")])
def test_fetch_one_hot_is_one_hot_of_the_codes(genome, rng, policy):
    chroms = rng.choice(genome.names, 64)
    starts = rng.integers(-30, 520, 64)
    strands = rng.choice(["+", "-"], 64)
    codes = genome.fetch_codes(chroms, starts, starts + 40, strands)
    x = genome.fetch_one_hot(chroms, starts, starts + 40, strands, policy=policy)
    assert x.shape == (64, 4, 40) and x.dtype == np.float32
    np.testing.assert_array_equal(x, one_hot(codes, policy=policy))
    assert set(np.unique(codes)) > {0, 1, 2, 3, 4}  # padding, N and IUPAC rows were covered


def test_fetch_batch_checks_contig_indices(genome):
    with pytest.raises(GenomeError, match="contig index 3 is out of range 0..2"):
        genome.fetch_batch(np.array([0, 3]), np.array([0, 0]), 10)
    with pytest.raises(GenomeError, match="contig index -1 is out of range"):
        genome.fetch_codes(np.array([-1]), [0], [10])


def test_batched_fetches_of_changing_widths(genome, records, rng):
    # the windows view is kept per width: each width must still read its own windows
    padded = {c: "N" * 1000 + s.upper() + "N" * 2000 for c, s in records.items()}
    for width in (40, 7, 40, 1, 950):
        chroms = rng.choice(genome.names, 30)
        starts = rng.integers(-60, 520, 30)
        got = decode(genome.fetch_codes(chroms, starts, starts + width))
        pairs = zip(chroms, starts, strict=True)
        assert got == [padded[c][1000 + s : 1000 + s + width] for c, s in pairs]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("line_width", [7, 60, 0])
def test_cache_equals_pyfaidx(tmp_path, records, rng, newline, line_width):
    path = write_fasta(tmp_path / "g.fa", records, line_width=line_width)
    if newline == "\r\n":
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    genome = Genome(path)
    for _ in range(200):
        chrom = str(rng.choice(genome.names))
        start = int(rng.integers(0, genome.sizes[chrom]))
        end = int(rng.integers(start, genome.sizes[chrom] + 1))
        assert genome.fetch(chrom, start, end) == genome.fasta[chrom][start:end].upper()
    for chrom, seq in records.items():
        np.testing.assert_array_equal(genome.contig_codes(chrom), encode(seq))


def test_build_in_small_chunks(tmp_path, records, monkeypatch):
    """Chunk edges inside lines and inside records, and lines longer than a chunk."""
    monkeypatch.setattr(genome_mod, "_CODE_CHUNK", 13)
    monkeypatch.setattr(genome_mod, "_SCAN_CHUNK", 50)
    for width in (0, 9):
        genome = Genome(write_fasta(tmp_path / f"w{width}.fa", records, line_width=width))
        for chrom, seq in records.items():
            assert decode(genome.contig_codes(chrom)) == seq.upper()


def test_write_fasta_makes_its_folder(tmp_path):
    path = write_fasta(tmp_path / "new" / "g.fa", {"a": "ACGT"})
    assert path.read_text() == ">a\nACGT\n"


def test_lowercase_is_read_as_uppercase(tmp_path):
    genome = Genome(write_fasta(tmp_path / "g.fa", {"a": "acgtnACGTN"}))
    assert genome.fetch("a", 0, 10) == "ACGTNACGTN"
    np.testing.assert_array_equal(genome.contig_codes("a"), encode("ACGTNACGTN"))


def test_empty_record_is_all_padding(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">empty\n>b\nACGT\n")
    genome = Genome(path)
    assert genome.sizes == {"empty": 0, "b": 4}
    assert genome.fetch("empty", 0, 3) == "NNN" and genome.fetch("b", 2, 6) == "GTNN"


def test_cache_is_reused_and_rebuilt_when_the_fasta_changes(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"a": "ACGT"})
    assert Genome(path).fetch("a", 0, 4) == "ACGT"
    cache = tmp_path / "g.fa.seqnn-codes"
    assert cache.exists() and (tmp_path / "g.fa.fai").exists()
    stamp = cache.stat().st_mtime_ns
    assert Genome(path).fetch("a", 0, 4) == "ACGT"
    assert cache.stat().st_mtime_ns == stamp  # reused, not rebuilt
    write_fasta(path, {"a": "TTTT", "b": "GG"})  # same size as before, new content
    genome = Genome(path)
    assert genome.fetch("a", 0, 4) == "TTTT" and genome.sizes == {"a": 4, "b": 2}


@pytest.fixture
def big_genome(tmp_path, rng) -> tuple[Path, dict[str, str]]:
    """Two contigs, 600 kb in all: larger than the blocks the cache check samples."""
    records = {"chr1": random_dna(rng, 400_000), "chr2": random_dna(rng, 200_000)}
    path = write_fasta(tmp_path / "g.fa", records)
    assert Genome(path).sizes == {"chr1": 400_000, "chr2": 200_000}
    return path, records


def overwrite_keeping_the_stamp(path: Path, data: bytes) -> None:
    """Write ``data`` into ``path`` in place (same inode, size) and restore its mtime."""
    st = path.stat()
    assert len(data) == st.st_size
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_ino == st.st_ino and path.stat().st_mtime_ns == st.st_mtime_ns


def test_a_fasta_replaced_in_place_with_its_mtime_restored_rebuilds(big_genome, rng):
    path, records = big_genome
    other = {name: random_dna(rng, len(seq)) for name, seq in records.items()}
    overwrite_keeping_the_stamp(path, write_fasta(path.with_name("o.fa"), other).read_bytes())
    genome = Genome(path)
    assert genome.fetch("chr1", 1000, 1100) == other["chr1"][1000:1100]
    assert genome.fetch("chr2", 150_000, 150_100) == other["chr2"][150_000:150_100]


def test_a_code_file_overwritten_with_zeros_rebuilds(big_genome):
    path, records = big_genome
    cache = path.with_name("g.fa.seqnn-codes")
    overwrite_keeping_the_stamp(cache, bytes(cache.stat().st_size))
    assert Genome(path).fetch("chr2", 5, 105) == records["chr2"][5:105]


def test_a_sidecar_with_reordered_contigs_rebuilds(big_genome):
    path, records = big_genome
    sidecar = path.with_name("g.fa.seqnn-codes.json")
    meta = json.loads(sidecar.read_text())
    for key in ("names", "sizes"):
        meta[key] = meta[key][::-1]
    sidecar.write_text(json.dumps(meta))
    genome = Genome(path)
    assert genome.names == ["chr1", "chr2"]
    assert genome.fetch("chr2", 0, 100) == records["chr2"][:100]


def test_pickle_reopens_the_cache(genome):
    clone = pickle.loads(pickle.dumps(genome))
    assert clone._codes is None and len(pickle.dumps(genome)) < 2000
    np.testing.assert_array_equal(
        clone.fetch_codes(["chr1", "chr2"], [0, 5], [50, 55]),
        genome.fetch_codes(["chr1", "chr2"], [0, 5], [50, 55]),
    )


def test_contig_codes_is_read_only(genome):
    view = genome.contig_codes("chr2")
    assert view.shape == (genome.sizes["chr2"],)
    with pytest.raises(ValueError):
        view[0] = 1


def test_fetch_codes_inputs(genome):
    out = np.empty((2, 10), dtype=np.uint8)
    result = genome.fetch_codes(np.array(["chr1", "chr2"]), [0, 1], [10, 11], out=out)
    assert result is out
    np.testing.assert_array_equal(genome.fetch_codes(np.array([0, 1]), [0, 1], [10, 11]), out)
    with pytest.raises(GenomeError, match="no contig '1' \\(did you mean 'chr1'\\?\\)"):
        genome.fetch_codes(["1"], [0], [10])
    with pytest.raises(GenomeError, match="one width"):
        genome.fetch_codes(["chr1", "chr1"], [0, 0], [10, 11])
    with pytest.raises(GenomeError, match="strand 'x'"):
        genome.fetch_codes(["chr1"], [0], [10], ["x"])


# ----------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path):
    with pytest.raises(GenomeError, match="no such FASTA file"):
        Genome(tmp_path / "nope.fa")


def test_plain_gzip_says_gunzip_or_bgzip(tmp_path):
    path = tmp_path / "g.fa.gz"
    path.write_bytes(gzip.compress(b">a\nACGT\n"))
    with pytest.raises(GenomeError, match="gunzip.*bgzip"):
        Genome(path)


def test_bgzip_needs_biopython(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "Bio", None)  # as if biopython were not installed
    path = write_bgzf(tmp_path / "g.fa.gz", b">a\nACGT\n")
    with pytest.raises(GenomeError, match="biopython"):
        Genome(path)


def test_bgzip_is_read_and_a_stale_index_beside_it_rebuilt(tmp_path, records):
    pytest.importorskip("Bio")
    old = dict(records, chr2=records["chr2"][:-120])
    for name, recs in (("old", old), ("new", records)):
        (tmp_path / name).mkdir()
        text = write_fasta(tmp_path / name / "g.fa", recs).read_bytes()
        write_bgzf(tmp_path / name / "g.fa.gz", text)
    Genome(tmp_path / "old" / "g.fa.gz")  # leaves an index of the old file beside it
    copy_bgzf_indexes(tmp_path / "old" / "g.fa.gz", tmp_path / "new" / "g.fa.gz")
    genome = Genome(tmp_path / "new" / "g.fa.gz")
    assert genome.sizes == {name: len(seq) for name, seq in records.items()}
    assert genome.fetch("chr2", 0, len(records["chr2"])) == records["chr2"].upper()
    assert len(genome.fasta["chr2"]) == len(records["chr2"])  # the index was rebuilt too


def copy_bgzf_indexes(source: Path, target: Path) -> None:
    """Copy a bgzip FASTA's .fai and .gzi beside another (newer than it: pyfaidx trusts them)."""
    for suffix in (".fai", ".gzi"):
        shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


@pytest.mark.parametrize("cut", ["at-a-block", "inside-a-block"])
def test_truncated_bgzip_is_a_clear_error(tmp_path, cut):
    pytest.importorskip("Bio")
    raw = write_fasta(tmp_path / "g.fa", {"a": "ACGT" * 1000}).read_bytes()
    blocks = bgzf_blocks(raw)
    whole = tmp_path / "whole.fa.gz"
    whole.write_bytes(b"".join(blocks) + BGZF_EOF)
    Genome(whole)  # its indexes, then the file cut short with them beside it
    path = tmp_path / "g.fa.gz"
    if cut == "at-a-block":
        path.write_bytes(b"".join(blocks[:2]))
    else:  # the end-of-file block is there but a block before it is cut
        path.write_bytes(b"".join(blocks[:2]) + blocks[2][:40] + BGZF_EOF)
    copy_bgzf_indexes(whole, path)
    with pytest.raises(GenomeError, match="g.fa.gz: the bgzip file is truncated or corrupt"):
        Genome(path)


def test_a_pipe_is_refused():
    with piped(b">a\nACGT\n") as path, pytest.raises(GenomeError, match="is not a regular file"):
        Genome(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("\n\n", "no FASTA records"),
        ("ACGT\n>a\nACGT\n", ":1: text before the first '>' header"),
        (">a\nACGTAC\nACGTACGT\nAC\n", ":3: this line is longer"),
        (">a\nACGTAC\nACG\nACGTAC\n", ":3: a shorter line that is not the last"),
        (">a\nACGTAC\nACGTAC\n\nACGTAC\n", ":4: blank line in the middle"),
        (">a\nACGT\n>b\nAC\n>a x\nGG\n", ":5: duplicate sequence name 'a' \\(first at line 1\\)"),
        (">a\nACGT\n> \nACGT\n", ":3: a '>' header without a name"),
        (">a\nACGTAC\nACGTAC\nAC\n>b\nACGXAC\n", ":6: invalid letter 'X' in sequence 'b'"),
        (">a\r\nACGTAC\r\nACGTAC\nAC\n", ":3: mixed line endings"),
        (">a\nAC\nGT\n>b\nACGT\nAC\nACGT\n", ":6: a shorter line that is not the last"),
    ],
)
def test_malformed_fasta_names_the_line(tmp_path, text, match):
    path = tmp_path / "bad.fa"
    path.write_text(text, newline="")
    with pytest.raises(GenomeError, match=match) as err:
        Genome(path)
    assert str(path) in str(err.value)


def test_embedded_short_line_caught_by_the_code_pass(tmp_path):
    """A short line whose newline lands where a full line would end: 'ACGTAC' 'AC\\nGT'."""
    path = tmp_path / "bad.fa"
    path.write_text(">a\nACGTAC\nAC\nGTA\nACGTAC\n")
    with pytest.raises(GenomeError, match=":3: a shorter line that is not the last"):
        Genome(path)


def test_read_only_folder_asks_for_cache_dir(tmp_path, monkeypatch):
    (tmp_path / "ro").mkdir()
    path = write_fasta(tmp_path / "ro" / "g.fa", {"a": "ACGT"})
    real = genome_mod._writable
    monkeypatch.setattr(genome_mod, "_writable", lambda d: d != path.parent and real(d))
    monkeypatch.delenv(genome_mod.CACHE_ENV, raising=False)
    with pytest.raises(GenomeError, match="pass cache_dir= .* SEQNN_CACHE_DIR"):
        Genome(path)
    assert Genome(path, cache_dir=tmp_path / "cache").fetch("a", 0, 4) == "ACGT"
    assert list((tmp_path / "cache").glob("g.fa.*.seqnn-codes"))
    monkeypatch.setenv(genome_mod.CACHE_ENV, str(tmp_path / "env-cache"))
    assert Genome(path).fetch("a", 1, 3) == "CG"
    assert list((tmp_path / "env-cache").glob("g.fa.*.fai"))
    assert not list(path.parent.glob("g.fa.*"))


def test_atomic_write_failure_is_a_clear_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(genome_mod.tempfile, "mkstemp", refuse)
    with pytest.raises(GenomeError, match="Permission denied.*cache_dir="):
        write_fasta(tmp_path / "x.fa", {"a": "A"})
    assert not os.listdir(tmp_path)


def _fasta_bytes(rng, n_records: int, width: int) -> bytes:
    letters = np.frombuffer(b"ACGTNacgtRYn", np.uint8)
    out = b""
    for i in range(n_records):
        seq = rng.choice(letters, size=int(rng.integers(1, 4000))).tobytes()
        out += b">c%d some description\n" % i
        out += b"".join(seq[j : j + width] + b"\n" for j in range(0, len(seq), width))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_numpy_build_equals_the_compiled_scan(tmp_path, monkeypatch, seed):
    """The numpy build (the usual FASTA) writes the same index and codes as the exact
    compiled scan, for chunk edges anywhere (inside records, right after a header, inside
    lines longer than a chunk)."""
    rng = np.random.default_rng(seed)
    for trial in range(25):
        width = int(rng.integers(1, 70) if trial % 2 else rng.integers(500, 5000))
        text = _fasta_bytes(rng, int(rng.integers(1, 6)), width)  # lines longer than chunks too
        text = text[:-1] if trial % 3 == 0 else text  # with and without a final newline
        path = tmp_path / f"t{trial}.fa"
        path.write_bytes(text)
        monkeypatch.setattr(genome_mod, "_SCAN_CHUNK", int(rng.integers(60, 2000)))
        with genome_mod._FastaBytes(path) as fasta:
            fast = genome_mod._fast_build(path, fasta, tmp_path / "fast.codes")
            exact = genome_mod._scan_fasta(path, fasta.buf, lambda end: None)
            genome_mod._write_codes(path, fasta, exact, tmp_path / "exact.codes")
        assert fast is not None
        assert fast.fai_text() == exact.fai_text()
        np.testing.assert_array_equal(fast.header_lines, exact.header_lines)
        assert (tmp_path / "fast.codes").read_bytes() == (tmp_path / "exact.codes").read_bytes()


@pytest.mark.parametrize("prefix", ["", ";a comment line sends it to the compiled scan\n"])
def test_short_last_line_and_next_header_as_long_as_a_line(tmp_path, prefix):
    """'TY\\n>c3 desc' spans exactly one 11-base line: still a short line and a header
    (the compiled scan used to take it as a full line and reject a valid FASTA)."""
    path = tmp_path / "g.fa"
    path.write_text(prefix + ">a\nACGTACGTACG\nTY\n>c3 desc\nACGT\n")
    genome = Genome(path)
    assert genome.sizes == {"a": 13, "c3": 4}
    assert genome.fetch("a", 0, 13) == "ACGTACGTACGTY" and genome.fetch("c3", 0, 4) == "ACGT"


def test_opening_and_fetching_do_not_load_numba(tmp_path):
    """A worker that opens a genome (building its cache) and fetches batches (augmented too)
    stays plain numpy and torch: numba's LLVM (~110 MB resident) is loaded only by the compiled
    kernels."""
    path = write_fasta(tmp_path / "g.fa", {"a": "ACGT" * 500, "b": "ACGTN" * 300})
    bed = tmp_path / "r.bed"
    bed.write_text("a\t0\t100\nb\t50\t150\na\t7\t107\n")
    code = (
        "import sys\n"
        "from seqnn.data import Genome, IntervalDataset\n"
        f"g = Genome({str(path)!r})\n"
        "g.fetch_one_hot(['a', 'b'], [10, -5], [110, 95], ['+', '-'])\n"
        "g.fetch_codes(['a'], [0], [50])\n"
        "from seqnn.data import ReverseComplement\n"
        f"ds = IntervalDataset(g, {str(bed)!r}, transforms=[ReverseComplement(seed=0)])\n"
        "assert next(iter(ds.loader(batch_size=2))).shape == (2, 4, 100)\n"
        "assert 'numba' not in sys.modules, 'numba was loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_batches_do_not_map_the_genome(tmp_path):
    # a stream of windows over the whole genome is read, not mapped: the process holds none
    # of the cache in its resident set, and the windows equal the contig's codes
    rng = np.random.default_rng(5)
    size = 8 << 20
    genome = Genome(write_fasta(tmp_path / "big.fa", {"chr1": random_dna(rng, size)}))
    starts = np.arange(0, size - 1000, 1000, dtype=np.int64)
    for batch in np.array_split(starts, len(starts) // 256):
        got = genome.fetch_batch(np.zeros(len(batch), np.int64), batch, 1000)
    assert mapped_kb(genome.cache_path) < 64  # kB
    last = batch[-1]
    assert np.array_equal(got[-1], genome.contig_codes("chr1")[last : last + 1000])
    got[0, 0] = 4  # batches are writable copies


def test_a_cache_truncated_while_open_is_an_error(tmp_path):
    genome = Genome(write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 1000}))
    genome.fetch_batch(np.zeros(1, np.int64), np.zeros(1, np.int64), 10)
    os.truncate(genome.cache_path, 100)
    with pytest.raises(GenomeError, match="shorter than its index says"):
        genome.fetch_batch(np.zeros(1, np.int64), np.array([2000]), 10)


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_one_large_request_maps_none_of_the_genome(tmp_path):
    # one request of many windows at random places (the REF bases of a VCF chunk), with the
    # cache in the page cache: read, not mapped, so nothing of the 8 MB genome is held
    rng = np.random.default_rng(6)
    size = 8 << 20
    genome = Genome(write_fasta(tmp_path / "big.fa", {"chr1": random_dna(rng, size)}))
    genome.cache_path.read_bytes()  # in the page cache: a mapped fault maps neighbours too
    starts = rng.permutation(np.arange(0, size - 1, 4096, dtype=np.int64))  # every page
    codes = genome.fetch_batch(np.zeros(len(starts), np.int64), starts, 1)
    assert mapped_kb(genome.cache_path) < 64  # kB
    assert np.array_equal(codes[:, 0], genome.codes[starts])
