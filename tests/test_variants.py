"""Variant effects: the VCF reader, the allele windows, golden effects on hand-set models,
REF checks, strand symmetry and the seqnn-variants CLI."""

import gzip
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch
from cli_exit import exit_status
from genome_files import piped, spy_mapped_kb
from torch import nn

from seqnn.cli.variants import main
from seqnn.data.encoding import reverse_complement
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.vcf import VCFError, iter_vcf, read_vcf
from seqnn.inference.predict import write_table
from seqnn.inference.pretrained import (
    ModelSpec,
    PretrainedModel,
    load_pretrained,
    save_pretrained,
)
from seqnn.inference.variants import (
    VariantError,
    decode_windows,
    variant_effects,
    variant_effects_to_file,
    variant_windows,
)
from seqnn.models import BassetCNN

L = 8
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
CHR1 = "ACGTACGTAAAACCCCGGGGTTTTACGTACGT"  # 32 bp
CHR2 = "GATTACAGATTACA"  # 14 bp


@pytest.fixture
def fasta(tmp_path):
    return write_fasta(tmp_path / "genome.fa", {"chr1": CHR1, "chr2": CHR2}, line_width=10)


@pytest.fixture
def genome(fasta):
    return Genome(fasta)


def write_vcf(path, rows, gz=False):
    """A VCF with the meta lines and header above (3 lines), so row k is on line 3 + k."""
    text = HEADER + "".join("\t".join(map(str, r)) + "\t.\tPASS\t.\n" for r in rows)
    if gz:  # two gzip members, as bgzip writes: readers must not stop after the first
        half = len(text) // 2
        path.write_bytes(gzip.compress(text[:half].encode()) + gzip.compress(text[half:].encode()))
    else:
        path.write_text(text)
    return path


def count_a_model(transform="identity", length=L):
    """Predicts the fraction of A in the window: an A->C SNV changes it by exactly -1/L."""
    net = nn.Sequential(nn.Conv1d(4, 1, 1, bias=False), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 4, 1))
    spec = ModelSpec(
        network={"_target_": "torch.nn.Sequential"},
        input_length=length,
        task="regression",
        targets=["a"],
        output_transform=transform,
    )
    return PretrainedModel(net, spec).eval()


# ----------------------------------------------------------------------------- golden effects
def test_snv_effects_on_an_a_counting_model(genome, tmp_path):
    vcf = write_vcf(
        tmp_path / "v.vcf", [("chr1", 9, "rs1", "A", "C"), ("chr1", 13, "rs2", "C", "A")]
    )
    effects = variant_effects(count_a_model(), genome, vcf)
    assert list(effects.columns) == [
        "chrom",
        "pos",
        "id",
        "ref",
        "alt",
        "a_ref",
        "a_alt",
        "a_diff",
    ]
    assert effects[["chrom", "pos", "id", "ref", "alt"]].values.tolist() == [
        ["chr1", 9, "rs1", "A", "C"],
        ["chr1", 13, "rs2", "C", "A"],
    ]
    # pos 9 (index 8): window [4, 12) = ACGTAAAA, 5 A of 8
    assert effects["a_ref"][0] == pytest.approx(5 / L)
    np.testing.assert_allclose(effects["a_diff"], [-1 / L, 1 / L], atol=1e-7)
    assert effects.attrs["ref_mismatches"] == 0


@pytest.mark.parametrize(
    ("transform", "column", "expected"),
    [("sigmoid", "a_log_odds", -1 / L), ("exp", "a_log2fc", -1 / L / math.log(2))],
)
def test_log_ratio_columns(genome, tmp_path, transform, column, expected):
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 9, ".", "A", "C")])
    effects = variant_effects(count_a_model(transform), genome, vcf)
    forward = {"sigmoid": lambda x: 1 / (1 + math.exp(-x)), "exp": math.exp}[transform]
    assert effects["a_ref"][0] == pytest.approx(forward(5 / L), rel=1e-6)
    assert effects["a_alt"][0] == pytest.approx(forward(4 / L), rel=1e-6)
    assert effects[column][0] == pytest.approx(expected, rel=1e-5)
    assert effects.columns[-1] == column


def test_dataframe_input_and_batch_size_do_not_change_effects(genome, tmp_path):
    rows = [
        ("chr1", p, ".", CHR1[p - 1], "G" if CHR1[p - 1] != "G" else "T") for p in range(1, 33)
    ]
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    model = count_a_model()
    a = variant_effects(model, genome, vcf, batch_size=1)
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])
    b = variant_effects(model, genome, frame, batch_size=256)
    pd.testing.assert_frame_equal(a, b)


