"""NetworkWrapper: the base of networks that wrap one inner network and keep its facts.

A wrapper (:class:`~seqnn.models.reverse_complement.ReverseComplementAverage`,
:class:`~seqnn.models.haplotype_mean.HaplotypeMean`) changes how the inner network is run,
not what it predicts: its targets, receptive field and ensemble members are the inner
network's, read through to ``self.net``.
"""

from __future__ import annotations

from torch import nn


class NetworkWrapper(nn.Module):
    """Hold ``net`` and report its ``n_targets``, ``receptive_field`` and ``has_members``.

    Subclasses define ``forward``.

    Args:
        net: Any network taking one-hot (N, 4, L).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    @property
    def n_targets(self) -> int:
        """The wrapped network's number of targets."""
        return self.net.n_targets

    @property
    def receptive_field(self) -> int:
        """The wrapped network's receptive field (bp)."""
        return self.net.receptive_field

    @property
    def has_members(self) -> bool:
        """Whether the wrapped network is an ensemble (``forward(x, members=True)``)."""
        return getattr(self.net, "has_members", False)
