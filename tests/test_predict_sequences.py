"""``seqnn-predict sequences=<file>``: every sequence of a FASTA or CSV/TSV file predicted,
streamed a block at a time, equal to ``predict_sequences``; bad files named by record or line,
and nothing written on an error."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import torch
from cli_exit import exit_status

from seqnn.cli.predict import main
from seqnn.data.datasets import DatasetError
from seqnn.data.sequence_files import is_fasta, iter_sequence_blocks
from seqnn.inference.predict import predict_sequences, predict_sequences_to_file
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.models import BassetCNN

LENGTH = 40


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = BassetCNN(n_filters=[8, 8], kernel_sizes=5, pool_sizes=2, n_hidden=[8], dropout=0.0)
    return save_pretrained(
        net, tmp_path / "model", input_length=LENGTH, targets=["bound"], task="binary"
    )


@pytest.fixture
def seqs():
    rng = np.random.default_rng(2)
    # lengths around the input length: some padded, some cropped, some exact
    return ["".join(rng.choice(list("ACGT"), n)) for n in (40, 40, 33, 52, 40, 7, 40)]


def write_fasta_records(path, seqs, gz=False):
    text = "".join(f">s{i} library member {i}\n{s[:30]}\n{s[30:]}\n" for i, s in enumerate(seqs))
    path.write_bytes(gzip.compress(text.encode())) if gz else path.write_text(text)
    return path


def run_cli(*args) -> int:
    return exit_status(main, *args)


@pytest.mark.parametrize("gz", [False, True])
def test_fasta_records_streamed_equal_predict_sequences(model_dir, seqs, tmp_path, gz):
    model = load_pretrained(model_dir)
    path = write_fasta_records(tmp_path / ("lib.fa.gz" if gz else "lib.fa"), seqs, gz)
    out = tmp_path / "out.tsv"
    with pytest.warns(UserWarning, match=r"of 7 sequences, 2 were shorter .* 1 longer"):
        predict_sequences_to_file(model, path, out, block_rows=3, progress=False)
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["name", "bound_pred"]
    assert table.name.tolist() == [f"s{i}" for i in range(7)]
    expected = predict_sequences(model, seqs, progress=False)["bound_pred"].to_numpy()
    np.testing.assert_allclose(table.bound_pred, expected, rtol=1e-5, atol=1e-6)


def test_cli_table_keeps_its_columns_and_adds_calls(model_dir, seqs, tmp_path, capsys):
    path = tmp_path / "lib.csv"
    pd.DataFrame({"id": range(7), "seq": seqs, "group": list("abcdefg")}).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    args = [f"model={model_dir}", f"sequences={path}", "sequence_column=seq", f"out={out}"]
    assert run_cli(*args, "calls=true", "progress=false") == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["id", "seq", "group", "bound_pred", "bound_call"]
    assert table.seq.tolist() == seqs and table.group.tolist() == list("abcdefg")
    expected = predict_sequences(load_pretrained(model_dir), seqs, progress=False)
    np.testing.assert_allclose(table.bound_pred, expected["bound_pred"], rtol=1e-5, atol=1e-6)
    assert ((table.bound_pred > 0.5).astype(int) == table.bound_call).all()


def test_blocks_and_their_row_names(tmp_path, seqs):
    fasta = write_fasta_records(tmp_path / "lib.txt", seqs)  # the first byte decides, not the name
    assert is_fasta(fasta)
    blocks = list(iter_sequence_blocks(fasta, block_rows=3))
    assert [len(b) for b, _ in blocks] == [3, 3, 1]
    assert blocks[1][1](2) == "lib.txt: record 's5'"
    table = tmp_path / "lib.tsv"
    pd.DataFrame({"sequence": seqs}).to_csv(table, sep="\t", index=False)
    blocks = list(iter_sequence_blocks(table, block_rows=4))
    assert not is_fasta(table) and [len(b) for b, _ in blocks] == [4, 3]
    assert blocks[1][1](0) == "lib.tsv:6"  # header on line 1: the fifth row is line 6


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.fa", None, "missing.fa: no such sequence file"),
        ("empty.fa", "", "empty.fa: no sequences"),
        ("gap.fa", ">a\nACGT\n>b\n>c\nGGCC\n", "gap.fa: record 'b' has no sequence"),
        ("bad.fa", ">a\nACGTXX\n", "bad.fa: record 'a': position 4: 'X' is not a DNA letter"),
        ("nocol.csv", "id,dna\n1,ACGT\n", "nocol.csv: no column 'sequence'"),
        ("hole.csv", "id,sequence\n1,ACGT\n2,\n", "hole.csv:3: sequence is missing"),
        ("header.csv", "id,sequence\n", "header.csv: only a header row"),
        ("binary.csv", b"\xff\xfe\x00\x9c" * 10, "binary.csv: not a text file"),
    ],
)
def test_bad_files_are_named_and_nothing_is_written(
    model_dir, tmp_path, capsys, name, content, message
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out" / "p.tsv"
    assert run_cli(f"model={model_dir}", f"sequences={path}", f"out={out}", "progress=false") == 2
    err = capsys.readouterr().err
    assert "seqnn-predict: error:" in err and message in err, err
    assert not out.exists() and not list(out.parent.glob("*")) if out.parent.exists() else True


def test_a_fasta_name_without_records_is_refused_not_read_as_a_table(tmp_path):
    path = tmp_path / "x.fa.gz"
    path.write_bytes(gzip.compress(b"ACGT\n>a\nACGT\n"))
    with pytest.raises(DatasetError, match=r"x\.fa\.gz:1: a FASTA file must start with a '>name'"):
        list(iter_sequence_blocks(path))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["fasta=g.fa"], "leave out fasta="),
        (["scan=true"], "leave out scan"),
        (["devices=2"], "leave out devices"),
    ],
)
def test_sequences_refuse_settings_of_the_other_modes(model_dir, tmp_path, capsys, extra, message):
    path = write_fasta_records(tmp_path / "lib.fa", ["ACGT" * 10])
    args = [f"model={model_dir}", f"sequences={path}", f"out={tmp_path / 'o.tsv'}", *extra]
    assert run_cli(*args) == 2
    assert message in capsys.readouterr().err


def test_without_sequences_or_fasta_the_error_names_both(model_dir, tmp_path, capsys):
    assert run_cli(f"model={model_dir}", f"out={tmp_path / 'o.tsv'}") == 2
    err = capsys.readouterr().err
    assert "give fasta=<genome.fa>" in err and "sequences=<fa|csv|tsv>" in err
