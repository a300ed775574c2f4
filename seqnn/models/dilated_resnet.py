"""DilatedResNet: BPNet / Basenji-style tower of residual dilated convolutions.

Input one-hot (N, 4, L), channels A, C, G, T; outputs per-position profiles (N, n_targets,
L - 2 * crop), pooled scalars (N, n_targets), or both.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from seqnn.models.layers import (
    Activation,
    ConvBlock,
    GlobalPool,
    Padding,
    ResidualDilatedBlock,
    center_crop,
    output_length,
    receptive_field,
)
from seqnn.models.spec import records_config

Head = Literal["scalar", "profile", "both"]


@records_config
class DilatedResNet(nn.Module):
    """Stem conv, residual dilated convolutions with dilation 2, 4, ..., 2**n_layers, heads.

    No pooling: with ``padding="same"`` the trunk keeps the input length, and every output
    drops ``crop`` positions at each end, where zero padding would make predictions unreliable;
    choose ``crop >= receptive_field // 2`` for outputs that never see padding (BPNet trims
    this way). With ``padding="valid"`` no zeros are added: the trunk is ``receptive_field - 1``
    positions shorter than the input (each residual skip centre-cropped to its branch), no
    output sees padding, and :mod:`seqnn.inference.fullconv` scans the scalar head exactly.

    Heads (``head``):

    * ``"scalar"``: mean over the cropped positions, Linear -> (N, n_targets), e.g. log counts.
    * ``"profile"``: a conv of width ``profile_kernel_size`` -> (N, n_targets, L - 2 * crop).
    * ``"both"``: the tuple ``(profile, scalar)`` as in BPNet's (profile, counts).

    Receptive field of one profile position: ``stem_kernel_size + (kernel_size - 1) *
    (2 + 4 + ... + 2**n_layers) + profile_kernel_size - 1`` (defaults: 21 + 2 * 126 = 273 bp);
    the scalar head sees every position of the cropped window widened by half of that.

    Args:
        n_targets: Number of output tracks.
        n_filters: Channels of the stem and of every residual block.
        stem_kernel_size: Width of the first convolution.
        n_layers: Number of residual dilated blocks; block i has dilation 2**(i+1).
        kernel_size: Width of the dilated convolutions.
        profile_kernel_size: Width of the profile head's convolution.
        crop: Positions dropped at each end of the outputs.
        head: ``"scalar"``, ``"profile"`` or ``"both"``.
        dropout: Dropout probability on the residual branches.
        activation: Factory of the activation module.
        padding: ``"same"`` (zero-padded convolutions, the default) or ``"valid"``.
    """

    # the modules n_targets sizes: a fine-tune replaces them (seqnn.models.finetune)
    head_modules = ("profile_head", "scalar_head")

    def __init__(
        self,
        n_targets: int = 1,
        n_filters: int = 64,
        stem_kernel_size: int = 21,
        n_layers: int = 6,
        kernel_size: int = 3,
        profile_kernel_size: int = 1,
        crop: int = 0,
        head: Head = "scalar",
        dropout: float = 0.0,
        activation: Activation = nn.ReLU,
        padding: Padding = "same",
    ) -> None:
        super().__init__()
        if head not in ("scalar", "profile", "both"):
            raise ValueError(f"head must be 'scalar', 'profile' or 'both', got {head!r}")
        self.n_targets = n_targets
        self.crop = crop
        self.head_type = head
        self.trunk = nn.Sequential(
            ConvBlock(4, n_filters, stem_kernel_size, activation=activation, padding=padding),
            *(
                ResidualDilatedBlock(
                    n_filters, kernel_size, 2 ** (i + 1), dropout, activation, padding
                )
                for i in range(n_layers)
            ),
        )
        self.profile_head = nn.Conv1d(n_filters, n_targets, profile_kernel_size, padding=padding)
        self.scalar_head = nn.Sequential(GlobalPool("mean"), nn.Linear(n_filters, n_targets))

    @property
    def receptive_field(self) -> int:
        """Receptive field (bp) of one position of the profile output."""
        return receptive_field(self.trunk) + self.profile_head.kernel_size[0] - 1

    def output_length(self, length: int) -> int:
        """Profile length for an input of ``length`` positions: ``length - 2 * crop``, and
        ``receptive_field - 1`` fewer when valid-padded."""
        return output_length(self.trunk, length) - self._profile_shrink - 2 * self.crop

    @property
    def _profile_shrink(self) -> int:
        return 0 if self.profile_head.padding == "same" else self.profile_head.kernel_size[0] - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Predict profiles and/or scalars.

        Args:
            x: One-hot sequences (N, 4, L).

        Returns:
            ``"scalar"``: (N, n_targets); ``"profile"``: (N, n_targets, L - 2 * crop);
            ``"both"``: the tuple (profile, scalar). Valid padding: profiles are
            ``receptive_field - 1`` positions shorter.
        """
        h = self.trunk(x)  # (N, 4, L) -> (N, C, L)
        if self.head_type == "scalar":
            return self.scalar_head(center_crop(h, self.crop))
        profile = center_crop(self.profile_head(h), self.crop)
        if self.head_type == "profile":
            return profile
        return profile, self.scalar_head(center_crop(h, self.crop))
