"""Small reusable pieces of the seqnn networks: conv blocks, residual dilated blocks, crops, pools.

Layout everywhere: feature tensors are (batch, channels, length); network inputs are one-hot
(N, 4, L) with channels A, C, G, T.

Convolutions use ``"same"`` padding by default, so that only pooling changes the length
(``L -> L // pool``); ``padding="valid"`` convolves without zeros (``L -> L - kernel + 1`` per
convolution), so that every output position sees real sequence only and a window's outputs are
a slice of those of a longer sequence (what makes fully convolutional scans exact).
:func:`receptive_field` and :func:`output_length` read the arithmetic off the layers themselves,
so a network's documented numbers cannot drift from its config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

Activation = Callable[[], nn.Module]
"""A zero-argument factory of an activation module, e.g. ``nn.ReLU`` or ``nn.GELU``."""

Padding = Literal["same", "valid"]
"""Convolution padding: ``"same"`` (zeros, length kept) or ``"valid"`` (no zeros, shorter)."""


def check_padding(padding: str) -> Padding:
    """``padding`` if it is ``"same"`` or ``"valid"``.

    Raises:
        ValueError: any other value.
    """
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    return padding


def broadcast(value: int | Sequence[int], n: int, name: str) -> tuple[int, ...]:
    """Repeat an int ``n`` times, or check that a sequence has ``n`` items.

    Raises:
        ValueError: ``value`` is a sequence whose length is not ``n``.
    """
    if isinstance(value, int):
        return (value,) * n
    values = tuple(int(v) for v in value)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values but the network has {n} blocks")
    return values


def _pair(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]


def _conv_pool_layers(module: nn.Module) -> list[nn.Module]:
    # Residual branches are identities, so in registration order the Conv1d / pool modules are
    # exactly the chain that sets the receptive field.
    return [m for m in module.modules() if isinstance(m, nn.Conv1d | nn.MaxPool1d | nn.AvgPool1d)]


def receptive_field(module: nn.Module) -> int:
    """Receptive field (bp) of one output position of a stack of Conv1d / pooling layers.

    Args:
        module: A module whose Conv1d, MaxPool1d and AvgPool1d layers, in registration order,
            are applied one after the other (identity skips are fine).

    Returns:
        The number of input positions one output position depends on.
    """
    rf, jump = 1, 1
    for layer in _conv_pool_layers(module):
        if isinstance(layer, nn.Conv1d):
            kernel, dilation, stride = layer.kernel_size[0], layer.dilation[0], layer.stride[0]
        else:
            kernel, dilation = _pair(layer.kernel_size), 1
            stride = _pair(layer.stride or layer.kernel_size)
        rf += (kernel - 1) * dilation * jump
        jump *= stride
    return rf


def output_length(module: nn.Module, length: int) -> int:
    """Length after a stack of Conv1d / pooling layers, for an input of ``length`` positions."""
    for layer in _conv_pool_layers(module):
        if isinstance(layer, nn.Conv1d):
            if layer.padding == "same":
                continue
            pad = 0 if layer.padding == "valid" else 2 * layer.padding[0]
            span = layer.dilation[0] * (layer.kernel_size[0] - 1) + 1
            length = (length + pad - span) // layer.stride[0] + 1
        else:
            kernel = _pair(layer.kernel_size)
            length = (length - kernel) // _pair(layer.stride or layer.kernel_size) + 1
    return length


class Exponential(nn.Module):
    """exp(x): the first-layer activation of Koo & Ploenzke 2021 (Nature Machine Intelligence
    3:258). After BatchNorm it makes the first-layer filters fire sharply on their motif and
    stay near zero elsewhere, which gives cleaner, more motif-like filters and attribution
    maps at the same accuracy."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class ConvBlock(nn.Sequential):
    """Conv -> BatchNorm -> activation -> (dropout) -> (max-pool), the Basset / DeepSEA unit.

    Input (N, in_channels, L) -> output (N, out_channels, L' // pool_size), L' = L with
    ``"same"`` padding, ``L - dilation * (kernel_size - 1)`` with ``"valid"``. Receptive
    field of one output position: ``kernel_size + pool_size - 1`` (dilation 1).

    Args:
        in_channels: Input channels (4 for one-hot DNA).
        out_channels: Number of filters.
        kernel_size: Convolution width in positions.
        pool_size: Max-pool width and stride; 1 means no pooling.
        dilation: Convolution dilation.
        dropout: Dropout probability after the activation; 0 means none.
        activation: Factory of the activation module.
        padding: ``"same"`` or ``"valid"`` convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        pool_size: int = 1,
        dilation: int = 1,
        dropout: float = 0.0,
        activation: Activation = nn.ReLU,
        padding: Padding = "same",
    ) -> None:
        layers: list[nn.Module] = [
            # The bias is redundant before BatchNorm.
            nn.Conv1d(
                in_channels,
                out_channels,
                kernel_size,
                padding=check_padding(padding),
                dilation=dilation,
                bias=False,
            ),
            nn.BatchNorm1d(out_channels),
            activation(),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        if pool_size > 1:
            layers.append(nn.MaxPool1d(pool_size))
        super().__init__(*layers)


class ResidualDilatedBlock(nn.Module):
    """``x + dropout(act(BN(dilated_conv(x))))``, the BPNet / Basenji tower unit.

    Input (N, channels, L), output (N, channels, L) with ``"same"`` padding; with ``"valid"``
    (N, channels, L - (kernel_size - 1) * dilation), the skip ``x`` centre-cropped to the
    branch's length (BPNet's valid-padded towers crop the same way). Receptive field:
    ``(kernel_size - 1) * dilation + 1``.

    Args:
        channels: Input and output channels.
        kernel_size: Convolution width in positions.
        dilation: Convolution dilation.
        dropout: Dropout probability on the residual branch.
        activation: Factory of the activation module.
        padding: ``"same"`` or ``"valid"`` convolution.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        dilation: int = 1,
        dropout: float = 0.0,
        activation: Activation = nn.ReLU,
        padding: Padding = "same",
    ) -> None:
        super().__init__()
        self.body = ConvBlock(
            channels, channels, kernel_size, 1, dilation, dropout, activation, padding
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, L) -> (N, C, L), or (N, C, L - span + 1) when valid-padded."""
        branch = self.body(x)
        # valid: the skip loses as many positions as the convolution, (span - 1) // 2 on the left
        return crop_to_length(x, branch.shape[-1]) + branch


def center_crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    """Drop ``crop`` positions at each end of the last axis: (..., L) -> (..., L - 2 * crop)."""
    if crop == 0:
        return x
    if 2 * crop >= x.shape[-1]:
        raise ValueError(f"cannot crop {crop} positions from each end of length {x.shape[-1]}")
    return x[..., crop:-crop]


def crop_to_length(x: torch.Tensor, length: int) -> torch.Tensor:
    """Centre-crop the last axis to ``length``; an odd surplus drops one more on the right."""
    start = (x.shape[-1] - length) // 2
    if start < 0:
        raise ValueError(f"cannot crop length {x.shape[-1]} to the longer {length}")
    return x[..., start : start + length]


class GlobalPool(nn.Module):
    """Pool over the length axis: (N, C, L) -> (N, C).

    Args:
        mode: ``"max"`` (motif presence, Basset-style) or ``"mean"`` (counts, BPNet-style).
    """

    def __init__(self, mode: Literal["max", "mean"] = "max") -> None:
        super().__init__()
        if mode not in ("max", "mean"):
            raise ValueError(f"GlobalPool mode must be 'max' or 'mean', got {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, L) -> (N, C)."""
        return x.amax(dim=-1) if self.mode == "max" else x.mean(dim=-1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class MLP(nn.Sequential):
    """Dense head: (Linear -> activation -> dropout) per hidden size, then a Linear to outputs.

    Input (N, in_features) -> output (N, out_features), no final activation (logits).

    Args:
        in_features: Input features.
        hidden_sizes: Width of each hidden layer; empty for a single Linear.
        out_features: Output features (the number of targets).
        dropout: Dropout probability after each hidden activation.
        activation: Factory of the activation module.
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int] = (),
        out_features: int = 1,
        dropout: float = 0.0,
        activation: Activation = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = []
        for width in hidden_sizes:
            layers += [nn.Linear(in_features, width), activation()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_features = width
        layers.append(nn.Linear(in_features, out_features))
        super().__init__(*layers)


def binned_mean(h: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Mean of each track over ``n_bins`` position bins: ``nn.AdaptiveAvgPool1d(n_bins)``'s
    bins (bin i spans floor(i L / n) .. ceil((i + 1) L / n)), as one matrix product, so that it
    exports to ONNX for any L (ONNX's adaptive pooling needs n to divide L).

    Args:
        h: Tracks (N, F, L), L >= n_bins.
        n_bins: Number of bins (>= 1).

    Returns:
        (N, F, n_bins) in h's dtype.
    """
    length = h.shape[-1]
    position = torch.arange(length, device=h.device)[:, None]
    bin_ = torch.arange(n_bins, device=h.device)[None, :]
    start = torch.div(bin_ * length, n_bins, rounding_mode="floor")
    end = -torch.div(-(bin_ + 1) * length, n_bins, rounding_mode="floor")  # ceil
    inside = (position >= start) & (position < end)
    return h @ (inside.to(h.dtype) / (end - start).to(h.dtype))  # (L, n_bins) weights


def periodic_power(h: torch.Tensor, periods: Sequence[int]) -> torch.Tensor:
    """Magnitude of each track's Fourier component at each period.

    Computed in float32 with exact angles (from n mod P), also under bf16/fp16 autocast, where
    angles of long tracks would be off by a large fraction of a turn and the epsilon under
    the square root would vanish.

    Args:
        h: Tracks (N, F, L).
        periods: Periods in positions.

    Returns:
        (N, F, len(periods)) in h's dtype: |sum_n (h[n] - mean h) exp(-2 pi i n / P)| / L.
        Shifting the track only turns the component's phase, so the magnitude stays (exactly
        for circular shifts when P divides L; up to the edge positions otherwise).
    """
    length = h.shape[-1]
    track = h.float()
    centred = track - track.mean(-1, keepdim=True)
    position = torch.arange(length, device=h.device)
    angle = torch.stack([(position % p).float() * (2 * torch.pi / p) for p in periods], 1)
    real, imag = centred @ torch.cos(angle), centred @ torch.sin(angle)  # (N, F, n_periods)
    return (torch.sqrt(real.square() + imag.square() + 1e-12) / length).to(h.dtype)


CODON_ROTATIONS = ((0, 1, 2), (1, 2, 0), (2, 0, 1))
"""The three ways of reading positions n mod 3 as codon positions 1, 2, 3."""


def codon_frames(h: torch.Tensor) -> torch.Tensor:
    """Each track's mean over the positions of each codon position, read in all three frames.

    A coding sequence uses different words at codon positions 1, 2 and 3 (Fickett 1982;
    GeneMark's three-periodic models), and a window does not say which frame it starts in, so
    every frame is offered: a network applies one map to each of the three rows and pools over
    them (max), which does not change when the window moves by a base (exactly for a circular
    move when 3 divides L; up to the edge positions otherwise).

    Args:
        h: Tracks (N, F, L), L >= 3 (the last L mod 3 positions are left out).

    Returns:
        (N, 3, 3 F) in h's dtype: row r holds, for every track f, the means over positions
        n ≡ r, r + 1, r + 2 (mod 3), centred on their mean (index 3 f + j: track f, codon
        position j + 1). Moving a track by one position (circularly, 3 | L) moves the rows
        by one: row r becomes row r + 1 (mod 3).
    """
    n, f, length = h.shape
    usable = length - length % 3
    means = h[..., :usable].reshape(n, f, usable // 3, 3).mean(2)  # (N, F, 3), by n mod 3
    means = means - means.mean(-1, keepdim=True)
    return torch.stack([means[..., list(r)].flatten(1) for r in CODON_ROTATIONS], 1)
