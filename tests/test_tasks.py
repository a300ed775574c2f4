"""Tests of seqnn.tasks: metrics, SupervisedModule, AutoencoderModule, embedding analysis.

Networks here are tiny stand-ins (Conv1d + pool + Linear); batches are (N, 4, L) one-hot or
(N, L) uint8 codes.
"""

from __future__ import annotations

import warnings
from functools import partial

import lightning as L
import numpy as np
import pytest
import torch
from sklearn.metrics import matthews_corrcoef, roc_auc_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from seqnn.data.datamodule import TableDataModule
from seqnn.data.encoding import EncodingPolicy, OneHot, encode, one_hot
from seqnn.inference.predict import predict_sequences
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.models.bassetcnn import BassetCNN
from seqnn.tasks.autoencoder import IGNORE_INDEX, AutoencoderModule, reconstruction_target
from seqnn.tasks.embedding import embedding_frame, kmeans, linear_probe_auroc, pca
from seqnn.tasks.metrics import compute_and_reset, default_metrics
from seqnn.tasks.supervised import SupervisedModule

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*self.trainer. reference is not registered"),
    pytest.mark.filterwarnings("ignore:.*does not have many workers"),
    pytest.mark.filterwarnings("ignore:.*LightningModule.log. or .LightningModule.log_dict"),
    pytest.mark.filterwarnings("ignore:Metric `SpearmanCorrcoef` will save all targets"),
    # the fits here use plain DataLoaders of made-up batches, with no policy to tell
    pytest.mark.filterwarnings("ignore:.*no data module tells the N/IUPAC policy"),
]

N_SEQ, LENGTH, BATCH = 32, 24, 16
N_TARGETS = {"binary": 1, "multilabel": 3, "multiclass": 3, "regression": 2}
LOSSES = {
    "binary": nn.BCEWithLogitsLoss,
    "multilabel": nn.BCEWithLogitsLoss,
    "multiclass": nn.CrossEntropyLoss,
    "regression": nn.MSELoss,
}


# ----------------------------------------------------------------------------- tiny nets
class TinyCNN(nn.Module):
    """(N, 4, L) -> (N, n_targets): Conv1d, global average pool, Linear."""

    def __init__(self, n_targets: int, n_filters: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, n_filters, kernel_size=3, padding=1)
        self.head = nn.Linear(n_filters, n_targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=2))  # (N, F, L) -> (N, F)


class FixedLogits(nn.Module):
    """Ignores the sequence and returns preset logits (one batch of exactly those rows)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[: x.shape[0]] + 0 * x.sum()


class Bf16Output(nn.Module):
    """A net whose logits come out in bfloat16, as under mixed precision."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).to(torch.bfloat16)


class TinyAE(nn.Module):
    """Plain autoencoder: encode (N, 4, L) -> (N, d), decode (N, d) -> (N, 4, L) logits."""

    def __init__(self, length: int = LENGTH, n_latent: int = 3, n_out: int | None = None) -> None:
        super().__init__()
        self.length = length
        self.encoder = nn.Linear(4 * length, n_out or n_latent)
        self.decoder = nn.Linear(n_latent, 4 * length)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))  # (N, 4, L) -> (N, 4 * L) -> (N, d)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 4, self.length)  # (N, 4 * L) -> (N, 4, L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class TinyVAE(TinyAE):
    """The VAE API: encode_distribution, reparameterize, decode, kl_divergence, encode = mean."""

    def __init__(self, length: int = LENGTH, n_latent: int = 3) -> None:
        super().__init__(length, n_latent, n_out=2 * n_latent)

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_distribution(x)[0]

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return mu
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def kl_divergence(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.reparameterize(*self.encode_distribution(x)))


# ----------------------------------------------------------------------------- data
def _codes(n: int = N_SEQ, length: int = LENGTH, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (n, length), generator=g, dtype=torch.uint8)


def _targets(task: str, n: int = N_SEQ) -> torch.Tensor:
    """Labels in which every batch of 16 holds both classes of every target."""
    i = torch.arange(n)
    if task == "binary":
        return (i % 2).float()  # (N,)
    if task == "multilabel":
        return torch.stack([(i >> t) & 1 for t in range(3)], dim=1).float()  # (N, 3)
    if task == "multiclass":
        return i % 3  # (N,) long
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 2, generator=g)  # (N, 2)


