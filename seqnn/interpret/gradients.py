"""Gradient attributions through captum: saliency, gradient x input, integrated gradients and
DeepLIFT/SHAP with dinucleotide-shuffled references.

Layout: one-hot (N, 4, L), channels A, C, G, T; every method returns (N, 4, L) for one target
and (N, T, 4, L) for several. captum is imported on first use (``import seqnn`` stays cheap).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import nn

from seqnn.data.background import dinucleotide_shuffle
from seqnn.interpret.inputs import (
    Explained,
    Output,
    Target,
    explained,
    n_outputs,
    one_hot_inputs,
    target_indices,
)
from seqnn.models.layers import Exponential, GlobalPool

Method = Literal["saliency", "gradient_x_input", "integrated_gradients", "deeplift_shap"]


def saliency(model: nn.Module, x, target: Target = None, **kwargs) -> np.ndarray:
    """Signed gradient of the output with respect to each input channel (Simonyan 2014)."""
    return attribute(model, x, "saliency", target, **kwargs)


def gradient_x_input(model: nn.Module, x, target: Target = None, **kwargs) -> np.ndarray:
    """Gradient times the one-hot input: non-zero only at the bases present."""
    return attribute(model, x, "gradient_x_input", target, **kwargs)


def integrated_gradients(
    model: nn.Module, x, target: Target = None, n_steps: int = 50, **kwargs
) -> np.ndarray:
    """Integrated gradients (Sundararajan 2017) from an all-zero (no base) reference."""
    return attribute(model, x, "integrated_gradients", target, n_steps=n_steps, **kwargs)


def deeplift_shap(
    model: nn.Module,
    x,
    target: Target = None,
    n_shuffles: int = 20,
    seed: int = 0,
    hypothetical: bool = False,
    **kwargs,
) -> np.ndarray:
    """DeepLIFT/SHAP (Lundberg & Lee 2017) through tangermeme's ``deep_lift_shap``, with
    ``n_shuffles`` dinucleotide shuffles of each sequence as references: the references keep
    each sequence's composition, so the attributions explain the arrangement of its bases.

    ``hypothetical=True`` gives the hypothetical contributions (what each of the 4 bases
    would contribute at each position, TF-MoDISco's input); False the contributions of the
    bases present (the hypothetical ones times the one-hot input).

    Summation to delta (contributions sum to ``f(x) - mean f(references)``) holds for
    conv / batch-norm / linear / pooling stacks with the activations tangermeme hooks
    (ReLU, GELU, ELU, sigmoid, ..., max pooling) and seqnn's modules registered here:
    :class:`~seqnn.models.layers.Exponential` and :class:`~seqnn.models.layers.GlobalPool`
    (a global max pool treated as linear leaves 3-6% of the delta unexplained on the default
    CNN). Other modules without a DeepLIFT rule make tangermeme warn. ``output="profile"``
    explains the profile projection, whose softmax weights are the input's own: its
    contributions sum to those weights times the logits' change, not to the projection's
    change (its warning is muted).
    """
    return attribute(
        model, x, "deeplift_shap", target, n_shuffles=n_shuffles, seed=seed,
        hypothetical=hypothetical, **kwargs,
    )  # fmt: skip


def attribute(
    model: nn.Module,
    x,
    method: Method,
    target: Target = None,
    batch_size: int = 128,
    logits: bool = True,
    n_steps: int = 50,
    n_shuffles: int = 20,
    seed: int = 0,
    correct: bool = False,
    output: Output = None,
    hypothetical: bool = False,
) -> np.ndarray:
    """One attribution method over sequences, in batches.

    Args:
        model: a network or pretrained model (outputs (N, T); tracks or a profile model's
            tuple are explained as ``output`` says).
        x: strings, (N, L) codes or (N, 4, L) one-hot.
        method: ``saliency`` | ``gradient_x_input`` | ``integrated_gradients`` |
            ``deeplift_shap``.
        target: output index or name, a list of them, or None for every output.
        batch_size: sequences per backward pass.
        logits: explain the network's logits (default) rather than the transformed outputs.
        n_steps: integration steps (integrated gradients).
        n_shuffles: shuffled references per sequence (DeepLIFT/SHAP).
        seed: seed of the shuffles.
        hypothetical: DeepLIFT/SHAP: every base's hypothetical contribution, not only the
            present base's (:func:`deeplift_shap`).
        correct: saliency and gradient x input: subtract each position's mean gradient over
            the 4 channels first (Majdandzic et al. 2023, Genome Biology 24:109). One-hot
            inputs live on a simplex, so the gradient's component off it is noise that plain
            gradient x input keeps at the present base.
        output: what a profile network's tuple explains: ``"count"`` (the count head),
            ``"profile"`` (the profile head through the profile projection) or None (every
            output flattened); see :class:`~seqnn.interpret.inputs.Explained`. An ensemble
            explains its averaged output.

    Returns:
        (N, 4, L) attributions for one target, (N, T, 4, L) for several.
    """
    if method not in _METHODS:
        raise ValueError(f"unknown attribution method {method!r}: one of {sorted(_METHODS)}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    net = explained(model, logits, output)
    x = one_hot_inputs(model, x)
    indices, single = target_indices(model, target, n_outputs(net, x))
    # a copy: the caller's tensor must not start requiring grad; captum warns without it
    x = x.detach().clone().requires_grad_(True)
    options = {"n_steps": n_steps, "n_shuffles": n_shuffles, "seed": seed, "correct": correct,
               "hypothetical": hypothetical, "batch_size": batch_size}  # fmt: skip
    out = np.stack(
        [
            np.concatenate(
                [
                    _METHODS[method](net, x[i : i + batch_size], t, **options)
                    for i in range(0, len(x), batch_size)
                ]
            )
            for t in indices
        ],
        axis=1,
    )  # (N, T, 4, L)
    return out[:, 0] if single else out


def _saliency(net: nn.Module, x: torch.Tensor, t: int, correct: bool, **_) -> np.ndarray:
    from captum.attr import Saliency

    grad = Saliency(net).attribute(x, target=t, abs=False)  # (B, 4, L)
    return _numpy(grad - grad.mean(dim=1, keepdim=True) if correct else grad)


def _gradient_x_input(net: nn.Module, x: torch.Tensor, t: int, correct: bool, **_):
    return _saliency(net, x, t, correct) * _numpy(x)


def _integrated_gradients(net: nn.Module, x: torch.Tensor, t: int, n_steps: int, **_):
    from captum.attr import IntegratedGradients

    baseline = torch.zeros_like(x)
    return _numpy(IntegratedGradients(net).attribute(x, baseline, target=t, n_steps=n_steps))


def _deeplift_shap(
    net: Explained,
    x: torch.Tensor,
    t: int,
    n_shuffles: int,
    seed: int,
    hypothetical: bool,
    batch_size: int,
    **_,
) -> np.ndarray:
    from tangermeme.deep_lift_shap import _nonlinear, deep_lift_shap

    x = x.detach()  # tangermeme makes its own leaves from the batch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attr = deep_lift_shap(
            net, x, target=t, batch_size=batch_size, references=_references(x, n_shuffles, seed),
            hypothetical=hypothetical,
            additional_nonlinear_ops={Exponential: _nonlinear, GlobalPool: _global_pool_rule},
            device=x.device,
        )  # fmt: skip
    _summarise_warnings(caught, net.output == "profile")
    return _numpy(attr)


def _summarise_warnings(caught: list[warnings.WarningMessage], profile: bool) -> None:
    """tangermeme warns per batch with every pair's delta: one line instead (none for the
    profile projection, whose deltas are expected; see :func:`deeplift_shap`)."""
    deltas = [w for w in caught if "Convergence deltas" in str(w.message)]
    for w in caught:
        if w not in deltas:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if deltas and not profile:
        warnings.warn(
            "deeplift_shap: the contributions of some sequence-reference pairs do not sum to "
            "the output's change (tangermeme treats a module without a DeepLIFT rule as "
            "linear; register it with tangermeme's additional_nonlinear_ops)",
            RuntimeWarning,
            stacklevel=4,
        )


def _global_pool_rule(module: GlobalPool, grad_input: tuple, grad_output: tuple) -> tuple:
    """DeepLIFT's rule for :class:`GlobalPool` (tangermeme backward-hook signature).

    A mean pool is linear: its gradient stands. A max pool routes each half's change of the
    output to the position that won its max (the rule tangermeme and captum apply to
    ``MaxPool1d``, over the whole length), divided by each position's change of the input.
    ``module.input`` / ``module.output`` hold the inputs then the references (2B, C, L).
    """
    if module.mode != "max":
        return grad_input
    with torch.no_grad():
        x, ref = module.input.chunk(2)  # (B, C, L) each
        out, out_ref = module.output.chunk(2)  # (B, C) each
        top = torch.maximum(out, out_ref)
        change = torch.cat([top - out_ref, out - top]) * grad_output[0]  # (2B, C)
        winners = module.input.argmax(dim=-1, keepdim=True)  # (2B, C, 1)
        routed = torch.zeros_like(module.input).scatter_(-1, winners, change[..., None])
        routed = sum(routed.chunk(2))  # (B, C, L): both halves' shares
        delta = x - ref
        same = delta == 0
        half = torch.where(same, grad_input[0].chunk(2)[0], routed / delta.masked_fill(same, 1))
    return (torch.cat([half, half]),)


def _references(x: torch.Tensor, n_shuffles: int, seed: int) -> torch.Tensor:
    """Dinucleotide shuffles of one-hot ``x``: (B, 4, L) -> (B, n_shuffles, 4, L) one-hot.

    N positions are shuffled as A (tangermeme wants one base at every reference position).
    """
    codes = x.argmax(dim=1).to(torch.uint8).cpu().numpy()  # (B, 4, L) -> (B, L)
    shuffles = np.stack(
        [dinucleotide_shuffle(codes, seed=seed * 1000 + k) for k in range(n_shuffles)], 1
    )  # (B, n_shuffles, L)
    one_hot = nn.functional.one_hot(torch.from_numpy(shuffles).long(), 4)  # (B, S, L, 4)
    return one_hot.permute(0, 1, 3, 2).to(x)  # (B, S, L, 4) -> (B, S, 4, L)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "saliency": _saliency,
    "gradient_x_input": _gradient_x_input,
    "integrated_gradients": _integrated_gradients,
    "deeplift_shap": _deeplift_shap,
}
