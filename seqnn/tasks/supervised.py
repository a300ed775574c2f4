"""SupervisedModule: the training policy for sequence -> target networks.

Layout: batches are ``(x, y)`` with x float one-hot (N, 4, L), channels A, C, G, T, or uint8
codes (N, L) that the module's :class:`~seqnn.data.encoding.OneHot` turns into one-hot on the
batch's device. The injected network maps (N, 4, L) to logits (N, T), or (N, T, L_out) for
per-position (profile) heads. Targets ``y``:

- binary: (N,) or (N, 1), 0/1 (float or int)
- multilabel: (N, T), 0/1
- multiclass: (N,) class indices
- regression: (N, T) float ((N,) when T == 1); profile heads (N, T, L_out)

The loss is injected (``BCEWithLogitsLoss``, ``CrossEntropyLoss``, ``MSELoss``,
``PoissonNLLLoss(log_input=True)``, ...) and always sees float32 logits, so bf16 autocast never
reaches it. Metrics see the transformed outputs (probabilities, or values).

A network with ``has_members`` (:class:`~seqnn.models.Ensemble`, also inside
:class:`~seqnn.models.ReverseComplementAverage`) is trained on the mean of its members' own
losses (``net(x, members=True)``); its validation loss and all metrics are those of its
averaged output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torchmetrics import MetricCollection

from seqnn.data.encoding import OneHot
from seqnn.kinds import BINARY, kinds_where, task_kind
from seqnn.models.ensemble import average_outputs
from seqnn.models.outputs import OUTPUT_TRANSFORMS, OutputTransform
from seqnn.tasks.metrics import Task, default_metrics, metric_inputs
from seqnn.tasks.staged import StagedModule


class SupervisedModule(StagedModule):
    """Train a network on labelled sequences: binary, multilabel, multiclass or regression.

    Args:
        net: (N, 4, L) one-hot -> (N, T) logits (or (N, T, L_out)).
        loss: ``loss(logits, target)`` -> scalar, e.g. ``nn.BCEWithLogitsLoss()``.
        optimizer: ``optimizer(params=...)`` -> Optimizer (a partial, Hydra ``_partial_: true``).
        scheduler: optional ``scheduler(optimizer=...)`` -> LR scheduler (a partial).
        task: ``"binary"``, ``"multilabel"``, ``"multiclass"`` or ``"regression"``
            (:mod:`seqnn.kinds`: its targets, default transform, metrics and calls).
        n_targets: labels / classes / outputs T (1 for binary).
        target_names: names of the T targets for the per-target metric keys
            (``val/auroc/<name>``); default ``"0"``, ``"1"``, ...
        metrics: a MetricCollection to use instead of :func:`default_metrics`; it is cloned
            per stage. It receives transformed outputs (see ``output_transform``).
        monitor: the logged value a ReduceLROnPlateau scheduler watches.
        output_transform: logits -> predictions: ``"sigmoid"``, ``"softmax"``, ``"exp"``
            (Poisson log-rates) or ``"identity"``; default: the task kind's
            (sigmoid for binary/multilabel, softmax for multiclass, identity for regression).
        scheduler_interval: step the scheduler every ``"epoch"`` or every ``"step"``.
        one_hot: the codes -> one-hot module; None (the default): one with the N/IUPAC
            policy of the trainer's data module, taken at ``setup`` (see
            :meth:`~seqnn.tasks.staged.StagedModule.use_policy`).
        threshold: binary / multilabel decision threshold of the default metrics that need
            calls (accuracy, mcc, f1, sensitivity, specificity); a probability above it
            is a positive call. Training does not use it.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any] | None = None,
        task: Task = BINARY.name,
        n_targets: int = 1,
        target_names: Sequence[str] | None = None,
        metrics: MetricCollection | None = None,
        monitor: str = "val/loss",
        output_transform: OutputTransform | None = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        one_hot: OneHot | None = None,
        threshold: float = 0.5,
    ) -> None:
        super().__init__()
        try:
            self.kind = task_kind(task, kinds_where(trained_by="SupervisedModule"))
        except ValueError as err:
            raise ValueError(f"SupervisedModule: {err}") from None
        transform = output_transform or self.kind.output_transform
        if transform not in OUTPUT_TRANSFORMS:
            raise ValueError(
                f"SupervisedModule: output_transform must be one of {tuple(OUTPUT_TRANSFORMS)} "
                f"or None, got {output_transform!r}"
            )
        weight = getattr(loss, "pos_weight", None)  # BCE's per-target positive weights
        if isinstance(weight, Tensor) and weight.numel() not in (1, n_targets):
            raise ValueError(
                f"SupervisedModule: the loss has {weight.numel()} pos_weight values for "
                f"{n_targets} targets: give one number, or one per target"
            )
        self.save_hyperparameters(
            logger=False, ignore=["net", "loss", "metrics", "one_hot", "optimizer", "scheduler"]
        )
        # The optimiser/scheduler factories stay out of the checkpoint so that it loads with
        # torch.load(weights_only=True): nothing in it needs unpickling code.
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.net = net
        self.loss = loss
        self.set_one_hot(one_hot)
        self.output_fn = OUTPUT_TRANSFORMS[transform]
        self._default_metrics = metrics is None
        if metrics is None:
            metrics = default_metrics(task, n_targets, target_names, threshold)
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def set_threshold(self, threshold: float) -> None:
        """Call positives above ``threshold`` from now on: the test metrics are built anew
        with it, and ``hparams.threshold`` (what an exported model's spec records) holds it.

        Raises:
            ValueError: a task other than binary / multilabel, or metrics passed in by hand
                (their threshold is theirs to set).
        """
        hp = self.hparams
        if not self.kind.calls:
            raise ValueError(f"set_threshold: {hp.task} tasks make no thresholded calls")
        if not self._default_metrics:
            raise ValueError("set_threshold: this module was given its own metrics=")
        metrics = default_metrics(hp.task, hp.n_targets, hp.target_names, threshold)
        self.test_metrics = metrics.clone(prefix="test/").to(self.device)
        hp.threshold = float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        """One-hot (N, 4, L) or codes (N, L) -> logits (N, T) (or (N, T, L_out))."""
        return self.net(self.one_hot(x))

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        if stage == "train" and getattr(self.net, "has_members", False):
            # an Ensemble: each member learns from its own loss; metrics see the average
            outputs = [out.float() for out in self.net(self.one_hot(x), members=True)]
            logits = average_outputs(outputs)
            target = self._loss_target(y, logits)
            loss = torch.stack([self.loss(out, target) for out in outputs]).mean()
        else:
            logits = self(x).float()  # loss and metrics in float32, also under bf16 autocast
            loss = self.loss(logits, self._loss_target(y, logits))
        self.log(
            f"{stage}/loss",
            loss,
            on_step=stage == "train",
            on_epoch=True,
            prog_bar=True,
            batch_size=x.shape[0],
            sync_dist=stage != "train",
        )
        preds, target = self._metric_inputs(logits.detach(), y)
        getattr(self, f"{stage}_metrics").update(preds, target)
        return loss

    def _loss_target(self, y: Tensor, logits: Tensor) -> Tensor:
        """y in the dtype and shape the loss expects next to ``logits``."""
        if self.kind.targets == "classes":
            # (N, 1) -> (N,); profile targets (N, L) stay as they are
            return (y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y).long()
        y = y.float()
        if y.shape != logits.shape and y.numel() == logits.numel():
            y = y.reshape(logits.shape)  # binary (N,) vs logits (N, 1), and the reverse
        return y

    def _metric_inputs(self, logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Predictions and targets in torchmetrics' layout for this task."""
        return metric_inputs(self.hparams.task, self.hparams.n_targets, self.output_fn(logits), y)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Probabilities (classification) or values (regression), float32, shaped like the
        net's output. ``batch`` is ``x`` or ``(x, ...)``."""
        x = batch[0] if isinstance(batch, tuple | list) else batch
        return self.output_fn(self(x).float())
