"""Personal genomes: hand-made cohort VCFs -> exact haplotype windows, coordinate maps,
datasets, splits, bad input (seqnn.data.cohort_vcf / haplotypes / personal) and per-person
predictions (seqnn.inference.personal, seqnn-predict vcf=)."""

from __future__ import annotations

import gzip
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_exit import exit_status

import seqnn
from seqnn.cli.predict import main as predict_main
from seqnn.data.cohort_vcf import Cohort, CohortError
from seqnn.data.datasets import DatasetError
from seqnn.data.encoding import CODE_TO_BYTE, OneHot, reverse_complement, reverse_complement_codes
from seqnn.data.genome import write_fasta
from seqnn.data.personal import PersonalDataset
from seqnn.data.personal_datamodule import PersonalDataModule
from seqnn.data.transforms import ReverseComplement
from seqnn.inference.personal import personal_report
from seqnn.inference.predict import predict_sequences
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.models import BassetCNN

pysam = pytest.importorskip("pysam")
pytest.importorskip("cyvcf2")

SEQ = "".join(np.random.default_rng(7).choice(list("ACGT"), 120))
L = 20
REGION = pd.DataFrame({"chrom": ["chr1"], "start": [55], "end": [65], "name": ["r1"]})  # c = 60
HEADER = [
    "##fileformat=VCFv4.2",
    '##FILTER=<ID=PASS,Description="All filters passed">',
    '##FILTER=<ID=q10,Description="Quality below 10">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
]


def other(base: str) -> str:
    return "A" if base != "A" else "C"


def write_vcf(folder: Path, records, samples, contigs=(("chr1", 120),), name="c.vcf") -> Path:
    """A bgzipped, tabix-indexed VCF of (chrom, POS, REF, ALT, FILTER, [GT per sample])."""
    lines = [*HEADER, *(f"##contig=<ID={c},length={n}>" for c, n in contigs)]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]))
    lines[-1] += "\tFORMAT\t" + "\t".join(samples)
    for chrom, pos, ref, alt, filt, gts in records:
        lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t{filt}\t.\tGT\t" + "\t".join(gts))
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return Path(pysam.tabix_index(str(path), preset="vcf", force=True))


# one window [50, 70) around c = 60 (0-based); POS is 1-based
SNV = ("chr1", 53, SEQ[52], other(SEQ[52]), "PASS", ["0|1", "1|1", "0|0"])
MNV = ("chr1", 57, SEQ[56:58], other(SEQ[56]) + other(SEQ[57]), "PASS", ["1|0", "0|0", "0|1"])
INSERTION = ("chr1", 63, SEQ[62], SEQ[62] + "TTT", "PASS", ["0|0", "1|0", "0|0"])
# deletes 0-based 46..51, across the window's left edge (50)
EDGE_DELETION = ("chr1", 46, SEQ[45:52], SEQ[45], "PASS", ["0|0", "0|1", "1|1"])
# an SNV inside the deletion, on s3's haplotype 0 too: left out (first record wins)
OVERLAPPING = ("chr1", 50, SEQ[49], other(SEQ[49]), "PASS", ["0|0", "0|0", "1|0"])
MISSING = ("chr1", 66, SEQ[65], other(SEQ[65]), "PASS", ["./.", "0|0", ".|1"])
TWO_ALTS = "G,T" if SEQ[67] not in "GT" else "A,C"
MULTI = ("chr1", 68, SEQ[67], TWO_ALTS, "PASS", ["2|1", "0|2", "0|0"])
RECORDS = [EDGE_DELETION, OVERLAPPING, SNV, MNV, INSERTION, MISSING, MULTI]
SAMPLES = ["s1", "s2", "s3"]


def hand_window(records, sample: int, hap: int, c: int = 60, missing: str = "ref"):
    """The haplotype window built by hand: apply the sample's alleles to the whole contig
    (first record wins an overlap), then read L bases with the anchor's base at L // 2."""
    hap_seq, hap_pos, at = [], [], 0
    for _, pos, ref, alt, _, gts in sorted(records, key=lambda r: r[1]):
        g = gts[sample].replace("/", "|").split("|")
        g = g[hap] if len(g) > 1 else g[0]
        p = pos - 1
        if g == "0" or (g == "." and missing != "N") or p < at:
            continue
        allele = "N" * len(ref) if g == "." else [ref, *alt.split(",")][int(g)]
        hap_seq += SEQ[at:p]
        hap_pos += range(at, p)
        hap_seq += allele
        hap_pos += [p + i if i < len(ref) else -1 for i in range(len(allele))]
        at = p + len(ref)
    hap_seq += SEQ[at:]
    hap_pos += range(at, len(SEQ))
    hc = next(i for i, x in enumerate(hap_pos) if x >= c)
    first = hc - L // 2
    return "".join(hap_seq[first : first + L]), hap_pos[first : first + L]


