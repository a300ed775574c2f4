"""Epoch metrics of profile networks, per target and averaged over targets.

Every metric's ``update(preds, target)`` takes ``preds = (profile_logits (N, T, L), log_counts
(N, T))``, the network's output (e.g. ``DilatedResNet(head="both")``, from one-hot (N, 4, L),
channels A, C, G, T), and ``target`` observed counts (N, T, L), NaN where masked. States are
sums (or concatenated values) registered with ``add_state``, so DDP syncs them at ``compute()``.

``compute()`` returns ``{name: mean over targets}`` plus ``{name/<target>: value}`` when
``target_names`` are given (a :class:`~torchmetrics.MetricCollection` flattens and prefixes
these: ``val/profile_pearson``, ``val/profile_pearson/<target>``). Targets with no usable
window are NaN and left out of the mean.

Definitions (``valid`` = non-NaN positions; a window is one (sequence, target) pair):

- ``profile_pearson``: mean over windows of the Pearson correlation, over the window's valid
  positions, between the predicted profile ``softmax(logits) × exp(log_counts)`` and the
  observed counts. (Scaling by the predicted total does not change a Pearson correlation.)
  Windows whose observed or predicted profile is constant (e.g. no reads) are left out.
- ``profile_jsd``: mean over windows with a positive observed total of the Jensen–Shannon
  *distance* (square root of the divergence, log base 2, in [0, 1]) between the predicted
  probabilities ``softmax(logits)`` and the observed counts / their total, both over the
  valid positions (scipy's ``jensenshannon(p, q, base=2)``).
- ``count_pearson`` / ``count_spearman``: across windows, per target, Pearson / Spearman
  (average ranks for ties) between ``log_counts`` and ``log(1 + observed total)``. Windows
  with a masked position (unknown total) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.utilities import dim_zero_cat

from seqnn.tasks.profile_losses import ProfileOutput, masked_log_softmax, observed_log_total


def _masked_pearson(x: Tensor, y: Tensor, valid: Tensor) -> Tensor:
    """Pearson over the last dim, using only ``valid`` entries; NaN where undefined."""
    x, y = x.double(), y.double()
    n = valid.sum(-1, keepdim=True)
    dx = torch.where(valid, x - torch.where(valid, x, 0).sum(-1, keepdim=True) / n, 0)
    dy = torch.where(valid, y - torch.where(valid, y, 0).sum(-1, keepdim=True) / n, 0)
    return (dx * dy).sum(-1) / ((dx**2).sum(-1) * (dy**2).sum(-1)).sqrt()


def _average_ranks(values: Tensor) -> Tensor:
    """Ranks 1..n of a 1-D tensor, ties given their average rank (as scipy.stats.rankdata)."""
    _, inverse, counts = torch.unique(values, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    return (ends - (counts.double() - 1) / 2)[inverse]


class _ProfileMetric(Metric):
    """Per-target values; ``compute()`` gives their mean and, with names, each value."""

    full_state_update = False

    def __init__(
        self, name: str, n_targets: int = 1, target_names: Sequence[str] | None = None
    ) -> None:
        super().__init__()
        if target_names is not None and len(target_names) != n_targets:
            raise ValueError(f"{name}: {len(target_names)} target names for {n_targets} targets")
        self.metric_name = name
        self.n_targets = n_targets
        self.target_names = None if target_names is None else [str(t) for t in target_names]

    def _per_target(self) -> Tensor:
        raise NotImplementedError

    def compute(self) -> dict[str, Tensor]:
        values = self._per_target().float()  # (T,)
        out = {self.metric_name: torch.nanmean(values)}
        for target, value in zip(self.target_names or [], values, strict=False):
            out[f"{self.metric_name}/{target}"] = value
        return out


class _WindowMean(_ProfileMetric):
    """Mean over windows of a per-window value; NaN window values are left out."""

    def __init__(
        self, name: str, n_targets: int = 1, target_names: Sequence[str] | None = None
    ) -> None:
        super().__init__(name, n_targets, target_names)
        self.add_state("total", torch.zeros(n_targets, dtype=torch.float64), "sum")
        self.add_state("n_windows", torch.zeros(n_targets, dtype=torch.float64), "sum")

    def _window_values(self, preds: ProfileOutput, target: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, preds: ProfileOutput, target: Tensor) -> None:
        values = self._window_values(preds, target)  # (N, T)
        ok = ~torch.isnan(values)
        self.total += torch.where(ok, values, 0).sum(0)
        self.n_windows += ok.sum(0)

    def _per_target(self) -> Tensor:
        return self.total / self.n_windows  # NaN for a target without a window


class ProfilePearson(_WindowMean):
    """Mean over windows of the profile Pearson (see the module docstring), (T,) targets.

    Args:
        n_targets: targets T.
        target_names: names for the per-target keys, or None for the mean only.
    """

    higher_is_better = True

    def __init__(self, n_targets: int = 1, target_names: Sequence[str] | None = None) -> None:
        super().__init__("profile_pearson", n_targets, target_names)

    def _window_values(self, preds: ProfileOutput, target: Tensor) -> Tensor:
        logits, log_counts = preds
        valid = ~torch.isnan(target)
        pred = masked_log_softmax(logits, valid).exp() * log_counts.exp().unsqueeze(-1)
        return _masked_pearson(pred, target, valid)  # (N, T)


class ProfileJSD(_WindowMean):
    """Mean over windows of the Jensen–Shannon distance (base 2) of the normalised profiles.

    Args:
        n_targets: targets T.
        target_names: names for the per-target keys, or None for the mean only.
    """

    higher_is_better = False

    def __init__(self, n_targets: int = 1, target_names: Sequence[str] | None = None) -> None:
        super().__init__("profile_jsd", n_targets, target_names)

    def _window_values(self, preds: ProfileOutput, target: Tensor) -> Tensor:
        logits, _ = preds
        valid = ~torch.isnan(target)
        p = torch.where(valid, masked_log_softmax(logits.double(), valid).exp(), 0)
        y = torch.where(valid, target.double(), 0)
        q = y / y.sum(-1, keepdim=True)  # NaN for an empty window: left out
        m = (p + q) / 2
        kl_pm = (torch.special.xlogy(p, p) - torch.special.xlogy(p, m)).sum(-1)
        kl_qm = (torch.special.xlogy(q, q) - torch.special.xlogy(q, m)).sum(-1)
        js = (kl_pm + kl_qm) / (2 * math.log(2))  # nats -> bits
        return js.clamp(min=0).sqrt()  # (N, T)


class CountPearson(_ProfileMetric):
    """Pearson across windows between log_counts and log(1 + observed total), per target.

    Keeps running sums (float64), not the values.

    Args:
        n_targets: targets T.
        target_names: names for the per-target keys, or None for the mean only.
    """

    higher_is_better = True

    def __init__(self, n_targets: int = 1, target_names: Sequence[str] | None = None) -> None:
        super().__init__("count_pearson", n_targets, target_names)
        for state in ("n", "sx", "sy", "sxx", "syy", "sxy"):
            self.add_state(state, torch.zeros(n_targets, dtype=torch.float64), "sum")

    def update(self, preds: ProfileOutput, target: Tensor) -> None:
        x, y = preds[1].double(), observed_log_total(target.double())  # (N, T) each
        ok = ~torch.isnan(y)
        x, y = torch.where(ok, x, 0), torch.where(ok, y, 0)
        self.n += ok.sum(0)
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.sxx += (x * x).sum(0)
        self.syy += (y * y).sum(0)
        self.sxy += (x * y).sum(0)

    def _per_target(self) -> Tensor:
        cov = self.n * self.sxy - self.sx * self.sy
        var_x = self.n * self.sxx - self.sx**2
        var_y = self.n * self.syy - self.sy**2
        return cov / (var_x * var_y).sqrt()


class CountSpearman(_ProfileMetric):
    """Spearman across windows between log_counts and log(1 + observed total), per target.

    Keeps every window's two values for the epoch (ranks need them all).

    Args:
        n_targets: targets T.
        target_names: names for the per-target keys, or None for the mean only.
    """

    higher_is_better = True

    def __init__(self, n_targets: int = 1, target_names: Sequence[str] | None = None) -> None:
        super().__init__("count_spearman", n_targets, target_names)
        self.add_state("preds", [], dist_reduce_fx="cat")
        self.add_state("targets", [], dist_reduce_fx="cat")

    def update(self, preds: ProfileOutput, target: Tensor) -> None:
        self.preds.append(preds[1].double())
        self.targets.append(observed_log_total(target.double()))

    def _per_target(self) -> Tensor:
        if not self.preds:
            return torch.full((self.n_targets,), float("nan"), device=self.device)
        x, y = dim_zero_cat(self.preds), dim_zero_cat(self.targets)  # (N, T) each
        values = []
        for t in range(self.n_targets):
            ok = ~torch.isnan(y[:, t])
            rx, ry = _average_ranks(x[ok, t]), _average_ranks(y[ok, t])
            values.append(_masked_pearson(rx, ry, torch.ones_like(rx, dtype=torch.bool)))
        return torch.stack(values)


def profile_metrics(
    n_targets: int = 1, target_names: Sequence[str] | None = None
) -> MetricCollection:
    """The default profile metrics, before the per-stage clone.

    Args:
        n_targets: targets T.
        target_names: names for the per-target keys (``profile_pearson/<name>``) when T > 1
            (default ``"0"``, ``"1"``, ...); with T == 1 only the means are logged.

    Returns:
        ``profile_pearson``, ``profile_jsd``, ``count_pearson``, ``count_spearman``.
    """
    if n_targets == 1:
        target_names = None  # the means are the target's values
    elif target_names is None:
        target_names = [str(i) for i in range(n_targets)]
    kw = {"n_targets": n_targets, "target_names": target_names}
    metrics = {
        "profile_pearson": ProfilePearson(**kw),
        "profile_jsd": ProfileJSD(**kw),
        "count_pearson": CountPearson(**kw),
        "count_spearman": CountSpearman(**kw),
    }
    return MetricCollection(metrics, compute_groups=False)
