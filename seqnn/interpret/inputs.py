"""What every attribution method needs: sequences as one-hot floats, and the scalar to explain.

Layout: one-hot (N, 4, L), channels A, C, G, T. Attributions explain the network's *logits*
(before the spec's sigmoid/softmax) by default: the transform squashes effects near 0 and 1.

Profile networks return a tuple ``(profile_logits (N, T, L'), log_counts (N, T))``; ``output``
chooses what to explain (:class:`Explained`): ``"count"`` (the count head), ``"profile"``
(the profile head through :func:`~seqnn.models.outputs.profile_projection`) or None (every
output flattened: each position of each profile, then the counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from seqnn.data.encoding import DEFAULT_POLICY, OneHot, encode
from seqnn.errors import SeqnnInputError
from seqnn.models.outputs import profile_projection

Target = int | str | Sequence[int | str] | None
Output = (
    Literal["count", "profile"]
    | Callable[[torch.Tensor | tuple[torch.Tensor, ...]], torch.Tensor]
    | None
)
"""What to explain: a profile model's head by name, a function of the network's raw output
(a tensor or a tuple of them) to (N, T), or None for every output flattened."""
OUTPUTS = ("count", "profile", None)


class InterpretError(SeqnnInputError):
    """A bad interpretation argument (target, output, sequences)."""


class Explained(nn.Module):
    """A network's outputs as the (N, T) scalars attribution methods explain.

    Args:
        net: the network (any output: (N, T), tracks (N, T, L'), or a tuple of them).
        output: ``"count"``: the (N, T) part of the outputs (a profile model's count head);
            ``"profile"``: the (N, T, L') part through the profile projection; None: all
            outputs flattened (:func:`flat_outputs`); or a function of the raw output to
            (N, T).
    """

    def __init__(self, net: nn.Module, output: Output = None) -> None:
        super().__init__()
        if not callable(output) and output not in OUTPUTS:
            raise InterpretError(
                f"output={output!r}: use 'count', 'profile', None or a function of the outputs"
            )
        self.net, self.output = net, output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, L) one-hot -> (N, T)."""
        return select_output(self.net(x), self.output)


def select_output(y: torch.Tensor | tuple[torch.Tensor, ...], output: Output) -> torch.Tensor:
    """The (N, T) outputs to explain from a network's outputs (see :class:`Explained`)."""
    if output is None:
        return flat_outputs(y)
    if callable(output):
        return output(y)
    parts = tuple(y) if isinstance(y, tuple | list) else (y,)
    ndim = 2 if output == "count" else 3
    chosen = [part for part in parts if part.ndim == ndim]
    if not chosen:
        shapes = ", ".join(str(tuple(part.shape)) for part in parts)
        head = "count head (N, T)" if output == "count" else "profile head (N, T, L)"
        raise InterpretError(
            f"output={output!r}: the network has no {head}; its outputs have shapes {shapes} "
            "(use output=None to explain them flattened)"
        )
    return chosen[0] if output == "count" else profile_projection(chosen[0])


def explained(model: nn.Module, logits: bool = True, output: Output = None) -> Explained:
    """:func:`network_of` ``model`` as an :class:`Explained` module, in eval mode."""
    return Explained(network_of(model, logits), output).eval()


def network_of(model: nn.Module, logits: bool = True) -> nn.Module:
    """The module to explain: a :class:`~seqnn.inference.pretrained.PretrainedModel`'s network
    (logits) or the model itself (``logits=False``: the spec's output transform included).

    A track model's network (Enformer, Borzoi: (N, T, bins)) is explained through
    :class:`TrackLogits`: its selected targets, each reduced to the mean over its bins (the
    window's mean signal, as its predictions report it), so one output is one target.
    """
    if not (logits and hasattr(model, "spec")):
        return model
    profile = getattr(getattr(model, "kind", None), "profile_head", False)  # (profile, counts)
    if not profile and (model.spec.output_bins or getattr(model, "track_index", None) is not None):
        return TrackLogits(model)
    return model.net


class TrackLogits(nn.Module):
    """A pretrained track model's logits per target: (N, 4, L) -> (N, T), the selected
    targets (``load_pretrained(targets=...)``) each averaged over its output bins, before the
    output transform (the model's ``forward`` applies the transform after the same mean)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model._select(self.model.net(x))  # (N, T, bins) or (N, T)
        return out.float().mean(-1) if out.ndim == 3 else out


def one_hot_inputs(model: nn.Module, x) -> torch.Tensor:
    """Strings, (N, L) uint8 codes or (N, 4, L) one-hot -> (N, 4, L) float32 on the model's device.

    N and IUPAC letters follow the pretrained model's policy (the default one otherwise).
    """
    policy = model.spec.policy if hasattr(model, "spec") else DEFAULT_POLICY
    if isinstance(x, str) or (isinstance(x, Sequence) and x and isinstance(x[0], str)):
        x = encode([x] if isinstance(x, str) else list(x))
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    if x.ndim == 2:
        x = OneHot(policy)(x.to(torch.uint8))
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"expected (N, L) codes or (N, 4, L) one-hot, got shape {tuple(x.shape)}")
    device = next(model.parameters()).device
    return x.to(device=device, dtype=torch.float32)


def target_indices(model: nn.Module, target: Target, n_outputs: int) -> tuple[list[int], bool]:
    """Resolve ``target`` (index, name, list of them, or None = every output) to indices.

    Returns:
        (indices, single): ``single`` is True when one output was asked for (or exists), in
        which case attributions are (N, 4, L) rather than (N, T, 4, L).
    """
    names = list(model.targets) if hasattr(model, "targets") else []
    if target is None:
        return list(range(n_outputs)), n_outputs == 1
    single = isinstance(target, int | str)
    indices = []
    for t in [target] if single else list(target):
        if isinstance(t, str):
            t = _target_index(t, names, n_outputs)
        if not 0 <= int(t) < n_outputs:
            raise InterpretError(
                f"target={t}: out of range for the {n_outputs} outputs explained "
                f"(use 0..{n_outputs - 1})"
            )
        indices.append(int(t))
    return indices, single


def _target_index(name: str, names: list[str], n_outputs: int) -> int:
    """The index of the target called ``name``."""
    if name not in names:
        known = f"the model's targets are {names}" if names else "the model names no targets"
        raise InterpretError(f"target={name!r}: no such target; {known} (or pass an index)")
    if len(names) != n_outputs:
        raise InterpretError(
            f"target={name!r}: names index the model's {len(names)} tracks, but {n_outputs} "
            "outputs are explained (a profile model's outputs flattened): pass "
            "output='count' or output='profile'"
        )
    return names.index(name)


def n_outputs(net: nn.Module, x: torch.Tensor) -> int:
    """Number of outputs of ``net`` for one-hot ``x`` (one forward pass on one sequence)."""
    with torch.no_grad():
        return int(flat_outputs(net(x[:1])).shape[1])


def flat_outputs(y: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """A network's outputs as (N, T): tracks (N, T', L') flattened, the parts of a tuple (a
    profile and a count head) concatenated in order."""
    parts = y if isinstance(y, tuple) else (y,)
    return torch.cat([part.reshape(len(part), -1) for part in parts], 1)


def observed(attributions: np.ndarray | torch.Tensor, x) -> np.ndarray:
    """Attribution of the base actually present: (N, 4, L) x (N, 4, L) one-hot -> (N, L)."""
    a = attributions.detach().cpu().numpy() if torch.is_tensor(attributions) else attributions
    xx = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    return (a * xx).sum(axis=-2)