def _loader(task: str | None, inputs: str, shuffle: bool = False) -> DataLoader:
    x = _codes()
    if inputs == "one_hot":
        x = OneHot()(x)  # (N, L) -> (N, 4, L) float32
    tensors = (x,) if task is None else (x, _targets(task))
    return DataLoader(TensorDataset(*tensors), batch_size=BATCH, shuffle=shuffle)


def _supervised(task: str, **kwargs) -> SupervisedModule:
    n = N_TARGETS[task]
    kwargs.setdefault("optimizer", partial(torch.optim.AdamW, lr=1e-2))
    return SupervisedModule(TinyCNN(n), LOSSES[task](), task=task, n_targets=n, **kwargs)


def _trainer(**kwargs) -> L.Trainer:
    defaults = dict(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return L.Trainer(**{**defaults, **kwargs})


# ----------------------------------------------------------------------------- metrics
def test_binary_auroc_matches_hand_count():
    # positives {0.35, 0.8, 0.7} vs negatives {0.1, 0.4, 0.2}: 8 of 9 pairs ranked right
    preds = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.7, 0.2])
    target = torch.tensor([0, 0, 1, 1, 1, 0])
    metrics = default_metrics("binary", 1).clone(prefix="val/")
    metrics.update(preds, target)
    values = compute_and_reset(metrics)
    assert float(values["val/auroc"]) == pytest.approx(8 / 9)
    assert float(values["val/accuracy"]) == pytest.approx(5 / 6)  # only 0.35 is wrong
    # at 0.5: TP 2 (0.8, 0.7), FN 1 (0.35), TN 3 -> sensitivity 2/3, specificity 1
    assert float(values["val/sensitivity"]) == pytest.approx(2 / 3)
    assert float(values["val/specificity"]) == pytest.approx(1.0)
    keys = ("auroc", "auprc", "accuracy", "mcc", "f1", "sensitivity", "specificity")
    assert set(values) == {f"val/{k}" for k in keys}


def test_binary_call_metrics_use_the_threshold():
    # the same scores as above at threshold 0.3: 0.35 becomes a true positive, 0.4 a false one
    preds = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.7, 0.2])
    target = torch.tensor([0, 0, 1, 1, 1, 0])
    metrics = default_metrics("binary", 1, threshold=0.3)
    metrics.update(preds, target)
    values = compute_and_reset(metrics)
    assert float(values["sensitivity"]) == pytest.approx(1.0)
    assert float(values["specificity"]) == pytest.approx(2 / 3)
    assert float(values["accuracy"]) == pytest.approx(5 / 6)
    expected = matthews_corrcoef(target.numpy(), preds.numpy() > 0.3)
    assert float(values["mcc"]) == pytest.approx(expected, abs=1e-6)
    assert float(values["auroc"]) == pytest.approx(8 / 9)  # ranking metrics ignore it


def test_multilabel_per_target_metrics_match_sklearn(rng):
    names = ["ctcf", "gata1", "pu1"]
    target = rng.integers(0, 2, size=(40, 3))
    preds = np.clip(0.3 * target + rng.random((40, 3)) * 0.7, 0, 1).astype(np.float32)
    metrics = default_metrics("multilabel", 3, names, threshold=0.6).clone(prefix="val/")
    for half in np.array_split(np.arange(40), 2):  # two batches accumulate
        metrics.update(torch.from_numpy(preds[half]), torch.from_numpy(target[half]))
    values = compute_and_reset(metrics)
    aurocs = [roc_auc_score(target[:, t], preds[:, t]) for t in range(3)]
    mccs = [matthews_corrcoef(target[:, t], preds[:, t] > 0.6) for t in range(3)]
    for t, name in enumerate(names):
        assert float(values[f"val/auroc/{name}"]) == pytest.approx(aurocs[t], abs=1e-5)
        assert float(values[f"val/mcc/{name}"]) == pytest.approx(mccs[t], abs=1e-5)
    assert float(values["val/auroc"]) == pytest.approx(np.mean(aurocs), abs=1e-5)
    assert float(values["val/mcc"]) == pytest.approx(np.mean(mccs), abs=1e-5)


