"""The data QC step of seqnn-train (qc=warn|error|off, qc_settings.drop) and seqnn-qc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra_run import seqnn_cache  # noqa: F401
from test_qc import simulate
from test_train import FEW_BATCHES, QUIET, TINY, run_train

from seqnn.cli.data_qc import QCFailed
from seqnn.data.genome import write_fasta
from seqnn.inference.pretrained import read_spec


@pytest.fixture
def leaky_table(tmp_path) -> Path:
    """The clean simulation with 6 test rows copied from training rows."""
    table = simulate(n=400)
    split = table["split"].to_numpy()
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    for column in ("sequence", "label"):
        values = table[column].to_numpy().copy()
        values[test[:6]] = values[train[:6]]
        table[column] = values
    path = tmp_path / "leaky.csv"
    table.to_csv(path, index=False)
    return path


def table_run(path: Path, *more: str) -> list[str]:
    return [
        "data=table",
        f"data.table={path}",
        "data.target_columns=[label]",
        *TINY["cnn"],
        "trainer.max_epochs=1",
        *FEW_BATCHES,
        *QUIET,
        *more,
    ]


def test_qc_error_stops_a_run_with_a_planted_leak_and_names_it(leaky_table, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(QCFailed, match=r"qc=error: .*6 evaluated rows \(6 test\) are identical"):
        run_train(table_run(leaky_table, "qc=error"), out)
    assert not (out / "checkpoints").exists()  # stopped before fitting
    figures = json.loads((out / "qc" / "qc.json").read_text())
    assert figures["duplicates_across_splits"] == 6


def test_qc_warn_reports_next_to_the_run_and_in_the_model_card(leaky_table, tmp_path):
    metrics = run_train(table_run(leaky_table), tmp_path)
    assert (tmp_path / "qc" / "report.md").is_file() and (tmp_path / "qc" / "gc.png").is_file()
    card = read_spec(tmp_path / "model" / "seqnn.json").card
    qc = card["data_qc"]
    assert qc["duplicates_across_splits"] == 6
    assert any("duplicates" in f for f in qc["findings"])
    assert "label" in qc["baseline_test_auroc"]
    expected = metrics["test/auroc"] - qc["baseline_test_auroc"]["label"]
    assert metrics["test/margin_over_baseline"] == pytest.approx(expected, abs=1e-3)
    assert card["test_metrics"]["test/margin_over_baseline"] == pytest.approx(
        metrics["test/margin_over_baseline"]
    )


def test_qc_drop_leaves_the_leaks_out_and_goes_on(leaky_table, tmp_path):
    run_train(table_run(leaky_table, "qc=error", "qc_settings.drop=true"), tmp_path)
    figures = json.loads((tmp_path / "qc" / "qc.json").read_text())
    assert figures["dropped"] == {"val": 0, "test": 6}
    assert (tmp_path / "model" / "seqnn.json").is_file()


def test_qc_off_writes_no_report(leaky_table, tmp_path):
    run_train(table_run(leaky_table, "qc=off", "test=false"), tmp_path)
    assert not (tmp_path / "qc").exists()
    assert "data_qc" not in read_spec(tmp_path / "model" / "seqnn.json").card


def test_qc_is_skipped_in_a_fast_dev_run_smoke_run(leaky_table, tmp_path, caplog):
    # a planted leak with qc=error would stop the run: a smoke run skips the step instead
    with caplog.at_level("INFO", logger="seqnn.qc"):
        run_train(table_run(leaky_table, "qc=error", "++trainer.fast_dev_run=true"), tmp_path)
    assert not (tmp_path / "qc").exists()
    assert any("fast_dev_run" in r.getMessage() for r in caplog.records)


def seqnn_qc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seqnn.cli.qc", *args], capture_output=True, text=True
    )


def test_seqnn_qc_exit_status_and_files(leaky_table, tmp_path):
    data = ["data=table", f"data.table={leaky_table}", "data.target_columns=[label]"]
    warn = seqnn_qc(*data, f"out={tmp_path / 'warn'}")
    assert warn.returncode == 0, warn.stderr
    assert "duplicates_across_splits\t6" in warn.stdout
    error = seqnn_qc(*data, f"out={tmp_path / 'error'}", "qc=error")
    assert error.returncode == 1
    assert "identical to a row of an earlier split" in error.stderr
    for name in ("report.md", "qc.json", "gc.png", "roc.png"):
        assert (tmp_path / "error" / name).is_file()
    bad = seqnn_qc(*data, f"out={tmp_path / 'bad'}", "qc=sometimes")
    assert bad.returncode == 2 and "seqnn-qc: error: qc=sometimes" in bad.stderr


# ----------------------------------------------------------------------------- seqnn-evaluate
def test_evaluate_reports_the_margin_over_the_baseline_and_auroc_by_gc(tmp_path, capsys):
    from seqnn.cli.evaluate import main
    from seqnn.inference.evaluate import evaluate_table
    from seqnn.inference.pretrained import load_pretrained

    table = simulate(n=300)
    negative = table["label"] == 0
    table.loc[negative, "sequence"] = simulate(n=300, seed=3, gc=0.7).loc[negative, "sequence"]
    model = load_pretrained("ctcf-peaks")  # 100 bp; the 200-bp rows are centred and cut
    metrics = evaluate_table(model, table, baseline=True, by="gc")
    # the GC-shifted negatives: composition alone separates them
    assert metrics["baseline_auroc"] > 0.95
    assert metrics["margin_over_baseline"] == pytest.approx(
        metrics["auroc"] - metrics["baseline_auroc"]
    )
    strata = [k for k in metrics if k.startswith("gc[")]
    assert len(strata) == 4 and all(k.endswith("/auroc") for k in strata)
    table.to_csv(tmp_path / "t.csv", index=False)
    main(["model=ctcf-peaks", f"table={tmp_path / 't.csv'}", "baseline=true"])
    assert "margin_over_baseline\t" in capsys.readouterr().out


def test_gc_matched_evaluation_of_regions(tmp_path):
    from seqnn.inference.evaluate import evaluate_regions
    from seqnn.inference.pretrained import load_pretrained

    rng = np.random.default_rng(0)
    contigs = {"chr1": "".join(rng.choice(list("ACGT"), 50_000))}
    fasta = write_fasta(tmp_path / "g.fa", contigs)
    starts = np.arange(20) * 2_000 + 500
    regions = pd.DataFrame(
        {"chrom": "chr1", "start": starts, "end": starts + 100, "label": np.arange(20) % 2}
    )
    model = load_pretrained("ctcf-peaks")
    metrics = evaluate_regions(model, fasta, regions, gc_matched=True, progress=False)
    assert 0 <= metrics["auroc_gc_matched"] <= 1


def test_a_pretrained_model_is_scored_beside_the_baseline_with_and_without_leaks(leaky_table):
    from seqnn.cli.data_qc import add_model
    from seqnn.inference.pretrained import load_pretrained
    from seqnn.qc import run_qc, table_data

    table = pd.read_csv(leaky_table)
    data = table_data(table, ["label"])
    result = run_qc(data)
    curves = add_model(result, load_pretrained("ctcf-peaks"), data)  # target "label"
    f = result.figures
    assert set(curves) == {"label"} and len(curves["label"][0]) == len(data.split["test"])
    assert f["margin_over_baseline"]["label"] == pytest.approx(
        f["model_test_auroc"]["label"] - f["baseline_test_auroc"]["label"], abs=1e-5
    )
    assert f["test_rows_without_leaks"] == len(data.split["test"]) - 6
    assert set(f["model_test_auroc_by_gc"]["label"]) == {
        k for k in f["model_test_auroc_by_gc"]["label"]
    }
    assert 0 <= f["model_test_auroc_without_leaks"]["label"] <= 1


def test_seqnn_qc_help_is_its_own():
    done = seqnn_qc("--help")
    assert done.returncode == 0 and done.stdout.startswith("seqnn-qc: check a training set")
    assert "pretrained=PACKAGE" in done.stdout
