"""The training app end to end: ``train(cfg)`` for every model and experiment, what a run
leaves behind, exact resume, two-process DDP on the CPU and the installed wheel's CLI.

Runs use the embedded E. coli promoter data, tiny networks (overrides), a batch or a few
batches, and tmp output folders.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import hydra
import lightning as L
import numpy as np
import pytest
import torch
from genome_files import experiment_overrides
from hydra_run import CONFIGS, compose_train, options, seqnn_cache  # noqa: F401
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, open_dict
from safetensors.torch import load_file
from torch.utils.data import DataLoader, TensorDataset

from seqnn.callbacks import RNGStateCheckpoint
from seqnn.cli import train as train_module
from seqnn.cli.train import Resume, check_required, resume_checkpoint, train
from seqnn.inference.predict import predict_sequences
from seqnn.inference.pretrained import PretrainedError

REPO = Path(__file__).resolve().parents[1]

TINY = {  # small enough that a batch takes milliseconds
    "cnn": ["model.n_filters=[8,8,8]", "model.n_hidden=[8]"],
    "kmer_cnn": ["model.n_filters=8", "model.n_hidden=[8]"],
    "spectrum_mlp": ["model.ks=[1,2,3]", "model.n_hidden=[8]"],
    "ensemble": [
        "model.members.learned.n_filters=8",
        "model.members.learned.n_hidden=[8]",
        "model.members.learned_wide=null",
        "model.members.spectrum.ks=[1,2,3]",
        "model.members.spectrum.n_hidden=[8]",
    ],
    "ensemble5": [
        f"model.members.{m}.{k}"
        for m in ("learned", "learned_wide", "learned2", "learned_wide2")
        for k in ("n_filters=8", "n_hidden=[8]")
    ]
    + ["model.members.spectrum.ks=[1,2,3]", "model.members.spectrum.n_hidden=[8]"],
    "ensemble_cnn": [
        "model.members.learned.n_filters=[8,8,8]",
        "model.members.learned.n_hidden=[8]",
        "model.members.spectrum.ks=[1,2,3]",
        "model.members.spectrum.n_hidden=[8]",
    ],
    "cnn_rc": ["model.net.n_filters=[8,8,8]", "model.net.n_hidden=[8]"],
    "haplotype_mean": ["model.net.n_filters=[8,8,8]", "model.net.n_hidden=[8]"],
    "resnet": ["model.n_filters=8", "model.n_layers=2"],
    "rnn": ["model.n_filters=8", "model.hidden_size=8", "model.n_hidden=[8]"],
    "transformer": [
        "model.d_model=16",
        "model.n_heads=2",
        "model.dim_feedforward=16",
        "model.n_layers=1",
    ],
    "autoencoder": ["model.n_filters=[8,8]", "model.latent_dim=4"],
    "finetune": ["init_from=ecoli-sigma70", "callbacks=finetune"],  # the shipped package's net
    "vae": ["model.n_filters=[8,8]", "model.latent_dim=4"],
}
QUIET = ["~callbacks.progress_bar", "+trainer.enable_progress_bar=false"]
FEW_BATCHES = [
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=2",
    "+trainer.limit_test_batches=2",
]


def compose_run(overrides: list[str], output_dir: Path) -> DictConfig:
    """train.yaml + overrides as ``seqnn-train`` would hand it to ``train``: the hydra node
    set (``${hydra:runtime.output_dir}`` is ``output_dir``), then removed from the config."""
    cfg = compose_train(overrides, output_dir)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def run_train(overrides: list[str], output_dir: Path) -> dict[str, float]:
    return train(compose_run(overrides, output_dir))


# ----------------------------------------------------------------------------- smoke runs
@pytest.mark.parametrize("model", options("model"))
def test_fast_dev_run_each_model(model, tmp_path, capsys):
    assert model in TINY, f"add tiny overrides for model/{model}.yaml to TINY"
    metrics = run_train([f"model={model}", *TINY[model], "++trainer.fast_dev_run=true"], tmp_path)
    assert torch.isfinite(torch.tensor(metrics["val/loss"]))
    assert json.loads((tmp_path / "metrics.json").read_text()) == pytest.approx(metrics)
    # fast_dev_run logs nowhere: the summary names no logger folder
    summary = capsys.readouterr().out.split("seqnn run finished")[-1]
    assert "None" not in summary and "tensorboard --logdir" not in summary


@pytest.mark.parametrize("experiment", options("experiment"))
def test_fast_dev_run_each_experiment(experiment, tmp_path):
    overrides = [f"experiment={experiment}", *experiment_overrides(experiment, tmp_path)]
    metrics = run_train([*overrides, "++trainer.fast_dev_run=true"], tmp_path)
    assert torch.isfinite(torch.tensor(metrics["val/loss"]))


def test_autoencoder_run_exports_its_model(tmp_path):
    """The default data has a target column; an autoencoder (no n_targets) still exports."""
    overrides = ["model=autoencoder", *TINY["autoencoder"], "trainer.max_epochs=1"]
    run_train([*overrides, *FEW_BATCHES, *QUIET], tmp_path)
    from seqnn.inference.pretrained import load_pretrained

    assert load_pretrained(tmp_path / "model").spec.task == "autoencoder"


def test_peak_files_name_the_targets(tmp_path):
    """The data's target names (peak-file stems) reach the metric keys and the exported model."""
    files = experiment_overrides("peaks_multilabel", tmp_path)
    overrides = ["experiment=peaks_multilabel", *files]
    metrics = run_train([*overrides, "trainer.max_epochs=1", *FEW_BATCHES, *QUIET], tmp_path)
    assert {"test/auroc/exp0", "test/auroc/exp1", "val/auroc/exp0"} <= metrics.keys()
    assert not any(k.endswith(("/0", "/1")) for k in metrics)
    from seqnn.inference.pretrained import read_spec

    assert read_spec(tmp_path / "model" / "seqnn.json").targets == ["exp0", "exp1"]


