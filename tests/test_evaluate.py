"""seqnn-evaluate: a pretrained model's task metrics on labelled sequences or regions."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import matthews_corrcoef, r2_score, roc_auc_score

from seqnn.cli.evaluate import main
from seqnn.data import write_fasta
from seqnn.inference.evaluate import bootstrap_interval, evaluate_regions, evaluate_table, score
from seqnn.inference.predict import predict_sequences
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.models import BassetCNN

LENGTH = 40


def package(tmp_path, n_targets=1, **spec):
    torch.manual_seed(0)
    net = BassetCNN(n_targets=n_targets, n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8])
    return save_pretrained(net.eval(), tmp_path / "model", input_length=LENGTH, **spec)


def labelled(n=60, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(n)]
    return pd.DataFrame({"sequence": seqs, "y": rng.integers(0, 2, n), "z": rng.normal(size=n)})


def test_binary_metrics_match_sklearn_at_the_models_threshold(tmp_path):
    table = labelled()
    p = predict_sequences(load_pretrained(package(tmp_path, targets=["y"])), table.sequence)
    p = p["y_pred"].to_numpy()
    cut = float(np.quantile(p, 0.4))  # a threshold inside the scores, calling others than 0.5
    assert ((p > cut) != (p > 0.5)).any()
    model = load_pretrained(save_pretrained(load_pretrained(tmp_path / "model"), tmp_path / "t",
                                            threshold=cut))  # fmt: skip
    metrics = evaluate_table(model, table)
    assert metrics["auroc"] == pytest.approx(roc_auc_score(table.y, p), abs=1e-6)
    assert metrics["mcc"] == pytest.approx(matthews_corrcoef(table.y, p > cut), abs=1e-6)
    positives = table.y.to_numpy() == 1
    assert metrics["sensitivity"] == pytest.approx((p[positives] > cut).mean())
    assert metrics["specificity"] == pytest.approx((p[~positives] <= cut).mean())


def test_one_class_truth_leaves_ranking_metrics_undefined(tmp_path):
    model = load_pretrained(package(tmp_path, targets=["y"]))
    table = labelled().assign(y=1)  # positives only: sensitivity is a fair question, AUROC not
    p = predict_sequences(model, table.sequence)["y_pred"].to_numpy()
    with pytest.warns(UserWarning, match="truth of y holds one class only"):
        metrics = evaluate_table(model, table)
    assert np.isnan(metrics["auroc"]) and np.isnan(metrics["auprc"])
    assert metrics["sensitivity"] == pytest.approx((p > 0.5).mean())


def test_one_class_target_of_several_is_left_out_of_the_mean(tmp_path):
    model = load_pretrained(package(tmp_path, n_targets=2, targets=["y", "w"], task="multilabel"))
    table = labelled().assign(w=0)
    p = predict_sequences(model, table.sequence)["y_pred"].to_numpy()
    with pytest.warns(UserWarning, match="truth of w holds one class only"):
        metrics = evaluate_table(model, table)
    assert np.isnan(metrics["auroc/w"]) and np.isnan(metrics["auprc/w"])
    assert metrics["auroc/y"] == pytest.approx(roc_auc_score(table.y, p), abs=1e-6)
    assert metrics["auroc"] == pytest.approx(metrics["auroc/y"])


def test_regression_and_truth_named_by_hand(tmp_path):
    model = load_pretrained(package(tmp_path, targets=["score"], task="regression"))
    table = labelled()
    p = predict_sequences(model, table.sequence.tolist())["score_pred"].to_numpy()
    metrics = evaluate_table(model, table, truth=["z"])
    assert metrics["r2"] == pytest.approx(r2_score(table.z, p), abs=1e-5)
    assert set(metrics) == {"pearson", "spearman", "r2"}


def test_regions_score_as_their_sequences(tmp_path):
    model = load_pretrained(package(tmp_path, targets=["y"]))
    table = labelled(40)
    write_fasta(tmp_path / "g.fa", {"chr1": "".join(table.sequence)})
    bed = pd.DataFrame(
        {"chrom": "chr1", "start": np.arange(40) * LENGTH, "end": np.arange(1, 41) * LENGTH}
    ).assign(y=table.y)
    bed.to_csv(tmp_path / "r.tsv", sep="\t", index=False)
    from_regions = evaluate_regions(model, tmp_path / "g.fa", tmp_path / "r.tsv")
    assert from_regions == pytest.approx(evaluate_table(model, table))
    # an old prediction column in the file is neither truth nor prediction
    bed.assign(y_pred=0.0).to_csv(tmp_path / "old.tsv", sep="\t", index=False)
    assert evaluate_regions(model, tmp_path / "g.fa", tmp_path / "old.tsv") == pytest.approx(
        from_regions
    )
    stale = bed.rename(columns={"y": "truth"}).assign(y_pred=0.0)
    stale.to_csv(tmp_path / "stale.tsv", sep="\t", index=False)
    assert evaluate_regions(
        model, tmp_path / "g.fa", tmp_path / "stale.tsv", truth=["truth"]
    ) == pytest.approx(from_regions)
    bed.loc[3, "y"] = 7  # file line 5: the header is line 1
    bed.to_csv(tmp_path / "seven.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="seven.tsv:5: truth column 'y' holds 7"):
        evaluate_regions(model, tmp_path / "g.fa", tmp_path / "seven.tsv")
    # a file without the truth: an error, not the predictions scored against themselves
    bed.drop(columns="y").to_csv(tmp_path / "plain.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"plain.tsv: no truth column\(s\) \['y'\]"):
        evaluate_regions(model, tmp_path / "g.fa", tmp_path / "plain.tsv")


def test_cli_prints_and_writes_json(tmp_path, capsys):
    folder = package(tmp_path, targets=["y"])
    labelled().to_csv(tmp_path / "t.csv", index=False)
    main([f"model={folder}", f"table={tmp_path / 't.csv'}", f"out={tmp_path / 'm.json'}"])
    *lines, last = capsys.readouterr().out.splitlines()
    assert last == f"seqnn-evaluate: wrote {tmp_path / 'm.json'}"
    printed = dict(line.split("\t") for line in lines)
    written = json.loads((tmp_path / "m.json").read_text())
    assert set(printed) == set(written) >= {"auroc", "auprc", "mcc", "sensitivity"}
    assert float(printed["auroc"]) == pytest.approx(written["auroc"], abs=1e-4)
    # ci=0.9: each metric's bootstrap interval too, around it
    main(
        [f"model={folder}", f"table={tmp_path / 't.csv'}", f"out={tmp_path / 'c.json'}", "ci=0.9"]
    )
    with_ci = json.loads((tmp_path / "c.json").read_text())
    assert with_ci.keys() == written.keys() | {
        f"{k}/ci_{e}" for k in written for e in ("low", "high")
    }
    for name in written:
        assert with_ci[f"{name}/ci_low"] <= with_ci[name] <= with_ci[f"{name}/ci_high"]
    assert with_ci["mcc/ci_low"] < with_ci["mcc/ci_high"]


def calls(n_pos: int, n_neg: int, tp: int, tn: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and truth with ``tp`` of ``n_pos`` positives and ``tn`` of ``n_neg`` negatives
    called right at 0.5, ranked at random within each group."""
    rng = np.random.default_rng(1)
    truth = np.r_[np.ones(n_pos), np.zeros(n_neg)][:, None]
    high, low = rng.uniform(0.5, 1, n_pos + n_neg), rng.uniform(0, 0.5, n_pos + n_neg)
    hit = np.r_[np.arange(n_pos) < tp, np.arange(n_neg) >= tn]  # called positive
    return np.where(hit, high, low)[:, None], truth


def test_bootstrap_interval_matches_the_binomial_and_narrows_with_parts(tmp_path):
    model = load_pretrained(package(tmp_path, targets=["y"]))
    scores, truth = calls(400, 1000, tp=360, tn=950)  # Sn 0.90, Sp 0.95
    ci = bootstrap_interval(model, [(scores, truth)], level=0.95, resamples=1000)
    few = bootstrap_interval(model, [(scores, truth)], resamples=50, seed=3)
    assert few == bootstrap_interval(model, [(scores, truth)], resamples=50, seed=3)  # seeded
    for name, p, n in (("sensitivity", 0.9, 400), ("specificity", 0.95, 1000)):
        half = 1.96 * np.sqrt(p * (1 - p) / n)  # the normal approximation of the binomial
        assert ci[f"{name}/ci_low"] == pytest.approx(p - half, abs=0.2 * half)
        assert ci[f"{name}/ci_high"] == pytest.approx(p + half, abs=0.2 * half)
    point = score(model, scores, truth)  # the point estimates lie inside their intervals
    for name, value in point.items():
        assert ci[f"{name}/ci_low"] <= value <= ci[f"{name}/ci_high"], name
    # the mean over two test folds (here the same rows twice) varies ~1/sqrt(2) as much
    two = bootstrap_interval(model, [(scores, truth)] * 2, level=0.95, resamples=1000)
    width = lambda c: c["mcc/ci_high"] - c["mcc/ci_low"]  # noqa: E731
    assert width(two) / width(ci) == pytest.approx(2**-0.5, abs=0.1)
    with pytest.raises(ValueError, match="level 95 must lie in"):
        bootstrap_interval(model, [(scores, truth)], level=95)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["table={t}"], "missing setting(s): model=..."),
        (["model={m}"], "give table=<csv|tsv>"),  # no data
        (["model={m}", "table={t}", "fasta=g.fa"], "not both"),
        (["model={m}", "fasta=g.fa"], "not both"),  # regions missing
        (["model={m}", "table={t}", "cutoff=0.3"], "unknown setting 'cutoff=0.3'"),
        (["model={m}", "table={t}", "batch_size=many"], "batch_size='many': give a whole"),
        (["model={m}", "table={t}", "rc=sideways"], "rc=sideways"),
        (["model={m}", "table={d}/nope.csv"], "nope.csv: no such table file"),
        (["model={m}", "table={t}", "truth=w"], "no truth column(s) ['w']"),
        (["model={m}", "table={t}", "truth=y,z"], "2 truth column(s)"),
        (["model={m}", "table={bad}"], "bad.csv:4: truth column 'y' holds 'yes', not a label"),
        (["model={m}", "table={two}"], "two.csv:3: truth column 'y' holds 2, not a label"),
        (["model={m}", "table={nos}"], "nos.csv:2: no sequence"),
        (["model={m}", "table={none}"], "none.csv: only a header row"),
        (["model={m}", "table={x}"], "x.csv:3', position 2: 'X' is not a DNA letter"),
        (["model={m}", "table={t}", "sequence_column=seq"], "no 'seq' column"),
        (["model={m}", "fasta=g.fa", "regions=r.bed", "sequence_column=s"], "is for table="),
        (["model={m}", "table={t}", "truth=a,"], "give column names"),
        (["model={m}", "table={t}", "table={t}"], "setting table given more than once"),
        (["model={m}", "table={t}", "ci=1.5"], "ci=1.5: give the interval's level in (0, 1)"),
        (["model={m}", "table={t}", "ci=wide"], "ci=wide: give the interval's level"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    folder = package(tmp_path, targets=["y"])
    labelled().to_csv(tmp_path / "t.csv", index=False)
    bad = labelled(5).astype({"y": object})
    bad.loc[2, "y"] = "yes"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    labelled(5).assign(y=[0, 2, 1, 0, 1]).to_csv(tmp_path / "two.csv", index=False)
    labelled(3).assign(sequence=["", "ACGT", "ACGT"]).to_csv(tmp_path / "nos.csv", index=False)
    labelled(0).to_csv(tmp_path / "none.csv", index=False)
    labelled(3).assign(sequence=["ACGT", "ACXT", "AC"]).to_csv(tmp_path / "x.csv", index=False)
    paths = {"m": folder, "t": tmp_path / "t.csv", "d": tmp_path, "bad": tmp_path / "bad.csv"}
    paths.update({k: tmp_path / f"{k}.csv" for k in ("two", "nos", "none", "x")})
    argv = [a.format(**paths) for a in args] + [f"out={tmp_path / 'm.json'}"]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("seqnn-evaluate: error:") and message in err, err
    assert not (tmp_path / "m.json").exists()


def test_models_without_scores_are_refused(tmp_path):
    model = load_pretrained(package(tmp_path, targets=["y"], task="autoencoder"))
    with pytest.raises(ValueError, match="only binary, multilabel, multiclass, regression"):
        evaluate_table(model, labelled())


def test_multiclass_takes_one_class_index_column(tmp_path):
    model = load_pretrained(package(tmp_path, 3, targets=["a", "b", "c"], task="multiclass"))
    table = labelled().assign(cls=np.random.default_rng(2).integers(0, 3, 60))
    p = predict_sequences(model, table.sequence.tolist()).to_numpy()
    metrics = evaluate_table(model, table, truth=["cls"])
    assert metrics["accuracy"] == pytest.approx((p.argmax(1) == table.cls).mean())
    with pytest.raises(ValueError, match="multiclass model needs truth=<column>"):
        evaluate_table(model, table)
    with pytest.raises(ValueError, match=r"2 truth column\(s\) .* give 1"):
        evaluate_table(model, table, truth=["cls", "y"])
    for value, shown in ((1.5, "1.5"), (3, "3"), (-1, "-1")):  # whole, in [0, 3)
        bad = table.astype({"cls": float}).copy()
        bad.loc[4, "cls"] = value
        with pytest.raises(ValueError, match=f"row 5: truth column 'cls' holds {shown}"):
            evaluate_table(model, bad, truth=["cls"])
