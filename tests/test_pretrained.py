"""Pretrained packages: save -> load round trip, the spec, and refusing unsafe files."""

import json
import pickle

import numpy as np
import pytest
import torch

import seqnn
from seqnn.data.encoding import EncodingPolicy
from seqnn.inference.pretrained import (
    FORMAT_VERSION,
    SPEC_FILE,
    WEIGHTS_FILE,
    PretrainedError,
    PretrainedModel,
    load_pretrained,
    read_spec,
    save_pretrained,
)
from seqnn.models import BassetCNN, ConvRNN, ReverseComplementAverage
from seqnn.models.spec import SpecError, build_network, network_spec


def tiny_cnn(n_targets: int = 2) -> BassetCNN:
    torch.manual_seed(0)
    return BassetCNN(
        n_targets=n_targets, n_filters=[8, 8], kernel_sizes=5, pool_sizes=2, n_hidden=[8]
    ).eval()


@pytest.fixture
def package(tmp_path):
    folder = tmp_path / "pkg"
    save_pretrained(
        tiny_cnn(),
        folder,
        input_length=64,
        targets=["open", "bound"],
        task="multilabel",
        policy=EncodingPolicy(n="quarter"),
        card={"training_data": "synthetic", "test_metrics": {"test/auroc": 0.5}},
    )
    return folder


def random_codes(n: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 5, (n, length), np.uint8))


def test_save_load_gives_bit_identical_predictions(package):
    net = tiny_cnn()
    model = load_pretrained(package)
    assert isinstance(model, PretrainedModel) and not model.training
    codes = random_codes(16, 64)
    with torch.no_grad():
        expected = torch.sigmoid(net(model.one_hot(codes)))
        assert torch.equal(model(codes), expected)
    # saving the loaded model again keeps weights and spec
    again = load_pretrained(model.save(package.parent / "again"))
    with torch.no_grad():
        assert torch.equal(again(codes), model(codes))
    assert again.spec == model.spec


def test_spec_round_trips_and_is_human_readable(package):
    data = json.loads((package / SPEC_FILE).read_text())
    assert data["format"] == "seqnn-pretrained" and data["format_version"] == FORMAT_VERSION
    assert data["network"]["_target_"] == "seqnn.models.bassetcnn.BassetCNN"
    assert data["network"]["n_filters"] == [8, 8]
    assert data["input_length"] == 64 and data["alphabet"] == "ACGT"
    assert data["targets"] == ["open", "bound"] and data["task"] == "multilabel"
    assert data["output_transform"] == "sigmoid"
    assert data["policy"] == {"n": "quarter", "iupac": "fractions"}
    assert data["seqnn_version"] == seqnn.__version__
    assert data["card"]["training_data"] == "synthetic" and "date" in data["card"]
    spec = read_spec(package / SPEC_FILE)
    assert spec.policy == EncodingPolicy(n="quarter")
    # the policy travels: N is 0.25 per base in the loaded model
    model = load_pretrained(package)
    assert torch.allclose(
        model.one_hot(torch.tensor([[4]], dtype=torch.uint8)), torch.tensor(0.25)
    )


def test_network_spec_round_trips_nested_networks():
    net = ReverseComplementAverage(ConvRNN(n_targets=3, n_filters=8, hidden_size=4, n_hidden=[4]))
    spec = network_spec(net)
    assert spec["net"]["_target_"].endswith("ConvRNN")
    rebuilt = build_network(json.loads(json.dumps(spec)))
    rebuilt.load_state_dict(net.state_dict())
    x = torch.rand(2, 4, 100)
    net.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(net(x), rebuilt(x))


@pytest.mark.parametrize("target", ["os.system", "builtins.eval", "seqnn.models.layers.torch"])
def test_spec_targets_outside_seqnn_models_are_refused(tmp_path, package, target):
    data = json.loads((package / SPEC_FILE).read_text())
    data["network"] = {"_target_": target, "command": "touch hacked"}
    (package / SPEC_FILE).write_text(json.dumps(data))
    with pytest.raises(PretrainedError, match="refusing|unknown"):
        load_pretrained(package)
    with pytest.raises(SpecError):
        build_network({"_target_": target})


