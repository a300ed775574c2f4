"""What every seqnn LightningModule shares: the stage steps, per-stage metric logging and the
optimiser set-up.

A module using :class:`StagedModule` defines ``_step(batch, stage) -> loss`` and holds
``train_metrics``, ``val_metrics``, ``test_metrics`` (one MetricCollection cloned per stage),
``optimizer_factory``, ``scheduler_factory`` and the hyperparameters ``monitor`` and
``scheduler_interval``.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from torch import Tensor
from torch.optim import Optimizer

from seqnn.tasks.metrics import compute_and_reset
from seqnn.tasks.optimization import optimizer_config


class StagedModule(L.LightningModule):
    """LightningModule base: one ``_step`` for every stage, each stage's metrics logged at its
    epoch end, the optimiser built from the injected factories."""

    def _step(self, batch: Any, stage: str) -> Tensor:
        raise NotImplementedError

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self.log_dict(compute_and_reset(self.train_metrics))

    def on_validation_epoch_end(self) -> None:
        self.log_dict(compute_and_reset(self.val_metrics))

    def on_test_epoch_end(self) -> None:
        self.log_dict(compute_and_reset(self.test_metrics))

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        return optimizer_config(
            self.parameters(),
            self.optimizer_factory,
            self.scheduler_factory,
            monitor=self.hparams.monitor,
            interval=self.hparams.scheduler_interval,
        )
