"""seqnn.callbacks.Throughput: training samples/s per epoch, validation time left out."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import seqnn.callbacks
from seqnn.callbacks import Throughput, _batch_size


class Clock:
    """A fake perf_counter the steps move forward: 1 s a training step, 100 s a val step."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedNet(L.LightningModule):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.net = torch.nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        self.clock.now += 1.0
        x, y = batch
        return (self.net(x) - y).square().mean()

    def validation_step(self, batch, batch_idx):
        self.clock.now += 100.0

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_rate_is_training_samples_over_training_time(monkeypatch, tmp_path):
    clock = Clock()
    monkeypatch.setattr(seqnn.callbacks.time, "perf_counter", clock)
    data = TensorDataset(torch.randn(30, 3), torch.randn(30, 1))
    logged: list[float] = []

    class Record(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            logged.append(float(trainer.callback_metrics["train/samples_per_s"]))

    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        callbacks=[Throughput(), Record()],
    )
    train = DataLoader(data, batch_size=8)  # 4 batches (8, 8, 8, 6) a second each
    trainer.fit(TimedNet(clock), train, DataLoader(data, batch_size=10))
    # 30 samples in 4 s each epoch; the 3 val batches (300 s), sanity check included, excluded
    assert logged == [pytest.approx(7.5), pytest.approx(7.5)]
    assert "train/gpu_util_pct" not in trainer.callback_metrics  # CPU: no utilisation


def test_batch_size_of_each_batch_layout():
    x = torch.zeros(5, 4, 10)
    assert _batch_size(x) == 5
    assert _batch_size((x, torch.zeros(5, 1))) == 5
    assert _batch_size({"codes": torch.zeros(7, 10)}) == 7
    assert _batch_size([[torch.zeros(2, 3)]]) == 2
    with pytest.raises(TypeError, match="cannot count the rows of a str batch"):
        _batch_size("ACGT")
