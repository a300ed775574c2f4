"""ConvTransformer: conv stem + pooling, transformer encoder layers, pooled dense head.

Input one-hot (N, 4, L), channels A, C, G, T; output (N, n_targets) logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from seqnn.deprecation import renamed_keywords
from seqnn.models.layers import (
    MLP,
    Activation,
    ConvBlock,
    GlobalPool,
    output_length,
    receptive_field,
)
from seqnn.models.spec import records_config


class RelativePositionBias(nn.Module):
    """Learned per-head bias on attention logits, indexed by the clipped offset key - query.

    Output (n_heads, T, T) for T tokens; offsets beyond ``max_distance`` share the end bins,
    so any T works (T5-style, without the log buckets).

    Args:
        n_heads: Attention heads.
        max_distance: Largest offset (in tokens) with its own bias.
    """

    def __init__(self, n_heads: int, max_distance: int = 64) -> None:
        super().__init__()
        self.max_distance = max_distance
        self.bias = nn.Embedding(2 * max_distance + 1, n_heads)
        nn.init.zeros_(self.bias.weight)

    def forward(self, n_tokens: int) -> torch.Tensor:
        """Biases (n_heads, T, T) for ``n_tokens`` = T."""
        pos = torch.arange(n_tokens, device=self.bias.weight.device)
        offset = (pos[None, :] - pos[:, None]).clamp(-self.max_distance, self.max_distance)
        return self.bias(offset + self.max_distance).permute(2, 0, 1)  # (T, T, H) -> (H, T, T)


class TransformerLayer(nn.Module):
    """Pre-norm transformer encoder layer: ``x + MHA(LN(x), bias)``, ``x + MLP(LN(x))``.

    Input and output (N, T, d_model); ``bias`` (n_heads, T, T) is added to attention logits.

    Args:
        d_model: Token width.
        n_heads: Attention heads (must divide ``d_model``).
        dim_feedforward: Hidden width of the feed-forward block.
        dropout: Dropout on attention weights and on both residual branches.
        activation: Factory of the feed-forward activation.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dim_feedforward: int,
        dropout: float = 0.0,
        activation: Activation = nn.GELU,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, dim_feedforward), activation(), nn.Linear(dim_feedforward, d_model)
        )
        self.drop = nn.Dropout(dropout)

    def attention(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """Multi-head self-attention: (N, T, D) -> (N, T, D)."""
        n, t, d = x.shape
        # (N, T, 3D) -> (3, N, H, T, D / H)
        q, k, v = self.qkv(x).view(n, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        return self.out(h.transpose(1, 2).reshape(n, t, d))  # (N, H, T, D/H) -> (N, T, D)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """(N, T, d_model) -> (N, T, d_model)."""
        x = x + self.drop(self.attention(self.norm1(x), bias))
        return x + self.drop(self.ff(self.norm2(x)))


@renamed_keywords(seq_len="max_input_length")
@records_config
class ConvTransformer(nn.Module):
    """Conv stem with pooling, then ``n_layers`` transformer layers, mean-pooled dense head.

    Positions (``positions``):

    * ``"learned"``: a learned embedding per token added after the stem; inputs may be at most
      ``max_input_length`` long.
    * ``"relative"``: a learned bias per head and clipped token offset added to the attention
      logits of every layer (:class:`RelativePositionBias`); any length works.

    Shapes: (N, 4, L) -> stem (N, d_model, T), T = L // prod(pool_sizes) -> tokens
    (N, T, d_model) -> mean over T (N, d_model) -> (N, n_targets).

    Receptive field: ``receptive_field`` is that of one token from the conv stem (defaults:
    15 + 3 + (5-1)*4 + 3*4 = 46 bp); attention lets every token, and the logits, see the
    whole input.

    Args:
        n_targets: Number of outputs (logits).
        max_input_length: Longest input (bp) for ``positions="learned"`` (ignored for
            ``"relative"``). ``seq_len=`` is its old name.
        d_model: Filters of the stem = token width.
        kernel_sizes: Kernel width per stem block; its length is the number of blocks.
        pool_sizes: Max-pool width per stem block.
        n_layers: Transformer layers.
        n_heads: Attention heads.
        dim_feedforward: Hidden width of each feed-forward block.
        positions: ``"learned"`` or ``"relative"``.
        max_distance: Largest token offset with its own relative bias.
        n_hidden: Width of each hidden dense layer of the head.
        dropout: Dropout in the stem, the transformer layers and the head.
        activation: Factory of the activation module.
    """

    # the modules n_targets sizes: a fine-tune replaces them (seqnn.models.finetune)
    head_modules = ("head",)

    def __init__(
        self,
        n_targets: int = 1,
        max_input_length: int = 1000,
        d_model: int = 64,
        kernel_sizes: Sequence[int] = (15, 5),
        pool_sizes: Sequence[int] = (4, 4),
        n_layers: int = 2,
        n_heads: int = 4,
        dim_feedforward: int = 128,
        positions: Literal["learned", "relative"] = "relative",
        max_distance: int = 64,
        n_hidden: Sequence[int] = (),
        dropout: float = 0.1,
        activation: Activation = nn.GELU,
    ) -> None:
        super().__init__()
        if positions not in ("learned", "relative"):
            raise ValueError(f"positions must be 'learned' or 'relative', got {positions!r}")
        if len(kernel_sizes) != len(pool_sizes):
            raise ValueError(f"{len(kernel_sizes)} kernel_sizes but {len(pool_sizes)} pool_sizes")
        self.n_targets, self.positions = n_targets, positions
        channels = (4,) + (d_model,) * len(kernel_sizes)
        self.trunk = nn.Sequential(
            *(
                ConvBlock(channels[i], channels[i + 1], k, p, 1, dropout, activation)
                for i, (k, p) in enumerate(zip(kernel_sizes, pool_sizes, strict=True))
            )
        )
        if positions == "learned":
            self.position_embedding = nn.Embedding(
                output_length(self.trunk, max_input_length), d_model
            )
        else:
            self.position_bias = RelativePositionBias(n_heads, max_distance)
        self.layers = nn.ModuleList(
            TransformerLayer(d_model, n_heads, dim_feedforward, dropout, activation)
            for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Sequential(GlobalPool("mean"), MLP(d_model, n_hidden, n_targets, dropout))

    @property
    def receptive_field(self) -> int:
        """Receptive field (bp) of one token of the conv stem."""
        return receptive_field(self.trunk)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict logits.

        Args:
            x: One-hot sequences (N, 4, L); ``L <= max_input_length`` for learned positions.

        Returns:
            Logits (N, n_targets).
        """
        h = self.trunk(x).transpose(1, 2)  # (N, 4, L) -> (N, D, T) -> (N, T, D)
        bias = None
        if self.positions == "learned":
            if h.shape[1] > self.position_embedding.num_embeddings:
                raise ValueError(
                    f"input of {x.shape[-1]} bp is longer than max_input_length allows"
                )
            h = h + self.position_embedding.weight[: h.shape[1]]
        else:
            bias = self.position_bias(h.shape[1]).to(h.dtype)
        for layer in self.layers:
            h = layer(h, bias)
        return self.head(self.norm(h).transpose(1, 2))  # (N, T, D) -> (N, D, T) -> (N, n_targets)
