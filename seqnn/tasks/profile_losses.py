"""BPNet-style losses for profile networks: base-resolution counts of a window.

Layout: the network sees one-hot (N, 4, L), channels A, C, G, T, and returns ``(profile_logits
(N, T, L_out), log_counts (N, T))`` (e.g. ``DilatedResNet(head="both")``); targets are observed
counts ``y`` (N, T, L_out), float, NaN where coverage is masked (blacklist, unmappable).

All likelihoods are exact: the count-dependent log-factorial terms are included, so a loss is a
true negative log-likelihood (and can be compared across models and with
``torch.distributions``). Masking, everywhere: a NaN position is left out of the window, and a
(window, target) pair with no valid position is left out of the mean.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ProfileOutput = tuple[Tensor, Tensor]


def _masked_mean(values: Tensor, keep: Tensor) -> Tensor:
    """Mean of ``values`` where ``keep``; 0 (with a gradient) when nothing is kept."""
    kept = keep.sum()
    return torch.where(keep, values, 0.0).sum() / kept.clamp(min=1)


def masked_log_softmax(logits: Tensor, valid: Tensor) -> Tensor:
    """log-softmax over positions (last dim), renormalised over the ``valid`` positions.

    Args:
        logits: (N, T, L).
        valid: (N, T, L) bool.

    Returns:
        (N, T, L) log-probabilities; hugely negative at invalid positions (uniform if none is
        valid). Not -inf: a window of -inf makes log_softmax's gradient NaN.
    """
    return torch.log_softmax(logits.masked_fill(~valid, torch.finfo(logits.dtype).min), dim=-1)


def observed_log_total(y: Tensor) -> Tensor:
    """log(1 + total count) of each window, (N, T, L) -> (N, T); NaN if any position is NaN."""
    return torch.log1p(y.sum(dim=-1))


class MultinomialNLL(nn.Module):
    """−log Multinomial(y | n = Σ y, p = softmax(logits over positions)), mean over (N, T).

    ``−log P = −lgamma(n + 1) + Σ_i lgamma(y_i + 1) − Σ_i y_i log p_i``. NaN positions are
    dropped and ``p`` is renormalised over the rest (the likelihood of the observed part of the
    window); windows with no valid position are excluded from the mean.
    """

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        """Args: logits (N, T, L); y counts (N, T, L), NaN = masked. Returns: a scalar."""
        valid = ~torch.isnan(y)
        y0 = torch.where(valid, y, 0.0)
        log_p = masked_log_softmax(logits, valid)
        log_lik = torch.where(valid, y0 * log_p, 0.0).sum(-1)  # (N, T, L) -> (N, T)
        log_coef = torch.lgamma(y0.sum(-1) + 1) - torch.lgamma(y0 + 1).sum(-1)
        return _masked_mean(-(log_coef + log_lik), valid.any(-1))


class CountMSE(nn.Module):
    """Squared error between predicted log totals and log(1 + observed totals), mean over (N, T).

    A window with any NaN position has an unknown total and is excluded from the mean.
    """

    def forward(self, log_counts: Tensor, y: Tensor) -> Tensor:
        """Args: log_counts (N, T); y counts (N, T, L) (or totals (N, T)). Returns: a scalar."""
        target = observed_log_total(y) if y.ndim == log_counts.ndim + 1 else torch.log1p(y)
        keep = ~torch.isnan(target)
        return _masked_mean((log_counts - torch.where(keep, target, 0.0)) ** 2, keep)


class BPNetLoss(nn.Module):
    """BPNet's loss: ``MultinomialNLL(profile) + count_weight * CountMSE(log total)``.

    BPNet (Avsec et al. 2021) sets ``count_weight`` λ to about half the mean total count per
    window, so that both terms weigh alike; 1 is a neutral default.

    Args:
        count_weight: weight λ of the count term.
    """

    def __init__(self, count_weight: float = 1.0) -> None:
        super().__init__()
        self.count_weight = count_weight
        self.profile_loss = MultinomialNLL()
        self.count_loss = CountMSE()

    def forward(self, outputs: ProfileOutput, y: Tensor) -> Tensor:
        """Args: outputs (profile_logits (N, T, L), log_counts (N, T)); y (N, T, L).

        Returns: a scalar.
        """
        logits, log_counts = outputs
        return self.profile_loss(logits, y) + self.count_weight * self.count_loss(log_counts, y)


class PoissonProfileNLL(nn.Module):
    """Exact Poisson NLL of every position, mean over the valid (non-NaN) positions.

    Rates are ``exp`` of the network's log-rates: with ``(profile_logits, log_counts)`` the
    log-rate is ``log_softmax(profile_logits) + log_counts`` (rate = profile probability ×
    predicted total, what :class:`~seqnn.tasks.profile.ProfileModule` predicts); a single
    tensor (N, T, L) is taken as the log-rates themselves (``head="profile"``). Unmasked, the
    sum of this NLL over a window is the multinomial NLL of the shape plus the Poisson NLL of
    the total.
    """

    def forward(self, outputs: ProfileOutput | Tensor, y: Tensor) -> Tensor:
        """Args: outputs (profile_logits, log_counts) or log-rates (N, T, L); y (N, T, L).

        Returns: a scalar.
        """
        if isinstance(outputs, tuple | list):
            logits, log_counts = outputs
            log_rate = torch.log_softmax(logits, dim=-1) + log_counts.unsqueeze(-1)
        else:
            log_rate = outputs
        valid = ~torch.isnan(y)
        y0 = torch.where(valid, y, 0.0)
        nll = log_rate.exp() - y0 * log_rate + torch.lgamma(y0 + 1)
        return _masked_mean(nll, valid)