def test_plain_module_without_recorded_config_needs_network_argument(tmp_path):
    with pytest.raises(PretrainedError, match="network="):
        save_pretrained(torch.nn.Conv1d(4, 1, 3), tmp_path / "x", input_length=10)


def test_card_numbers_of_numpy_or_torch_are_saved_and_other_objects_write_nothing(tmp_path):
    net = BassetCNN(n_filters=[4], kernel_sizes=5, pool_sizes=2, n_hidden=[4])
    card = {"auroc": np.float32(0.5), "mcc": torch.tensor(0.25), "n": np.int64(3)}
    folder = save_pretrained(net, tmp_path / "ok", input_length=20, card=card)
    saved = json.loads((folder / SPEC_FILE).read_text())["card"]
    assert (saved["auroc"], saved["mcc"], saved["n"]) == (0.5, 0.25, 3)
    with pytest.raises(PretrainedError, match="card is not JSON: set"):
        save_pretrained(net, tmp_path / "bad", input_length=20, card={"x": {1, 2}})
    assert not (tmp_path / "bad").exists()


def test_missing_weights_missing_spec_and_newer_spec_are_clear_errors(package):
    (package / WEIGHTS_FILE).rename(package / "elsewhere")
    with pytest.raises(PretrainedError, match=f"{WEIGHTS_FILE}.*no weights file|no weights"):
        load_pretrained(package)
    (package / "elsewhere").rename(package / WEIGHTS_FILE)
    data = json.loads((package / SPEC_FILE).read_text())
    data.update(format_version=FORMAT_VERSION + 1, seqnn_version="9.0.0")
    (package / SPEC_FILE).write_text(json.dumps(data))
    with pytest.raises(PretrainedError, match="seqnn 9.0.0.*upgrade seqnn"):
        load_pretrained(package)
    (package / SPEC_FILE).unlink()
    with pytest.raises(PretrainedError, match="no spec file"):
        load_pretrained(package)
    with pytest.raises(PretrainedError, match="no such model"):
        load_pretrained(package / "nowhere")


