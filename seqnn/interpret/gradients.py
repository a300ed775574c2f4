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
from seqnn.interpret.inputs import Target, n_outputs, network_of, one_hot_inputs, target_indices

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
    model: nn.Module, x, target: Target = None, n_shuffles: int = 20, seed: int = 0, **kwargs
) -> np.ndarray:
    """DeepLIFT averaged over ``n_shuffles`` dinucleotide shuffles of each sequence as
    references (DeepSHAP, Lundberg & Lee 2017): the references keep each sequence's
    composition, so the attributions explain the arrangement of its bases.

    Summation to delta (attributions sum to ``f(x) - mean f(references)``) holds exactly for
    conv / batch-norm / ReLU / linear stacks; max-pooling layers pass gradients (as in
    the DeepLIFT reference implementation's default), so pooled networks sum only roughly."""
    return attribute(model, x, "deeplift_shap", target, n_shuffles=n_shuffles, seed=seed, **kwargs)


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
) -> np.ndarray:
    """One attribution method over sequences, in batches.

    Args:
        model: a network or pretrained model (outputs (N, T)).
        x: strings, (N, L) codes or (N, 4, L) one-hot.
        method: ``saliency`` | ``gradient_x_input`` | ``integrated_gradients`` |
            ``deeplift_shap``.
        target: output index or name, a list of them, or None for every output.
        batch_size: sequences per backward pass.
        logits: explain the network's logits (default) rather than the transformed outputs.
        n_steps: integration steps (integrated gradients).
        n_shuffles: shuffled references per sequence (DeepLIFT/SHAP).
        seed: seed of the shuffles.
        correct: saliency and gradient x input: subtract each position's mean gradient over
            the 4 channels first (Majdandzic et al. 2023, Genome Biology 24:109). One-hot
            inputs live on a simplex, so the gradient's component off it is noise that plain
            gradient x input keeps at the present base.

    Returns:
        (N, 4, L) attributions for one target, (N, T, 4, L) for several.
    """
    if method not in _METHODS:
        raise ValueError(f"unknown attribution method {method!r}: one of {sorted(_METHODS)}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    net = network_of(model, logits).eval()
    x = one_hot_inputs(model, x)
    indices, single = target_indices(model, target, n_outputs(net, x))
    # a copy: the caller's tensor must not start requiring grad; captum warns without it
    x = x.detach().clone().requires_grad_(True)
    options = {"n_steps": n_steps, "n_shuffles": n_shuffles, "seed": seed, "correct": correct}
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


def _deeplift_shap(net: nn.Module, x: torch.Tensor, t: int, n_shuffles: int, seed: int, **_):
    from captum.attr import DeepLift

    explainer = DeepLift(net)
    codes = x.argmax(dim=1).to(torch.uint8).cpu().numpy()  # (B, 4, L) -> (B, L)
    present = x.sum(dim=1, keepdim=True) > 0  # N positions stay all-zero in the references
    total = torch.zeros_like(x)
    with warnings.catch_warnings():
        # captum's notice that it hooks the activations for the duration of the call
        warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
        for k in range(n_shuffles):
            shuffled = torch.from_numpy(dinucleotide_shuffle(codes, seed=seed * 1000 + k))
            ref = nn.functional.one_hot(shuffled.long(), 4).permute(0, 2, 1).to(x) * present
            total += explainer.attribute(x, ref, target=t)  # (B, 4, L)
    return _numpy(total / n_shuffles)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "saliency": _saliency,
    "gradient_x_input": _gradient_x_input,
    "integrated_gradients": _integrated_gradients,
    "deeplift_shap": _deeplift_shap,
}