# ----------------------------------------------------------------------------- windows
@pytest.mark.parametrize(
    ("variant", "ref_window", "alt_window"),
    [
        (("chr1", 9, "A", "C"), "ACGTAAAA", "ACGTCAAA"),  # SNV at index L // 2
        (("chr2", 1, "G", "GTT"), "NNNNGATT", "NNNGTTAT"),  # insertion at the start
        (("chr2", 1, "GAT", "G"), "NNNGATTA", "NNNNGTAC"),  # deletion at the start
        (("chr2", 14, "A", "ACC"), "TTACANNN", "TACACCNN"),  # insertion at the end
        (("chr2", 12, "ACA", "A"), "ATTACANN", "GATTANNN"),  # deletion at the end
        (("chr2", 7, "A", "ACGTACGTACGT"), "TTACAGAT", "GTACGTAC"),  # ALT longer than L
    ],
)
def test_allele_windows(genome, variant, ref_window, alt_window):
    table = pd.DataFrame([variant], columns=["chrom", "pos", "ref", "alt"])
    ref, alt = variant_windows(genome, table, L)
    assert ref.shape == alt.shape == (1, L)
    assert decode_windows(ref) == [ref_window]
    assert decode_windows(alt) == [alt_window]


def test_indels_near_contig_ends_are_scored(genome, tmp_path):
    rows = [("chr2", 1, ".", "G", "GTT"), ("chr2", 1, ".", "GAT", "G")]
    rows += [("chr2", 14, ".", "A", "ACC"), ("chr2", 12, ".", "ACA", "A")]
    effects = variant_effects(count_a_model(), genome, write_vcf(tmp_path / "v.vcf", rows))
    # the windows above: A counts 1 -> 1, 2 -> 1, 2 -> 2, 3 -> 2
    np.testing.assert_allclose(effects["a_diff"] * L, [0, -1, 0, -1], atol=1e-6)


# ----------------------------------------------------------------------------- REF checks
def test_ref_mismatch_is_an_error_naming_the_line(genome, tmp_path):
    rows = [("chr1", 9, ".", "A", "C"), ("chr1", 13, ".", "g", "A"), ("chr1", 1, ".", "AC", "A")]
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    with pytest.raises(VariantError, match=r"v.vcf:5: REF G at chr1:13 but .* has C \(1 of 3"):
        variant_effects(count_a_model(), genome, vcf)
    with pytest.warns(UserWarning, match="1 of 3 variant.* dropped"):
        skipped = variant_effects(count_a_model(), genome, vcf, ref_mismatch="skip")
    assert skipped["pos"].tolist() == [9, 1] and skipped.attrs["ref_mismatches"] == 1
    with pytest.warns(UserWarning, match="1 of 3 variant.* kept"):
        kept = variant_effects(count_a_model(), genome, vcf, ref_mismatch="warn")
    assert kept["pos"].tolist() == [9, 13, 1] and kept.attrs["ref_mismatches"] == 1
    # scored on the FASTA's bases (C at index 12), with ALT A in its place
    assert kept["a_diff"][1] == pytest.approx(1 / L)


def test_ref_check_ignores_case(tmp_path):
    fasta = write_fasta(tmp_path / "soft.fa", {"chr1": CHR1.lower()})
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 9, ".", "a", "c")])
    effects = variant_effects(count_a_model(), fasta, vcf)
    assert effects[["ref", "alt"]].values.tolist() == [["A", "C"]]
    assert effects.attrs["ref_mismatches"] == 0


# ----------------------------------------------------------------------------- the VCF reader
def test_multiallelic_lines_become_one_row_per_allele(tmp_path):
    rows = [("chr1", 9, "a", "A", "C,G"), ("chr1", 13, "b", "C", "T")]
    table = read_vcf(write_vcf(tmp_path / "v.vcf", rows))
    assert table[["pos", "id", "alt", "line"]].values.tolist() == [
        [9, "a", "C", 4],
        [9, "a", "G", 4],
        [13, "b", "T", 5],
    ]


