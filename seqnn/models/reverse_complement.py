"""ReverseComplementAverage: make any network strand-symmetric by averaging over both strands.

Input one-hot (N, 4, L), channels A, C, G, T, so the reverse complement is ``x.flip(-1, -2)``
(reversing the channels A, C, G, T gives T, G, C, A, the complements).
"""

from __future__ import annotations

import torch
from torch import nn

from seqnn.models.spec import records_config
from seqnn.models.wrapper import NetworkWrapper


def _rc(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1, -2)  # reverse positions and complement bases, (N, 4, L)


@records_config
class ReverseComplementAverage(NetworkWrapper):
    """Output ``(net(x) + align(net(rc(x)))) / 2``, so both strands of a sequence agree.

    ``align`` flips per-position outputs (N, T, L') along length, so that position i of the
    reverse strand's prediction lines up with position i of the forward one; scalar outputs
    (N, T) are averaged as they are. A tuple or list output (e.g. DilatedResNet's
    ``(profile, counts)``) is averaged element by element.

    Strand-specific tracks (e.g. BPNet's + / - strand profiles, which swap under RC) and base
    logits (autoencoders) need a different alignment and are not handled.

    Then ``wrapper(rc(x))`` equals ``wrapper(x)``, with profiles flipped along length.
    Receptive field and ``n_targets`` are those of ``net``.

    Args:
        net: Any network taking (N, 4, L).
        profile: Whether every output is per-position; ``None`` (needed for mixed tuples such
            as ``(profile, counts)``) decides per output tensor: three or more dims are
            profiles (N, T, L').
    """

    def __init__(self, net: nn.Module, profile: bool | None = None) -> None:
        super().__init__(net)
        self.profile = profile

    def _average(self, fwd: torch.Tensor, rev: torch.Tensor) -> torch.Tensor:
        is_profile = fwd.ndim >= 3 if self.profile is None else self.profile
        return (fwd + (rev.flip(-1) if is_profile else rev)) / 2

    def forward(
        self, x: torch.Tensor, members: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]:
        """One-hot (N, 4, L) -> the wrapped network's output type and shapes, averaged; with
        ``members=True`` (a wrapped ensemble) each member's output, averaged over strands."""
        extra = {"members": True} if members else {}
        fwd, rev = self.net(x, **extra), self.net(_rc(x), **extra)
        if members:
            return [self._pair(f, r) for f, r in zip(fwd, rev, strict=True)]
        return self._pair(fwd, rev)

    def _pair(self, fwd, rev):
        """One output's strand average: a tensor, or a tuple of them element by element."""
        if isinstance(fwd, tuple | list):
            return type(fwd)(self._average(f, r) for f, r in zip(fwd, rev, strict=True))
        return self._average(fwd, rev)
