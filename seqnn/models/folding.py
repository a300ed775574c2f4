"""Batch norms folded into the convolutions before them, for inference.

In eval mode ``BatchNorm1d(Conv1d(x))`` is an affine map of each output channel, so it is the
same convolution with rescaled weights and a shifted bias: one pass over the activations
less, at a float rounding's difference. Used by the fast ISM path
(:mod:`seqnn.interpret.fast_ism`) and the fully convolutional scan
(:mod:`seqnn.inference.fullconv`); the network itself is never changed.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from seqnn.models.layers import ResidualDilatedBlock


def foldable(conv: nn.Module, norm: nn.Module) -> bool:
    """``norm`` is an eval-mode batch norm with running statistics right after ``conv``."""
    return (
        type(conv) is nn.Conv1d
        and type(norm) is nn.BatchNorm1d
        and not norm.training
        and norm.running_mean is not None
    )


def folded_convolution(conv: nn.Conv1d, norm: nn.BatchNorm1d) -> nn.Conv1d:
    """``norm(conv(x))`` (eval) as one convolution (a copy; ``conv`` is left as it is)."""
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.affine:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale + (norm.bias if norm.affine else 0)
    folded = copy.deepcopy(conv)
    folded.weight = nn.Parameter(conv.weight * scale[:, None, None], requires_grad=False)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(shift)
    folded.bias = nn.Parameter(bias * scale + shift, requires_grad=False)
    return folded


def fold_batch_norms(modules: list[nn.Module]) -> list[nn.Module]:
    """``modules`` run in order, each convolution + eval batch norm pair as one convolution,
    residual blocks as copies with their bodies folded; every other module as it is."""
    out: list[nn.Module] = []
    for module in modules:
        if out and foldable(out[-1], module):
            out[-1] = folded_convolution(out[-1], module)
        elif type(module) is ResidualDilatedBlock and not module.training:
            block = copy.copy(module)  # a shallow copy: the body is replaced, not edited
            block._modules = dict(module._modules)
            block.body = nn.Sequential(*fold_batch_norms(list(module.body)))
            out.append(block)
        else:
            out.append(module)
    return out
