"""Borzoi (Linder et al. 2025) from its maintained PyTorch port ``borzoi-pytorch``.

Layout: one-hot (N, 4, L), channels A, C, G, T in; (N, T, bins) out, the port's own layout
(``head="human"``: 7,611 tracks, ``"mouse"``: 2,608; 6,144 bins of 32 bp over the central
196,608 bp of a 524,288-bp input in the published configuration). The port fixes the
convolution widths and the heads' track counts; ``dim``, ``depth`` and ``bins_to_return`` scale
it. Install with ``pip install 'seqnn[borzoi]'``; published weights come in through
``seqnn-convert family=borzoi``.
"""

from __future__ import annotations

import torch
from torch import nn

from seqnn.models.spec import records_config

INPUT_LENGTH = 524_288
BIN_SIZE = 32
#: tracks of each head, fixed by the port
HEAD_TRACKS = {"human": 7611, "mouse": 2608}


@records_config
class Borzoi(nn.Module):
    """The Borzoi port with one output head selected.

    Args:
        dim: channels of the transformer trunk (1536 published).
        depth: transformer layers (8).
        heads: attention heads (8).
        bins_to_return: central output bins kept (6144).
        head: ``"human"`` or ``"mouse"``, the head whose tracks ``forward`` returns.
        enable_mouse_head: build the mouse head too (its weights are in the package).
        attn_dim_key, attn_dim_value, dropout_rate, attn_dropout, pos_dropout: the port's
            own settings (defaults as published).
    """

    def __init__(
        self,
        dim: int = 1536,
        depth: int = 8,
        heads: int = 8,
        bins_to_return: int = 6144,
        head: str = "human",
        enable_mouse_head: bool = False,
        attn_dim_key: int = 64,
        attn_dim_value: int = 192,
        dropout_rate: float = 0.2,
        attn_dropout: float = 0.05,
        pos_dropout: float = 0.01,
    ) -> None:
        super().__init__()
        from borzoi_pytorch import Borzoi as Port  # the optional port: seqnn[borzoi]

        if head not in HEAD_TRACKS or (head == "mouse" and not enable_mouse_head):
            have = ["human", "mouse"] if enable_mouse_head else ["human"]
            raise ValueError(f"head {head!r} is not one of the heads {have}")
        self.head = head
        self.n_targets = HEAD_TRACKS[head]
        self.port = Port.from_hparams(
            dim=dim,
            depth=depth,
            heads=heads,
            bins_to_return=bins_to_return,
            return_center_bins_only=True,
            enable_mouse_head=enable_mouse_head,
            attn_dim_key=attn_dim_key,
            attn_dim_value=attn_dim_value,
            dropout_rate=dropout_rate,
            attn_dropout=attn_dropout,
            pos_dropout=pos_dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, L) one-hot -> (N, T, bins) track predictions of ``self.head``.

        Inference on a CPU runs one window at a time (the first convolution alone holds ~1 GB
        per 524,288-bp window in float32); the outputs are the same (every layer works on each
        window alone in eval mode); training and GPUs take the whole batch.
        """
        if not torch.is_grad_enabled() and x.device.type == "cpu" and len(x) > 1:
            return torch.cat([self(window) for window in x.split(1)])
        return self.port(x, is_human=self.head == "human")  # the port's layout is ours
