"""Fully convolutional scans: a network's trunk run once over a stretch of contig, every
window's prediction read from it.

Layout: contig codes (S,) uint8 -> one-hot (1, 4, S) -> trunk phases (B, C, n) -> per window
(K, C, n_positions) -> the network's own head -> (K, T).

Neighbouring scan windows share almost all of their input. For a network whose convolutions
are ``padding="valid"`` (no output position sees a padding zero), the trunk's output for the
window ``[d, d + L)`` is a slice of the trunk's output over a longer segment, provided the
pooling grid lines up: with pooling factor ``P`` (the product of the pool widths) the window
reads ``n_positions`` consecutive outputs of the *phase* ``d mod P``, from index ``d // P``.
Every pooling layer is run at stride 1 and split into its phases (shift-and-stitch), keeping
only the phases that some window needs (``stride`` 1 needs all ``P``; a stride sharing a
factor with ``P`` fewer), with each batch norm folded into the convolution before it
(:mod:`seqnn.models.folding`). The head (flatten + dense layers, or a global pool) is then applied
to each window's slice, so the result equals the window-by-window prediction up to float
rounding (tested: max abs difference <= 1e-4).

With ``padding="same"`` the window path's outputs depend on the zeros at each window's edges,
which a long pass replaces by real neighbours: :func:`plan_network` then says why it is not
exact, and ``method="contextual"`` runs it anyway as a *different function* (documented with
its agreement in docs/inference.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqnn.data.encoding import reverse_complement_codes
from seqnn.inference.predict import RC, PredictError
from seqnn.inference.pretrained import PretrainedModel
from seqnn.models.bassetcnn import BassetCNN
from seqnn.models.dilated_resnet import DilatedResNet
from seqnn.models.folding import fold_batch_norms
from seqnn.models.layers import (
    ConvBlock,
    Exponential,
    GlobalPool,
    ResidualDilatedBlock,
    center_crop,
    output_length,
    receptive_field,
)
from seqnn.models.reverse_complement import ReverseComplementAverage

#: modules applied position by position (or as shift-equivariant stride-1 blocks)
POINTWISE = (
    nn.BatchNorm1d,
    nn.Dropout,
    nn.Identity,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    Exponential,
)
POOLS = (nn.MaxPool1d, nn.AvgPool1d)
#: bp of window starts per trunk pass (the segment is this plus one input length)
CHUNK_BP = 2**17


#: windows per call of a pooled head's dense layers
HEAD_ROWS = 16384


@dataclass
class PooledHead:
    """A head that pools over a window's trunk positions (``[crop, n_positions - crop)``),
    then runs dense layers: the pool slides once over each phase, giving every window's pooled
    features in one call instead of a gather of each window's positions.

    Attributes:
        mode: ``"max"`` or ``"mean"`` (:class:`~seqnn.models.layers.GlobalPool`).
        crop: positions left out at each end of the window.
        rest: the layers after the pool, (K, C) -> (K, T).
    """

    mode: str
    crop: int
    rest: nn.Module

    def sliding(self, h: torch.Tensor, n_positions: int) -> torch.Tensor:
        """(B, C, n) -> (B, C, m): index ``t + crop`` is the pool of the window at ``t``."""
        width = n_positions - 2 * self.crop
        return (F.max_pool1d if self.mode == "max" else F.avg_pool1d)(h, width, 1)


@dataclass
class Plan:
    """How to run a network fully convolutionally.

    Attributes:
        stages: the trunk's modules in order, batch norms folded into the convolutions before
            them (pooling layers are split into phases when run).
        head: trunk slice (K, C, n_positions) -> logits (K, T).
        pool: the trunk's pooling factor P (one output position per P bp).
        n_positions: trunk positions one window of ``input_length`` bp reads.
        receptive_field: input bp one trunk position depends on.
        rc_average: the network averages itself with its reverse complement
            (:class:`ReverseComplementAverage`), so both strands are run.
        exact: valid padding: equal to the window path (else the contextual function).
        pooled: the head as a sliding pool and dense layers, when it starts with a global pool.
    """

    stages: list[nn.Module]
    head: Callable[[torch.Tensor], torch.Tensor]
    pool: int
    n_positions: int
    receptive_field: int
    rc_average: bool
    exact: bool
    pooled: PooledHead | None = None


def plan_network(net: nn.Module, input_length: int) -> Plan | str:
    """A :class:`Plan` for ``net``, or a one-line reason why it cannot be scanned fully
    convolutionally (a recurrent layer, attention, a module or network class it does not
    know). The plan's ``exact`` says whether it equals the window path (valid padding)."""
    net = getattr(net, "_orig_mod", net)
    rc_average = isinstance(net, ReverseComplementAverage)
    inner = net.net if rc_average else net
    reason = _unsupported(net)
    if reason:
        return reason
    if isinstance(inner, BassetCNN):
        head, head_layers, crop = inner.head, inner.head, 0
    elif isinstance(inner, DilatedResNet) and inner.head_type in ("scalar", "both"):
        crop, scalar_head = inner.crop, inner.scalar_head
        head = lambda h: scalar_head(center_crop(h, crop))  # noqa: E731
        head_layers = scalar_head
    elif isinstance(inner, DilatedResNet):
        return "a per-position profile head (a scan writes one value per window)"
    else:
        return f"{type(inner).__name__} is not a network the fully convolutional scan knows"
    stages = fold_batch_norms(list(_stages(inner.trunk)))
    odd = next((m for m in stages if not isinstance(m, (*POINTWISE, *POOLS, nn.Conv1d))), None)
    if odd is not None and not isinstance(odd, ResidualDilatedBlock):
        return f"an unknown module {type(odd).__name__} in the trunk"
    pool = int(np.prod([_width(m) for m in stages if isinstance(m, POOLS)], dtype=np.int64))
    n_positions = output_length(inner.trunk, input_length)
    convs = [m for m in inner.trunk.modules() if isinstance(m, nn.Conv1d)]
    exact = all(m.padding in ("valid", (0,)) for m in convs)
    layers = list(head_layers)
    pooled = (
        PooledHead(layers[0].mode, crop, nn.Sequential(*layers[1:]))
        if layers and isinstance(layers[0], GlobalPool)
        else None
    )
    return Plan(
        stages, head, pool, n_positions, receptive_field(inner.trunk), rc_average, exact, pooled
    )