@pytest.mark.parametrize("model", ["cnn", "transformer"])
def test_input_length_null_is_measured_and_exported(model, tmp_path):
    """data.input_length=null: the data module measures the length (81 bp windows), the
    model's ${data.input_length} gets it, and the export after the fit records it (it used to
    ask the config and fail with "pass input_length=")."""
    overrides = [f"model={model}", *TINY[model], "data.input_length=null", "trainer.max_epochs=1"]
    run_train([*overrides, *FEW_BATCHES, *QUIET], tmp_path)
    from seqnn.inference.pretrained import load_pretrained, read_spec

    spec = read_spec(tmp_path / "model" / "seqnn.json")
    assert spec.input_length == 81 and spec.card["training_data"]["input_length"] == 81
    if model == "transformer":
        assert spec.network["max_input_length"] == 81
    assert predict_sequences(load_pretrained(tmp_path / "model"), ["ACGT" * 25]).shape == (1, 1)


def test_data_policy_from_the_config_is_trained_and_exported(tmp_path):
    """data.policy (the one place the N/IUPAC policy is set) reaches the exported spec, and
    the package predicts with it: the encoding the batches were trained with."""
    from seqnn.data.encoding import EncodingPolicy, one_hot
    from seqnn.inference.pretrained import load_pretrained

    overrides = [*TINY["cnn"], "data.policy.n=quarter", "data.policy.iupac=n"]
    run_train([*overrides, "trainer.max_epochs=1", *FEW_BATCHES, *QUIET], tmp_path)
    model = load_pretrained(tmp_path / "model")
    quarter = EncodingPolicy(n="quarter", iupac="n")
    assert model.spec.policy == quarter
    seqs = ["ACGTNNNNNNNNACGTRRRRYYYYACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTA"]
    with torch.no_grad():
        logits = {
            policy: model.net(torch.from_numpy(one_hot(seqs, policy=policy))).item()
            for policy in (quarter, EncodingPolicy())
        }
    predicted = predict_sequences(model, seqs).iloc[0, 0]
    assert predicted == pytest.approx(torch.sigmoid(torch.tensor(logits[quarter])).item())
    assert logits[quarter] != logits[EncodingPolicy()]  # the N columns do matter


@pytest.mark.parametrize("override", ["data.seq_len=200", "+data.length=1000", "model.seq_len=81"])
def test_renamed_keys_get_one_line_naming_the_new_key(override, capsys):
    from seqnn.cli.train import refuse_renamed_keys

    refuse_renamed_keys(["model=cnn", "data.input_length=81"])  # the new names pass
    with pytest.raises(SystemExit) as exit_:
        refuse_renamed_keys(["model=cnn", override])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    key = override.split("=")[0].lstrip("+")
    assert line.startswith(f"seqnn-train: error: {key}= is now ") and "input_length=" in line


