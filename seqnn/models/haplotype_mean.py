"""HaplotypeMean: one prediction per person from both haplotypes of a diploid genome.

Input one-hot (N, H, 4, L), channels A, C, G, T, with H haplotypes per example (2 for a
diploid person: :class:`~seqnn.data.personal.PersonalDataset` with ``haplotypes="pair"``), or
one haplotype (N, 4, L). A trait measured per person (expression, chromatin signal) is a
property of both haplotypes together, so training one network per haplotype on it gives each
haplotype a target half made of the other haplotype's effect; this wrapper lets the loss see
the person's prediction instead.
"""

from __future__ import annotations

import torch

from seqnn.models.spec import records_config
from seqnn.models.wrapper import NetworkWrapper

Output = torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]


@records_config
class HaplotypeMean(NetworkWrapper):
    """Run ``net`` on each haplotype and average the outputs: (N, H, 4, L) -> net's (N, ...).

    The mean, not the sum: a trait additive over haplotypes (copies of a site on both) is
    still learned (the sum is twice the mean, a scale the last layer absorbs), and the
    wrapped network's output on one haplotype stays on the scale of a person's trait, so
    :func:`~seqnn.inference.personal.predict_personal`'s per-person summary (the mean over
    the two haplotypes of one-haplotype predictions) equals this wrapper's output on the
    pair. One haplotype (N, 4, L) goes through ``net`` unchanged, so a package saved with
    the wrapper predicts one haplotype at a time like any other network.

    Tuple / list outputs (e.g. ``(profile, counts)``) are averaged element by element.
    Receptive field and ``n_targets`` are those of ``net``.

    Args:
        net: Any network taking (N, 4, L).
    """

    def forward(self, x: torch.Tensor, members: bool = False) -> Output | list[Output]:
        """One-hot (N, H, 4, L) -> the net's output averaged over the H haplotypes; one-hot
        (N, 4, L) -> the net's output. With ``members=True`` (a wrapped ensemble) each
        member's output, averaged over haplotypes."""
        extra = {"members": True} if members else {}
        if x.ndim == 3:
            return self.net(x, **extra)
        if x.ndim != 4:
            raise ValueError(
                f"HaplotypeMean: expected one-hot (N, H, 4, L) or (N, 4, L), got {tuple(x.shape)}"
            )
        n, h = x.shape[:2]
        out = self.net(x.reshape(n * h, *x.shape[2:]), **extra)  # (N, H, 4, L) -> (N*H, 4, L)
        if members:
            return [_mean_over_haplotypes(member, n, h) for member in out]
        return _mean_over_haplotypes(out, n, h)


def _mean_over_haplotypes(out: Output, n: int, h: int) -> Output:
    """(N*H, ...) -> (N, ...): the mean over each example's H rows; tuples element by element."""
    if isinstance(out, tuple | list):
        return type(out)(_mean_over_haplotypes(part, n, h) for part in out)
    return out.reshape(n, h, *out.shape[1:]).mean(1)  # (N*H, ...) -> (N, H, ...) -> (N, ...)