def _unsupported(net: nn.Module) -> str | None:
    """Why ``net`` holds a layer that a fully convolutional pass cannot reproduce, or None."""
    for module in net.modules():
        if isinstance(module, nn.RNNBase):
            return f"a recurrent layer ({type(module).__name__}) reads the whole window"
        name = type(module).__name__.lower()
        if isinstance(module, nn.MultiheadAttention) or "attention" in name or "former" in name:
            return f"attention ({type(module).__name__}) over the whole window"
        if isinstance(module, nn.Conv1d) and module.stride[0] != 1:
            return f"a strided convolution ({module})"
        if isinstance(module, POOLS) and not _plain_pool(module):
            return f"a pooling layer with overlap, padding or ceil_mode ({module})"
    return None


def _plain_pool(module: nn.Module) -> bool:
    stride = module.stride if module.stride else module.kernel_size
    padding = module.padding if isinstance(module.padding, int) else module.padding[0]
    return _width(module) == _first(stride) and padding == 0 and not module.ceil_mode


def _first(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]


def _width(module: nn.Module) -> int:
    return _first(module.kernel_size)


def _stages(module: nn.Module):
    """The trunk's modules in order, Sequentials (ConvBlock) opened; residual blocks whole."""
    for child in module.children():
        if isinstance(child, nn.Sequential | ConvBlock):
            yield from _stages(child)
        else:
            yield child


def exactness_reason(plan: Plan | str) -> str | None:
    """None when ``plan`` scans exactly; else why the window path is used."""
    if isinstance(plan, str):
        return plan
    if not plan.exact:
        return (
            "zero padding ('same' convolutions): each window's edges see zeros that a "
            "whole-contig pass would replace with real sequence"
        )
    return None