@pytest.mark.parametrize("compress", [False, True])
def test_a_vcf_pipe_is_read_whole(tmp_path, compress):
    text = write_vcf(tmp_path / "v.vcf", [("chr1", 9, "a", "A", "C")]).read_bytes()
    with piped(gzip.compress(text) if compress else text) as path:  # <(zcat calls.vcf.gz)
        table = read_vcf(path)
    assert table[["chrom", "pos", "line"]].values.tolist() == [["chr1", 9, 4]]


def test_gzipped_vcf_equals_plain_whatever_its_name(genome, tmp_path):
    rows = [("chr1", 9, "a", "A", "C,T"), ("chr2", 3, "b", "T", "TA"), ("chr1", 20, "c", "G", "A")]
    plain = read_vcf(write_vcf(tmp_path / "v.vcf", rows))
    gz = read_vcf(write_vcf(tmp_path / "v.vcf.gz", rows, gz=True))
    misnamed = read_vcf(write_vcf(tmp_path / "gz_inside.vcf", rows, gz=True))
    pd.testing.assert_frame_equal(plain, gz)
    pd.testing.assert_frame_equal(plain, misnamed)
    model = count_a_model()
    pd.testing.assert_frame_equal(
        variant_effects(model, genome, tmp_path / "v.vcf"),
        variant_effects(model, genome, tmp_path / "v.vcf.gz"),
    )


def test_symbolic_alleles_are_skipped_with_one_warning(genome, tmp_path):
    rows = [
        ("chr1", 9, ".", "A", "C,<DEL>"),
        ("chr1", 10, ".", "A", "*"),
        ("chr1", 11, ".", "A", "A[chr2:3["),
        ("chr1", 12, ".", "A", "."),
        ("chr1", 13, ".", "C", "T"),
    ]
    with pytest.warns(UserWarning, match=r"skipped 4 of 6 ALT.*1 symbolic.*line 4\)") as caught:
        effects = variant_effects(count_a_model(), genome, write_vcf(tmp_path / "v.vcf", rows))
    assert len(caught) == 1
    assert effects[["pos", "alt"]].values.tolist() == [[9, "C"], [13, "T"]]
    assert effects.attrs["skipped_alleles"] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("##x\nchr1\t9\t.\tA\tC\n", r"bad.vcf:2: expected the tab-separated header"),
        ("##fileformat=VCFv4.2\n", r"bad.vcf: no '#CHROM POS ID REF ALT' header"),
        (HEADER, r"bad.vcf: no variants"),
        (HEADER + "\n\n", r"bad.vcf: no variants"),
        (HEADER + "chr1\t9\t.\tA\tC\nchr1\tx9\t.\tA\tC\n", r"bad.vcf:5: POS 'x9'"),
        (HEADER + "chr1\t0\t.\tA\tC\n", r"bad.vcf:4: POS '0'"),
        (HEADER + "chr1\t9\t.\tA\n", r"bad.vcf:4: fewer than 5 tab-separated columns"),
        (HEADER + "chr1\t9\t.\tA\tR\n", r"bad.vcf:4: ALT allele 'R' is not a DNA sequence"),
        (HEADER + "chr1\t9\t.\tA\tC,\n", r"bad.vcf:4: ALT allele '' is not"),
        (HEADER + "chr1\t9\t.\tA-\tC\n", r"bad.vcf:4: REF 'A-' is not a DNA sequence"),
    ],
)
def test_bad_vcf_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.vcf"
    path.write_text(text)
    with pytest.raises(VCFError, match=message):
        read_vcf(path)


def test_unknown_contig_suggests_the_name_and_past_end_names_the_line(genome, tmp_path):
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 9, ".", "A", "C"), ("2", 3, ".", "T", "A")])
    with pytest.raises(
        VariantError, match=r"v.vcf:5: genome.fa: no contig '2' \(did you mean 'chr2'"
    ):
        variant_effects(count_a_model(), genome, vcf)
    vcf = write_vcf(tmp_path / "v.vcf", [("chr2", 13, ".", "CAG", "C")])
    with pytest.raises(VariantError, match=r"v.vcf:4: POS 13 .* past the end of chr2 \(14 bp\)"):
        variant_effects(count_a_model(), genome, vcf)