def test_weights_that_do_not_fit_the_spec_are_refused(tmp_path, package):
    other = tmp_path / "other"
    save_pretrained(tiny_cnn(n_targets=5), other, input_length=64)
    (package / WEIGHTS_FILE).write_bytes((other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(PretrainedError, match="do not fit"):
        load_pretrained(package)


class _Payload:
    """Unpickling this would run ``open(<path>, 'w')``: the file must never appear."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the file is refused anyway
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, package):
    marker = tmp_path / "pwned"
    for name in ("evil.ckpt", "evil.pt"):
        bad = tmp_path / name
        with open(bad, "wb") as fh:
            pickle.dump({"state_dict": _Payload(marker)}, fh)
        with pytest.raises(PretrainedError, match="refused"):
            load_pretrained(bad, spec=package / SPEC_FILE)
        torch_style = tmp_path / f"torch_{name}"
        torch.save({"state_dict": _Payload(marker)}, torch_style)
        with pytest.raises(PretrainedError, match="refused"):
            load_pretrained(torch_style, spec=package / SPEC_FILE)
    assert not marker.exists()
    # a pickle disguised as safetensors is not readable either
    disguised = tmp_path / "disguised"
    disguised.mkdir()
    (disguised / SPEC_FILE).write_text((package / SPEC_FILE).read_text())
    (disguised / WEIGHTS_FILE).write_bytes((tmp_path / "evil.ckpt").read_bytes())
    with pytest.raises(PretrainedError, match="safetensors"):
        load_pretrained(disguised)
    assert not marker.exists()


def test_lightning_checkpoint_loads_with_weights_only(tmp_path, package):
    net = tiny_cnn()
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    ckpt.parent.mkdir(parents=True)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, ckpt)
    # spec found in the run's model/ folder
    (tmp_path / "run" / "model").mkdir()
    (tmp_path / "run" / "model" / SPEC_FILE).write_text((package / SPEC_FILE).read_text())
    model = load_pretrained(ckpt)
    codes = random_codes(4, 64)
    with torch.no_grad():
        assert torch.equal(model.net(model.one_hot(codes)), net(model.one_hot(codes)))
    (tmp_path / "run" / "model" / SPEC_FILE).unlink()
    with pytest.raises(PretrainedError, match="pass spec="):
        load_pretrained(ckpt)


def test_shipped_model_predicts_real_promoters_above_background():
    from seqnn.data.embedded import ecoli_fasta, ecoli_promoter_intervals
    from seqnn.inference.predict import predict_regions

    model = seqnn.load_pretrained("ecoli-sigma70")
    assert model.spec.card["test_metrics"]["test/auroc"] > 0.85
    assert model.targets == ["label"] and model.input_length == 81
    table = ecoli_promoter_intervals()
    preds = predict_regions(model, ecoli_fasta(), table)
    score = preds["label_pred"].to_numpy()
    pos, neg = score[table["label"] == 1], score[table["label"] == 0]
    auroc = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc > 0.9, auroc


def ctcf_sample():
    from seqnn.data.embedded import ctcf_table

    return ctcf_table(n=300, seed=1)  # peaks and fresh shuffles of them


def bsubtilis_rows():
    import pandas as pd

    from seqnn.data.embedded import cnnprom_table

    return pd.read_csv(cnnprom_table("bsubtilis"))


@pytest.mark.parametrize(
    ("name", "rows", "length"),
    [("ctcf-peaks", ctcf_sample, 100), ("bsubtilis-promoters", bsubtilis_rows, 81)],
)
def test_shipped_models_load_and_separate_their_classes(name, rows, length):
    """A sanity check on rows mostly seen in training (the card holds the held-out metrics)."""
    from seqnn.inference.predict import predict_sequences

    model = seqnn.load_pretrained(name)
    assert model.input_length == length and model.targets == ["label"]
    card = model.spec.card
    assert {"reproduce", "training_data", "split", "test_metrics"} <= card.keys()
    assert card["test_metrics"]["test/auroc"] > 0.9
    table = rows()
    score = predict_sequences(model, table["sequence"].tolist())["label_pred"].to_numpy()
    pos, neg = score[table["label"] == 1], score[table["label"] == 0]
    auroc = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc > 0.9, auroc


def test_spec_says_whether_the_model_is_strand_specific(tmp_path, package):
    assert seqnn.load_pretrained("ecoli-sigma70").spec.strand_specific is True  # use_strand
    data = json.loads((package / SPEC_FILE).read_text())
    assert data["strand_specific"] is None  # not said when saved
    del data["strand_specific"]  # a spec written before the field loads as before
    (package / SPEC_FILE).write_text(json.dumps(data))
    assert load_pretrained(package).spec.strand_specific is None
    saved = save_pretrained(load_pretrained(package), tmp_path / "s", strand_specific=True)
    assert load_pretrained(saved).spec.strand_specific is True
    (package / SPEC_FILE).write_text(json.dumps({**data, "strand_specific": "yes"}))
    with pytest.raises(PretrainedError, match="strand_specific 'yes' is not true, false or null"):
        load_pretrained(package)


def test_supervised_module_saves_its_decision_threshold(tmp_path):
    from torch import nn

    from seqnn.tasks.supervised import SupervisedModule

    def module(threshold: float | None, task: str = "binary") -> SupervisedModule:
        kw = {} if threshold is None else {"threshold": threshold}
        return SupervisedModule(
            tiny_cnn(1), nn.BCEWithLogitsLoss(), torch.optim.Adam, task=task, **kw
        )

    saved = save_pretrained(module(0.3), tmp_path / "a", input_length=64)
    assert load_pretrained(saved).threshold == pytest.approx(0.3)
    saved = save_pretrained(module(None), tmp_path / "b", input_length=64)
    assert load_pretrained(saved).threshold == 0.5  # the default, recorded
    saved = save_pretrained(module(None, "regression"), tmp_path / "c", input_length=64)
    assert read_spec(saved / SPEC_FILE).threshold is None  # no calls for a regression model
