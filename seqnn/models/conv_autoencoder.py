"""ConvAutoencoder and VariationalConvAutoencoder: one-hot sequences <-> latent vectors.

Input one-hot (N, 4, L), channels A, C, G, T, with a fixed L = ``input_length``; latents (N,
latent_dim); decoded output (N, 4, L) base logits (softmax over the channel axis gives base
probabilities; train with cross-entropy against the input's argmax).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seqnn.deprecation import renamed_keywords
from seqnn.models.layers import Activation, ConvBlock, broadcast, crop_to_length, receptive_field
from seqnn.models.spec import records_config


def _mirror_decoder(
    n_filters: Sequence[int], kernels: Sequence[int], pools: Sequence[int], activation: Activation
) -> nn.Sequential:
    """Upsample + ConvBlock per encoder block in reverse, then a 1x1 conv to 4 base logits.

    (N, n_filters[-1], L') -> (N, 4, L' * prod(pools)).
    """
    dec_in = tuple(reversed(n_filters))
    dec_out = (*dec_in[1:], n_filters[0])
    stages: list[nn.Module] = []
    for c_in, c_out, k, p in zip(dec_in, dec_out, reversed(kernels), reversed(pools), strict=True):
        stages += [nn.Upsample(scale_factor=p), ConvBlock(c_in, c_out, k, activation=activation)]
    return nn.Sequential(*stages, nn.Conv1d(dec_out[-1], 4, kernel_size=1))


@renamed_keywords(seq_len="input_length")
@records_config
class ConvAutoencoder(nn.Module):
    """Conv encoder -> Linear -> latent vector -> Linear -> upsampling conv decoder.

    ``L`` need not divide the pooling: inputs are zero-padded (centred) to the next multiple
    of ``prod(pool_sizes)`` and decoded outputs are centre-cropped back to ``L``.

    Shapes: (N, 4, L) -> encoder (N, n_filters[-1], ceil(L / P)) -> (N, latent_dim) ->
    decoder (N, 4, ceil(L / P) * P) -> cropped (N, 4, L), with P = prod(pool_sizes).

    Receptive field: ``receptive_field`` is that of one encoder output position (defaults:
    9 + 1 + 8*2 + 2 + 8*4 + 4 = 64 bp); the latent vector, and so every decoded base, sees the
    whole sequence.

    Args:
        input_length: Input length L (bp; fixed: the latent Linear layers depend on it).
            ``seq_len=`` is its old name.
        n_filters: Filters per encoder block (the decoder mirrors them).
        kernel_sizes: Kernel width per block (an int is used for every block).
        pool_sizes: Max-pool width per encoder block = upsampling factor per decoder block.
        latent_dim: Size of the latent vector.
        activation: Factory of the activation module.
    """

    _n_latent_params = 1  # values per latent dimension produced by the encoder

    def __init__(
        self,
        input_length: int = 200,
        n_filters: Sequence[int] = (32, 64, 64),
        kernel_sizes: int | Sequence[int] = 9,
        pool_sizes: int | Sequence[int] = 2,
        latent_dim: int = 32,
        activation: Activation = nn.ReLU,
    ) -> None:
        super().__init__()
        n_blocks = len(n_filters)
        kernels = broadcast(kernel_sizes, n_blocks, "kernel_sizes")
        pools = broadcast(pool_sizes, n_blocks, "pool_sizes")
        self.input_length, self.latent_dim = input_length, latent_dim
        self.n_positions = math.ceil(input_length / math.prod(pools))
        self.padded_len = self.n_positions * math.prod(pools)
        self._hidden_shape = (n_filters[-1], self.n_positions)
        n_flat = n_filters[-1] * self.n_positions
        enc_channels = (4, *n_filters)
        self.encoder = nn.Sequential(
            *(
                ConvBlock(
                    enc_channels[i], enc_channels[i + 1], kernels[i], pools[i], 1, 0.0, activation
                )
                for i in range(n_blocks)
            )
        )
        self.to_latent = nn.Linear(n_flat, self._n_latent_params * latent_dim)
        self.from_latent = nn.Linear(latent_dim, n_flat)
        self.decoder = _mirror_decoder(n_filters, kernels, pools, activation)

    @property
    def receptive_field(self) -> int:
        """Receptive field (bp) of one position of the encoder's conv output."""
        return receptive_field(self.encoder)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encode one-hot sequences (N, 4, L) to latent vectors (N, latent_dim)."""
        if x.shape[-1] != self.input_length:
            raise ValueError(
                f"input length {x.shape[-1]} != the model's input_length {self.input_length}"
            )
        surplus = self.padded_len - self.input_length
        x = F.pad(x, (surplus // 2, surplus - surplus // 2))  # (N, 4, L) -> (N, 4, P * L')
        h = self.encoder(x).flatten(1)  # (N, C, L') -> (N, C * L')
        return self.to_latent(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decode latent vectors (N, latent_dim) to base logits (N, 4, L)."""
        h = self.from_latent(z).view(-1, *self._hidden_shape)  # (N, C * L') -> (N, C, L')
        return crop_to_length(self.decoder(h), self.input_length)  # (N, 4, P * L') -> (N, 4, L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct: one-hot (N, 4, L) -> base logits (N, 4, L). Stores nothing."""
        return self.decode(self.encode(x))


@renamed_keywords(seq_len="input_length")
@records_config
class VariationalConvAutoencoder(ConvAutoencoder):
    """A :class:`ConvAutoencoder` whose encoder gives a diagonal Gaussian over latents (VAE).

    ``forward`` returns what a training step needs, ``(logits, mu, logvar)``: the logits
    (N, 4, L) decode a reparameterised sample in training mode and the mean in eval mode;
    the loss is ``cross_entropy(logits, x.argmax(1)) + beta * kl_divergence(mu, logvar)``.

    Interpolate by decoding ``torch.lerp(encode(a), encode(b), t)``.
    Arguments, shapes and receptive field as in :class:`ConvAutoencoder`.
    """

    _n_latent_params = 2  # mean and log-variance

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One-hot (N, 4, L) -> (mu, logvar), each (N, latent_dim)."""
        mu, logvar = super().encode(x).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """One-hot (N, 4, L) -> posterior means (N, latent_dim)."""
        return self.encode_distribution(x)[0]

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Draw ``z = mu + exp(logvar / 2) * eps`` (N, latent_dim), differentiable in both."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    @staticmethod
    def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mu, exp(logvar)) || N(0, I)) per sample: (N, latent_dim) -> (N,), >= 0.

        Written as ``mu**2 + (expm1(logvar) - logvar)`` (both terms >= 0) and clamped, so
        rounding cannot make it negative.
        """
        per_dim = mu.square() + (torch.expm1(logvar) - logvar).clamp_min(0)
        return 0.5 * per_dim.sum(dim=-1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` latents drawn from the prior N(0, I): -> base logits (n, 4, L)."""
        weight = self.from_latent.weight
        z = torch.randn(
            n, self.latent_dim, generator=generator, device=weight.device, dtype=weight.dtype
        )
        return self.decode(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One-hot (N, 4, L) -> (logits (N, 4, L), mu (N, latent_dim), logvar (N, latent_dim))."""
        mu, logvar = self.encode_distribution(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar
