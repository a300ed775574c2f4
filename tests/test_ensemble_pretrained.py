"""seqnn-ensemble: independently trained packages averaged into one pretrained model."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seqnn.cli.ensemble import main
from seqnn.data.encoding import one_hot
from seqnn.inference.ensemble import ensemble_pretrained
from seqnn.inference.predict import predict_sequences
from seqnn.inference.pretrained import PretrainedError, load_pretrained, save_pretrained
from seqnn.models import BassetCNN, Ensemble

LENGTH = 40


def package(folder: Path, seed: int, **spec) -> Path:
    torch.manual_seed(seed)
    net = BassetCNN(n_targets=2, n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8])
    card = {"test_metrics": {"test/auroc": 0.5 + seed / 100}}
    spec = {"targets": ["a", "b"], "threshold": 0.4, **spec}
    return save_pretrained(net.eval(), folder, input_length=LENGTH, card=card, **spec)


def sequences(n: int = 6) -> list[str]:
    rng = np.random.default_rng(1)
    return ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(n)]


@pytest.fixture
def members(tmp_path) -> list[Path]:
    return [package(tmp_path / "runs" / str(k) / "model", seed=k) for k in range(3)]


def test_averages_the_members_logits_and_round_trips(members, tmp_path):
    model = ensemble_pretrained([str(m) for m in members])
    x = torch.from_numpy(one_hot(sequences()))
    with torch.no_grad():
        logits = [load_pretrained(m).net(x) for m in members]
        expected = torch.sigmoid(torch.stack(logits).mean(0))
        torch.testing.assert_close(model(x), expected)
        # not the mean of the probabilities, and not any one member
        assert not torch.allclose(model(x), torch.sigmoid(torch.stack(logits)).mean(0))
        assert not torch.allclose(expected, torch.sigmoid(logits[0]))
    assert isinstance(model.net, Ensemble) and len(model.net.members) == 3
    assert model.targets == ["a", "b"] and model.threshold == 0.4
    assert model.input_length == LENGTH

    saved = save_pretrained(model, tmp_path / "ensemble")
    again = load_pretrained(saved)
    with torch.no_grad():
        torch.testing.assert_close(again(x), expected)
    card = json.loads((saved / "seqnn.json").read_text())["card"]
    assert [m["source"] for m in card["ensemble_of"]] == [str(m) for m in members]
    assert card["ensemble_of"][2]["test_metrics"] == {"test/auroc": 0.52}
    table = predict_sequences(again, sequences(3))
    assert list(table.columns[-2:]) == ["a_pred", "b_pred"]


def test_cli_expands_a_pattern(members, tmp_path, capsys):
    out = tmp_path / "cv_ensemble"
    main([f"models={tmp_path}/runs/*/model", f"out={out}"])
    assert "3 members" in capsys.readouterr().out
    model = load_pretrained(out)
    x = torch.from_numpy(one_hot(sequences()))
    direct = ensemble_pretrained(members)
    with torch.no_grad():
        torch.testing.assert_close(model(x), direct(x))


@pytest.mark.parametrize(
    ("field", "spec"),
    [
        ("targets", {"targets": ["a", "c"]}),
        ("threshold", {"threshold": 0.6}),
        ("task", {"task": "multilabel"}),
    ],
)
def test_members_that_disagree_are_refused(members, tmp_path, field, spec):
    other = package(tmp_path / "other", seed=9, **spec)
    with pytest.raises(
        PretrainedError, match=rf"other: {field} .* differs from .*runs/0/model"
    ) as e:
        ensemble_pretrained([members[0], other])
    # a threshold can be the ensemble's own; the other fields cannot
    assert ("threshold=<probability>" in str(e.value)) == (field == "threshold")


def test_no_threshold_agrees_with_one_of_half(tmp_path):
    old = package(tmp_path / "old", seed=0, threshold=None)  # a package from before thresholds
    new = package(tmp_path / "new", seed=1, threshold=0.5)
    assert ensemble_pretrained([old, new]).threshold == 0.5
    with pytest.raises(PretrainedError, match="threshold 0.4 differs from .*old's 0.5"):
        ensemble_pretrained([old, package(tmp_path / "other", seed=2)])


def test_threshold_sets_the_ensembles_own_for_members_tuned_apart(members, tmp_path):
    other = package(tmp_path / "other", seed=9, threshold=0.7)  # members[0] says 0.4
    out = tmp_path / "tuned"
    main([f"models={members[0]},{other}", f"out={out}", "threshold=0.62"])
    assert load_pretrained(out).threshold == 0.62
    with pytest.raises(PretrainedError, match=r"threshold=1.5: a probability in \(0, 1\)"):
        ensemble_pretrained([members[0], other], threshold=1.5)
    regression = [
        package(tmp_path / f"r{k}", seed=k, task="regression", threshold=None) for k in range(2)
    ]
    with pytest.raises(PretrainedError, match="for binary or multilabel models .*regression"):
        ensemble_pretrained(regression, threshold=0.5)


def test_input_length_must_agree(members, tmp_path):
    torch.manual_seed(0)
    net = BassetCNN(n_targets=2, n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8])
    other = save_pretrained(net, tmp_path / "long", input_length=80, targets=["a", "b"])
    with pytest.raises(PretrainedError, match="input_length 80 differs"):
        ensemble_pretrained([members[0], other])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models={runs}/0/model", "out={out}"], "at least two models"),
        (["models={runs}/nothing*/model", "out={out}"], "matches nothing"),
        (["models={runs}/0/model,{runs}/1/model"], "missing setting(s): out=..."),
        (["models={runs}/0/model,{runs}/1/model", "out={out}", "rc=true"], "setting 'rc=true'"),
        (["models={runs}/0/model,{runs}/missing", "out={out}"], "no such model folder"),
        (["models={runs}/0/model,{runs}/0/model", "out={out}"], "the same model as"),
        (["models={runs}/*/model,{runs}/1/model", "out={out}"], "the same model as"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(members, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    argv = [a.format(runs=tmp_path / "runs", out=out) for a in args]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("seqnn-ensemble: error:") and message in err
    assert err.count("seqnn-ensemble") == 1  # the prefix once
    assert not out.exists()


def test_models_without_logits_to_average_are_refused(tmp_path):
    pair = [
        package(tmp_path / str(k), seed=k, task="autoencoder", threshold=None) for k in range(2)
    ]
    with pytest.raises(PretrainedError, match="task 'autoencoder': only binary"):
        ensemble_pretrained(pair)


def test_cli_brackets_list_or_pattern(members, tmp_path):
    runs = tmp_path / "runs"
    main([f"models=[{runs}/0/model,{runs}/2/model]", f"out={tmp_path / 'listed'}"])
    assert len(load_pretrained(tmp_path / "listed").net.members) == 2
    main([f"models={runs}/[01]/model", f"out={tmp_path / 'pattern'}"])  # a character class
    assert len(load_pretrained(tmp_path / "pattern").net.members) == 2


def test_cli_never_replaces_an_existing_folder(members, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in members[0].iterdir()}
    with pytest.raises(SystemExit) as exit_:
        main([f"models={members[0]},{members[1]}", f"out={members[0]}"])
    assert exit_.value.code == 2
    assert "already exists" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in members[0].iterdir()} == before


def test_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    from seqnn.atomic import atomic_folder

    with atomic_folder(tmp_path / "done") as tmp:
        (tmp / "a").write_text("1")
        assert not (tmp_path / "done").exists()  # nothing under the name while writing
    assert (tmp_path / "done" / "a").read_text() == "1"
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "failed") as tmp:
        (tmp / "a").write_text("1")
        raise RuntimeError("disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done"]  # no temp folder left
    with pytest.raises(FileExistsError), atomic_folder(tmp_path / "done"):
        pass