def test_multiclass_metrics_match_numpy(rng):
    target = np.arange(30) % 3
    probs = torch.softmax(torch.from_numpy(rng.normal(size=(30, 3))) + 2 * torch.eye(3)[target], 1)
    metrics = default_metrics("multiclass", 3, ["a", "b", "c"])
    metrics.update(probs.float(), torch.from_numpy(target))
    values = compute_and_reset(metrics)
    p = probs.numpy()
    assert float(values["accuracy"]) == pytest.approx(np.mean(p.argmax(1) == target))
    for c, name in enumerate("abc"):
        expected = roc_auc_score(target == c, p[:, c])
        assert float(values[f"auroc/{name}"]) == pytest.approx(expected, abs=1e-5)
    assert "mcc" in values and "mcc/a" not in values  # one value over all classes


def test_regression_pearson_matches_numpy(rng):
    target = rng.normal(size=(50, 2)).astype(np.float32)
    preds = (target + rng.normal(size=(50, 2))).astype(np.float32)
    metrics = default_metrics("regression", 2, ["dnase", "atac"]).clone(prefix="test/")
    metrics.update(torch.from_numpy(preds), torch.from_numpy(target))
    values = compute_and_reset(metrics)
    r = [np.corrcoef(preds[:, t], target[:, t])[0, 1] for t in range(2)]
    assert float(values["test/pearson/dnase"]) == pytest.approx(r[0], abs=1e-5)
    assert float(values["test/pearson/atac"]) == pytest.approx(r[1], abs=1e-5)
    assert float(values["test/pearson"]) == pytest.approx(np.mean(r), abs=1e-5)
    assert {"test/spearman", "test/r2", "test/r2/atac"} <= set(values)


def test_metrics_reject_bad_arguments():
    with pytest.raises(ValueError, match="task must be one of"):
        default_metrics("ranking", 1)
    with pytest.raises(ValueError, match="binary task has one target"):
        default_metrics("binary", 2)
    with pytest.raises(ValueError, match="target_names"):
        default_metrics("multilabel", 3, ["a", "b"])
    with pytest.raises(ValueError, match=r"threshold must be a probability in \(0, 1\)"):
        default_metrics("binary", 1, threshold=1.5)
    with pytest.raises(ValueError, match="threshold applies to binary and multilabel"):
        default_metrics("regression", 1, threshold=0.3)


def test_compute_and_reset_without_updates_is_empty():
    assert compute_and_reset(default_metrics("binary", 1)) == {}


# ----------------------------------------------------------------------------- supervised
@pytest.mark.parametrize("inputs", ["one_hot", "codes"])
@pytest.mark.parametrize("task", list(N_TARGETS))
def test_supervised_fast_dev_run(task, inputs):
    module = _supervised(task)
    loader = _loader(task, inputs)
    trainer = _trainer(fast_dev_run=True)
    trainer.fit(module, loader, loader)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert "val/loss" in trainer.callback_metrics


@pytest.mark.parametrize("task", list(N_TARGETS))
def test_supervised_fit_logs_loss_and_metrics(task):
    names = [f"t{i}" for i in range(N_TARGETS[task])]
    module = _supervised(
        task,
        target_names=names,
        scheduler=partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=1),
    )
    trainer = _trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=2)
    trainer.fit(module, _loader(task, "codes", shuffle=True), _loader(task, "one_hot"))
    logged = set(trainer.callback_metrics)
    main = ["auroc", "auprc", "accuracy", "mcc", "f1"]
    if task == "regression":
        main = ["pearson", "spearman", "r2"]
    expected = {f"{stage}/{m}" for stage in ("train", "val") for m in ["loss", *main]}
    assert expected <= logged
    per_target = {f"val/{main[0]}/{n}" for n in names}
    if task == "binary":
        assert not per_target & logged
    else:
        assert per_target <= logged
    trainer.test(module, _loader(task, "codes"), verbose=False)
    assert {"test/loss", f"test/{main[0]}"} <= set(trainer.callback_metrics)


