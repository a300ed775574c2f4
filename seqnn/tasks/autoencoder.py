"""AutoencoderModule: the training policy for sequence autoencoders, plain or variational.

Layout: batches are ``x`` or ``(x, ...)`` with x float one-hot (N, 4, L), channels A, C, G, T,
or uint8 codes (N, L), turned into one-hot on the device by :class:`~seqnn.data.encoding.OneHot`.

The injected network is either

- plain: ``encode(x) -> (N, d)``, ``decode(z) -> (N, 4, L)`` logits, ``forward(x) -> logits``;
- variational (detected by ``encode_distribution``): ``encode(x) -> (N, d)`` latent mean,
  ``encode_distribution(x) -> (mu, logvar)``, ``reparameterize(mu, logvar) -> z``,
  ``decode(z) -> (N, 4, L)`` logits, ``kl_divergence(mu, logvar) -> (N,)``.

The loss is the ELBO's: reconstruction cross-entropy over bases, summed over positions and
averaged over sequences (nats per sequence), plus ``kl_weight`` times the KL divergence (nats
per sequence), so ``kl_weight=1`` is the standard VAE and other values a beta-VAE. Positions
without a single base (N, IUPAC ambiguity codes) are not reconstructed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from seqnn.data.encoding import OneHot
from seqnn.kinds import AUTOENCODER
from seqnn.tasks.staged import StagedModule

IGNORE_INDEX = -100


def reconstruction_target(x: Tensor) -> Tensor:
    """One-hot (N, 4, L) -> base index (N, L); IGNORE_INDEX where no base is above 0.5
    (N as zeros or quarters, ambiguity fractions such as R = 0.5 A + 0.5 G)."""
    return torch.where(x.amax(dim=1) > 0.5, x.argmax(dim=1), IGNORE_INDEX)


def _inputs(batch: Any) -> Tensor:
    return batch[0] if isinstance(batch, tuple | list) else batch


class AutoencoderModule(StagedModule):
    """Train a (variational) autoencoder to reconstruct its input sequences.

    Args:
        net: a plain or variational autoencoder (see the module docstring).
        optimizer: ``optimizer(params=...)`` -> Optimizer (a partial, Hydra ``_partial_: true``).
        scheduler: optional ``scheduler(optimizer=...)`` -> LR scheduler (a partial).
        kl_weight: weight of the KL term once warmed up (variational nets only).
        kl_warmup_steps: training steps over which the KL weight rises linearly from 0 to
            ``kl_weight`` (0: no warm-up). Validation and test always use ``kl_weight``, so
            ``val/loss`` measures one objective across epochs.
        monitor: the logged value a ReduceLROnPlateau scheduler watches.
        scheduler_interval: step the scheduler every ``"epoch"`` or every ``"step"``.
        one_hot: the codes -> one-hot module; None (the default): one with the N/IUPAC
            policy of the trainer's data module, taken at ``setup`` (see
            :meth:`~seqnn.tasks.staged.StagedModule.use_policy`).
    """

    task_kind = AUTOENCODER.name  # what save_pretrained records

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any] | None = None,
        kl_weight: float = 1.0,
        kl_warmup_steps: int = 0,
        monitor: str = "val/loss",
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        one_hot: OneHot | None = None,
    ) -> None:
        super().__init__()
        if kl_weight < 0 or kl_warmup_steps < 0:
            raise ValueError(
                f"AutoencoderModule: kl_weight ({kl_weight}) and kl_warmup_steps "
                f"({kl_warmup_steps}) must be >= 0"
            )
        self.save_hyperparameters(
            logger=False, ignore=["net", "one_hot", "optimizer", "scheduler"]
        )
        # The optimiser/scheduler factories stay out of the checkpoint so that it loads with
        # torch.load(weights_only=True): nothing in it needs unpickling code.
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.net = net
        self.set_one_hot(one_hot)
        self.variational = hasattr(net, "encode_distribution")
        metrics = MetricCollection(
            {"accuracy": MulticlassAccuracy(4, average="micro", ignore_index=IGNORE_INDEX)}
        )
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def forward(self, x: Tensor) -> Tensor:
        """One-hot (N, 4, L) or codes (N, L) -> latent (N, d) (the mean, for a VAE)."""
        return self.net.encode(self.one_hot(x))

    def kl_weight_at(self, step: int) -> float:
        """The KL weight after ``step`` optimiser steps: linear from 0 to ``kl_weight``."""
        warmup = self.hparams.kl_warmup_steps
        if warmup == 0:
            return float(self.hparams.kl_weight)
        return float(self.hparams.kl_weight) * min(1.0, step / warmup)

    def _step(self, batch: Any, stage: str) -> Tensor:
        x = self.one_hot(_inputs(batch))
        target = reconstruction_target(x)  # (N, L)
        if self.variational:
            mu, logvar = self.net.encode_distribution(x)
            logits = self.net.decode(self.net.reparameterize(mu, logvar))
            kl = self.net.kl_divergence(mu.float(), logvar.float()).float().mean()
        else:
            logits = self.net(x)
            kl = torch.zeros((), device=x.device)
        logits = logits.float()  # (N, 4, L); the loss in float32, also under bf16 autocast
        n = x.shape[0]
        recon = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum") / n
        # warm-up is a training device: evaluation always scores the full objective
        weight = self.hparams.kl_weight
        if stage == "train":
            weight = self.kl_weight_at(self.global_step)
        loss = recon + weight * kl
        log = {"loss": loss, "reconstruction": recon, "kl": kl}
        for name, value in log.items():
            self.log(
                f"{stage}/{name}",
                value,
                on_step=stage == "train",
                on_epoch=True,
                prog_bar=name == "loss",
                batch_size=n,
                sync_dist=stage != "train",
            )
        if stage == "train" and self.variational:
            self.log("train/kl_weight", weight, on_step=True, on_epoch=False, batch_size=n)
        getattr(self, f"{stage}_metrics").update(logits.detach(), target)
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Latent vectors (N, d), float32 (the means, for a VAE)."""
        return self(_inputs(batch)).float()

    @torch.no_grad()
    def embed(self, dataloader: Iterable[Any]) -> np.ndarray:
        """Latent vectors of every sequence of ``dataloader``, in order.

        Runs in eval mode without gradients on the module's device, then restores the mode.

        Args:
            dataloader: yields ``x`` or ``(x, ...)`` batches (one-hot or codes).

        Returns:
            float32 array (n, d): latent means.
        """
        was_training = self.training
        self.eval()
        try:
            chunks = [self(_inputs(b).to(self.device)).float().cpu() for b in dataloader]
        finally:
            self.train(was_training)
        if not chunks:
            raise ValueError("AutoencoderModule.embed: the dataloader yielded no batches")
        return torch.cat(chunks).numpy()
