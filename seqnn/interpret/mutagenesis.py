"""In-silico mutagenesis: the change of a prediction for every single-base substitution.

Layout: one-hot (N, 4, L), channels A, C, G, T. Mutants are built on the fly and scored in
batches (one forward pass per ``batch_size`` mutants, across sequences), never one by one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from seqnn.interpret.inputs import Target, n_outputs, network_of, one_hot_inputs, target_indices


@torch.inference_mode()
def ism(
    model: nn.Module,
    x,
    target: Target = None,
    batch_size: int = 1024,
    logits: bool = True,
    centre: bool = False,
) -> np.ndarray:
    """Effects of all 3 x L substitutions of every sequence.

    Args:
        model: a network or pretrained model (outputs (N, T)).
        x: strings, (N, L) codes or (N, 4, L) one-hot.
        target: output index or name, a list of them, or None for every output.
        batch_size: mutants per forward pass.
        logits: explain the network's logits (default) rather than the transformed outputs.
        centre: subtract each position's mean over the 4 bases, so that the present base
            carries ``-mean(alternative effects) * 3/4`` (comparable to gradient x input).

    Returns:
        effects ``f(mutant) - f(reference)``: (N, 4, L) for one target, (N, T, 4, L) for
        several; 0 at the reference base (and at N positions every base is a substitution).
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    net = network_of(model, logits).eval()
    x = one_hot_inputs(model, x)
    indices, single = target_indices(model, target, n_outputs(net, x))
    ref = _outputs(net, x, batch_size)[:, indices]  # (N, T)
    # every (sequence, base, position) whose base is not the one present
    seq, base, pos = torch.nonzero(x != 1, as_tuple=True)
    effects = torch.zeros((x.shape[0], len(indices), 4, x.shape[2]), device=x.device)
    for s in range(0, len(seq), batch_size):
        n, b, i = seq[s : s + batch_size], base[s : s + batch_size], pos[s : s + batch_size]
        mutants = x[n].clone()  # (B, 4, L)
        rows = torch.arange(len(n), device=x.device)
        mutants[rows, :, i] = 0
        mutants[rows, b, i] = 1
        effects[n, :, b, i] = net(mutants).reshape(len(n), -1)[:, indices].float() - ref[n]
    if centre:
        effects = effects - effects.mean(dim=2, keepdim=True)
    out = effects.cpu().numpy()
    return out[:, 0] if single else out


def _outputs(net: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, 4, L) -> (N, T) float outputs in batches."""
    return torch.cat(
        [
            net(x[i : i + batch_size]).reshape(len(x[i : i + batch_size]), -1).float()
            for i in range(0, len(x), batch_size)
        ]
    )