def test_balanced_pos_weight_comes_from_the_training_rows(tmp_path):
    """pos_weight=balanced: each target's negatives / positives over the training windows
    (peak labels, computed per window) reach the loss, and the checkpoint keeps them."""
    files = experiment_overrides("peaks_multilabel", tmp_path)
    overrides = ["experiment=peaks_multilabel", *files, "+task.loss.pos_weight=balanced"]
    run_train([*overrides, "trainer.max_epochs=1", *FEW_BATCHES, *QUIET], tmp_path)
    saved = final_state(tmp_path)["loss.pos_weight"]
    datamodule = hydra.utils.instantiate(compose_run(overrides, tmp_path).data, _convert_="all")
    datamodule.setup()
    train = datamodule.datasets["train"]
    y = train.targets_of(np.arange(len(train)))
    expected = (len(y) - y.sum(0)) / y.sum(0)
    torch.testing.assert_close(saved, expected.float(), rtol=1e-5, atol=0)
    assert saved.shape == (2,) and (saved != 1).all()


def test_one_epoch_writes_logs_checkpoints_metrics_and_model(tmp_path, capsys):
    overrides = [*TINY["cnn"], "trainer.max_epochs=1", *FEW_BATCHES]
    metrics = run_train(overrides, tmp_path)
    assert "test/auroc" in metrics and "val/auroc" in metrics
    assert metrics["train/samples_per_s"] > 0  # the default callbacks' Throughput

    events = list((tmp_path / "tensorboard").glob("events.out.tfevents*"))
    assert events
    checkpoints = tmp_path / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file()
    (best,) = checkpoints.glob("best_epoch000*.ckpt")
    # checkpoints (with the RNG states) load without unpickling code
    ckpt = torch.load(best, map_location="cpu", weights_only=True)
    assert ckpt["callbacks"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == pytest.approx(metrics)

    weights = load_file(tmp_path / "model" / "model.safetensors")
    net_state = {k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()}
    assert weights.keys() == {k for k in net_state if k in weights} and weights
    for name, tensor in weights.items():
        assert torch.equal(tensor, net_state[name]), name
    # the exported package loads (no pickle) and its card holds the run's test metrics
    from seqnn.inference.pretrained import load_pretrained, read_spec

    spec = read_spec(tmp_path / "model" / "seqnn.json")
    assert spec.card["test_metrics"]["test/auroc"] == pytest.approx(metrics["test/auroc"])
    assert spec.input_length == 81 and spec.targets == ["label"] and spec.task == "binary"
    assert spec.strand_specific is True  # the promoters are read on their strand (use_strand)
    model = load_pretrained(tmp_path / "model")
    assert predict_sequences(model, ["ACGT" * 20 + "A"]).shape == (1, 1)

    out = capsys.readouterr().out
    summary = out[out.index("seqnn run finished") :]
    assert str(tmp_path) in summary
    for shown in (best, checkpoints / "last.ckpt", tmp_path / "model", tmp_path / "metrics.json"):
        assert str(shown) in summary
    assert "test/auroc" in summary and "tensorboard --logdir" in summary


def test_debug_fast_writes_no_checkpoint(tmp_path):
    run_train(["debug=fast", *TINY["cnn"]], tmp_path)  # configs/debug/fast.yaml: "no checkpoints"
    assert (tmp_path / "metrics.json").is_file()
    assert not list(tmp_path.rglob("*.ckpt"))


def test_weight_averaging_tests_the_averaged_weights(tmp_path):
    """With an EMA callback the test after fit scores the best checkpoint's averaged weights
    (what was validated and is exported), not the raw ones it also keeps."""
    from seqnn.cli.train import instantiate_task

    ema = [
        "+callbacks.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging",
        "+callbacks.ema.decay=0.5",
    ]
    overrides = [*TINY["cnn"], "trainer.max_epochs=2", *FEW_BATCHES, *QUIET, *ema]
    metrics = run_train(overrides, tmp_path)
    (best,) = (tmp_path / "checkpoints").glob("best_*.ckpt")
    ckpt = torch.load(best, map_location="cpu", weights_only=True)
    assert differing(ckpt["state_dict"], ckpt["current_model_state"])  # averaged != raw
    cfg = compose_run(overrides, tmp_path)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    plain = L.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, limit_test_batches=2
    )
    again = plain.test(instantiate_task(cfg, datamodule), datamodule=datamodule, ckpt_path=best)
    assert again[0]["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-5)


@pytest.mark.parametrize("rule", ["best_mcc", "calibrated"])
def test_tune_threshold_tests_and_exports_the_validation_rows_threshold(
    tmp_path, rule, monkeypatch
):
    """+callbacks.tune_threshold: the threshold its rule chooses on the tested weights'
    validation scores makes the test calls, is logged and is what the exported model's spec
    says. (A 3-batch model barely separates the classes, so the real calibrated rule would fall
    back to the best-MCC cut here: a stand-in rule records what it is given; the rule's own
    numerics are tests/test_threshold.py's.)"""
    from seqnn.tasks import threshold as rules

    given = []
    if rule == "calibrated":
        monkeypatch.setitem(rules.RULES, "calibrated", lambda t, p: given.append((t, p)) or 0.4242)
    from torchmetrics.functional.classification import binary_matthews_corrcoef

    from seqnn.cli.train import instantiate_task
    from seqnn.inference.pretrained import read_spec
    from seqnn.tasks.threshold import tune_threshold

    tune = [
        "++callbacks.tune_threshold._target_=seqnn.callbacks.TuneThreshold",
        f"++callbacks.tune_threshold.rule={rule}",
    ]
    overrides = [*TINY["cnn"], "trainer.max_epochs=1", "+trainer.limit_train_batches=3", *QUIET]
    metrics = run_train([*overrides, *tune], tmp_path)
    cfg = compose_run(overrides, tmp_path)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    module = instantiate_task(cfg, datamodule)
    (best,) = (tmp_path / "checkpoints").glob("best_*.ckpt")
    module.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    module.eval()

    def scored(loader) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            pairs = [(module.predict_step(x, 0)[:, 0], y[:, 0]) for x, y in loader]
        return torch.cat([p for p, _ in pairs]), torch.cat([y for _, y in pairs])

    p, y = scored(datamodule.val_dataloader())
    threshold = tune_threshold(y.numpy(), p.numpy(), rule)
    if rule == "calibrated":  # the rule the callback was given, on the validation scores
        ((t, scores),) = given[:1]
        assert threshold == 0.4242 and len(given) == 2
        assert np.allclose(t.ravel(), y.numpy()) and np.allclose(scores.ravel(), p.numpy())
    assert metrics["test/threshold"] == pytest.approx(threshold, abs=1e-6)
    assert abs(threshold - 0.5) > 1e-3  # a threshold of its own, not the default
    p, y = scored(datamodule.test_dataloader())
    mcc = binary_matthews_corrcoef(p, y.long(), threshold=threshold)
    assert metrics["test/mcc"] == pytest.approx(float(mcc), abs=1e-5)
    spec = read_spec(tmp_path / "model" / "seqnn.json")
    assert spec.threshold == pytest.approx(threshold, abs=1e-6)


# ----------------------------------------------------------------------------- fine-tuning
@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory) -> Path:
    """A pretrained package exported by a 1-epoch run of the tiny BassetCNN."""
    out = tmp_path_factory.mktemp("pretrain")
    run_train([*TINY["cnn"], "trainer.max_epochs=1", *FEW_BATCHES, *QUIET, "seed=7"], out)
    return out / "model"


