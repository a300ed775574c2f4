"""Output transforms: what turns a network's raw outputs into predictions.

Each task kind's default is :attr:`seqnn.kinds.TaskKind.output_transform`.

Shared by the training modules and by pretrained models, so this module imports torch only
(not Lightning): ``seqnn-predict`` and friends start without loading the training stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from seqnn.kinds import TASK_KINDS

OutputTransform = Literal["sigmoid", "softmax", "exp", "expm1", "identity"]


def _softmax(logits: Tensor) -> Tensor:
    return torch.softmax(logits, dim=1)  # dim 1 holds the classes for (N, C) and (N, C, L)


def _identity(values: Tensor) -> Tensor:
    return values


OUTPUT_TRANSFORMS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "softmax": _softmax,
    "exp": torch.exp,  # e.g. PoissonNLLLoss(log_input=True): the net predicts log-rates
    "expm1": torch.expm1,  # a log(1 + count) head (BPNet's count head) -> counts
    "identity": _identity,
}
# the supervised kinds' defaults, kept for one release: ask seqnn.kinds.task_kind(...)
DEFAULT_OUTPUT_TRANSFORM: dict[str, str] = {
    k.name: k.output_transform for k in TASK_KINDS.values() if k.metrics is not None
}


def profile_prediction(profile_logits: Tensor, log_counts: Tensor) -> Tensor:
    """Expected counts: softmax over positions × predicted total.

    Args:
        profile_logits: (N, T, L).
        log_counts: (N, T) predicted log(1 + total), as the count loss trains them.

    Returns:
        (N, T, L) counts.
    """
    total = torch.expm1(log_counts).clamp(min=0.0)
    return torch.softmax(profile_logits, dim=-1) * total.unsqueeze(-1)


def profile_projection(profile_logits: Tensor) -> Tensor:
    """The scalar that explains a profile head: sum over positions of the softmax of the
    logits (detached, so a constant weight) times the logits (BPNet / chrombpnet's
    projection; its gradient is the logits' gradient weighted by the predicted shape).

    Args:
        profile_logits: (N, T, L).

    Returns:
        (N, T).
    """
    weights = torch.softmax(profile_logits.detach(), dim=-1)
    return (weights * profile_logits).sum(dim=-1)
