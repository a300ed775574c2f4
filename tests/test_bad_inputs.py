"""Bad input at every entry point: the malformed files researchers actually produce.

One table of cases. Each case writes its tiny input into tmp_path and feeds it to a command
line tool (``seqnn-train``, ``seqnn-predict``, ``seqnn-variants``, ``seqnn-export``) or to the
Python loader behind it. The tools and the loaders share one code path (the tools print the
loaders' :class:`seqnn.errors.SeqnnInputError`), so most cases call the loader, or the tool's
``main()`` in this process, which is what its console script runs. The ``seqnn-train`` cases
run as real subprocesses, each a few seconds of imports (Hydra reads ``sys.argv`` and owns the
process), and so does one ``python -m seqnn.cli.variants`` case (the ``-m`` path). Every
case asserts:

(a) the message names the file (and the line or record when there is one) and says what to do;
(b) tools: exit status != 0, one ``seqnn-<tool>: error: ...`` line on stderr, no traceback;
    loaders: the error is a ``SeqnnInputError`` (what the tools turn into that line);
(c) nothing is left behind: no ``out=`` file, no temp file, no half-built genome cache.

A few inputs are not errors (CRLF files, a BED header row that names its columns, a contig
named ``trackA``, a UTF-8 byte-order mark before a BED or VCF file): those cases assert that
they are read correctly.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import torch
from genome_files import pipe_path, write_bgzf, write_fasta_and_windows
from test_pretrained import _Payload  # unpickling it creates a file: the marker

from seqnn.data import Genome, read_intervals, validate_intervals, write_fasta
from seqnn.data.datamodule import IntervalDataModule, TableDataModule
from seqnn.data.vcf import read_vcf
from seqnn.errors import SeqnnInputError
from seqnn.inference.pretrained import SPEC_FILE, WEIGHTS_FILE, load_pretrained, save_pretrained
from seqnn.models import BassetCNN

LENGTH = 64  # the test model's input length
OUT = "out/result.tsv"  # every tool writes here (relative to the case's folder)
MARKER = "PICKLE_RAN"  # unpickling the malicious checkpoints would create this file
CACHE_SUFFIXES = (".fai", ".seqnn-codes", ".seqnn-codes.json")  # a genome index, not an output


@dataclass(frozen=True)
class Base:
    """Valid inputs shared by the cases: a FASTA (already indexed) and a model folder."""

    fasta: Path
    model: Path
    genome: Genome


@dataclass(frozen=True)
class Cli:
    """A command line: ``prog`` with ``key=value`` arguments, in this process or not."""

    prog: str
    args: list[str]
    subprocess: bool = False
    # Hydra's own composition errors are not ours: they start with this instead
    prefix: str | None = None


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path, Base], Cli | Callable[[], object]]
    # phrases the message must hold: the file[:line] first; None: the input is accepted and
    # the built callable checks what was read
    phrases: tuple[str, ...] | None


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    folder = tmp_path_factory.mktemp("base")
    fasta, _ = write_fasta_and_windows(folder)  # chr1 3000, chr2 2000, chr3 2000 bp
    torch.manual_seed(0)
    net = BassetCNN(n_filters=[8, 8], kernel_sizes=5, pool_sizes=2, n_hidden=[8], dropout=0.0)
    model = save_pretrained(net, folder / "model", input_length=LENGTH, targets=["score"])
    return Base(fasta, Path(model), Genome(fasta))


# ----------------------------------------------------------------------------- tools
def predict(d: Path, base: Base, **settings) -> Cli:
    values = {"model": base.model, "fasta": base.fasta, "out": d / OUT, **settings}
    return Cli("seqnn-predict", [f"{k}={v}" for k, v in values.items()])


def variants(d: Path, base: Base, vcf: Path, subprocess: bool = False, **settings) -> Cli:
    values = {"model": base.model, "fasta": base.fasta, "vcf": vcf, "out": d / OUT, **settings}
    return Cli("seqnn-variants", [f"{k}={v}" for k, v in values.items()], subprocess)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def vcf_text(*rows: str) -> str:
    return "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n" + "".join(r + "\n" for r in rows)


def copy_model(base: Base, d: Path) -> Path:
    return Path(shutil.copytree(base.model, d / "model"))


def pickled_checkpoint(d: Path, base: Base, name: str) -> Path:
    """A checkpoint that needs full unpickling, beside a valid spec (so the spec is no
    obstacle: only the refusal to unpickle stops it)."""
    folder = d / "checkpoints"
    folder.mkdir()
    shutil.copy(base.model / SPEC_FILE, folder / SPEC_FILE)
    payload = {"state_dict": _Payload(d / MARKER)}
    path = folder / name
    if name.endswith(".ckpt"):
        torch.save(payload, path)  # torch's zip format, as a real checkpoint
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))  # a bare pickle
    return path


# ----------------------------------------------------------------------------- accepted
def crlf_fasta(d: Path, base: Base) -> Callable[[], None]:
    path = write(d / "crlf.fa", b">chr1 from Windows\r\nACGTAC\r\nGGTTN\r\n>chr2\r\nTTTT\r\n")

    def check() -> None:
        genome = Genome(path)
        assert genome.sizes == {"chr1": 11, "chr2": 4}
        assert genome.fetch("chr1", 0, 11) == "ACGTACGGTTN"
        assert genome.fetch("chr2", 0, 4) == "TTTT"

    return check


def crlf_bed(d: Path, base: Base) -> Callable[[], None]:
    path = write(d / "crlf.bed", "chr1\t0\t64\tr1\t0\t-\r\nchr2\t5\t69\tr2\t0\t+\r\n")

    def check() -> None:
        table = read_intervals(path)
        assert table["end"].tolist() == [64, 69] and table["strand"].tolist() == ["-", "+"]

    return check


def bed_named_header(d: Path, base: Base) -> Callable[[], None]:
    path = write(d / "peaks.bed", "chrom\tstart\tend\tname\nchr1\t10\t74\tp1\nchr2\t0\t64\tp2\n")

    def check() -> None:
        table = read_intervals(path)
        assert table["start"].tolist() == [10, 0] and table["line"].tolist() == [2, 3]
        assert table["name"].tolist() == ["p1", "p2"]

    return check


def bed_track_contig(d: Path, base: Base) -> Callable[[], None]:
    text = "track name=peaks\nbrowser position chr1:1-64\ntrackA\t0\t64\nbrowserB\t5\t69\n"
    path = write(d / "r.bed", text)

    def check() -> None:
        table = read_intervals(path)  # only the UCSC forms ('track ...') are headers
        assert table["chrom"].tolist() == ["trackA", "browserB"]
        assert table["line"].tolist() == [3, 4]

    return check


def bom_bed(d: Path, base: Base) -> Callable[[], None]:
    path = write(d / "r.bed", b"\xef\xbb\xbf# peaks from an editor\nchr1\t0\t64\n")

    def check() -> None:
        table = read_intervals(path)
        assert table["chrom"].tolist() == ["chr1"] and table["line"].tolist() == [2]

    return check


def bom_vcf(d: Path, base: Base) -> Callable[[], None]:
    path = write(d / "calls.vcf", b"\xef\xbb\xbf" + vcf_text("chr1\t9\t.\tA\tC").encode())

    def check() -> None:
        assert read_vcf(path)[["pos", "line"]].values.tolist() == [[9, 3]]

    return check


# ----------------------------------------------------------------------------- the table
CASES = [
    # FASTA: the genome loader; one case through seqnn-predict (same Genome code path)
    Case(
        "fasta-empty",
        lambda d, b: predict(d, b, fasta=write(d / "empty.fa", ""), regions=good_bed(d)),
        ("empty.fa", "is empty", "fetch it again"),
    ),
    Case(
        "fasta-duplicate-header",
        lambda d, b: partial(Genome, write(d / "dup.fa", ">chr1\nACGT\n>chr1\nACGT\n")),
        ("dup.fa:3", "duplicate sequence name 'chr1'", "rename one of them"),
    ),
    Case(
        "fasta-blank-header",
        lambda d, b: partial(Genome, write(d / "blank.fa", ">chr1\nACGT\n>\nACGT\n")),
        ("blank.fa:3", "'>' header without a name", "write '>name'"),
    ),
    Case("fasta-crlf-is-read-correctly", crlf_fasta, None),
    Case(
        "fasta-non-dna-letter",
        lambda d, b: partial(Genome, write(d / "letters.fa", ">chr1\nACGT\nACJT\nAC\n")),
        ("letters.fa:3", "invalid letter 'J'", "replace it"),
    ),
    Case(
        "fasta-uneven-lines",
        lambda d, b: partial(Genome, write(d / "uneven.fa", ">chr1\nACGT\nAC\nACGT\n")),
        ("uneven.fa:3", "every line but the last", "rewrap it"),
    ),
    Case(
        "fasta-gzip-not-bgzip",
        lambda d, b: partial(Genome, write(d / "genome.fa.gz", gzip.compress(b">chr1\nACGT\n"))),
        ("genome.fa.gz", "plain gzip", "bgzip"),
    ),
    Case(
        "fasta-utf8-bom",
        lambda d, b: partial(Genome, write(d / "bom.fa", b"\xef\xbb\xbf>chr1\nACGT\n")),
        ("bom.fa:1", "UTF-8 byte-order mark", "remove it"),
    ),
    Case(
        "fasta-header-inside-a-sequence-line",
        lambda d, b: partial(Genome, write(d / "gt.fa", ">chr1\nACGTACGT\nACG>ACGT\nAC\n")),
        ("gt.fa:3", "'>' inside a sequence line (column 4)", "add the missing line break"),
    ),
    Case(
        "fasta-truncated-bgzip",
        lambda d, b: partial(
            Genome, write_bgzf(d / "genome.fa.gz", b">chr1\n" + b"ACGT" * 500, eof=False)
        ),
        ("genome.fa.gz", "truncated", "Fetch it again, or recompress the FASTA with `bgzip`"),
    ),
    Case(
        "fasta-a-pipe",
        lambda d, b: predict(
            d, b, fasta=pipe_path(b">chr1\n" + b"ACGT" * 100 + b"\n"), regions=good_bed(d)
        ),
        ("/dev/fd/", "is not a regular file", "must be a file on disk"),
    ),
    # BED: read_intervals / validate_intervals; seqnn-predict for three of them
    Case("bed-header-row-is-read", bed_named_header, None),
    Case(
        "bed-header-row-of-unknown-names",
        lambda d, b: partial(read_intervals, write(d / "r.bed", "seq\tfrom\tto\nchr1\t0\t64\n")),
        ("r.bed:1", "is not an integer", "start it with '#'"),
    ),
    Case("bed-crlf-is-read-correctly", crlf_bed, None),
    Case("bed-utf8-bom-is-read", bom_bed, None),
    Case(
        "bed-coordinate-overflow",
        lambda d, b: predict(d, b, regions=write(d / "r.bed", "chr1\t0\t99999999999999999999\n")),
        ("r.bed:1", "end '99999999999999999999' is beyond any genome coordinate", "fix the line"),
    ),
    Case(
        "bed-spaces-not-tabs",
        lambda d, b: partial(read_intervals, write(d / "r.bed", "chr1\t0\t64\nchr1 10 74\n")),
        ("r.bed:2", "separated by spaces, not tabs", "convert with"),
    ),
    Case("bed-contig-named-track-is-read", bed_track_contig, None),
    Case(
        "bed-strand-spelling",
        lambda d, b: predict(
            d, b, regions=write(d / "r.bed", "chr1\t0\t64\tr1\t0\t-\nchr1\t0\t64\tr2\t0\t-1\n")
        ),
        ("r.bed:2", "strand '-1' is not '+', '-' or '.'", "write '-' for the reverse strand"),
    ),
    Case(
        "bed-truncated-gzip",
        lambda d, b: partial(
            read_intervals, write(d / "r.bed.gz", gzip.compress(b"chr1\t0\t64\n" * 50)[:-12])
        ),
        ("r.bed.gz", "cannot read it", "is the file complete?"),
    ),
    Case(
        "bed-end-before-start",
        lambda d, b: predict(d, b, regions=write(d / "r.bed", "chr1\t0\t64\nchr1\t500\t400\n")),
        ("r.bed:2", "start 500 is not before end 400", "on_invalid='drop'"),
    ),
    Case(
        "bed-negative-start",
        lambda d, b: partial(validate_bed, write(d / "r.bed", "chr1\t-10\t54\n"), b),
        ("r.bed:1", "start -10 is negative", "on_invalid='pad'"),
    ),
    Case(
        "bed-unknown-contig",
        lambda d, b: partial(
            validate_bed, write(d / "r.bed", "chr1\t0\t64\nchrUn_gl\t0\t64\n"), b
        ),
        ("r.bed:2", "'chrUn_gl' is not in the genome", "on_invalid='drop'"),
    ),
    Case(
        "bed-chr-prefix-mismatch",
        lambda d, b: predict(
            d,
            b,
            fasta=write_fasta(d / "ensembl.fa", {"1": "ACGT" * 50, "2": "ACGT" * 50}),
            regions=write(d / "r.bed", "chr1\t0\t64\n"),
        ),
        ("r.bed:1", "did you mean '1'?", "rename the contigs to match the FASTA"),
    ),
    Case(
        "bed-past-contig-end",
        lambda d, b: predict(d, b, regions=write(d / "r.bed", "chr2\t1990\t2054\n")),
        (
            "r.bed:1",
            "past the end of chr2 (length 2000)",
            "on_invalid='pad'",
            "seqnn-train: data.on_invalid=pad",
        ),
    ),
    # sequence tables: the data module seqnn-train builds (data=table)
    Case(
        "table-missing-target",
        lambda d, b: table_module(write(d / "t.csv", "sequence,label\nACGT,1\nACGT,\nACGT,0\n")),
        ("t.csv:3", "'label' is missing", "fill it or drop the row"),
    ),
    Case(
        "table-nan-target",
        lambda d, b: table_module(
            write(d / "t.csv", "sequence,label\nACGT,1\nACGT,0\nACGT,NaN\n")
        ),
        ("t.csv:4", "'label' is missing (NaN)", "fill it or drop the row"),
    ),
    Case(
        "table-text-among-number-targets",
        lambda d, b: table_module(write(d / "t.csv", "sequence,label\nACGT,1\nACGT,0\nACGT,x\n")),
        ("t.csv:4", "'label' is 'x', not a number", "target_kind='multiclass'"),
    ),
    Case(
        "table-text-targets-of-a-numeric-kind",
        lambda d, b: table_module(
            write(d / "t.csv", "sequence,label\nACGT,a\nACGT,b\n"), target_kind="binary"
        ),
        ("t.csv:2", "'label' is 'a', not a number", "data.target_kind=multiclass"),
    ),
    Case(
        "table-sequence-of-wrong-length",
        lambda d, b: table_module(write(d / "t.csv", "sequence,label\nACGT,1\nACG,0\nACGT,0\n")),
        ("t.csv:3", "length 3, expected 4", "trim or pad them"),
    ),
    Case(
        "table-header-only",
        lambda d, b: table_module(write(d / "t.csv", "sequence,label\n")),
        ("t.csv", "only a header row (sequence, label), no rows", "add one row per sequence"),
    ),
    Case(
        "table-input-length-mismatch",
        lambda d, b: table_module(
            write(d / "t.csv", "sequence,label\nACGT,1\n"), input_length=200
        ),
        (
            "t.csv",
            "input_length=200 was given but the sequences",
            "fix input_length in the config",
        ),
    ),
    # VCF: seqnn-variants (REF mismatch as a subprocess) and read_vcf
    Case(
        "vcf-ref-mismatch",
        lambda d, b: variants(d, b, write(d / "calls.vcf", vcf_text(*ref_rows(b))), True),
        ("calls.vcf:4", "REF", "ref_mismatch=skip"),
    ),
    Case(
        "vcf-pos-beyond-int64",
        lambda d, b: variants(
            d, b, write(d / "calls.vcf", vcf_text("chr1\t99999999999999999999\t.\tA\tC"))
        ),
        ("calls.vcf:3", "POS '99999999999999999999' is too large", "fix the line or drop it"),
    ),
    Case("vcf-utf8-bom-is-read", bom_vcf, None),
    Case(
        "vcf-symbolic-allele-only",
        lambda d, b: partial(read_vcf, write(d / "sv.vcf", vcf_text("chr1\t9\tsv1\tN\t<DEL>"))),
        ("sv.vcf:3", "1 symbolic <...>", "give ALT alleles as bases"),
    ),
    # model folders: load_pretrained, through seqnn-export / seqnn-variants / seqnn-predict
    Case(
        "model-missing-weights",
        lambda d, b: Cli(
            "seqnn-export", [f"model={drop_weights(copy_model(b, d))}", f"out={d / OUT}"]
        ),
        (WEIGHTS_FILE, "no weights file", "seqnn.save_pretrained"),
    ),
    Case(
        "model-spec-from-the-future",
        lambda d, b: variants(
            d,
            b,
            write(d / "ok.vcf", vcf_text("chr1\t101\t.\tA\tC")),
            model=future_spec(copy_model(b, d)),
        ),
        (SPEC_FILE, "seqnn 99.0.0", "upgrade seqnn"),
    ),
    Case(
        "model-pickled-ckpt-refused",
        lambda d, b: predict(
            d, b, model=pickled_checkpoint(d, b, "evil.ckpt"), regions=good_bed(d)
        ),
        ("evil.ckpt", "refused", "seqnn.save_pretrained"),
    ),
    Case(
        "model-pickled-pt-refused",
        lambda d, b: partial(load_pretrained, pickled_checkpoint(d, b, "evil.pt")),
        ("evil.pt", "refused", "seqnn.save_pretrained"),
    ),
    # seqnn-predict settings (issue 35 §4: were tracebacks)
    Case(
        "predict-unknown-on-invalid",
        lambda d, b: predict(d, b, regions=good_bed(d), on_invalid="ignore"),
        ("on_invalid='ignore'", "give on_invalid=error, drop or pad"),
    ),
    Case(
        "predict-unknown-device",
        lambda d, b: predict(d, b, regions=good_bed(d), device="tpu"),
        ("device=tpu", "not a device name", "cpu"),
    ),
    Case(
        "predict-device-this-machine-lacks",
        lambda d, b: predict(d, b, regions=good_bed(d), device="cuda:63"),
        ("device=cuda:63", "no such device", "device=auto or cpu"),
    ),
    Case(
        "predict-out-is-a-folder",
        lambda d, b: predict(d, b, regions=good_bed(d), out=(d / "out").mkdir() or d / "out"),
        ("out: is a folder", "give a file name"),
    ),
    Case(
        "predict-regions-not-a-path",
        lambda d, b: predict(d, b, regions="[a.bed,b.bed]"),
        ("regions=['a.bed', 'b.bed']", "give one file name"),
    ),
    Case(
        "model-input-length-impossible",
        lambda d, b: predict(
            d, b, regions=good_bed(d), model=edit_spec(copy_model(b, d), input_length=1e9)
        ),
        (SPEC_FILE, "input_length 1000000000.0", "whole number of bp"),
    ),
    Case(
        "model-spec-larger-than-its-weights",
        lambda d, b: predict(
            d, b, regions=good_bed(d), model=edit_spec(copy_model(b, d), n_filters=[8, 4096])
        ),
        (SPEC_FILE, "holds", "but the weights only", "different models"),
    ),
    Case(
        "model-safetensors-header-too-large",
        lambda d, b: predict(d, b, regions=good_bed(d), model=huge_header(copy_model(b, d))),
        (WEIGHTS_FILE, "header claims 84,000,000 bytes", "seqnn.save_pretrained"),
    ),
    # seqnn-train (Hydra): always a subprocess
    Case(
        "train-missing-data-path",
        lambda d, b: train(
            d,
            "data=table",
            f"data.table={d / 'promoters.csv'}",
            "data.target_columns=[label]",
            "data.input_length=4",
        ),
        ("promoters.csv", "no such table file", "check the path"),
    ),
    Case(
        "train-renamed-key",
        lambda d, b: train(d, "data.seq_len=81"),
        ("data.seq_len= is now data.input_length=",),
    ),
    Case(
        "train-empty-table",
        lambda d, b: train(
            d,
            "data=table",
            f"data.table={write(d / 'promoters.csv', '')}",
            "data.target_columns=[label]",
            "data.input_length=4",
        ),
        ("promoters.csv", "the table is empty", "write a header row"),
    ),
    Case(
        "train-init-from-another-network",
        lambda d, b: train(d, f"init_from={b.model}"),
        ("model: init_from:", "do not match", "(package none vs ours", "init_strict=false"),
    ),
    Case(
        "train-resume-from-a-pickled-checkpoint",
        lambda d, b: train(d, f"ckpt_path={pickled_checkpoint(d, b, 'evil.ckpt')}"),
        ("evil.ckpt", "refused", "full pickle"),
    ),
    Case(
        "train-resume-from-a-url",
        lambda d, b: train(d, "ckpt_path=https://example.org/last.ckpt"),
        ("ckpt_path=https://example.org/last.ckpt", "local checkpoint file"),
    ),
    Case(
        "train-config-target-outside-the-allow-list",
        lambda d, b: train(
            d,
            "data=table",
            f"data.table={{_target_:shutil.copyfile,src:{b.fasta},dst:{d / MARKER}}}",
            "data.target_columns=[label]",
        ),
        ("data.table._target_='shutil.copyfile'", "builds only classes under", "seqnn.models.*"),
    ),
    Case(
        "train-config-target-trusted-only-from-the-environment",
        lambda d, b: train(
            d, "+callbacks.mine._target_=mylab.Callback", "+seqnn_trusted_targets=mylab"
        ),
        ("callbacks.mine._target_='mylab.Callback'", "SEQNN_TRUSTED_TARGETS=mylab.models"),
    ),
    Case(
        "train-config-target-a-torch-function",
        lambda d, b: train(d, f"+data.x={{_target_:torch.load,f:{d / 'evil.ckpt'}}}"),
        ("data.x._target_='torch.load'", "give one of those"),
    ),
    Case(
        "train-optimizer-setting-of-the-wrong-type",
        lambda d, b: train(d, "task.optimizer.lr=abc"),
        ("task.optimizer / task.scheduler", "'float' and 'str'", "task.optimizer.lr=0.001"),
    ),
    Case(
        "train-negative-batch-size",
        lambda d, b: train(d, "data.batch_size=-1"),
        ("batch_size=-1", "whole number >= 1", "data.batch_size"),
    ),
    Case(
        "table-val-fraction-above-one",
        lambda d, b: table_module(
            write(d / "t.csv", "sequence,label\nACGT,1\n"), val_fraction=1.5
        ),
        ("val_fraction=1.5", "[0, 1)", "data.val_fraction"),
    ),
    Case(
        "table-fractions-leave-no-training-rows",
        lambda d, b: table_module(
            write(d / "t.csv", "sequence,label\nACGT,1\n"), val_fraction=0.5, test_fraction=0.5
        ),
        ("val_fraction=0.5 + test_fraction=0.5", "no training rows"),
    ),
    Case(
        "intervals-unknown-held-out-chromosome",
        lambda d, b: interval_module(b.fasta, good_bed(d), val_chroms=["chrZ"]),
        ("val_chroms=['chrZ']", "not contigs of the genome", "chr1"),
    ),
    Case(
        "intervals-held-out-chromosome-without-intervals",
        lambda d, b: interval_module(b.fasta, good_bed(d), test_chroms=["chr3"]),
        ("test_chroms=['chr3']", "no interval lies on these contigs"),
    ),
    Case(
        "train-unknown-model",
        lambda d, b: train(d, "model=cnnn", prefix="In 'train': Could not find 'model/cnnn'"),
        ("model/cnnn", "Available options in 'model'", "cnn"),
    ),
]


def validate_bed(path: Path, base: Base) -> object:
    return validate_intervals(read_intervals(path), base.genome)


def table_module(path: Path, **kwargs) -> Callable[[], object]:
    return lambda: TableDataModule(table=path, target_columns=["label"], **kwargs).setup()


def interval_module(fasta: Path, bed: Path, **kwargs) -> Callable[[], object]:
    return lambda: IntervalDataModule(fasta, bed, **kwargs).setup()


def ref_rows(base: Base) -> list[str]:
    """A matching SNV, then one whose REF is not the FASTA's base (line 4)."""
    first, second = base.genome.fetch("chr1", 100, 101), base.genome.fetch("chr1", 200, 201)
    wrong = "A" if second != "A" else "C"
    return [f"chr1\t101\t.\t{first}\tG", f"chr1\t201\t.\t{wrong}\tT"]


