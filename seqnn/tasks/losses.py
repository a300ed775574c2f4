"""Class-weighted binary cross-entropy, configurable from Hydra.

``torch.nn.BCEWithLogitsLoss`` takes its positive-class weight as a tensor, which a YAML file
or a command line cannot hold; :class:`WeightedBCEWithLogitsLoss` takes numbers:
``+task.loss.pos_weight=3.58`` (one weight for every target), ``[3.6,1.0]`` (one per target),
or, through ``seqnn-train``, ``balanced``: each target's n_negatives / n_positives over the
training rows (:meth:`seqnn.data.datamodule.SequenceDataModule.positive_weight`).

A positive example's loss term is multiplied by its weight, so positives count as if they were
``pos_weight`` times as frequent: the usual remedy for imbalanced labels (peaks vs background,
promoters vs non-promoters), where ``n_negatives / n_positives`` of the training rows balances
the classes (``balanced``). The trained probabilities then overstate the positive class by
that factor (odds times ``pos_weight``), so calls at 0.5 favour sensitivity over specificity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class WeightedBCEWithLogitsLoss(nn.BCEWithLogitsLoss):
    """``BCEWithLogitsLoss`` with ``pos_weight`` given as a number or a list of numbers.

    Args:
        pos_weight: weight of the positive term; a number (every target) or one per target
            (the last dimension of the logits). Finite and > 0; ``None`` or 1 is the plain loss.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``, as in torch.
    """

    def __init__(
        self, pos_weight: float | Sequence[float] | None = None, reduction: str = "mean"
    ) -> None:
        weight = None
        if pos_weight is not None:
            values = [pos_weight] if isinstance(pos_weight, int | float) else list(pos_weight)
            if pos_weight == "balanced":
                raise ValueError(
                    "WeightedBCEWithLogitsLoss: pos_weight='balanced' is resolved by seqnn-train "
                    "from the training rows; in Python give the numbers "
                    "(SequenceDataModule.positive_weight())"
                )
            if not values or not all(_positive_number(v) for v in values):
                raise ValueError(
                    "WeightedBCEWithLogitsLoss: pos_weight must be a number > 0 or a non-empty "
                    f"list of them (one per target), got {pos_weight!r}"
                )
            weight = torch.tensor(values if len(values) > 1 else values[0], dtype=torch.float32)
        super().__init__(reduction=reduction, pos_weight=weight)


def _positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