def as_text(codes: np.ndarray) -> list[str]:
    return [CODE_TO_BYTE[row].tobytes().decode() for row in codes]


@pytest.fixture
def fasta(tmp_path) -> Path:
    return write_fasta(tmp_path / "g.fa", {"chr1": SEQ})


@pytest.fixture
def vcf(tmp_path) -> Path:
    return write_vcf(tmp_path, RECORDS, SAMPLES)


def windows(cohort: Cohort, regions=REGION, seq_len: int = L):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        codes, ref_pos = cohort.haplotypes(regions, seq_len=seq_len)
    return as_text(codes), ref_pos, [str(w.message) for w in caught]


# ----------------------------------------------------------------------------- haplotypes
@pytest.mark.parametrize("missing", ["ref", "N"])
def test_haplotypes_equal_the_hand_built_ones(fasta, vcf, missing):
    """SNV, MNV, insertion, a deletion across the window edge, an overlapping record,
    a missing GT and a multi-allelic site: every row equals the hand-built haplotype."""
    text, ref_pos, caught = windows(Cohort(fasta, vcf, missing=missing))
    assert len(text) == 3 * 2  # (region, sample, haplotype)
    for row, (s, h) in enumerate((s, h) for s in range(3) for h in range(2)):
        seq, pos = hand_window(RECORDS, s, h, missing=missing)
        assert text[row] == seq, (s, h)
        assert ref_pos[row].tolist() == pos, (s, h)
    assert any("overlap a record already" in m for m in caught)  # s3 hap 0


def test_exact_windows_by_hand():
    """A few windows written out literally (the rule, not only agreement with a helper)."""
    seq, pos = hand_window([INSERTION], 1, 0)  # s2 hap 0: TTT inserted after 0-based 62
    assert seq == SEQ[50:63] + "TTT" + SEQ[63:67]
    assert pos == [*range(50, 63), -1, -1, -1, *range(63, 67)]
    seq, pos = hand_window([EDGE_DELETION], 2, 0)  # 46..51 deleted: the left flank moves out
    assert seq == SEQ[44:46] + SEQ[52:70]
    assert pos == [44, 45, *range(52, 70)]


def test_reference_and_empty_samples(fasta, vcf):
    """A sample without alternative alleles in the window reads the reference window."""
    cohort = Cohort(fasta, vcf, samples=["s2"])
    region = pd.DataFrame({"chrom": ["chr1"], "start": [95], "end": [105]})  # no records
    text, ref_pos, _ = windows(cohort, region)
    assert text == [SEQ[90:110]] * 2
    assert ref_pos[0].tolist() == list(range(90, 110))


def test_window_past_the_contig_end_is_n_padded(fasta, vcf):
    cohort = Cohort(fasta, vcf)
    region = pd.DataFrame({"chrom": ["chr1"], "start": [110], "end": [120]})  # c = 115
    text, _, _ = windows(cohort, region)
    assert text[0] == SEQ[105:120] + "NNNNN"


