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

        Inference on a CPU runs one window at a time: the full-resolution stem and tower hold
        ~3 GB per 196,608-bp window in float32 (a batch of 8 was killed at 21 GB, and the
        attention of a batch of 256 would need ~19 GB more), while batching adds no speed to
        convolutions this large on a CPU. Every layer works on each window alone (batch norm
        in eval mode), so the outputs are the same; training and GPUs take the whole batch.
        """
        if not torch.is_grad_enabled() and x.device.type == "cpu" and len(x) > 1:
            return torch.cat([self(window) for window in x.split(1)])
        embedding = self.port.trunk(x.transpose(1, 2))  # (N, 4, L) -> (N, L, 4) -> (N, bins, C)
        out = self.port.heads[self.head](embedding)  # (N, bins, T)
        return out.transpose(1, 2)  # (N, bins, T) -> (N, T, bins)