def test_profile_head_trains_with_injected_loss():
    # per-position outputs (N, T, L): the loss is injected, metrics count positions as rows
    net = nn.Conv1d(4, 2, kernel_size=3, padding=1)  # (N, 4, L) -> (N, 2, L) log-rates
    module = SupervisedModule(
        net,
        nn.PoissonNLLLoss(log_input=True),
        partial(torch.optim.AdamW),
        task="regression",
        n_targets=2,
        output_transform="exp",
    )
    counts = torch.poisson(torch.full((N_SEQ, 2, LENGTH), 3.0))
    loader = DataLoader(TensorDataset(_codes(), counts), batch_size=BATCH)
    trainer = _trainer(fast_dev_run=True)
    trainer.fit(module, loader, loader)
    assert {"val/loss", "val/pearson", "val/pearson/1"} <= set(trainer.callback_metrics)
    assert module.predict_step(_codes(3), 0).shape == (3, 2, LENGTH)


def test_metrics_see_probabilities_not_logits():
    # logits in (0, 0.5) are all positive after the sigmoid, all negative read raw
    logits = torch.tensor([[0.1], [0.3], [0.2], [0.4]])
    y = torch.tensor([1.0, 1.0, 1.0, 0.0])
    module = SupervisedModule(
        FixedLogits(logits), nn.BCEWithLogitsLoss(), partial(torch.optim.SGD, lr=0.1)
    )
    module.validation_step((_codes(4), y), 0)
    values = compute_and_reset(module.val_metrics)
    assert float(values["val/accuracy"]) == pytest.approx(0.75)  # all called positive
    assert float(values["val/auroc"]) == pytest.approx(roc_auc_score(y, logits[:, 0]))


@pytest.mark.parametrize("task", list(N_TARGETS))
def test_predict_step_outputs(task):
    module = _supervised(task).eval()
    x = _codes(8)
    with torch.no_grad():
        out = module.predict_step((x, _targets(task, 8)), 0)
        logits = module(x)
    assert out.shape == (8, N_TARGETS[task]) and out.dtype == torch.float32
    if task == "regression":
        torch.testing.assert_close(out, logits)
    else:
        assert out.min() >= 0 and out.max() <= 1
    if task == "multiclass":
        torch.testing.assert_close(out.sum(1), torch.ones(8))
    torch.testing.assert_close(module.predict_step(OneHot()(x), 0), out)  # x alone, one-hot


def test_predict_step_exp_for_poisson():
    module = SupervisedModule(
        TinyCNN(2),
        nn.PoissonNLLLoss(log_input=True),
        partial(torch.optim.AdamW),
        task="regression",
        n_targets=2,
        output_transform="exp",
    )
    x = _codes(4)
    torch.testing.assert_close(module.predict_step(x, 0), module(x).exp())


def test_supervised_rejects_unknown_task_and_transform():
    with pytest.raises(ValueError, match="task must be one of"):
        SupervisedModule(TinyCNN(1), nn.MSELoss(), partial(torch.optim.AdamW), task="ranking")
    with pytest.raises(ValueError, match="output_transform"):
        _supervised("binary", output_transform="tanh")