def good_bed(d: Path) -> Path:
    return write(d / "r.bed", "chr1\t0\t64\n")


def drop_weights(model: Path) -> Path:
    (model / WEIGHTS_FILE).unlink()
    return model


def future_spec(model: Path) -> Path:
    spec = json.loads((model / SPEC_FILE).read_text())
    spec.update(format_version=spec["format_version"] + 1, seqnn_version="99.0.0")
    (model / SPEC_FILE).write_text(json.dumps(spec))
    return model


def edit_spec(model: Path, input_length: float | None = None, **network: object) -> Path:
    """The package with its spec's input length or network arguments changed."""
    spec = json.loads((model / SPEC_FILE).read_text())
    if input_length is not None:
        spec["input_length"] = input_length
    spec["network"].update(network)
    (model / SPEC_FILE).write_text(json.dumps(spec))
    return model


def huge_header(model: Path) -> Path:
    """Weights whose safetensors header claims 84 MB (1.4M tensors' worth)."""
    (model / WEIGHTS_FILE).write_bytes((84_000_000).to_bytes(8, "little") + b"{" * 1000)
    return model


def train(d: Path, *overrides: str, prefix: str | None = None) -> Cli:
    run = [f"hydra.run.dir={d / 'run'}", "trainer=cpu", "logger=csv"]
    return Cli("seqnn-train", [*overrides, *run], subprocess=True, prefix=prefix)


