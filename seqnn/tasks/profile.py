"""ProfileModule: the training policy for BPNet-style profile networks.

Layout: batches are ``(x, y)`` with x float one-hot (N, 4, L), channels A, C, G, T, or uint8
codes (N, L) that the module's :class:`~seqnn.data.encoding.OneHot` turns into one-hot on the
batch's device; y observed counts (N, T, L_out) float ((N, L_out) when T == 1), NaN where the
coverage is masked. The injected network returns ``(profile_logits (N, T, L_out), log_counts
(N, T))``, e.g. ``DilatedResNet(head="both")``: the profile's shape (softmax over positions)
and its log total. The loss (:mod:`seqnn.tasks.profile_losses`) takes that pair and y.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torchmetrics import MetricCollection

from seqnn.data.encoding import OneHot
from seqnn.kinds import PROFILE
from seqnn.models.ensemble import average_outputs
from seqnn.models.outputs import profile_prediction
from seqnn.tasks.profile_losses import observed_log_total
from seqnn.tasks.profile_metrics import profile_metrics
from seqnn.tasks.staged import StagedModule


class ProfileModule(StagedModule):
    """Train a network on base-resolution count profiles (BPNet: shape + total).

    Exported (``save_pretrained``) as task ``"profile"``: ``predict_*`` give each window's
    predicted total count per target,
    :func:`seqnn.inference.predict.predict_profiles` the profiles.

    Args:
        net: (N, 4, L) one-hot -> (profile_logits (N, T, L_out), log_counts (N, T)).
        loss: ``loss((profile_logits, log_counts), y)`` -> scalar, e.g. ``BPNetLoss()``.
        optimizer: ``optimizer(params=...)`` -> Optimizer (a partial, Hydra ``_partial_: true``).
        scheduler: optional ``scheduler(optimizer=...)`` -> LR scheduler (a partial).
        n_targets: tracks T.
        target_names: names of the T tracks for the per-target metric keys
            (``val/profile_pearson/<name>``); default ``"0"``, ``"1"``, ... when T > 1.
        metrics: a MetricCollection to use instead of :func:`profile_metrics`; it is cloned per
            stage and receives ``((profile_logits, log_counts), y)``.
        monitor: the logged value a ReduceLROnPlateau scheduler watches.
        scheduler_interval: step the scheduler every ``"epoch"`` or every ``"step"``.
        one_hot: the codes -> one-hot module; None (the default): one with the N/IUPAC
            policy of the trainer's data module, taken at ``setup`` (see
            :meth:`~seqnn.tasks.staged.StagedModule.use_policy`).
    """

    # what save_pretrained records (seqnn.kinds.PROFILE: predictions are the count head's totals)
    task_kind = PROFILE.name

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any] | None = None,
        n_targets: int = 1,
        target_names: Sequence[str] | None = None,
        metrics: MetricCollection | None = None,
        monitor: str = "val/profile_pearson",
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        one_hot: OneHot | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            logger=False, ignore=["net", "loss", "metrics", "one_hot", "optimizer", "scheduler"]
        )
        # factories stay out of the checkpoint: it loads with torch.load(weights_only=True)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.net = net
        self.loss = loss
        self.set_one_hot(one_hot)
        if metrics is None:
            metrics = profile_metrics(n_targets, target_names)
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """One-hot (N, 4, L) or codes (N, L) -> (profile_logits (N, T, L_out), log_counts (N, T)),
        float32 (also under bf16 autocast)."""
        return self._checked(self.net(self.one_hot(x)))

    @staticmethod
    def _checked(out: Any) -> tuple[Tensor, Tensor]:
        """A net's output as (profile_logits, log_counts) in float32, or a clear error."""
        if not (isinstance(out, tuple | list) and len(out) == 2):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(
                "ProfileModule: the net must return (profile_logits (N, T, L), log_counts "
                f"(N, T)), e.g. DilatedResNet(head='both') (model=resnet model.head=both); "
                f"got {shape}"
            )
        return out[0].float(), out[1].float()

    def on_fit_start(self) -> None:
        """Start the count head at the data's mean log total (a fresh fit only).

        Log totals are large (~5-10); from a zero bias Adam needs thousands of steps to get
        there, and the count head underfits meanwhile. Only a net with a ``scalar_head``
        ending in a Linear (DilatedResNet, also inside an Ensemble or a wrapper) is touched;
        resumed fits keep their weights.
        """
        if self.trainer.ckpt_path or self.trainer.datamodule is None:
            return
        heads = [getattr(m, "scalar_head", None) for m in self.net.modules()]
        linears = [
            h[-1] for h in heads if isinstance(h, nn.Sequential) and isinstance(h[-1], nn.Linear)
        ]
        if not linears:
            return
        _, y = next(iter(self.trainer.datamodule.train_dataloader()))
        for linear in linears:
            init_count_bias(linear, y)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        y = (y.unsqueeze(1) if y.ndim == 2 else y).float()  # one track: (N, L) -> (N, 1, L)
        if stage == "train" and getattr(self.net, "has_members", False):
            # an Ensemble: each member learns from its own loss; metrics see the average
            outputs = [self._checked(out) for out in self.net(self.one_hot(x), members=True)]
        else:
            outputs = [self(x)]
        logits, log_counts = average_outputs(outputs)
        if y.shape != logits.shape:
            raise ValueError(
                f"ProfileModule: targets {tuple(y.shape)} do not match the net's profile "
                f"{tuple(logits.shape)} (N, T, L_out); check n_targets and the output crop"
            )
        loss = torch.stack([self.loss(out, y) for out in outputs]).mean()
        self.log(
            f"{stage}/loss",
            loss,
            on_step=stage == "train",
            on_epoch=True,
            prog_bar=True,
            batch_size=x.shape[0],
            sync_dist=stage != "train",
        )
        getattr(self, f"{stage}_metrics").update((logits.detach(), log_counts.detach()), y)
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Expected counts (N, T, L_out), float32: profile probabilities × exp(log_counts).
        ``batch`` is ``x`` or ``(x, ...)``."""
        x = batch[0] if isinstance(batch, tuple | list) else batch
        return profile_prediction(*self(x))


@torch.no_grad()
def init_count_bias(linear: nn.Linear, y: Tensor) -> None:
    """Set ``linear``'s bias to the mean log(1 + total) per target of counts ``y`` (N, T, L),
    NaN windows left out (targets without any keep their bias)."""
    totals = observed_log_total(y.float()).to(linear.bias.device)  # (N, T)
    keep = ~torch.isnan(totals)
    counts = keep.sum(dim=0)
    mean = torch.where(keep, totals, 0.0).sum(dim=0) / counts.clamp(min=1)
    linear.bias.copy_(torch.where(counts > 0, mean, linear.bias))