# ----------------------------------------------------------------------------- strands
def test_rc_averaged_effects_are_strand_symmetric(tmp_path):
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 60))
    fasta = write_fasta(tmp_path / "s.fa", {"fwd": seq, "rev": reverse_complement(seq)})
    comp = dict(zip("ACGT", "TGCA", strict=True))
    fwd, rev = [], []
    for pos in (1, 5, 30, 58, 60):  # near both ends too: the N padding must mirror
        ref = seq[pos - 1]
        alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
        fwd.append(("fwd", pos, ".", ref, alt))
        rev.append(("rev", 61 - pos, ".", comp[ref], comp[alt]))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(4, 4, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    net.append(nn.Linear(4, 1))
    spec = ModelSpec(network={}, input_length=33, task="regression", output_transform="identity")
    model = PretrainedModel(net, spec).eval()  # odd length: the SNV sits in the exact middle
    table = pd.DataFrame(fwd + rev, columns=["chrom", "pos", "id", "ref", "alt"])
    both = variant_effects(model, fasta, table, rc=True)["target_0_diff"].to_numpy()
    np.testing.assert_allclose(both[:5], both[5:], rtol=1e-5, atol=1e-7)
    plain = variant_effects(model, fasta, table)["target_0_diff"].to_numpy()
    assert not np.allclose(plain[:5], plain[5:], rtol=1e-3)


# ----------------------------------------------------------------------------- command line
@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = BassetCNN(n_filters=[8, 8], kernel_sizes=5, pool_sizes=2, n_hidden=[8], dropout=0.0)
    return save_pretrained(net, tmp_path / "model", input_length=16, targets=["score"])


def run_cli(*args) -> int:
    return exit_status(main, *args)


def test_cli_writes_the_effects_table(model_dir, fasta, tmp_path, capsys):
    rows = [
        ("chr1", 9, "a", "A", "C,AGG"),
        ("chr2", 14, "b", "A", "<DEL>"),
        ("chr2", 2, "c", "A", "T"),
    ]
    vcf = write_vcf(tmp_path / "v.vcf.gz", rows, gz=True)
    out = tmp_path / "effects.tsv"
    args = [f"model={model_dir}", f"fasta={fasta}", f"vcf={vcf}", f"out={out}"]
    assert run_cli(*args, "rc=true", "batch_size=2", "device=cpu") == 0
    captured = capsys.readouterr()
    assert f"seqnn-variants: wrote {out}" in captured.out
    assert "seqnn-variants: warning: v.vcf.gz: skipped 1 of 4 ALT alleles" in captured.err
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == [
        "chrom", "pos", "id", "ref", "alt",
        "score_ref", "score_alt", "score_diff", "score_log_odds",
    ]  # fmt: skip
    assert table[["chrom", "pos", "alt"]].values.tolist() == [
        ["chr1", 9, "C"],
        ["chr1", 9, "AGG"],
        ["chr2", 2, "T"],
    ]
    assert table["score_ref"].between(0, 1).all()
    np.testing.assert_allclose(
        table["score_diff"], table["score_alt"] - table["score_ref"], atol=1e-5
    )
    assert run_cli("--help") == 0 and "ref_mismatch: error" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["vcf={mismatch}"], "v.vcf:4: REF T at chr1:9 but the FASTA genome.fa has A"),
        (["vcf={unknown}"], "no contig 'chrX'"),
        (["vcf={tmp}/missing.vcf"], "no such VCF file"),
        (["vcf={mismatch}", "ref_mismatch=maybe"], "ref_mismatch must be"),
        (["vcf={mismatch}", "batch_size=many"], "setting batch_size"),
        (["vcf={mismatch}", "vfc=x"], "unknown setting 'vfc=x'"),
        (["vcf={mismatch}", "model={tmp}/nomodel"], "no such model"),
    ],
)
def test_cli_bad_input_exits_2_without_output(model_dir, fasta, tmp_path, capsys, extra, message):
    names = {
        "mismatch": write_vcf(tmp_path / "v.vcf", [("chr1", 9, ".", "T", "C")]),
        "unknown": write_vcf(tmp_path / "u.vcf", [("chrX", 9, ".", "T", "C")]),
        "tmp": tmp_path,
    }
    out = tmp_path / "out" / "effects.tsv"
    settings = {"model": model_dir, "fasta": fasta, "out": out}  # an extra one replaces these
    settings.update(e.format(**names).split("=", 1) for e in extra)
    assert run_cli(*(f"{key}={value}" for key, value in settings.items())) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqnn-variants: error:") and message in err
    assert err.count("\n") == 1
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_streamed_effects_equal_the_whole_table(model_dir, fasta, tmp_path):
    """seqnn-variants' stream (chunks of a few VCF lines, appended to a temp file) writes the
    table of variant_effects + write_table, multi-allelic lines and indels included."""
    rng = np.random.default_rng(2)
    rows = []
    for k, p in enumerate(rng.integers(1, 31, 120)):
        ref = CHR1[p - 1 : p + (k % 3 == 0)]  # SNVs and 2-bp REFs
        rows.append(("chr1", p, f"v{k}", ref, "C,GT" if k % 5 == 0 else "T"))
    vcf = write_vcf(tmp_path / "v.vcf", sorted(rows, key=lambda r: r[1]))
    model = load_pretrained(model_dir)
    whole, streamed = tmp_path / "whole.tsv", tmp_path / "streamed.tsv"
    write_table(variant_effects(model, fasta, vcf, batch_size=5), whole)
    variant_effects_to_file(model, fasta, vcf, streamed, batch_size=5, chunk_rows=7)
    assert streamed.read_text() == whole.read_text()
    assert len(pd.read_csv(streamed, sep="\t")) == 120 + 24


