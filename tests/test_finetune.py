"""Fine-tuning a package's network with a new head: the trunk / head contract, the frozen and
unfrozen phases (seqnn.callbacks.TrunkFinetuning) and ``seqnn-train init_from=...
model=finetune callbacks=finetune``, on tiny networks and a CPU."""

from __future__ import annotations

import functools

import lightning as L
import pytest
import torch
from hydra_run import compose_train, seqnn_cache  # noqa: F401
from omegaconf import open_dict
from torch.utils.data import DataLoader, TensorDataset

from seqnn.callbacks import TrunkFinetuning
from seqnn.cli.train import train
from seqnn.data.encoding import DEFAULT_POLICY
from seqnn.errors import SeqnnInputError
from seqnn.inference.finetune import finetune_network
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.models import BassetCNN, DilatedResNet, SpectrumMLP
from seqnn.models.finetune import FinetuneError, head_modules, is_head
from seqnn.tasks import SupervisedModule
from seqnn.tasks.losses import WeightedBCEWithLogitsLoss

LENGTH = 81


def tiny_cnn(n_targets: int = 1) -> BassetCNN:
    torch.manual_seed(3)
    return BassetCNN(n_targets=n_targets, n_filters=[8, 8, 8], n_hidden=[8])


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return save_pretrained(tiny_cnn(), tmp_path_factory.mktemp("pkg") / "m", input_length=LENGTH)


def state(net: torch.nn.Module, trunk: bool) -> dict[str, torch.Tensor]:
    """The trunk's (or the head's) parameters and buffers (batch-norm statistics too)."""
    heads = head_modules(net)
    items = net.state_dict().items()
    return {k: v.detach().clone() for k, v in items if is_head(k, heads) != trunk}


def test_the_trunk_comes_from_the_package_and_the_head_is_new(package):
    net = finetune_network(str(package), n_targets=3)
    source = load_pretrained(package).net
    theirs, ours = state(source, trunk=True), state(net, trunk=True)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert net.head[1][-1].out_features == 3  # the new head: 3 outputs
    assert net(torch.zeros(2, 4, LENGTH)).shape == (2, 3)
    assert net.pretrained_source == str(package)


@pytest.mark.parametrize(
    ("net", "heads"), [(tiny_cnn(), ("head",)), (DilatedResNet(), ("profile_head", "scalar_head"))]
)
def test_networks_declare_their_head(net, heads):
    assert head_modules(net) == heads


def test_a_network_without_a_head_split_is_refused(tmp_path):
    folder = save_pretrained(SpectrumMLP(ks=[1, 2]), tmp_path / "mlp", input_length=LENGTH)
    with pytest.raises(FinetuneError, match="SpectrumMLP has no trunk / head split"):
        finetune_network(str(folder), n_targets=2)


def test_no_package_names_init_from():
    with pytest.raises(FinetuneError, match="add init_from=<package>"):
        finetune_network(None, n_targets=2)


