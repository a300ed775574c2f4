"""The ``configure_optimizers`` return value shared by every task module.

Optimisers and schedulers arrive as partials (Hydra ``_partial_: true``): the module supplies
the parameters and the optimiser, the config everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from torch import nn
from torch.optim import Optimizer


def optimizer_config(
    params: Iterable[nn.Parameter],
    optimizer: Callable[..., Optimizer],
    scheduler: Callable[..., Any] | None = None,
    monitor: str = "val/loss",
    interval: Literal["epoch", "step"] = "epoch",
) -> Optimizer | dict[str, Any]:
    """Build the optimiser (and scheduler) in the form Lightning's configure_optimizers returns.

    Args:
        params: the parameters to optimise.
        optimizer: ``optimizer(params=...)`` -> Optimizer, e.g. ``partial(AdamW, lr=1e-3)``.
        scheduler: optional ``scheduler(optimizer=...)`` -> LR scheduler, e.g.
            ``partial(ReduceLROnPlateau, patience=2)``.
        monitor: the logged value a ReduceLROnPlateau scheduler watches.
        interval: step the scheduler every ``"epoch"`` or every ``"step"`` (warm-up schedules).

    Returns:
        The optimiser alone, or ``{"optimizer": ..., "lr_scheduler": {...}}``.
    """
    # only trainable parameters: a frozen trunk (seqnn.callbacks.TrunkFinetuning) joins later
    # as a param group of its own
    opt = optimizer(params=[p for p in params if p.requires_grad])
    if scheduler is None:
        return opt
    return {
        "optimizer": opt,
        "lr_scheduler": {
            "scheduler": scheduler(optimizer=opt),
            "monitor": monitor,
            "interval": interval,
            "frequency": 1,
        },
    }