def test_deletion_of_the_anchor_puts_the_next_base_there(tmp_path, fasta):
    record = ("chr1", 59, SEQ[58:63], SEQ[58], "PASS", ["1|0"])  # deletes 59..62, c = 60
    text, ref_pos, _ = windows(Cohort(fasta, write_vcf(tmp_path, [record], ["s1"])))
    assert ref_pos[0][L // 2] == 63
    assert text[0] == SEQ[49:59] + SEQ[63:73]


def test_long_deletions_widen_the_span_read(tmp_path, fasta):
    """Deletions that remove more than the first margin, a window reaching past both contig
    ends: exact, N-padded, -1 positions off the contig."""
    records = [("chr1", 2, SEQ[1:40], SEQ[1], "PASS", ["1|1"])]  # deletes 2..39
    records.append(("chr1", 80, SEQ[79:115], SEQ[79], "PASS", ["1|1"]))  # deletes 80..114
    text, ref_pos, _ = windows(Cohort(fasta, write_vcf(tmp_path, records, ["s1"])), seq_len=60)
    # c = 60 sits 22 bases into the haplotype 0 1 40 41 ...: 8 bases before the contig
    assert text[0] == "N" * 8 + SEQ[0:2] + SEQ[40:80] + SEQ[115:120] + "N" * 5
    expected = [-1] * 8 + [0, 1, *range(40, 80), *range(115, 120)] + [-1] * 5
    assert ref_pos[0].tolist() == expected


def test_symbolic_alleles_read_as_ref_with_one_warning(tmp_path, fasta):
    records = [
        ("chr1", 58, SEQ[57], "<DEL>", "PASS", ["1|1"]),
        ("chr1", 61, SEQ[60], "*", "PASS", ["0|1"]),
        ("chr1", 62, SEQ[61], other(SEQ[61]), "PASS", ["1|0"]),
    ]
    text, _, caught = windows(Cohort(fasta, write_vcf(tmp_path, records, ["s1"])))
    assert text[1] == SEQ[50:70]
    assert text[0] == SEQ[50:61] + other(SEQ[61]) + SEQ[62:70]
    assert [m for m in caught if "not sequences" in m] == [
        "c.vcf.gz: 2 ALT allele(s) are not sequences and read as REF (1 symbolic <...>, "
        "1 '*' (overlapping deletion))"
    ]


def test_filters_pass_or_all(tmp_path, fasta):
    records = [("chr1", 61, SEQ[60], other(SEQ[60]), "q10", ["1|1"])]
    path = write_vcf(tmp_path, records, ["s1"])
    assert windows(Cohort(fasta, path))[0][0] == SEQ[50:70]
    kept = windows(Cohort(fasta, path, filters="all"))[0][0]
    assert kept == SEQ[50:60] + other(SEQ[60]) + SEQ[61:70]


def test_unphased_heterozygous_is_an_error_or_read_as_phased(tmp_path, fasta):
    records = [
        ("chr1", 61, SEQ[60], other(SEQ[60]), "PASS", ["0/1", "1/1"]),  # 1/1 is unambiguous
    ]
    path = write_vcf(tmp_path, records, ["s1", "s2"])
    with pytest.raises(CohortError, match=r"c.vcf.gz: record chr1:61 .*sample 's1'.*unphased"):
        windows(Cohort(fasta, path))
    text = windows(Cohort(fasta, path, unphased="as_phased"))[0]
    alt = SEQ[50:60] + other(SEQ[60]) + SEQ[61:70]
    assert text == [SEQ[50:70], alt, alt, alt]


def test_haploid_genotypes_fill_both_haplotypes(tmp_path, fasta):
    records = [("chr1", 61, SEQ[60], other(SEQ[60]), "PASS", ["1", "0|1"])]
    text = windows(Cohort(fasta, write_vcf(tmp_path, records, ["s1", "s2"])))[0]
    alt = SEQ[50:60] + other(SEQ[60]) + SEQ[61:70]
    assert text == [alt, alt, SEQ[50:70], alt]


def test_samples_are_given_in_the_order_asked(fasta, vcf):
    cohort = Cohort(fasta, vcf, samples=["s3", "s1"])
    text = windows(cohort)[0]
    assert text[0] == hand_window(RECORDS, 2, 0)[0]
    assert text[3] == hand_window(RECORDS, 0, 1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlapping record
        again = as_text(cohort.haplotypes(REGION, samples=["s1"], seq_len=L)[0])  # reopened
    assert again == [hand_window(RECORDS, 0, h)[0] for h in (0, 1)]


# ----------------------------------------------------------------------------- datasets
def test_dataset_items_targets_and_missing_skip(tmp_path, fasta, vcf):
    targets = pd.DataFrame({"sample": SAMPLES, "region": "r1", "y": [1.0, 2.0, 3.0]})
    cohort = Cohort(fasta, vcf, missing="skip")
    data = PersonalDataset(cohort, REGION, seq_len=L, targets=targets, output="codes")
    # s1 (./.) and s3 (.|1) have a missing allele at POS 66: left out
    assert data.n_skipped == 2
    assert data.items().values.tolist() == [["s2", 0, "r1"], ["s2", 1, "r1"]]
    x, y = data.__getitems__([0, 1])
    assert as_text(x.numpy()) == [hand_window(RECORDS, 1, h)[0] for h in (0, 1)]
    assert y.ravel().tolist() == [2.0, 2.0]
    minus = PersonalDataset(
        cohort, REGION.assign(strand="-"), seq_len=L, output="codes", use_strand=True
    )
    x = minus.__getitems__([0, 1])
    assert as_text(x.numpy()) == reverse_complement(
        [hand_window(RECORDS, 1, h)[0] for h in (0, 1)]
    )


@pytest.mark.parametrize("strand", ["+", "-"])
def test_pair_items_are_the_two_haplotype_windows_of_the_single_dataset(fasta, vcf, strand):
    """haplotypes="pair": one item per (sample, region), its rows the two items of the
    one-haplotype dataset (codes and one-hot), its target the person's row once."""
    regions = pd.concat([REGION, REGION.assign(start=30, end=40, name="r0")], ignore_index=True)
    regions = regions.assign(strand=strand)
    targets = pd.DataFrame(
        {"sample": SAMPLES * 2, "region": ["r1"] * 3 + ["r0"] * 3, "y": np.arange(6.0)}
    )
    kwargs = dict(seq_len=L, targets=targets, use_strand=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlapping record
        single = PersonalDataset(Cohort(fasta, vcf), regions, output="codes", **kwargs)
        pair = PersonalDataset(Cohort(fasta, vcf), regions, haplotypes="pair", **kwargs)
        x1, y1 = single.__getitems__(range(len(single)))
        x2, y2 = pair.__getitems__(range(len(pair)))
        codes = pair.codes_of(range(len(pair)))
    assert len(pair) == 6 and len(single) == 12
    assert x2.shape == (6, 2, 4, L) and codes.shape == (6, 2, L)
    assert np.array_equal(codes.reshape(12, L), x1.numpy())  # rows 2i, 2i + 1 = item i
    assert torch.equal(x2, OneHot()(torch.from_numpy(codes)))
    assert torch.equal(y2, y1[::2]) and torch.equal(y1[::2], y1[1::2])
    assert (
        pair.items()
        .drop(columns="haplotype")
        .equals(single.items().iloc[::2].drop(columns="haplotype").reset_index(drop=True))
    )
    assert set(pair.items()["haplotype"]) == {"0|1"}
    hand = [hand_window(RECORDS, s, h)[0] for s in range(3) for h in (0, 1)]
    first = as_text(codes[:3].reshape(6, L))  # r1: s1, s2, s3
    assert first == (hand if strand == "+" else reverse_complement(hand))


def test_pair_items_flip_both_haplotypes_together_and_skip_missing(fasta, vcf):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlapping record
        cohort = Cohort(fasta, vcf)
        plain = PersonalDataset(cohort, REGION, seq_len=L, haplotypes="pair", output="codes")
        flipped = plain.subset(range(3), transforms=[ReverseComplement(p=0.5, seed=1)])
        x = flipped.__getitems__(range(3)).numpy()
        rc = reverse_complement_codes(plain.codes_of(range(3)))
        skip = PersonalDataset(
            Cohort(fasta, vcf, missing="skip"),
            REGION,
            seq_len=L,
            haplotypes="pair",
            output="codes",
        )
    flips = [(x[i] == rc[i]).all() for i in range(3)]
    assert all((x[i] == plain.codes_of([i])[0]).all() or f for i, f in enumerate(flips))
    assert 0 < sum(flips) < 3  # some people flipped (both rows), some not
    assert skip.n_skipped == 2 and skip.items()["sample"].tolist() == ["s2"]
    assert as_text(skip[0].numpy()) == [hand_window(RECORDS, 1, h)[0] for h in (0, 1)]


def test_missing_skip_sees_a_deletion_reaching_in_from_before_the_window(tmp_path, fasta):
    """A missing genotype on a deletion that starts before the window [50, 70) but deletes
    bases inside it skips the pair; one on a deletion that ends before the window does not."""
    across = ("chr1", 46, SEQ[45:52], SEQ[45], "PASS", ["./.", "0|0", "0|0"])  # 46..51
    before = ("chr1", 40, SEQ[39:45], SEQ[39], "PASS", ["0|0", ".|0", "0|0"])  # 40..44
    inside = ("chr1", 61, SEQ[60], other(SEQ[60]), "PASS", ["0|0", "0|0", "0|."])
    vcf = write_vcf(tmp_path, [before, across, inside], SAMPLES)
    block = Cohort(fasta, vcf, missing="skip").load(REGION, L)
    assert block.called().tolist() == [[False, True, False]]
    data = PersonalDataset(Cohort(fasta, vcf, missing="skip"), REGION, seq_len=L, output="codes")
    assert data.n_skipped == 2 and data.items()["sample"].tolist() == ["s2", "s2"]


def test_dataset_pickles_for_workers_without_the_vcf_handle(fasta, vcf):
    """DataLoader workers get the dataset pickled: the variant arrays travel, the genome is
    mapped again, and batches are the same."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlapping record
        data = PersonalDataset(Cohort(fasta, vcf), REGION, seq_len=L, output="codes")
        copy = pickle.loads(pickle.dumps(data))
        assert (copy.__getitems__(range(6)) == data.__getitems__(range(6))).all()


def test_dataset_targets_by_coordinates_and_lacking_pairs(fasta, vcf):
    cohort = Cohort(fasta, vcf)
    table = pd.DataFrame({"sample": ["s1", "s2"], "chrom": "chr1", "start": 55, "end": 65})
    with pytest.raises(DatasetError, match="no row for sample 's3' at region"):
        PersonalDataset(cohort, REGION, seq_len=L, targets=table.assign(y=1.0))
    table = table.assign(y=[4.0, 5.0])
    data = PersonalDataset(
        cohort, REGION, samples=["s1", "s2"], seq_len=L, targets=table, haplotypes=1
    )
    assert len(data) == 2
    x, y = data[1]
    assert x.shape == (4, L) and float(y[0]) == 5.0


def test_datamodule_splits_people_regions_or_both(tmp_path):
    seq = "".join(np.random.default_rng(1).choice(list("ACGT"), 4000))
    fasta = write_fasta(tmp_path / "big.fa", {"chr1": seq, "chr2": seq})
    samples = [f"p{i}" for i in range(10)]
    records = [
        (c, p, seq[p - 1], other(seq[p - 1]), "PASS", ["0|1"] * 10)
        for c in ("chr1", "chr2")
        for p in range(100, 3900, 400)
    ]
    vcf = write_vcf(tmp_path, records, samples, (("chr1", 4000), ("chr2", 4000)))
    regions = pd.DataFrame(
        {"chrom": ["chr1"] * 5 + ["chr2"] * 5, "start": list(range(200, 3700, 700)) * 2}
    ).assign(end=lambda d: d.start + 50)
    common = dict(input_length=100, val_fraction=0.2, test_fraction=0.2, batch_size=8)
    splits = {}
    for split in ("individual", "region", "both"):
        module = PersonalDataModule(fasta, vcf, regions, split=split, **common)
        module.setup()
        splits[split] = {s: module.split_frame(s) for s in ("train", "val", "test")}
    people = {s: set(f["sample"]) for s, f in splits["individual"].items()}
    assert people["train"].isdisjoint(people["test"]) and len(people["test"]) == 2
    assert all(f["region"].nunique() == 10 for f in splits["individual"].values())
    loci = {s: set(f["region"]) for s, f in splits["region"].items()}
    assert loci["train"].isdisjoint(loci["test"])
    assert all(f["sample"].nunique() == 10 for f in splits["region"].values())
    both = splits["both"]["test"]
    assert set(both["sample"]) == people["test"] and set(both["region"]) <= loci["test"]
    held = PersonalDataModule(fasta, vcf, regions, split="region", test_chroms=["chr2"], **common)
    assert set(held.split_frame("test")["region"].str.split(":").str[0]) == {"chr2"}
    x = next(iter(held.train_dataloader()))
    assert x.shape == (8, 4, 100)
    pair = PersonalDataModule(fasta, vcf, regions, haplotypes="pair", **common)
    assert pair.split_frame("test")[["sample", "region"]].equals(
        splits["individual"]["test"].iloc[::2][["sample", "region"]].reset_index(drop=True)
    )  # the same people held out, one item per person and region
    assert next(iter(pair.train_dataloader())).shape == (8, 2, 4, 100)


# ----------------------------------------------------------------------------- bad input
def test_contigs_named_otherwise_suggest_the_rename(tmp_path, fasta):
    records = [("1", 61, SEQ[60], other(SEQ[60]), "PASS", ["0|1"])]
    path = write_vcf(tmp_path, records, ["s1"], contigs=(("1", 120),))
    with pytest.raises(CohortError, match=r"names its contigs '1' where the FASTA .* 'chr1'.*"
                       r"bcftools annotate --rename-chrs"):  # fmt: skip
        Cohort(fasta, path).haplotypes(REGION, seq_len=L)


@pytest.mark.parametrize("policy", ["error", "warn", "skip"])
def test_ref_disagreeing_with_the_fasta(tmp_path, fasta, policy):
    wrong = other(SEQ[60])
    records = [("chr1", 61, wrong, other(wrong), "PASS", ["1|1"])]
    path = write_vcf(tmp_path, records, ["s1"])
    cohort = Cohort(fasta, path, ref_mismatch=policy)
    if policy == "error":
        with pytest.raises(CohortError, match=r"record chr1:61 .*REF differs from the FASTA "
                           r"g.fa, which has .*ref_mismatch=skip"):  # fmt: skip
            cohort.haplotypes(REGION, seq_len=L)
        return
    text, _, caught = windows(cohort)
    assert any("REF differs" in m for m in caught)
    changed = SEQ[50:60] + other(wrong) + SEQ[61:70]
    assert text[0] == (changed if policy == "warn" else SEQ[50:70])


def test_a_contig_the_vcf_lacks_is_the_reference_with_a_warning(tmp_path, vcf):
    fasta = write_fasta(tmp_path / "two.fa", {"chr1": SEQ, "chr9": SEQ})
    region = pd.DataFrame({"chrom": ["chr9"], "start": [55], "end": [65]})
    text, _, caught = windows(Cohort(fasta, vcf, samples=["s1"]), region)
    assert text == [SEQ[50:70]] * 2
    assert any("no contig 'chr9' in the VCF" in m for m in caught)


def test_sample_not_in_the_vcf(fasta, vcf):
    with pytest.raises(CohortError, match=r"c.vcf.gz: sample 's4' is not in the VCF .*s1, s2"):
        Cohort(fasta, vcf, samples=["s1", "s4"])


def test_unindexed_plain_gzip_and_plain_text_vcfs(tmp_path, fasta, vcf):
    text = gzip.decompress(vcf.read_bytes())
    plain = tmp_path / "plain.vcf"
    plain.write_bytes(text)
    with pytest.raises(CohortError, match="not bgzip-compressed.*tabix -p vcf"):
        Cohort(fasta, plain)
    gz = tmp_path / "gz.vcf.gz"
    gz.write_bytes(gzip.compress(text))
    with pytest.raises(CohortError, match="plain gzip, not bgzip.*bgzip"):
        Cohort(fasta, gz)
    bare = tmp_path / "bare.vcf.gz"
    bare.write_bytes(vcf.read_bytes())
    with pytest.raises(CohortError, match=r"no index .* `bcftools index bare.vcf.gz` or `tabix"):
        Cohort(fasta, bare)


def test_truncated_bgzf(tmp_path, fasta, vcf):
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(vcf.read_bytes()[:-40])
    Path(f"{cut}.tbi").write_bytes(Path(f"{vcf}.tbi").read_bytes())
    with pytest.raises(CohortError, match="cut.vcf.gz: the bgzip file is truncated"):
        Cohort(fasta, cut)


def test_a_corrupt_block_mid_file_is_an_error_not_fewer_records(tmp_path):
    """htslib fails to inflate a block in the middle (cyvcf2 would just stop there): an
    error naming the last record read, not a cohort with half its variants."""
    seq = "".join(np.random.default_rng(3).choice(list("ACGT"), 40000))
    fasta = write_fasta(tmp_path / "long.fa", {"chr1": seq})
    gts = ["0|1", "1|0", "0|0"] * 4
    records = [("chr1", p, seq[p - 1], other(seq[p - 1]), "PASS", gts) for p in range(5, 39990, 8)]
    vcf = write_vcf(tmp_path, records, [f"s{i}" for i in range(12)], (("chr1", 40000),))
    region = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [39900]})
    block = Cohort(fasta, vcf).load(region, 40000)  # over 4,096 records: packed in chunks
    assert len(block.pos) == len(records)
    assert (block.gt == np.array([[0, 1], [1, 0], [0, 0]] * 4, dtype=np.int8)).all()
    raw = bytearray(vcf.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 32] = bytes(b ^ 0xFF for b in raw[middle : middle + 32])
    vcf.write_bytes(bytes(raw))
    with pytest.raises(CohortError, match=r"c.vcf.gz: htslib cannot read the records after "
                       r"chr1:\d+ .*corrupt or truncated .*bgzip -t"):  # fmt: skip
        Cohort(fasta, vcf).load(region, 40000)


def test_ploidy_above_two(tmp_path, fasta):
    records = [("chr1", 61, SEQ[60], other(SEQ[60]), "PASS", ["0|1|1", "0|1"])]
    path = write_vcf(tmp_path, records, ["s1", "s2"])
    with pytest.raises(CohortError, match=r"record chr1:61.*sample 's1' has ploidy 3"):
        Cohort(fasta, path).haplotypes(REGION, seq_len=L)


def test_bad_policies(fasta, vcf):
    with pytest.raises(CohortError, match=r"missing='drop': give missing=ref \| N \| skip"):
        Cohort(fasta, vcf, missing="drop")


# ----------------------------------------------------------------------------- predictions
@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = BassetCNN(n_filters=[8, 8], kernel_sizes=5, pool_sizes=2, n_hidden=[8], dropout=0.0)
    return save_pretrained(net, tmp_path / "model", input_length=L, targets=["score"])


def test_predictions_equal_predicting_the_hand_built_haplotypes(fasta, vcf, model_dir, tmp_path):
    model = load_pretrained(model_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlapping record
        rows, summary, report = seqnn.predict_personal(
            model, fasta, vcf, REGION, batch_size=4, threshold=0.0, progress=False,
            report=tmp_path / "carriers.tsv",
        )  # fmt: skip
    hand = [hand_window(RECORDS, s, h)[0] for s in range(3) for h in range(2)]
    expected = predict_sequences(model, hand, progress=False)["score_pred"].to_numpy()
    reference = predict_sequences(model, [SEQ[50:70]], progress=False)["score_pred"].iloc[0]
    assert rows[["sample", "haplotype", "region"]].values.tolist() == [
        [s, h, "r1"] for s in SAMPLES for h in (0, 1)
    ]
    np.testing.assert_allclose(rows["score_pred"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rows["score_ref"], reference, rtol=1e-5)
    np.testing.assert_allclose(rows["score_diff"], expected - reference, atol=1e-5)
    pairs = expected.reshape(3, 2)
    np.testing.assert_allclose(summary["score_mean"], pairs.mean(1), rtol=1e-5)
    larger = np.take_along_axis(
        pairs - reference, np.abs(pairs - reference).argmax(1)[:, None], 1
    )[:, 0]
    np.testing.assert_allclose(summary["score_max_diff"], larger, atol=1e-5)
    assert len(pd.read_csv(tmp_path / "carriers.tsv", sep="\t")) == len(report) == 3
    s2 = report.set_index("sample").loc["s2", "variants"]  # every variant s2 carries, with GT
    assert s2.split("; ") == [
        f"chr1:46 {EDGE_DELETION[2]}>{EDGE_DELETION[3]} 0|1",
        f"chr1:53 {SNV[2]}>{SNV[3]} 1|1",
        f"chr1:63 {INSERTION[2]}>{INSERTION[3]} 1|0",
        f"chr1:68 {MULTI[2]}>{MULTI[3]} 0|2",
    ]


def test_streamed_files_equal_the_tables_and_blocks_do_not_matter(fasta, vcf, model_dir, tmp_path):
    model = load_pretrained(model_dir)
    regions = pd.concat([REGION, REGION.assign(start=20, end=30, name="r0")], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = seqnn.predict_personal(model, fasta, vcf, regions, progress=False, threshold=0.0)
        paths = seqnn.predict_personal(
            model, fasta, vcf, regions, out=tmp_path / "p.tsv", progress=False, block_items=6,
            report=tmp_path / "carriers.md", threshold=0.0,
        )  # fmt: skip
    assert [p.name for p in paths] == ["p.tsv", "p.summary.tsv", "carriers.md"]
    rows = pd.read_csv(paths[0], sep="\t")
    pd.testing.assert_frame_equal(rows, whole.rows, check_dtype=False, atol=1e-5)
    summary = pd.read_csv(paths[1], sep="\t")
    pd.testing.assert_frame_equal(summary, whole.summary, check_dtype=False, atol=1e-5)
    assert paths[2].read_text().startswith("| sample | region | target | max_diff |")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = personal_report(
            model, fasta, vcf, regions, 0.0, out=tmp_path / "r.tsv", progress=False
        )
    assert len(report) == len(whole.report) == 6  # all pairs reach 0
    pd.testing.assert_frame_equal(report, whole.report)
    read = pd.read_csv(tmp_path / "r.tsv", sep="\t", keep_default_na=False)
    assert read["variants"].tolist() == report["variants"].tolist()


def test_minus_strand_regions_are_predicted_reverse_complemented(fasta, vcf, model_dir):
    model = load_pretrained(model_dir)
    minus = REGION.assign(strand="-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlapping record
        rows = seqnn.predict_personal(model, fasta, vcf, minus, progress=False).rows
        plus = seqnn.predict_personal(model, fasta, vcf, minus, progress=False, use_strand=False)
    hand = [hand_window(RECORDS, s, h)[0] for s in range(3) for h in range(2)]
    expected = predict_sequences(model, reverse_complement(hand), progress=False)
    np.testing.assert_allclose(rows["score_pred"], expected["score_pred"], rtol=1e-5, atol=1e-6)
    reference = predict_sequences(model, [reverse_complement(SEQ[50:70])], progress=False)
    np.testing.assert_allclose(rows["score_ref"], reference["score_pred"].iloc[0], rtol=1e-5)
    assert not np.allclose(plus.rows["score_pred"], rows["score_pred"])


def test_missing_skip_leaves_the_pairs_out_of_the_predictions(fasta, vcf, model_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlapping record
        rows, summary, _ = seqnn.predict_personal(
            load_pretrained(model_dir), fasta, vcf, REGION, missing="skip", progress=False
        )
    assert rows["sample"].tolist() == ["s2", "s2"] and summary["sample"].tolist() == ["s2"]


def test_cli_predicts_people_and_bad_input_writes_nothing(fasta, vcf, model_dir, tmp_path, capsys):
    out = tmp_path / "p.tsv"
    args = [f"model={model_dir}", f"fasta={fasta}", f"vcf={vcf}", "device=cpu"]
    regions = tmp_path / "r.bed"
    REGION.to_csv(regions, sep="\t", header=False, index=False)
    assert run_predict(*args, f"regions={regions}", f"out={out}", "samples=s1,s3") == 0
    rows = pd.read_csv(out, sep="\t")
    assert rows["sample"].tolist() == ["s1", "s1", "s3", "s3"]
    bad = tmp_path / "bad.tsv"
    assert run_predict(*args, f"regions={regions}", f"out={bad}", "samples=s9") == 2
    assert "sample 's9' is not in the VCF" in capsys.readouterr().err
    assert not bad.exists() and not list(tmp_path.glob("bad*"))


def run_predict(*args) -> int:
    return exit_status(predict_main, *args)


# ----------------------------------------------------------------------------- threads, BCF
def random_cohort(folder: Path, n_samples: int = 40, seed: int = 3):
    """A seeded random cohort on a 600 bp contig: SNVs, MNVs, insertions, deletions (some
    overlapping), multi-allelic sites and missing / unphased-homozygous GTs."""
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), 600))
    records = []
    for pos in np.sort(rng.choice(np.arange(5, 590), 90, replace=False)):
        kind = rng.integers(4)
        ref = seq[pos - 1 : pos - 1 + (1 + int(rng.integers(1, 6)) if kind == 2 else 1)]
        if kind == 1:
            alt = ref + "".join(rng.choice(list("ACGT"), int(rng.integers(1, 5))))
        elif kind == 2:
            alt = ref[0]
        else:
            alt = ",".join(other(b) + "ACGT"[i] for i, b in enumerate(ref[:1] * (kind + 1)))
            alt = alt if kind == 3 else other(ref)
        n_alt = alt.count(",") + 1
        gts = rng.choice([*map(str, range(n_alt + 1)), "."], size=(n_samples, 2))
        gts = [f"{a}|{b}" if "." not in (a, b) else f"{a}/{b}" for a, b in gts]
        records.append(("chr1", int(pos), ref, alt, "PASS", gts))
    fasta = write_fasta(folder / "r.fa", {"chr1": seq})
    samples = [f"p{i}" for i in range(n_samples)]
    regions = pd.DataFrame(
        {"chrom": "chr1", "start": np.arange(0, 560, 40), "end": 40 + np.arange(0, 560, 40)}
    )
    return fasta, records, samples, regions


def test_threaded_and_serial_kernels_build_the_same_windows(tmp_path, monkeypatch):
    """Every item's window and reference map are the same on 1 and on 4 threads (a random
    cohort with indels, overlaps and missing GTs; each thread takes a contiguous range)."""
    from seqnn.data import haplotypes

    fasta, records, samples, regions = random_cohort(tmp_path)
    missing_unphased = Cohort(
        fasta,
        write_vcf(tmp_path, records, samples, (("chr1", 600),)),
        missing="N",
        unphased="as_phased",
    )
    block = missing_unphased.load(regions, 64)
    region, sample, hap = haplotypes.all_items(block.n_regions, len(samples), 2)
    order = np.random.default_rng(0).permutation(len(region))  # a shuffled batch
    region, sample, hap = region[order], sample[order], hap[order]
    monkeypatch.setattr(haplotypes, "MIN_WINDOWS_PER_THREAD", 1)
    assert haplotypes.kernel_threads(4, len(region)) == min(4, _numba_threads())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overlapping records: counted once on either path
        one = haplotypes.haplotype_windows(
            missing_unphased.genome, block, region, sample, hap, "N", threads=1
        )
        four = haplotypes.haplotype_windows(
            missing_unphased.genome, block, region, sample, hap, "N", threads=4
        )
    assert (one[0] == four[0]).all() and (one[1] == four[1]).all()
    assert len(set(as_text(one[0]))) > 100  # the people differ: a real test of the ranges


def _numba_threads() -> int:
    import numba

    return numba.config.NUMBA_NUM_THREADS


def test_kernel_threads_rules(monkeypatch):
    from seqnn.data import haplotypes

    assert haplotypes.kernel_threads(8, haplotypes.MIN_WINDOWS_PER_THREAD - 1) == 1
    assert haplotypes.kernel_threads(1, 10**6) == 1
    with pytest.raises(ValueError, match="threads=0"):
        haplotypes.kernel_threads(0, 100)
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: object())
    assert haplotypes.kernel_threads(8, 10**6) == 1  # a DataLoader worker: one thread


def test_bcf_reads_as_the_vcf(tmp_path):
    """A BCF (+ .csi) written by htslib (cyvcf2's Writer) gives the VCF's haplotypes."""
    cyvcf2 = pytest.importorskip("cyvcf2")
    fasta, records, samples, regions = random_cohort(tmp_path, n_samples=6)
    vcf = write_vcf(tmp_path, records, samples, (("chr1", 600),))
    reader = cyvcf2.VCF(str(vcf))
    bcf = tmp_path / "c.bcf"
    writer = cyvcf2.Writer(str(bcf), reader, mode="wb")
    for record in reader:
        writer.write_record(record)
    writer.close()
    reader.close()
    pysam.tabix_index(str(bcf), preset="bcf", force=True, csi=True)  # htslib writes the .csi
    assert (tmp_path / "c.bcf.csi").exists()
    kwargs = {"missing": "N", "unphased": "as_phased"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = Cohort(fasta, vcf, **kwargs).haplotypes(regions, seq_len=64)
        got = Cohort(fasta, bcf, **kwargs).haplotypes(regions, seq_len=64)
    assert (want[0] == got[0]).all() and (want[1] == got[1]).all()