def test_configure_optimizers_with_partials():
    module = _supervised("binary", optimizer=partial(torch.optim.AdamW, lr=3e-4))
    assert isinstance(module.configure_optimizers(), torch.optim.AdamW)
    module = _supervised(
        "binary",
        optimizer=partial(torch.optim.AdamW, lr=3e-4, weight_decay=0.1),
        scheduler=partial(torch.optim.lr_scheduler.ReduceLROnPlateau, mode="min", patience=2),
        monitor="val/auroc",
    )
    config = module.configure_optimizers()
    opt = config["optimizer"]
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["lr"] == 3e-4 and opt.defaults["weight_decay"] == 0.1
    n_params = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_params == sum(p.numel() for p in module.parameters())
    sched = config["lr_scheduler"]
    assert isinstance(sched["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert sched["scheduler"].optimizer is opt
    assert sched["monitor"] == "val/auroc"


def test_hparams_leave_out_modules():
    module = _supervised("multilabel", target_names=["a", "b", "c"])
    assert "net" not in module.hparams and "loss" not in module.hparams
    assert module.hparams.task == "multilabel" and module.hparams.target_names == ["a", "b", "c"]


@pytest.mark.parametrize("task", list(N_TARGETS))
def test_loss_is_float32_under_bf16_autocast(task):
    module = _supervised(task)
    batch = (_codes(8), _targets(task, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert module(batch[0]).dtype == torch.bfloat16  # the net really runs in bf16
        loss = module.training_step(batch, 0)
    assert loss.dtype == torch.float32
    loss.backward()


@pytest.mark.parametrize("task", list(N_TARGETS))
def test_loss_is_float32_for_bf16_logits(task):
    n = N_TARGETS[task]
    module = SupervisedModule(
        Bf16Output(TinyCNN(n)), LOSSES[task](), partial(torch.optim.AdamW), task=task, n_targets=n
    )
    loss = module.training_step((_codes(8), _targets(task, 8)), 0)
    assert loss.dtype == torch.float32
    assert module.predict_step(_codes(8), 0).dtype == torch.float32


def test_codes_become_one_hot_on_the_module_device(device):
    module = _supervised("multilabel").to(device)
    batch = (_codes(8).to(device), _targets("multilabel", 8).to(device))
    with torch.autocast(device.type, dtype=torch.bfloat16):
        loss = module.training_step(batch, 0)
    assert loss.device.type == device.type and loss.dtype == torch.float32
    ae = AutoencoderModule(TinyVAE(), partial(torch.optim.AdamW)).to(device)
    assert ae.embed(_loader(None, "codes")).shape == (N_SEQ, 3)  # CPU batches moved over


def test_checkpoint_round_trip(tmp_path):
    module = _supervised("multilabel", target_names=["a", "b", "c"])
    trainer = _trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0)
    trainer.fit(module, _loader("multilabel", "codes"))
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    # only plain values in the checkpoint: it loads without unpickling code
    torch.load(tmp_path / "last.ckpt", weights_only=True)
    loaded = SupervisedModule.load_from_checkpoint(
        tmp_path / "last.ckpt",
        net=TinyCNN(3),
        loss=nn.BCEWithLogitsLoss(),
        optimizer=partial(torch.optim.AdamW),
        weights_only=True,
    )
    x = _codes(4)
    torch.testing.assert_close(loaded.eval()(x), module.eval()(x))
    assert loaded.hparams.target_names == ["a", "b", "c"]


# ----------------------------------------------------------------------------- autoencoder
def test_reconstruction_target_ignores_n_and_ambiguity():
    x = OneHot()(torch.tensor([[0, 1, 2, 3, 4, 5]], dtype=torch.uint8))  # A C G T N R
    assert reconstruction_target(x).tolist() == [[0, 1, 2, 3, IGNORE_INDEX, IGNORE_INDEX]]


@pytest.mark.parametrize("inputs", ["one_hot", "codes"])
@pytest.mark.parametrize("net_cls", [TinyAE, TinyVAE])
def test_autoencoder_fast_dev_run(net_cls, inputs):
    module = AutoencoderModule(net_cls(), partial(torch.optim.AdamW, lr=1e-2), kl_warmup_steps=10)
    loader = _loader(None, inputs)
    trainer = _trainer(fast_dev_run=True)
    trainer.fit(module, loader, loader)
    logged = trainer.callback_metrics
    keys = {f"{s}/{k}" for s in ("train", "val") for k in ("loss", "reconstruction", "kl")}
    assert keys | {"val/accuracy", "train/accuracy"} <= set(logged)
    assert torch.isfinite(logged["train/loss"])
    if net_cls is TinyAE:
        assert float(logged["val/kl"]) == 0.0


def test_autoencoder_validation_values_match_hand_computation():
    codes = _codes(16)
    codes[:, :3] = 4  # N positions: left out of the loss and the accuracy
    net = TinyAE()
    module = AutoencoderModule(net, partial(torch.optim.SGD, lr=0.1))
    trainer = _trainer()
    trainer.validate(module, DataLoader(TensorDataset(codes), batch_size=16), verbose=False)
    logged = trainer.callback_metrics
    with torch.no_grad():
        logits = net(OneHot()(codes))  # (N, 4, L)
    valid = codes[:, 3:].long()
    nll = -torch.log_softmax(logits, dim=1)[:, :, 3:].gather(1, valid[:, None]).sum() / 16
    accuracy = (logits[:, :, 3:].argmax(1) == valid).float().mean()
    assert float(logged["val/reconstruction"]) == pytest.approx(float(nll), rel=1e-5)
    assert float(logged["val/loss"]) == pytest.approx(float(nll), rel=1e-5)
    assert float(logged["val/accuracy"]) == pytest.approx(float(accuracy), rel=1e-5)


def test_kl_warmup_weights():
    adamw = partial(torch.optim.AdamW)
    module = AutoencoderModule(TinyVAE(), adamw, kl_weight=0.5, kl_warmup_steps=100)
    assert module.kl_weight_at(0) == 0.0
    assert module.kl_weight_at(50) == pytest.approx(0.25)
    assert module.kl_weight_at(100) == pytest.approx(0.5)
    assert module.kl_weight_at(10_000) == pytest.approx(0.5)
    no_warmup = AutoencoderModule(TinyVAE(), adamw, kl_weight=0.5)
    assert no_warmup.kl_weight_at(0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="kl_warmup_steps"):
        AutoencoderModule(TinyVAE(), partial(torch.optim.AdamW), kl_warmup_steps=-1)


def test_kl_warmup_follows_training_steps():
    module = AutoencoderModule(TinyVAE(), partial(torch.optim.AdamW), kl_warmup_steps=4)
    trainer = _trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0)
    trainer.fit(module, _loader(None, "codes"))
    # logged during the second step, after one optimiser step: 1 / 4 of the weight
    assert float(trainer.callback_metrics["train/kl_weight"]) == pytest.approx(0.25)


def test_autoencoder_loss_is_float32_under_bf16_autocast():
    module = AutoencoderModule(TinyVAE(), partial(torch.optim.AdamW))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert module.net.decode(module(_codes(4))).dtype == torch.bfloat16
        loss = module.training_step((_codes(4),), 0)
    assert loss.dtype == torch.float32


@pytest.mark.parametrize("net_cls", [TinyAE, TinyVAE])
def test_embed_and_predict_return_latent_means(net_cls):
    module = AutoencoderModule(net_cls(), partial(torch.optim.AdamW)).train()
    codes = _codes()
    emb = module.embed(_loader(None, "codes"))
    assert isinstance(emb, np.ndarray) and emb.shape == (N_SEQ, 3) and emb.dtype == np.float32
    assert module.training  # the mode is restored
    with torch.no_grad():
        expected = module.net.encode(OneHot()(codes))
    np.testing.assert_allclose(emb, expected.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(module.embed(_loader(None, "one_hot")), emb)
    torch.testing.assert_close(module.predict_step((codes[:5],), 0), expected[:5])


# ----------------------------------------------------------------------------- embedding
def _blobs(rng, n_per: int = 30, d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    centers = np.zeros((2, d))
    centers[1, 0] = 6.0
    labels = np.repeat([0, 1], n_per)
    return centers[labels] + rng.normal(size=(2 * n_per, d)), labels


def test_pca_shapes_and_variance(rng):
    emb, _ = _blobs(rng)
    scores, ratio = pca(emb, n_components=3)
    assert scores.shape == (60, 3) and ratio.shape == (3,)
    assert ratio[0] > 0.5 and np.all(np.diff(ratio) <= 0) and ratio.sum() <= 1
    with pytest.raises(ValueError, match="n_components"):
        pca(emb, n_components=6)


def test_kmeans_finds_separated_blobs(rng):
    emb, labels = _blobs(rng)
    clusters = kmeans(emb, n_clusters=2, seed=0)
    assert clusters.shape == (60,)
    agreement = np.mean(clusters == labels)
    assert max(agreement, 1 - agreement) == 1.0


def test_embedding_frame_columns_and_attrs(rng):
    emb, labels = _blobs(rng)
    names = np.where(labels == 1, "enhancer", "background")
    df = embedding_frame(emb, labels=names, n_components=3, n_clusters=2)
    assert list(df.columns) == ["pc1", "pc2", "pc3", "cluster", "label"]
    assert len(df) == 60 and set(df["label"]) == {"enhancer", "background"}
    assert len(df.attrs["explained_variance_ratio"]) == 3
    assert list(embedding_frame(emb).columns) == ["pc1", "pc2"]
    with pytest.raises(ValueError, match="labels has shape"):
        embedding_frame(emb, labels=labels[:10])


def test_linear_probe_separates_blobs(rng):
    emb, labels = _blobs(rng)
    assert linear_probe_auroc(emb, labels, seed=0, cv=5) > 0.9
    noise = rng.normal(size=emb.shape)
    assert linear_probe_auroc(noise, labels, seed=0, cv=5) < 0.8
    with pytest.raises(ValueError, match="fewer than cv"):
        linear_probe_auroc(emb[:33], labels[:33], cv=5)  # 3 members of class 1


# ----------------------------------------------------------------------------- N/IUPAC policy
QUARTER = EncodingPolicy(n="quarter", iupac="n")


def table_with_ambiguity(rng: np.random.Generator, n: int = 48, length: int = 24):
    import pandas as pd

    seqs = ["".join(rng.choice(list("ACGTNR"), length)) for _ in range(n)]
    return pd.DataFrame({"sequence": seqs, "label": rng.integers(0, 2, n)})


def tiny_basset() -> BassetCNN:
    return BassetCNN(1, n_filters=4, kernel_sizes=3, pool_sizes=2, n_hidden=(4,), dropout=0.0)


@pytest.mark.parametrize("output", ["one_hot", "codes"])
def test_the_data_modules_policy_reaches_the_task_and_the_export(output, rng, tmp_path):
    """A default SupervisedModule fitted by a plain Trainer on a data module with a
    non-default policy encodes with that policy and exports it: the package predicts with the
    encoding the batches had (it used to train on 0.25 for N and export "n": "zeros")."""
    data = TableDataModule(
        table=table_with_ambiguity(rng), target_columns="label", output=output, policy=QUARTER
    )
    module = SupervisedModule(
        tiny_basset(), nn.BCEWithLogitsLoss(), partial(torch.optim.AdamW, lr=1e-2)
    )
    _trainer(max_epochs=1).fit(module, datamodule=data)
    assert module.one_hot.policy == QUARTER
    save_pretrained(module, tmp_path / "model", input_length=data.input_length)
    model = load_pretrained(tmp_path / "model")
    assert model.spec.policy == QUARTER
    seqs = ["ACGTNNNNACGTRRRRACGTACGT", "NNNNNNNNNNNNACGTACGTACGT"]
    trained_on = torch.from_numpy(one_hot(seqs, policy=QUARTER))  # what the batches held
    with torch.no_grad():
        expected = torch.sigmoid(module.net.eval()(trained_on)).numpy()
    np.testing.assert_allclose(predict_sequences(model, seqs).to_numpy(), expected, rtol=1e-5)
    codes = torch.from_numpy(encode(seqs))
    torch.testing.assert_close(module.one_hot(codes), trained_on)  # the on-device one-hot


def test_a_one_hot_that_contradicts_the_data_is_refused(rng):
    data = TableDataModule(
        table=table_with_ambiguity(rng), target_columns="label", output="codes", policy=QUARTER
    )
    module = _supervised("binary", one_hot=OneHot(EncodingPolicy()))
    with pytest.raises(ValueError, match="one_hot= encodes with .* drop one_hot="):
        _trainer(fast_dev_run=True).fit(module, datamodule=data)
    agreeing = _supervised("binary", one_hot=OneHot(QUARTER))
    _trainer(fast_dev_run=True).fit(agreeing, datamodule=data)
    own = _supervised("binary", one_hot=nn.Identity())  # says no policy: kept as given
    own.use_policy(QUARTER)
    assert isinstance(own.one_hot, nn.Identity)


@pytest.mark.filterwarnings("default:.*no data module tells")
def test_without_a_data_module_the_policy_is_said_not_assumed(rng):
    """Plain DataLoaders carry no policy: the module warns (once) that it encodes with the
    default, unless the caller said which (one_hot= or use_policy)."""
    x = torch.randint(0, 15, (BATCH, LENGTH), dtype=torch.uint8)
    loader = DataLoader(TensorDataset(x, torch.randint(0, 2, (BATCH,)).float()), BATCH)
    module = _supervised("binary")
    with pytest.warns(UserWarning, match="no data module tells the N/IUPAC policy"):
        _trainer(fast_dev_run=True).fit(module, loader, loader)
    told = _supervised("binary")
    told.use_policy(QUARTER)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*no data module tells")
        _trainer(fast_dev_run=True).fit(told, loader, loader)
    assert told.one_hot.policy == QUARTER