def test_iter_vcf_numbers_lines_across_chunks(tmp_path):
    rows = [("chr1", p, ".", CHR1[p - 1], "N") for p in range(1, 33)]
    rows[20] = ("chr1", 21, ".", "Q", "A")
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    with pytest.raises(VCFError, match=r"v.vcf:24: REF 'Q' is not a DNA sequence"):
        list(iter_vcf(vcf, chunk_rows=4))
    assert [len(t) for t in iter_vcf(write_vcf(tmp_path / "w.vcf", rows[:20]), 8)] == [8, 8, 4]


def test_plain_vcf_columns_take_the_vectorised_path_with_the_same_table(tmp_path, monkeypatch):
    """SNVs and indels of plain bases (any case) skip the per-row regex path; the table is
    the one the general path (allele splitting, symbolic alleles, messages) makes."""
    from seqnn.data import vcf as vcf_module

    rows = [
        ("chr1", f"{p:03d}", f"v{p}", CHR1[p - 1].lower() if p % 2 else CHR1[p - 1], alt)
        for p, alt in zip(range(1, 33), ["c", "GT", "a", "N"] * 8, strict=True)
    ]
    path = write_vcf(tmp_path / "v.vcf", rows)
    raw = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])
    assert vcf_module._plain_variants(raw) is not None
    assert vcf_module._plain_variants(raw.assign(alt="C,G")) is None  # multi-allelic
    assert vcf_module._plain_variants(raw.assign(pos="0")) is None  # named by the general path
    fast = read_vcf(path)
    monkeypatch.setattr(vcf_module, "_plain_variants", lambda variants: None)
    pd.testing.assert_frame_equal(fast, read_vcf(path))
    assert fast["ref"].str.isupper().all() and fast["pos"].tolist() == list(range(1, 33))


def _peak_mapped_kb(tmp_path, monkeypatch, size: int, n: int) -> int:
    """Score ``n`` SNVs at random places of a random genome of ``size`` bp (its code cache
    in the page cache, as after any earlier run) and return the most kB of the cache that
    any read left mapped."""
    rng = np.random.default_rng(size)
    seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, size)].tobytes().decode()
    fasta = write_fasta(tmp_path / f"g{size}.fa", {"chr1": seq})
    genome = Genome(fasta)
    genome.cache_path.read_bytes()
    pos = np.sort(rng.choice(np.arange(1_000, size - 1_000), n, replace=False))
    rows = [("chr1", p + 1, ".", seq[p], "C" if seq[p] != "C" else "G") for p in pos]
    vcf = write_vcf(tmp_path / f"v{size}.vcf", rows)
    seen = spy_mapped_kb(monkeypatch, genome.cache_path)
    variant_effects_to_file(
        count_a_model(length=1_000), genome, vcf, tmp_path / f"e{size}.tsv", progress=False
    )
    return max(seen)


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc")
def test_variant_memory_does_not_grow_with_the_genome(tmp_path, monkeypatch):
    """The same number of variants on a 10x larger genome maps no more of it: windows (the
    REF bases of a whole VCF chunk included) are read, not mapped (before: one chunk's REF
    check mapped a page and its cached neighbours per variant, which grows with the genome
    until it holds all of it)."""
    small = _peak_mapped_kb(tmp_path, monkeypatch, 3_000_000, 1_000)
    large = _peak_mapped_kb(tmp_path, monkeypatch, 30_000_000, 1_000)
    assert large - small < 4 * 1024, (small, large)  # kB: the budget at most
