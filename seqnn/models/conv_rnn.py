"""ConvRNN: DanQ-style convolution + max-pool, then a bidirectional LSTM or GRU, then dense.

Input one-hot (N, 4, L), channels A, C, G, T; output (N, n_targets) logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from seqnn.models.layers import MLP, Activation, ConvBlock, GlobalPool, receptive_field
from seqnn.models.spec import records_config


@records_config
class ConvRNN(nn.Module):
    """Motif scanner (conv + max-pool) read by a bidirectional RNN (Quang & Xie 2016, DanQ).

    The RNN's outputs are pooled over time (``pool``), not flattened as in DanQ, so any
    length of at least ``pool_size`` works (all sequences of a batch have one length).

    Shapes: (N, 4, L) -> conv (N, n_filters, L // pool_size) -> RNN (N, L // pool_size,
    2 * hidden_size) -> pooled (N, 2 * hidden_size) -> (N, n_targets).

    Receptive field: ``receptive_field`` is that of one conv time step fed to the RNN,
    ``kernel_size + pool_size - 1`` (defaults: 25 + 13 - 1 = 37 bp; DanQ's width was 26, an odd
    width keeps "same" padding symmetric); being bidirectional, the RNN and the logits see the
    whole input.

    Args:
        n_targets: Number of outputs (logits).
        n_filters: Convolution filters (motif detectors).
        kernel_size: Convolution width.
        pool_size: Max-pool width and stride before the RNN.
        rnn_type: ``"lstm"`` or ``"gru"``.
        hidden_size: RNN hidden units per direction.
        n_rnn_layers: Stacked RNN layers.
        pool: How RNN outputs are pooled over time: ``"max"`` or ``"mean"``.
        n_hidden: Width of each hidden dense layer.
        dropout: Dropout after the conv block, between RNN layers and in the dense head.
        activation: Factory of the activation module.
    """

    # the modules n_targets sizes: a fine-tune replaces them (seqnn.models.finetune)
    head_modules = ("head",)

    def __init__(
        self,
        n_targets: int = 1,
        n_filters: int = 128,
        kernel_size: int = 25,
        pool_size: int = 13,
        rnn_type: Literal["lstm", "gru"] = "lstm",
        hidden_size: int = 64,
        n_rnn_layers: int = 1,
        pool: Literal["max", "mean"] = "max",
        n_hidden: Sequence[int] = (128,),
        dropout: float = 0.2,
        activation: Activation = nn.ReLU,
    ) -> None:
        super().__init__()
        rnns = {"lstm": nn.LSTM, "gru": nn.GRU}
        if rnn_type not in rnns:
            raise ValueError(f"rnn_type must be 'lstm' or 'gru', got {rnn_type!r}")
        self.n_targets = n_targets
        self.trunk = ConvBlock(4, n_filters, kernel_size, pool_size, 1, dropout, activation)
        self.rnn = rnns[rnn_type](
            n_filters,
            hidden_size,
            num_layers=n_rnn_layers,
            batch_first=True,
            dropout=dropout if n_rnn_layers > 1 else 0.0,
            bidirectional=True,
        )
        self.pool = GlobalPool(pool)
        self.head = MLP(2 * hidden_size, n_hidden, n_targets, dropout, activation)

    @property
    def receptive_field(self) -> int:
        """Receptive field (bp) of one conv time step read by the RNN."""
        return receptive_field(self.trunk)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict logits.

        Args:
            x: One-hot sequences (N, 4, L).

        Returns:
            Logits (N, n_targets).
        """
        h = self.trunk(x).transpose(1, 2)  # (N, 4, L) -> (N, C, T) -> (N, T, C)
        h, _ = self.rnn(h)  # (N, T, C) -> (N, T, 2H)
        return self.head(self.pool(h.transpose(1, 2)))  # (N, 2H, T) -> (N, 2H) -> (N, n_targets)