def motif_batch(n: int = 64) -> TensorDataset:
    """One-hot sequences labelled by whether a GGGGGG run sits in the middle."""
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (n, LENGTH), generator=g)
    y = torch.zeros(n, 1)
    codes[: n // 2, 37:43] = 2
    y[: n // 2] = 1
    x = torch.nn.functional.one_hot(codes, 4).float().transpose(1, 2)  # (N, L, 4) -> (N, 4, L)
    return TensorDataset(x, y)


def fit(module: SupervisedModule, callback: TrunkFinetuning, epochs: int, data, *extra) -> None:
    trainer = L.Trainer(
        max_epochs=epochs,
        callbacks=[callback, *extra],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(module, DataLoader(data, batch_size=16))


def make_module(package) -> SupervisedModule:
    module = SupervisedModule(
        net=finetune_network(str(package), n_targets=1),
        loss=WeightedBCEWithLogitsLoss(),
        optimizer=functools.partial(torch.optim.AdamW, lr=0.01),
    )
    module.use_policy(DEFAULT_POLICY)  # the batches are one-hot already
    return module


def batch_loss(module: SupervisedModule, data: TensorDataset) -> float:
    module.eval()
    with torch.no_grad():
        x, y = data.tensors
        loss = float(torch.nn.functional.binary_cross_entropy_with_logits(module.net(x), y))
    module.train()
    return loss


def test_the_frozen_phase_trains_the_head_only(package):
    data = motif_batch()
    module = make_module(package)
    trunk, head = state(module.net, trunk=True), state(module.net, trunk=False)
    before = batch_loss(module, data)
    fit(module, TrunkFinetuning(), epochs=8, data=data)
    assert batch_loss(module, data) < before  # the loss falls
    after = state(module.net, trunk=True)
    assert all(torch.equal(after[k], trunk[k]) for k in trunk)  # weights and BN statistics
    moved = state(module.net, trunk=False)
    assert any(not torch.equal(moved[k], head[k]) for k in head)


def test_unfreezing_adds_the_trunk_at_a_lower_learning_rate(package):
    module = make_module(package)
    trunk = state(module.net, trunk=True)
    fit(module, TrunkFinetuning(unfreeze_at_epoch=1, lr_factor=0.1), epochs=2, data=motif_batch())
    groups = module.trainer.optimizers[0].param_groups
    assert len(groups) == 2 and groups[1]["lr"] == pytest.approx(0.1 * groups[0]["lr"])
    after = state(module.net, trunk=True)
    assert any(not torch.equal(after[k], trunk[k]) for k in trunk if k.endswith("weight"))


@pytest.mark.parametrize(("setting", "value"), [("unfreeze_at_epoch", 0), ("lr_factor", 2.0)])
def test_bad_phase_settings_are_refused(setting, value):
    with pytest.raises(SeqnnInputError, match=f"callbacks.trunk_finetuning: {setting}="):
        TrunkFinetuning(**{setting: value})


def test_seqnn_train_fine_tunes_a_package_from_config(package, tmp_path):
    """seqnn-train init_from=<package> model=finetune callbacks=finetune: the exported model
    holds the package's trunk unchanged and a trained head."""
    cfg = compose_train(
        [
            f"init_from={package}",
            "model=finetune",
            "callbacks=finetune",
            "~callbacks.progress_bar",
            "+trainer.enable_progress_bar=false",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=3",
            "+trainer.limit_val_batches=2",
            "+trainer.limit_test_batches=2",
        ],
        tmp_path,
    )
    with open_dict(cfg):
        del cfg["hydra"]
    train(cfg)
    tuned = load_pretrained(tmp_path / "model")
    source = load_pretrained(package).net
    theirs, ours = state(source, trunk=True), state(tuned.net, trunk=True)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert tuned.spec.card["init_from"] == str(package)
    assert tuned.spec.card["precision"] == "32-true"  # scans autocast only a bf16-trained model
    assert tuned.spec.network["_target_"].endswith("BassetCNN")  # loads without the package


class _BatchNormStats(L.Callback):
    """The trunk's batch-norm running statistics at the end of each training epoch."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, torch.Tensor]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        stats = state(pl_module.net, trunk=True)
        self.epochs.append({k: v for k, v in stats.items() if "running_" in k})


def test_batch_norm_statistics_frozen_with_the_trunk_then_updated_once_unfrozen(package):
    """The policy: while the trunk is frozen its batch-norm layers keep the package's running
    statistics (they normalise as in pretraining); once unfrozen they update again."""
    module = make_module(package)
    start = {k: v for k, v in state(module.net, trunk=True).items() if "running_" in k}
    assert start  # BassetCNN's trunk has batch norm
    seen = _BatchNormStats()
    fit(module, TrunkFinetuning(unfreeze_at_epoch=1, lr_factor=0.1), 2, motif_batch(), seen)
    frozen, unfrozen = seen.epochs
    assert all(torch.equal(frozen[k], start[k]) for k in start)  # epoch 0: frozen
    assert all(not torch.equal(unfrozen[k], start[k]) for k in start if "running_mean" in k)
