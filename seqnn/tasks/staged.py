"""What every seqnn LightningModule shares: the stage steps, per-stage metric logging and the
optimiser set-up.

A module using :class:`StagedModule` defines ``_step(batch, stage) -> loss`` and holds
``train_metrics``, ``val_metrics``, ``test_metrics`` (one MetricCollection cloned per stage),
``optimizer_factory``, ``scheduler_factory`` and the hyperparameters ``monitor`` and
``scheduler_interval``, and sets its codes -> one-hot module with
:meth:`~StagedModule.set_one_hot`.

The N/IUPAC policy has one holder, the data module: at ``setup`` the module takes the policy
the batches are encoded with from ``trainer.datamodule.policy`` (its on-device one-hot, and so
the exported model's spec, then use that policy), whether ``seqnn-train`` or the user's own
Trainer runs the fit.
"""

from __future__ import annotations

import warnings
from typing import Any

import lightning as L
from torch import Tensor
from torch.optim import Optimizer

from seqnn.data.encoding import EncodingPolicy, OneHot
from seqnn.tasks.metrics import compute_and_reset
from seqnn.tasks.optimization import optimizer_config


class StagedModule(L.LightningModule):
    """LightningModule base: one ``_step`` for every stage, each stage's metrics logged at its
    epoch end, the optimiser built from the injected factories."""

    def _step(self, batch: Any, stage: str) -> Tensor:
        raise NotImplementedError

    def set_one_hot(self, one_hot: OneHot | None) -> None:
        """The codes (N, L) -> one-hot (N, 4, L) module: ``one_hot`` when given (its policy
        must then match the data module's), else the data module's policy from ``setup``."""
        self._one_hot_given = one_hot is not None
        self._policy_known = one_hot is not None
        self.one_hot = one_hot if one_hot is not None else OneHot()

    def setup(self, stage: str) -> None:
        """Take the N/IUPAC policy of the trainer's data module (see :meth:`use_policy`)."""
        datamodule = getattr(self._trainer, "datamodule", None)
        self.use_policy(getattr(datamodule, "policy", None))

    def use_policy(self, policy: EncodingPolicy | None) -> None:
        """Encode codes with ``policy``, the one the data was encoded with (what ``setup``
        calls with the data module's; call it yourself when you train without one).

        Args:
            policy: the data's policy; None: unknown (no data module), which warns unless
                ``one_hot=`` was given.

        Raises:
            ValueError: ``one_hot=`` was given with another policy than the data's.
        """
        name = type(self).__name__
        if policy is None:
            if not self._policy_known:
                warnings.warn(
                    f"{name}: no data module tells the N/IUPAC policy of the batches: codes "
                    f"are one-hot encoded with {self.one_hot.policy} (and a model exported "
                    "from this module records it); train with a data module, or call "
                    "use_policy(<your data's policy>)",
                    UserWarning,
                    stacklevel=2,
                )
                self._policy_known = True
            return
        if self._one_hot_given:  # kept; a module of one's own may not say its policy
            given = getattr(self.one_hot, "policy", policy)
            if given != policy:
                raise ValueError(
                    f"{name}: one_hot= encodes with {given} but the data module's batches are "
                    f"encoded with {policy}: drop one_hot= (the module takes the data module's "
                    "policy) or give the data module that policy"
                )
        elif self.one_hot.policy != policy:
            self.one_hot = OneHot(policy).to(self.one_hot.table.device)
        self._policy_known = True

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
