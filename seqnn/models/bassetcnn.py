"""BassetCNN: Basset / DeepSEA-style stack of conv -> BN -> activation -> max-pool blocks.

Input one-hot (N, 4, L), channels A, C, G, T; output (N, n_targets) logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqnn.deprecation import renamed_keywords
from seqnn.models.layers import (
    MLP,
    Activation,
    ConvBlock,
    GlobalPool,
    Padding,
    broadcast,
    output_length,
    receptive_field,
)
from seqnn.models.spec import records_config


@renamed_keywords(seq_len="input_length")
@records_config
class BassetCNN(nn.Module):
    """Convolutional blocks, then a dense head (Kelley et al. 2016, Basset).

    Two ways to reach the dense head, chosen by ``input_length``:

    * ``input_length=None`` (default): global max-pool over the trunk's positions, so any
      input length works (at least the product of ``pool_sizes``) and the head sees motif
      presence.
    * ``input_length=L``: flatten (N, C, L') -> (N, C * L') as in Basset, which keeps positions but
      fixes the input length to ``L``.

    Shapes: (N, 4, L) -> trunk (N, n_filters[-1], L // prod(pool_sizes)) -> (N, n_targets)
    with ``padding="same"``; ``"valid"`` convolutions drop ``kernel - 1`` positions each (the
    flatten is sized by :func:`~seqnn.models.layers.output_length`), so no output sees a padding
    zero and :func:`seqnn.inference.fullconv` scans such a network exactly.

    Receptive field: ``receptive_field`` is that of one trunk output position
    (defaults: 19 + 2 + (11-1)*3 + 3*3 + (7-1)*12 + 3*12 = 168 bp); the logits see every
    position the trunk covers.

    Args:
        n_targets: Number of outputs (logits).
        input_length: Fixed input length (bp) for a flattened head; ``None`` for global
            max-pooling. ``seq_len=`` is its old name.
        n_filters: Filters per conv block; its length is the number of blocks. One int: that
            many filters in every block, as many blocks as ``kernel_sizes`` (or else
            ``pool_sizes``) lists, three when both are ints.
        kernel_sizes: Kernel width per block (an int is used for every block).
        pool_sizes: Max-pool width per block (an int is used for every block).
        n_hidden: Width of each hidden dense layer.
        dropout: Dropout probability in the conv blocks and the dense head.
        activation: Factory of the activation module.
        first_activation: Factory of the first block's activation; ``None``: ``activation``.
            ``seqnn.models.layers.Exponential`` is the exponential activation of Koo &
            Ploenzke 2021 (cleaner first-layer motifs and gradient attributions).
        padding: ``"same"`` (zero-padded convolutions, the default) or ``"valid"``.
    """

    # the modules n_targets sizes: a fine-tune replaces them (seqnn.models.finetune)
    head_modules = ("head",)

    def __init__(
        self,
        n_targets: int = 1,
        input_length: int | None = None,
        n_filters: int | Sequence[int] = (128, 128, 128),
        kernel_sizes: int | Sequence[int] = (19, 11, 7),
        pool_sizes: int | Sequence[int] = (3, 4, 4),
        n_hidden: Sequence[int] = (256,),
        dropout: float = 0.2,
        activation: Activation = nn.ReLU,
        first_activation: Activation | None = None,
        padding: Padding = "same",
    ) -> None:
        super().__init__()
        self.n_targets = n_targets
        self.input_length = input_length
        if isinstance(n_filters, int):  # e.g. seqnn-train -m model=cnn,rnn model.n_filters=64
            listed = [len(s) for s in (kernel_sizes, pool_sizes) if not isinstance(s, int)]
            n_filters = (n_filters,) * (listed[0] if listed else 3)
        n_blocks = len(n_filters)
        kernels = broadcast(kernel_sizes, n_blocks, "kernel_sizes")
        pools = broadcast(pool_sizes, n_blocks, "pool_sizes")
        channels = (4, *n_filters)
        self.trunk = nn.Sequential(
            *(
                ConvBlock(
                    channels[i],
                    channels[i + 1],
                    kernels[i],
                    pools[i],
                    1,
                    dropout,
                    first_activation if i == 0 and first_activation is not None else activation,
                    padding,
                )
                for i in range(n_blocks)
            )
        )
        if input_length is None:
            pool, n_features = GlobalPool("max"), channels[-1]
        else:
            n_positions = output_length(self.trunk, input_length)
            if n_positions < 1:
                raise ValueError(
                    f"input_length {input_length} is too short for the kernels ({kernels}, "
                    f"{padding} padding) and the pooling ({pools})"
                )
            pool, n_features = nn.Flatten(), channels[-1] * n_positions
        self.head = nn.Sequential(pool, MLP(n_features, n_hidden, n_targets, dropout, activation))

    @property
    def receptive_field(self) -> int:
        """Receptive field (bp) of one position of the conv trunk's output."""
        return receptive_field(self.trunk)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict logits.

        Args:
            x: One-hot sequences (N, 4, L); ``L == input_length`` when that is set.

        Returns:
            Logits (N, n_targets).
        """
        # (N, 4, L) -> (N, C, L') -> (N, n_targets)
        return self.head(self.trunk(x))