# ----------------------------------------------------------------------------- the test
MODULES = {
    "seqnn-train": "seqnn.cli.train",
    "seqnn-predict": "seqnn.cli.predict",
    "seqnn-variants": "seqnn.cli.variants",
    "seqnn-export": "seqnn.cli.export",
}


def run_tool(cli: Cli, cwd: Path, capsys) -> tuple[int, str]:
    """Exit status and stderr of a tool, run as a subprocess or through its main()."""
    if cli.subprocess:
        env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
        command = [sys.executable, "-m", MODULES[cli.prog], *cli.args]
        done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
        return done.returncode, done.stderr
    import importlib

    capsys.readouterr()
    try:
        importlib.import_module(MODULES[cli.prog]).main(cli.args)
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    return status, capsys.readouterr().err


def files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, base: Base, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("SEQNN_CACHE_DIR", raising=False)  # genome caches beside the FASTAs
    entry = case.build(tmp_path, base)
    before = files(tmp_path)
    if case.phrases is None:
        entry()
        return
    if isinstance(entry, Cli):
        status, stderr = run_tool(entry, tmp_path, capsys)
        prefix = entry.prefix or f"{entry.prog}: error: "
        assert status != 0 and "Traceback" not in stderr, stderr
        lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
        assert len(lines) == 1, stderr
        message = lines[0] if entry.prefix is None else stderr
    else:
        with pytest.raises(SeqnnInputError) as error:
            entry()
        message = str(error.value)
    for phrase in case.phrases:
        assert phrase in message, f"{phrase!r} not in: {message}"
    assert not (tmp_path / MARKER).exists(), "a pickle was executed"
    assert not (tmp_path / OUT).exists()
    left = {p for p in files(tmp_path) - before if not p.name.endswith(CACHE_SUFFIXES)}
    run = tmp_path / "run"
    assert not (run / "checkpoints").exists() and not (run / "model").exists()
    assert not {p for p in left if run not in p.parents}, "left behind"