@torch.no_grad()
def trunk_costs(plan: Plan, input_length: int, stride: int) -> tuple[float, float]:
    """Multiply-adds per bp of the trunk's convolutions: (whole-contig pass, window path).

    The whole-contig pass computes a convolution behind pooling factor J on the phases some
    window needs, ``1 / gcd(stride, J)`` of every base; the window path computes its
    ``n`` positions in every window, ``n / stride`` per base. At strides near the input
    length the window path is cheaper (a 1-kb BassetCNN at stride 1,000: 3x). The heads cost
    the same on both paths (once per window) and are left out.
    """
    device = next((p.device for m in plan.stages for p in m.parameters()), torch.device("cpu"))
    h, jump, fast, windows = torch.zeros(1, 4, input_length, device=device), 1, 0.0, 0.0
    for stage in plan.stages:
        convs = [m for m in stage.modules() if isinstance(m, nn.Conv1d)]
        lengths: list[int] = []
        hooks = [
            c.register_forward_hook(lambda m, i, o, seen=lengths: seen.append(o.shape[-1]))
            for c in convs
        ]
        h = stage(h)
        for hook in hooks:
            hook.remove()
        for conv, n in zip(convs, lengths, strict=True):
            per_position = conv.in_channels * conv.out_channels * conv.kernel_size[0] / conv.groups
            fast += per_position / math.gcd(stride, jump)
            windows += per_position * n / stride
        jump *= _width(stage) if isinstance(stage, POOLS) else 1
    return fast, windows


# ----------------------------------------------------------------------------- the pass
def _trunk_phases(
    stages: list[nn.Module], x: torch.Tensor, residues: np.ndarray
) -> tuple[torch.Tensor, np.ndarray]:
    """Run the trunk over a segment, every pooling layer at stride 1 split into phases.

    Args:
        stages: the plan's stages.
        x: one-hot (1, 4, S).
        residues: the window starts mod P that are needed.

    Returns:
        (B, C, n) phases and (B,) their offsets: phase b's position i is the trunk output of
        the input starting at ``offsets[b] + i * P``.
    """
    h, offsets, jump = x, np.zeros(1, dtype=np.int64), 1
    for stage in stages:
        if not isinstance(stage, POOLS):
            h = stage(h)
            continue
        k = _width(stage)
        pool = F.max_pool1d if isinstance(stage, nn.MaxPool1d) else F.avg_pool1d
        m = pool(h, k, 1)  # (B, C, N - k + 1): every offset's pools
        n = h.shape[-1] // k  # the longest phase's length; shorter ones padded, never read
        m = F.pad(m, (0, n * k - m.shape[-1])) if n * k > m.shape[-1] else m[..., : n * k]
        # (B, C, n, k) -> (B, k, C, n) -> (B * k, C, n): phase o of element b at b * k + o
        h = m.reshape(*m.shape[:2], n, k).permute(0, 3, 1, 2).reshape(-1, m.shape[1], n)
        offsets = (offsets[:, None] + np.arange(k) * jump).reshape(-1)
        jump *= k
        keep = np.flatnonzero(np.isin(offsets, np.unique(residues % jump)))
        if len(keep) < len(offsets):  # phases no window reads
            h, offsets = h[torch.from_numpy(keep).to(h.device)], offsets[keep]
    return h, offsets


