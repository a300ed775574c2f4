"""Enformer (Avsec et al. 2021) from its maintained PyTorch port ``enformer-pytorch``.

Layout: one-hot (N, 4, L), channels A, C, G, T in; (N, T, bins) out, one row of bins per
track of the selected head (``head="human"``: 5,313 tracks, ``"mouse"``: 1,643; 896 bins of
128 bp over the central 114,688 bp of a 196,608-bp input in the published configuration).
The port reads (N, L, 4) and returns (N, bins, T): the wrapper transposes both ways. Install
the port with ``pip install 'seqnn[enformer]'``; the published weights come in through
``seqnn-convert family=enformer``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from seqnn.models.spec import records_config

#: the published configuration (``EleutherAI/enformer-official-rough``'s config.json)
PUBLISHED = {
    "dim": 1536,
    "depth": 11,
    "heads": 8,
    "output_heads": {"human": 5313, "mouse": 1643},
    "target_length": 896,
    "use_tf_gamma": True,
}
INPUT_LENGTH = 196_608
BIN_SIZE = 128


@records_config
class Enformer(nn.Module):
    """The Enformer port with one output head selected.

    Args:
        dim: channels of the transformer trunk (1536 published).
        depth: transformer layers (11).
        heads: attention heads (8).
        output_heads: tracks per species head, ``{"human": 5313, "mouse": 1643}``.
        target_length: output bins kept (896); the input must be at least
            ``target_length * 2 ** num_downsamples`` bp.
        head: the head whose tracks ``forward`` returns.
        attn_dim_key, dropout_rate, attn_dropout, pos_dropout: the port's own settings
            (defaults as published).
        num_downsamples, dim_divisible_by: likewise.
        use_tf_gamma: the positional basis precomputed by TensorFlow, as the official weights
            were trained with (needs the published input length).
    """

    def __init__(
        self,
        dim: int = 1536,
        depth: int = 11,
        heads: int = 8,
        output_heads: Mapping[str, int] | None = None,
        target_length: int = 896,
        head: str = "human",
        attn_dim_key: int = 64,
        dropout_rate: float = 0.4,
        attn_dropout: float = 0.05,
        pos_dropout: float = 0.01,
        num_downsamples: int = 7,
        dim_divisible_by: int = 128,
        use_tf_gamma: bool = False,
    ) -> None:
        super().__init__()
        from enformer_pytorch import Enformer as Port  # the optional port: seqnn[enformer]

        output_heads = dict(output_heads or PUBLISHED["output_heads"])
        if head not in output_heads:
            raise ValueError(f"head {head!r} is not one of the heads {sorted(output_heads)}")
        self.head = head
        self.n_targets = int(output_heads[head])
        self.port = Port.from_hparams(
            dim=dim,
            depth=depth,
            heads=heads,
            output_heads=output_heads,
            target_length=target_length,
            attn_dim_key=attn_dim_key,
            dropout_rate=dropout_rate,
            attn_dropout=attn_dropout,
            pos_dropout=pos_dropout,
            num_downsamples=num_downsamples,
            dim_divisible_by=dim_divisible_by,
            use_tf_gamma=use_tf_gamma,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, L) one-hot -> (N, T, bins) track predictions of ``self.head``.

        Inference on a CPU runs the full-resolution stem and convolution tower one window at
        a time and the rest (from 1,536 positions on) as one batch: the tower holds ~3 GB per
        196,608-bp window in float32, so a batch of 8 would need ~24 GB where it now needs
        what one window does. Every layer there works on each window alone (batch norm in
        eval mode), so the outputs are the same; training and GPUs take the whole batch.
        """
        trunk = self.port.trunk  # [(N, L, 4) -> (N, 4, L), stem, tower, -> (N, n, C), rest...]
        if torch.is_grad_enabled() or x.device.type != "cpu" or len(x) == 1:
            embedding = trunk(x.transpose(1, 2))  # (N, 4, L) -> (N, L, 4) -> (N, bins, C)
        else:
            tower = torch.cat([trunk[1:3](window) for window in x.split(1)])  # (N, C, n)
            embedding = trunk[3:](tower)  # (N, C, n) -> (N, n, C) -> transformer ... (N, bins, C)
        out = self.port.heads[self.head](embedding)  # (N, bins, T)
        return out.transpose(1, 2)  # (N, bins, T) -> (N, T, bins)