def params(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def test_init_weights_starts_the_network_from_the_package(tiny_package, tmp_path):
    from seqnn.cli.train import init_from_pretrained, instantiate_task
    from seqnn.inference.pretrained import load_pretrained

    cfg = compose_run(TINY["cnn"], tmp_path)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    module = instantiate_task(cfg, datamodule)
    package = load_pretrained(tiny_package).net.state_dict()
    assert differing(module.net.state_dict(), package)  # a fresh net is not the package
    assert init_from_pretrained(module, str(tiny_package)) == []
    assert differing(module.net.state_dict(), package) == []


def test_init_from_fine_tunes_a_run_from_the_package(tiny_package, tmp_path):
    """seqnn-train init_from=<package>: with lr 0 the run ends where the package began."""
    overrides = [*TINY["cnn"], "trainer.max_epochs=1", *FEW_BATCHES, *QUIET]
    run_train([*overrides, f"init_from={tiny_package}", "task.optimizer.lr=0"], tmp_path / "a")
    from seqnn.inference.pretrained import load_pretrained

    start = params(load_pretrained(tiny_package).net)
    assert differing(params(load_pretrained(tmp_path / "a" / "model").net), start) == []


def test_init_from_another_network_names_the_tensors(tiny_package, tmp_path):
    from seqnn.inference.pretrained import PretrainedError, load_pretrained

    other_head = ["model.n_filters=[8,8,8]", "model.n_hidden=[16]"]
    overrides = [*other_head, "trainer.max_epochs=1", *FEW_BATCHES, *QUIET, "task.optimizer.lr=0"]
    with pytest.raises(
        PretrainedError,
        match=r"init_from: 3 of this network's tensors and 3 of the package's do not match .*"
        r"head.1.0.weight \(package 8x8 vs ours 16x8\).*init_strict=false",
    ):
        run_train([*overrides, f"init_from={tiny_package}"], tmp_path / "strict")
    # init_strict=false: all but the resized layer start from the package
    run_train([*overrides, f"init_from={tiny_package}", "init_strict=false"], tmp_path / "loose")
    start = params(load_pretrained(tiny_package).net)
    tuned = params(load_pretrained(tmp_path / "loose" / "model").net)
    assert tuned["head.1.0.weight"].shape == (16, 8)
    kept = [k for k in start if not k.startswith(("head.1.0.", "head.1.3.weight"))]
    assert "head.1.3.bias" in kept and len(kept) == len(start) - 3
    assert differing({k: tuned[k] for k in kept}, {k: start[k] for k in kept}) == []
    # a network with no parameter in common is refused even then
    ensemble = ["model=ensemble_cnn", *TINY["ensemble_cnn"], "init_strict=false"]
    with pytest.raises(PretrainedError, match="of the package's do not match"):
        run_train([*ensemble, f"init_from={tiny_package}", *QUIET], tmp_path / "other")


# ----------------------------------------------------------------------------- exact resume
RESUME = [
    "trainer=deterministic",
    *TINY["cnn"],  # keeps its dropout: the RNG state is part of what resume must restore
    "logger=csv",
    "test=false",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=2",
    *QUIET,
]


def final_state(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def differing(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """Run A: two epochs in one go."""
    out = tmp_path_factory.mktemp("resume-A")
    run_train([*RESUME, "trainer.max_epochs=2"], out)
    return out


def resumed(tmp_path: Path, stop: list[str], extra: list[str] = (), epochs: int = 2) -> Path:
    """Run B: stopped by ``stop``, then resumed from its last.ckpt in its own run folder (as
    ``seqnn-train ckpt_path=<run>/checkpoints/last.ckpt`` does)."""
    run = tmp_path / "B"
    run_train([*RESUME, *extra, *stop], run)
    last = run / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_train([*RESUME, *extra, f"trainer.max_epochs={epochs}", f"ckpt_path={last}"], run)
    # same run folder: ModelCheckpoint keeps its best score and best checkpoint
    assert not [w for w in caught if "dirpath has changed" in str(w.message)]
    return run


def test_resume_checkpoint_passes_lightnings_names_and_checks_files(tmp_path):
    for name in ("last", "best", "hpc"):
        assert resume_checkpoint(name) == Resume(name)
    assert resume_checkpoint(None) == Resume()
    for remote in ("registry:model:v1", "REGISTRY:m", "https://x.org/a.ckpt"):
        with pytest.raises(PretrainedError, match="local checkpoint file"):
            resume_checkpoint(remote)
    with pytest.raises(PretrainedError, match="no such checkpoint file"):
        resume_checkpoint(tmp_path / "none.ckpt")


class Payload:
    """An object whose unpickling writes a marker file: what a tampered checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_resume_hands_lightning_the_checked_contents_not_the_file(tmp_path, monkeypatch):
    """The file is checked with torch's safe load; a file swapped in afterwards (or an
    environment that forces full pickle, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1) must not reach
    Lightning's load. A local folder named like a URL is read as a local file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "httpruns").mkdir()
    good = tmp_path / "httpruns" / "last.ckpt"
    torch.save({"state_dict": {"w": torch.arange(3.0)}, "global_step": 7}, good)
    marker = tmp_path / "PWNED"
    resume = resume_checkpoint("httpruns/last.ckpt")
    assert resume.path == str(good) and resume.step == 7  # absolute: never read as a URL
    torch.save({"evil": Payload(marker)}, good)  # swapped after the check
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    resume.hand_to(trainer)
    assert resume.checkpoint is None  # held by the trainer's IO only, until fit takes it
    loaded = trainer.strategy.load_checkpoint(resume.path)  # what fit(ckpt_path=) calls
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(3.0))
    assert not marker.exists()
    with pytest.raises(PretrainedError, match="full pickle"):
        resume_checkpoint(good)  # the tampered file itself is refused
    assert not marker.exists()


def test_a_resume_reads_its_checkpoint_once(uninterrupted, tmp_path, monkeypatch):
    """The check, the logs' step and Lightning's restore share one read of the file (they
    were three), and the resume is still exact."""
    run = tmp_path / "B"
    run_train([*RESUME, "trainer.max_epochs=1"], run)
    loads = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    monkeypatch.setattr(train_module, "export_best", lambda *a, **k: None)  # reads the best
    last = run / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's notes on the run's folders, kept on purpose
        run_train([*RESUME, "trainer.max_epochs=2", f"ckpt_path={last}"], run)
    assert len(loads) == 1, loads
    monkeypatch.undo()
    assert differing(final_state(uninterrupted), final_state(run)) == []


def test_resume_after_an_epoch_is_exact(uninterrupted, tmp_path):
    run_b = resumed(tmp_path, ["trainer.max_epochs=1"])
    assert differing(final_state(uninterrupted), final_state(run_b)) == []


@pytest.mark.slow
def test_resume_without_rng_state_drifts(uninterrupted, tmp_path):
    """The RNGStateCheckpoint callback is what makes the resume above exact."""
    run_b = resumed(tmp_path, ["trainer.max_epochs=1"], extra=["~callbacks.rng_state"])
    assert differing(final_state(uninterrupted), final_state(run_b))


def test_resume_mid_epoch_is_exact(uninterrupted, tmp_path):
    stop = [
        "trainer.max_epochs=2",
        "+trainer.max_steps=6",  # 4 batches an epoch: stops after batch 2 of epoch 2
        "+callbacks.model_checkpoint.every_n_train_steps=2",
    ]
    run_b = resumed(tmp_path, stop)
    assert differing(final_state(uninterrupted), final_state(run_b)) == []


# On these batches val/loss is lowest after the first epoch: the best epoch is not the last,
# ReduceLROnPlateau (patience 0) halves the learning rate after each later epoch, and early
# stopping (patience 2) ends the run after epoch 2 of 6.
WORSENING = [
    "monitor.metric=val/loss",
    "monitor.mode=min",
    "task.scheduler.patience=0",
    "callbacks.early_stopping.patience=2",
    "test=true",
    "+trainer.limit_test_batches=2",
]


def run_state(run: Path) -> dict:
    """What must not depend on an interruption: the last weights, optimiser and scheduler
    states, where training stopped, the best checkpoint and score, and the test metrics."""
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    callbacks = {k.split("{")[0]: v for k, v in last["callbacks"].items()}
    best = callbacks["RunCheckpoint"]
    return {
        "state_dict": last["state_dict"],
        "optimizer": last["optimizer_states"][0]["state"],
        "scheduler": last["lr_schedulers"],
        "epoch": last["epoch"],
        "global_step": last["global_step"],
        "best": (Path(best["best_model_path"]).name, best["best_model_score"]),
        "early_stopping": callbacks["EarlyStopping"],
        "metrics": json.loads((run / "metrics.json").read_text()),
        "val_log": val_log(run),
    }


def val_log(run: Path) -> list[tuple[str, str, str]]:
    """(epoch, step, val/loss) of each validation row of the run's CSV log."""
    with (run / "csv" / "metrics.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [(r["epoch"], r["step"], r["val/loss"]) for r in rows if r["val/loss"]]


def assert_same_run(a: dict, b: dict) -> None:
    assert differing(a["state_dict"], b["state_dict"]) == []
    assert a["scheduler"] == b["scheduler"]
    for key in ("epoch", "global_step", "best", "early_stopping", "val_log"):
        assert a[key] == b[key], key
    for group in a["optimizer"]:
        assert differing(a["optimizer"][group], b["optimizer"][group]) == []
    tests = {k: v for k, v in a["metrics"].items() if k.startswith("test/")}
    assert tests and tests == {k: b["metrics"][k] for k in tests}  # bit for bit


@pytest.fixture(scope="module")
def worsening(tmp_path_factory) -> dict:
    """Run A, uninterrupted: the best epoch (0) is not the last (2)."""
    out = tmp_path_factory.mktemp("resume-worsening")
    run_train([*RESUME, *WORSENING, "trainer.max_epochs=6"], out)
    return run_state(out)


def test_last_checkpoint_is_the_last_epoch_after_its_scheduler_step(worsening):
    assert worsening["best"][0] == "best_epoch000.ckpt"
    assert worsening["epoch"] == 3 and worsening["early_stopping"]["stopped_epoch"] == 2
    assert worsening["global_step"] == 12  # 3 epochs of 4 batches, not the best epoch's 4
    (scheduler,) = worsening["scheduler"]
    assert scheduler["_last_lr"] == [0.001 / 4]  # halved after epochs 1 and 2


@pytest.mark.parametrize(
    "stop",
    [
        ["trainer.max_epochs=2"],
        # mid-epoch: stops after batch 2 of epoch 1, last.ckpt written at that step
        [
            "+trainer.max_steps=6",
            "+callbacks.model_checkpoint.last_every_n_train_steps=2",
        ],
        # an epoch cut by max_steps leaves last.ckpt at the previous epoch's end
        ["+trainer.max_steps=7"],
    ],
    ids=["after-an-epoch", "mid-epoch", "cut-epoch"],
)
def test_resume_continues_the_run_exactly(worsening, stop, tmp_path):
    """Final weights, scheduler, best epoch and test metrics equal the uninterrupted run's."""
    run = resumed(tmp_path, stop, extra=WORSENING, epochs=6)
    assert_same_run(worsening, run_state(run))


class DropoutNet(L.LightningModule):
    """Dropout on identical batches: the weights depend on the data order not at all and
    on the RNG stream entirely."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 1)
        )

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return self.net(x).square().mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit_dropout_net(
    folder: Path, callbacks: list, ckpt_path: Path | None = None, **trainer_kwargs
) -> DropoutNet:
    L.seed_everything(0)
    module = DropoutNet()
    loader = DataLoader(TensorDataset(torch.ones(16, 8)), batch_size=4)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[*callbacks, ModelCheckpoint(folder, save_last=True, every_n_train_steps=1)],
        **trainer_kwargs,
    )
    trainer.fit(module, loader, ckpt_path=ckpt_path)
    return module


@pytest.mark.parametrize("stop_step", [4, 6], ids=["epoch-end", "mid-epoch"])
def test_rng_state_callback_makes_resume_exact(stop_step, tmp_path):
    a = fit_dropout_net(tmp_path / "A", [RNGStateCheckpoint()])
    fit_dropout_net(tmp_path / "B1", [RNGStateCheckpoint()], max_steps=stop_step)
    last = tmp_path / "B1" / "last.ckpt"
    b = fit_dropout_net(tmp_path / "B2", [RNGStateCheckpoint()], ckpt_path=last)
    assert differing(a.state_dict(), b.state_dict()) == []
    without = fit_dropout_net(tmp_path / "C2", [], ckpt_path=last)
    assert differing(a.state_dict(), without.state_dict())


# ----------------------------------------------------------------------------- DDP, wheel
def run_cli(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 420):
    return subprocess.run(
        [sys.executable, "-m", "seqnn.cli.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_console_prints_each_lightning_line_once_and_no_noise(tmp_path, seqnn_cache):  # noqa: F811
    """seqnn-train's console: Lightning's INFO lines once (not again by Hydra's job log), no
    advertisement tips, no FLOPs column of zeros, no torch/Lightning deprecation warning."""
    env = {**os.environ, "SEQNN_LOG_DIR": str(tmp_path / "logs")}
    done = run_cli(["debug=fast", *TINY["cnn"]], tmp_path, env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert output.count("Seed set to 12345") == 1, output
    assert output.count("GPU available:") == 1, output
    assert "BassetCNN" in output  # the model summary is there ...
    assert "FLOPs" not in output  # ... without its column of zeros
    assert "Tip" not in output and "litlogger" not in output
    assert "Warning" not in output and "deprecated" not in output, output
    (run,) = (tmp_path / "logs" / "runs").iterdir()
    assert "Seed set to 12345" in (run / "train.log").read_text()  # Hydra's log file keeps it


def test_help_documents_every_group_key_and_examples(tmp_path):
    done = run_cli(["--help"], tmp_path, dict(os.environ))
    assert done.returncode == 0, done.stderr
    help_text = done.stdout
    groups = help_text[help_text.index("== Groups") : help_text.index("== Keys")]
    for group in (p.name for p in CONFIGS.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert f"  {group} " in groups or f"  {group}," in groups, group  # described
        assert f"\n{group}: " in groups or group == "hydra", group  # its options listed
    for shown in ("data.target_columns=[label]", "== Examples", "seqnn-train --cfg job"):
        assert shown in help_text
    assert "_target_" not in help_text  # not the config dump


def test_a_missing_required_setting_is_one_error_line(tmp_path):
    check_required(compose_run([], tmp_path))  # the default run needs nothing more
    env = {**os.environ, "SEQNN_LOG_DIR": str(tmp_path / "logs")}
    done = run_cli(["data=table"], tmp_path, env)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        "seqnn-train: error: missing setting(s) data.table, data.target_columns: "
        "add data.table=... data.target_columns=... to the command line"
    )
    assert "Traceback" not in done.stdout


@pytest.mark.slow
def test_ddp_cpu_two_processes(tmp_path, seqnn_cache):  # noqa: F811 (a fixture)
    """From the CLI: Lightning's DDP launcher re-runs the Hydra command for rank 1 (inside
    pytest it would re-run pytest), with the same run folder."""
    env = {**os.environ, "SEQNN_LOG_DIR": str(tmp_path / "logs")}
    tune = "++callbacks.tune_threshold._target_=seqnn.callbacks.TuneThreshold"
    args = ["trainer=ddp_cpu", "trainer.max_epochs=1", *TINY["cnn"], *FEW_BATCHES, *QUIET, tune]
    done = run_cli(args, tmp_path, env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "distributed_backend=gloo" in output
    assert "Starting with 2 processes" in output
    (run,) = (tmp_path / "logs" / "runs").iterdir()  # both ranks wrote to one run folder
    metrics = json.loads((run / "metrics.json").read_text())
    assert "test/auroc" in metrics
    assert (run / "checkpoints" / "last.ckpt").is_file()
    # every rank tuned the same threshold on all the validation rows: the exported one
    spec = json.loads((run / "model" / "seqnn.json").read_text())
    assert spec["threshold"] == pytest.approx(metrics["test/threshold"], abs=1e-6)


@pytest.mark.slow
def test_sigkill_then_resume_is_exact(tmp_path, seqnn_cache):  # noqa: F811 (a fixture)
    """A real seqnn-train killed with SIGKILL in mid-epoch, then resumed from its last.ckpt
    with ``ckpt_path=`` alone: it goes on in the same run folder and ends as the
    uninterrupted run did (weights, best epoch, early stopping, test metrics, logs)."""
    tests = str(Path(__file__).parent)
    env = {**os.environ, "SEQNN_LOG_DIR": str(tmp_path / "logs"), "PYTHONPATH": tests}
    env["SEQNN_TRUSTED_TARGETS"] = "hang_callback"  # the test's own callback
    args = [
        *RESUME,
        *WORSENING,
        "trainer.max_epochs=6",
        "+callbacks.model_checkpoint.last_every_n_train_steps=2",
    ]
    done = run_cli([*args, f"hydra.run.dir={tmp_path / 'A'}"], tmp_path, env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    marker = tmp_path / "hung"  # epoch 1, before its batch 3: last.ckpt is from step 6
    hang = ["+callbacks.hang._target_=hang_callback.HangAt", "+callbacks.hang.epoch=1"]
    hang += ["+callbacks.hang.batch=3", f"+callbacks.hang.marker={marker}"]
    with (tmp_path / "killed.log").open("w") as log:
        killed = subprocess.Popen(
            [sys.executable, "-m", "seqnn.cli.train", *args, *hang],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while not marker.exists() and killed.poll() is None:
                time.sleep(0.2)
        finally:
            killed.kill()  # SIGKILL: no exception handler, no checkpoint on the way out
            killed.wait(timeout=60)
    assert marker.read_text() == "7", (tmp_path / "killed.log").read_text()[-4000:]
    assert killed.returncode == -signal.SIGKILL
    (run,) = (tmp_path / "logs" / "runs").iterdir()
    assert not (run / "metrics.json").exists()

    done = run_cli([*args, f"ckpt_path={run}/checkpoints/last.ckpt"], tmp_path, env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert list((tmp_path / "logs" / "runs").iterdir()) == [run]  # no new run folder
    assert "dirpath has changed" not in done.stderr
    assert_same_run(run_state(tmp_path / "A"), run_state(run))


@pytest.mark.slow
def test_wheel_ships_configs_and_cli(tmp_path):
    # build from a copy: an in-tree build would leave build/ in the shared checkout
    source = tmp_path / "src"
    skip = shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "notebooks", "tests"
    )
    shutil.copytree(REPO, source, ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w"]
    subprocess.run([*build, str(tmp_path / "dist")], check=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("seqnn-*.whl")

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "seqnn-train = seqnn.cli.train:main" in zf.read(entry_points).decode()
    shipped = {str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.yaml")}
    assert {f"seqnn/configs/{p}" for p in shipped} <= names

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    # the current interpreter's dependencies, seqnn itself from the wheel
    env = {**os.environ, "PYTHONPATH": str(site), "SEQNN_LOG_DIR": str(tmp_path / "logs")}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import seqnn, importlib.resources as r; "
            "print(seqnn.__file__); print(r.files('seqnn.configs') / 'train.yaml')",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in where.stdout.split():
        assert Path(line).is_relative_to(site), where.stdout
    done = run_cli(["debug=fast", *TINY["cnn"]], tmp_path, env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "seqnn run finished" in done.stdout