def _strand_logits(
    plan: Plan, x: torch.Tensor, starts: np.ndarray, batch_size: int
) -> torch.Tensor:
    """Logits (K, T) of the windows ``x[..., d : d + L]`` for ``d`` in ``starts``."""
    h, offsets = _trunk_phases(plan.stages, x, starts % plan.pool)
    phase = np.full(plan.pool, -1, dtype=np.int64)
    phase[offsets] = np.arange(len(offsets))
    b = torch.from_numpy(phase[starts % plan.pool]).to(h.device)
    t = torch.from_numpy(starts // plan.pool).to(h.device)
    if int(t.max()) + plan.n_positions > h.shape[-1]:
        raise RuntimeError("fullconv: a window reads past its segment (a seqnn bug)")
    views = h.unfold(2, plan.n_positions, 1)  # (B, C, n - n_pos + 1, n_pos), no copy
    head = plan.pooled
    # dense windows (stride 1, few phases): one sliding pool, no gathers, then the dense layers
    # on many windows a call; sparse ones gather their slices into the network's own head
    if head is not None and h.shape[0] * h.shape[-1] <= 2 * len(t):
        pooled = head.sliding(h, plan.n_positions)[b, :, t + head.crop]  # (K, C)
        rows = max(batch_size, HEAD_ROWS)
        return torch.cat([head.rest(pooled[i : i + rows]) for i in range(0, len(t), rows)])
    out = [
        plan.head(views[b[i : i + batch_size], :, t[i : i + batch_size]])  # (k, C, n_pos)
        for i in range(0, len(starts), batch_size)
    ]
    return torch.cat(out)


def _logits(plan: Plan, x: torch.Tensor, starts: np.ndarray, length: int, batch_size: int):
    y = _strand_logits(plan, x, starts, batch_size)
    if plan.rc_average:  # the wrapper's own average: flip the one-hot as it does
        rev = _strand_logits(plan, x.flip(-1, -2), x.shape[-1] - starts - length, batch_size)
        y = (y + rev) / 2
    return y


@torch.inference_mode()
def predict_segment(
    model: PretrainedModel,
    plan: Plan,
    codes: np.ndarray,
    starts: np.ndarray,
    rc: RC = False,
    batch_size: int = 256,
) -> np.ndarray:
    """Predictions of the windows ``codes[d : d + input_length]``, as ``predict_codes`` would
    give them one window at a time.

    Args:
        model: a pretrained model (eval mode).
        plan: :func:`plan_network` of ``model.net``.
        codes: (S,) uint8 codes of a segment.
        starts: (K,) int64 window starts in the segment; every window lies inside it.
        rc: as in :func:`seqnn.inference.predict.predict_codes`.
        batch_size: windows per head call (a pooled head over dense windows takes at least
            ``HEAD_ROWS`` a call: (K, C) features, not (K, C, n_positions) slices).

    Returns:
        (K, T) float32 predictions.
    """
    length = model.input_length
    tensor = torch.from_numpy(np.ascontiguousarray(codes)).to(model.device)[None]  # (1, S)
    y = model.output_fn(_logits(plan, model.one_hot(tensor), starts, length, batch_size).float())
    if rc:
        rev = model.one_hot(reverse_complement_codes(tensor))
        y_rc = model.output_fn(
            _logits(plan, rev, len(codes) - starts - length, length, batch_size).float()
        )
        y = torch.maximum(y, y_rc) if rc == "max" else (y + y_rc) / 2
    return y.float().cpu().numpy()


def predict_contig(
    model: PretrainedModel,
    plan: Plan,
    fetch: Callable[[int, int], np.ndarray],
    starts: np.ndarray,
    rc: RC = False,
    batch_size: int = 256,
    chunk_bp: int = CHUNK_BP,
) -> np.ndarray:
    """Predictions of the windows ``[d, d + input_length)`` of one contig (sorted starts), one
    trunk pass per ``chunk_bp`` bp of starts.

    Args:
        model, plan, rc, batch_size: as in :func:`predict_segment`.
        fetch: ``fetch(start, length)`` -> (length,) uint8 codes, N past the contig ends.
        starts: (K,) int64 sorted window starts on the contig (may be negative).
        chunk_bp: bp of window starts per trunk pass.

    Returns:
        (K, T) float32 predictions.
    """
    # a non-exact (contextual) pass gives each chunk's edge windows their real neighbours
    margin = 0 if plan.exact else plan.receptive_field
    block = (starts - starts[0]) // chunk_bp
    bounds = np.r_[0, np.flatnonzero(np.diff(block)) + 1, len(starts)]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        first = int(starts[lo]) - margin
        span = int(starts[hi - 1]) - first + model.input_length + margin
        codes = fetch(first, span)
        out.append(predict_segment(model, plan, codes, starts[lo:hi] - first, rc, batch_size))
    return np.concatenate(out)


def check_chunk(plan: Plan, chunk_bp: int, input_length: int) -> None:
    """Refuse a chunk shorter than one window (it would recompute more than it shares).

    Raises:
        PredictError: naming ``chunk_bp``.
    """
    if int(chunk_bp) < input_length:
        raise PredictError(
            f"chunk_bp={chunk_bp} is smaller than the model's receptive field (one window, "
            f"{input_length} bp): each trunk pass would recompute more than it shares; give "
            f"chunk_bp >= {input_length} (default {CHUNK_BP})"
        )
