"""Labelled tables from FASTA files (``seqnn.data.labelled``, ``data=fasta``): positives vs
negatives or vs dinucleotide shuffles, several files per class, clear errors, and a training
run from the command line's settings."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hydra_run import compose_train, seqnn_cache  # noqa: F401
from omegaconf import open_dict

from seqnn.cli.train import train
from seqnn.data.datasets import DatasetError
from seqnn.data.labelled import fasta_table, labelled_table

MOTIF = "CCGCGAGGAGGCAG"


def write_records(path: Path, seqs: list[str], prefix: str = "r") -> Path:
    text = "".join(
        f">{prefix}{i} some description\n{s[:25]}\n{s[25:]}\n" for i, s in enumerate(seqs)
    )
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def random_seqs(n: int, length: int = 60, seed: int = 0, motif: bool = False) -> list[str]:
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    return [s[:20] + MOTIF + s[20 + len(MOTIF) :] for s in seqs] if motif else seqs


def dinucleotides(seq: str) -> Counter:
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def test_positives_and_negatives_get_their_labels_names_and_sequences(tmp_path):
    pos = write_records(tmp_path / "pos.fa", random_seqs(5, seed=1), "p")
    neg = write_records(tmp_path / "neg.fa.gz", random_seqs(7, seed=2), "n")
    table = fasta_table(pos, neg)
    assert list(table.columns) == ["sequence", "label", "name"]
    assert table.label.tolist() == [1] * 5 + [0] * 7
    assert table.name.tolist() == [f"p{i}" for i in range(5)] + [f"n{i}" for i in range(7)]
    assert table.sequence.tolist() == random_seqs(5, seed=1) + random_seqs(7, seed=2)


def test_without_negatives_each_positive_is_followed_by_its_dinucleotide_shuffles(tmp_path):
    seqs = random_seqs(6, seed=3)
    pos = write_records(tmp_path / "pos.fa", seqs)
    table = fasta_table(pos, negative_ratio=2, seed=7)
    assert table.label.tolist() == [1, 0, 0] * 6
    assert table.name.tolist() == [f"r{i}" for i in range(6) for _ in range(3)]
    for i, seq in enumerate(seqs):
        rows = table.sequence[3 * i : 3 * i + 3].tolist()
        assert rows[0] == seq
        assert all(dinucleotides(s) == dinucleotides(seq) and s != seq for s in rows[1:])
    assert table.equals(fasta_table(pos, negative_ratio=2, seed=7))  # seeded
    assert not table.equals(fasta_table(pos, negative_ratio=2, seed=8))


def test_several_files_per_class_are_read_in_order(tmp_path):
    a = write_records(tmp_path / "a.fa", random_seqs(2, seed=4), "a")
    b = write_records(tmp_path / "b.fasta", random_seqs(3, seed=5), "b")
    c = write_records(tmp_path / "c.fa", random_seqs(1, seed=6), "c")
    table = fasta_table([a, b], [c])
    assert table.name.tolist() == ["a0", "a1", "b0", "b1", "b2", "c0"]
    assert table.label.tolist() == [1] * 5 + [0]


def test_labelled_table_keeps_extra_columns_on_the_shuffles():
    import pandas as pd

    positives = pd.DataFrame({"sequence": ["ACGTACGTAA", "GGGCCCAATT"], "region": ["x", "y"]})
    table = labelled_table(positives, None, 1, seed=0)
    assert table.region.tolist() == ["x", "x", "y", "y"] and table.label.tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match="negative_ratio=0"):
        labelled_table(positives, None, 0)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, r"missing\.fa: no such FASTA file \(positives\)"),
        ("", r"bad\.fa: no FASTA records \(positives\)"),
        ("sequence,label\nACGT,1\n", r"bad\.fa:1: a FASTA file must start with a '>name' line"),
        (">a\nACGT\n>b\n\n>c\nGG\n", r"bad\.fa: record 'b' \(number 2\) has no sequence"),
    ],
)
def test_bad_fasta_files_are_refused_by_file_and_record(tmp_path, content, match):
    path = tmp_path / ("missing.fa" if content is None else "bad.fa")
    if content is not None:
        path.write_text(content)
    with pytest.raises(DatasetError, match=match):
        fasta_table(path)
    with pytest.raises(DatasetError, match=r"positives: no FASTA file given"):
        fasta_table([])


def test_data_fasta_trains_from_positives_alone(tmp_path):
    """seqnn-train recipe=tf_binding data=fasta data.table.positives=peaks.fa: the shuffles
    are the negatives, the length comes from the records."""
    peaks = write_records(tmp_path / "peaks.fa", random_seqs(40, motif=True))
    overrides = [
        "recipe=tf_binding",
        "data=fasta",
        f"data.table.positives={peaks}",
        "model.net.n_filters=[8,8,8]",
        "model.net.n_hidden=[8]",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "~callbacks.progress_bar",
        "+trainer.enable_progress_bar=false",
    ]
    cfg = compose_train(overrides, tmp_path)
    with open_dict(cfg):
        del cfg["hydra"]
    metrics = train(cfg)
    assert np.isfinite(metrics["test/auroc"]) and "test/threshold" in metrics
    assert (tmp_path / "model" / "seqnn.json").is_file()


def test_cli_names_a_missing_fasta_file_and_exits_non_zero(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqnn.cli.train",
            "data=fasta",
            "data.table.positives=nowhere.fa",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "seqnn-train: error: nowhere.fa: no such FASTA file (positives)" in done.stderr
