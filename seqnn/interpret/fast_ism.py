"""Fast saturation mutagenesis: recompute only what a substitution changes (fastISM's method).

Layout: one-hot (N, 4, L), channels A, C, G, T; every layer's features (N, C, L_layer).

A substitution at position i changes only the positions of each layer inside i's receptive
field. :func:`fast_plan` turns a network it understands into a list of steps; the reference
pass caches each step's input, and a batch of mutants is then carried through the layers as
*windows*: per mutant, a start and the values of a fixed number of positions (B, C, W), the
reference's everywhere else. A convolution or pooling step rebuilds only its output window,
from the window below filled in with the cached reference (and zeros past either end: 'same'
zero padding is exact here, every mutant has the same window as its reference). The head is
reached without a full pass: a mean pool adds the window's change to the reference's mean, a
max pool takes the max of the window and of the reference outside it (prefix / suffix
maxima), a flatten (dense head) or an output track writes the window into the reference's
features. The idea is Nair et al. 2022 (fastISM, Kundaje lab, Bioinformatics 38:2397); this
is an independent PyTorch implementation for seqnn's networks.

Understood: ``nn.Sequential`` stacks (nested ones too) of Conv1d (any stride, dilation and
zero padding), MaxPool1d / AvgPool1d without padding, batch norm (eval), activations,
dropout (eval) and :class:`~seqnn.models.layers.ResidualDilatedBlock`, ending in a flatten,
a global or adaptive (1) pool or nothing, then dense layers; :class:`BassetCNN`; and
:class:`DilatedResNet` with any head. Anything else (recurrent layers, attention, unknown
modules, wrappers) raises :class:`Unsupported`, and :func:`~seqnn.interpret.ism` falls back to
full passes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from seqnn.interpret.inputs import Output, flat_outputs, select_output
from seqnn.models.bassetcnn import BassetCNN
from seqnn.models.dilated_resnet import DilatedResNet
from seqnn.models.folding import foldable, folded_convolution
from seqnn.models.layers import Exponential, GlobalPool, ResidualDilatedBlock, center_crop

POINTWISE = (
    nn.ReLU, nn.GELU, nn.ELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.LeakyReLU,
    nn.Identity, nn.Dropout, nn.BatchNorm1d, Exponential,
)  # fmt: skip
"""Modules that act on each position alone (batch norm and dropout in eval mode)."""

VECTOR = (nn.Linear, nn.Flatten, *POINTWISE)
"""Modules allowed after the pooling / flatten that ends the positional part."""


class Unsupported(Exception):
    """The network has a module or wiring that fast ISM does not understand."""


@dataclass
class Window:
    """A batch of mutants' features in one layer: equal to the reference's outside
    ``[start, start + width)``.

    Attributes:
        rows: (B,) int64 index of each mutant's reference sequence.
        start: (B,) int64 first position of each mutant's window.
        values: (B, C, W) features inside the windows.
    """

    rows: torch.Tensor
    start: torch.Tensor
    values: torch.Tensor

    @property
    def width(self) -> int:
        return self.values.shape[-1]


class Reference:
    """A layer's cached reference features, zero-padded by ``pad`` positions at each end.

    Args:
        h: (N, C, L) reference features.
        pad: zero positions added at each end (the furthest a slice reaches past the ends).
    """

    def __init__(self, h: torch.Tensor, pad: int = 0) -> None:
        self.pad, self.length = pad, h.shape[-1]
        self.padded = F.pad(h, (pad, pad))  # (N, C, pad + L + pad)

    def gather(self, rows: torch.Tensor, start: torch.Tensor, width: int) -> torch.Tensor:
        """(B, C, width): positions ``[start, start + width)`` of sequences ``rows``."""
        # (N, C, L') -> (N, C, L' - width + 1, width) view: one slice per start, copied once
        slices = self.padded.unfold(2, width, 1)
        # mutants come in runs with one sequence and window (the substitutions of a position):
        # index each run's slice once and repeat it, a plain copy (the index is the slow part)
        key = rows * self.padded.shape[-1] + (start + self.pad)
        first, counts = torch.unique_consecutive(key, return_counts=True)
        if len(first) == len(key):
            return slices[rows, :, start + self.pad]
        at = torch.div(first, self.padded.shape[-1], rounding_mode="floor")
        unique = slices[at, :, first - at * self.padded.shape[-1]]  # (U, C, width)
        return unique.repeat_interleave(counts, 0, output_size=len(key))


def patch(ref: Reference, window: Window, start: torch.Tensor, width: int) -> torch.Tensor:
    """The mutants' features over ``[start, start + width)``: the window's values where it has
    them, the reference elsewhere, zeros past either end: (B, C, width)."""
    out = ref.gather(window.rows, start, width)
    offset = window.start - start  # (B,) where each window begins in its patch
    first, last = int(offset.min()), int(offset.max())
    if first == last and first >= 0 and first + window.width <= width:
        out[:, :, first : first + window.width] = window.values  # the usual case: one slice
        return out
    columns = offset[:, None, None] + torch.arange(window.width, device=out.device)  # (B, 1, W)
    if first >= 0 and last + window.width <= width:  # windows at different offsets, inside
        return out.scatter_(2, columns.expand(-1, out.shape[1], -1), window.values)
    # windows reaching past the patch (pooling drops the last L mod pool positions)
    k = torch.arange(width, device=out.device) - offset[:, None]  # (B, width) window index
    inside = ((k >= 0) & (k < window.width))[:, None, :]
    index = k.clamp(0, window.width - 1)[:, None, :].expand(-1, out.shape[1], -1)
    return torch.where(inside, window.values.gather(2, index), out)


class Step:
    """One layer: ``reference`` runs it on the reference features (caching what ``mutate``
    needs), ``mutate`` on a window of mutants."""

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mutate(self, window: Window) -> Window:
        raise NotImplementedError


class Pointwise(Step):
    """A module acting on each position alone: the window keeps its place."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.in_place = False  # a ReLU on a tensor no one else holds (relu_in_place)

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        return self.module(h)

    def mutate(self, window: Window) -> Window:
        values = torch.relu_(window.values) if self.in_place else self.module(window.values)
        return Window(window.rows, window.start, values)


class Sliding(Step):
    """A convolution or pooling without padding of its own: output j reads input positions
    ``[j * stride - left, j * stride - left + span)``, zeros outside the input."""

    def __init__(self, module: nn.Module) -> None:
        self.module, self.function = module, sliding_function(module)
        if isinstance(module, nn.Conv1d):
            self.stride, dilation = module.stride[0], module.dilation[0]
            self.span = dilation * (module.kernel_size[0] - 1) + 1
            pad = module.padding
            self.left = (self.span - 1) // 2 if pad == "same" else 0 if pad == "valid" else pad[0]
        else:
            self.span = single(module.kernel_size)
            self.stride, self.left = single(module.stride or module.kernel_size), 0

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        self.ref = Reference(h, max(self.left, self.span))
        out = self.module(h)
        self.length = out.shape[-1]
        return out

    def mutate(self, window: Window) -> Window:
        width = (window.width + self.span - 2) // self.stride + 1
        # first output whose input range reaches the window: ceil((s - span + 1 + left) / stride)
        start = -torch.div(
            self.span - 1 - self.left - window.start, self.stride, rounding_mode="floor"
        )
        start = fit(start, width, self.length)
        width = min(width, self.length)
        needed = (width - 1) * self.stride + self.span
        self.patch_start = start * self.stride - self.left
        self.patch = patch(self.ref, window, self.patch_start, needed)
        return Window(window.rows, start, self.function(self.patch))


class Residual(Step):
    """``x + body(x)``; a valid-padded body is shorter, and x is centre-cropped to its length
    (as :class:`~seqnn.models.layers.ResidualDilatedBlock` does): output j adds x[j + crop]."""

    def __init__(self, body: list[Step]) -> None:
        self.body = body
        sliding = [step for step in body if isinstance(step, Sliding)]
        # a body that starts with its one (stride-1) convolution read x itself around the
        # output window: that patch gives x there without gathering it again
        first = body[0] if body else None
        reuse = len(sliding) == 1 and first is sliding[0] and first.stride == 1
        self.conv = first if reuse else None

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        self.ref = Reference(h)
        branch = run_reference(self.body, h)
        self.crop = (h.shape[-1] - branch.shape[-1]) // 2  # 0 with 'same' padding
        return h[..., self.crop : self.crop + branch.shape[-1]] + branch

    def mutate(self, window: Window) -> Window:
        out = run_mutants(self.body, window)
        return Window(out.rows, out.start, out.values.add_(self.input(window, out)))

    def input(self, window: Window, out: Window) -> torch.Tensor:
        """The block's input over the output window (shifted by the crop): (B, C, W)."""
        start = out.start + self.crop
        if self.conv is not None:
            offset = start - self.conv.patch_start
            first, last = int(offset.min()), int(offset.max())
            if first == last and first >= 0 and first + out.width <= self.conv.patch.shape[-1]:
                return self.conv.patch[:, :, first : first + out.width]
        return patch(self.ref, window, start, out.width)


class Head:
    """The end of a network: ``reference`` returns the outputs (N, ...), ``mutate`` the
    mutants' outputs (B, ...) from the last positional layer's window."""

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mutate(self, window: Window) -> torch.Tensor:
        raise NotImplementedError


class Dense(Head):
    """Modules on whole vectors (flatten, linear, activations) after ``pool``: run as they are."""

    def __init__(self, pool: Head, modules: Iterable[nn.Module]) -> None:
        self.pool, self.rest = pool, nn.Sequential(*modules)

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        return self.rest(self.pool.reference(h))

    def mutate(self, window: Window) -> torch.Tensor:
        return self.rest(self.pool.mutate(window))


class Materialise(Head):
    """The mutants' whole features (B, C, L - 2 crop): the window written into the reference
    (a flatten before a dense layer, or output tracks)."""

    def __init__(self, crop: int = 0) -> None:
        self.crop = crop

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        self.ref = Reference(h)
        return center_crop(h, self.crop)

    def mutate(self, window: Window) -> torch.Tensor:
        start = torch.zeros_like(window.start)
        return center_crop(patch(self.ref, window, start, self.ref.length), self.crop)


class MeanPool(Head):
    """Mean over positions ``[crop, L - crop)``: the reference's mean plus the window's change."""

    def __init__(self, crop: int = 0, keepdim: bool = False) -> None:
        self.crop, self.keepdim = crop, keepdim

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        self.length = h.shape[-1]
        self.mean = center_crop(h, self.crop).mean(-1, keepdim=True)  # (N, C, 1)
        # prefix sums (N, C, L + 1): the reference's sum over any window, no gather (float64
        # where the device has it, so that a long sequence's sums keep the window's change)
        wide = torch.float32 if h.device.type == "mps" else torch.float64
        self.prefix = F.pad(h.to(wide).cumsum(-1), (1, 0))
        return self.mean if self.keepdim else self.mean[..., 0]

    def mutate(self, window: Window) -> torch.Tensor:
        values, rows, start = window.values, window.rows, window.start
        lo, hi = self.crop, self.length - self.crop  # the positions the mean counts
        if window.start.min() < lo or window.start.max() + window.width > hi:
            position = start[:, None] + torch.arange(window.width, device=values.device)
            counted = (position >= lo) & (position < hi)
            values = values * counted[:, None, :].to(values.dtype)
        total = values.sum(-1).to(self.prefix.dtype)  # (B, C)
        a, b = start.clamp(lo, hi), (start + window.width).clamp(lo, hi)
        reference = self.prefix[rows, :, b] - self.prefix[rows, :, a]  # (B, C)
        change = ((total - reference) / (hi - lo)).to(values.dtype)
        out = self.mean[rows] + change[..., None]
        return out if self.keepdim else out[..., 0]


class MaxPool(Head):
    """Max over positions: the max of the window and of the reference outside it."""

    def __init__(self, keepdim: bool = False) -> None:
        self.keepdim = keepdim

    def reference(self, h: torch.Tensor) -> torch.Tensor:
        lowest = torch.full_like(h[..., :1], -torch.inf)
        # prefix[:, :, a] = max h[:, :, :a]; suffix[:, :, b] = max h[:, :, b:]  (N, C, L + 1)
        self.prefix = torch.cat([lowest, h.cummax(-1).values], -1)
        self.suffix = torch.cat([h.flip(-1).cummax(-1).values.flip(-1), lowest], -1)
        return h.amax(-1, keepdim=self.keepdim)

    def mutate(self, window: Window) -> torch.Tensor:
        rows = window.rows
        before = self.prefix[rows, :, window.start]  # (B, C)
        after = self.suffix[rows, :, window.start + window.width]
        out = torch.maximum(torch.maximum(before, after), window.values.amax(-1))
        return out[..., None] if self.keepdim else out


class Outputs(Head):
    """Several heads' outputs, as the network's tuple (a single head: its output alone)."""

    def __init__(self, heads: list[tuple[list[Step], Head]]) -> None:
        self.heads = heads

    def reference(self, h: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        outs = tuple(head.reference(run_reference(s, h)) for s, head in self.heads)
        return outs if len(outs) > 1 else outs[0]

    def mutate(self, window: Window) -> torch.Tensor | tuple[torch.Tensor, ...]:
        outs = tuple(head.mutate(run_mutants(s, window)) for s, head in self.heads)
        return outs if len(outs) > 1 else outs[0]


@dataclass
class Plan:
    """A network as positional steps then a head; ``select`` turns the head's outputs (a
    tensor or a tuple) into (N, T) (:func:`~seqnn.interpret.inputs.select_output`)."""

    steps: list[Step]
    head: Head
    select: Callable[..., torch.Tensor] = flat_outputs

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, L) one-hot -> (N, T) outputs, caching the reference features."""
        return self.select(self.head.reference(run_reference(self.steps, x)))

    def mutate(self, window: Window) -> torch.Tensor:
        """Substitutions as a window of the input -> (B, T) mutants' outputs."""
        return self.select(self.head.mutate(run_mutants(self.steps, window)))


def run_reference(steps: list[Step], h: torch.Tensor) -> torch.Tensor:
    for step in steps:
        h = step.reference(h)
    return h


def run_mutants(steps: list[Step], window: Window) -> Window:
    for step in steps:
        window = step.mutate(window)
    return window


def fit(start: torch.Tensor, width: int, length: int) -> torch.Tensor:
    """Move windows of ``width`` inside ``[0, length)`` (they then still cover every changed
    position, all of which lie inside); one window of everything when it is wider."""
    if width >= length:
        return torch.zeros_like(start)
    return start.clamp(0, length - width)


def single(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]


def sliding_function(module: nn.Module):
    """The module without its padding, as a function of a (B, C, W) patch."""
    if isinstance(module, nn.Conv1d):
        if module.padding_mode != "zeros":
            raise Unsupported(f"Conv1d with padding_mode={module.padding_mode!r}")
        return lambda x: F.conv1d(
            x, module.weight, module.bias, module.stride, 0, module.dilation, module.groups
        )
    if single(module.padding) != 0 or module.ceil_mode:
        raise Unsupported(f"{type(module).__name__} with padding or ceil_mode")
    if isinstance(module, nn.MaxPool1d) and single(module.dilation) != 1:
        raise Unsupported("MaxPool1d with dilation")
    kernel, stride = single(module.kernel_size), single(module.stride or module.kernel_size)
    if isinstance(module, nn.MaxPool1d):
        return lambda x: F.max_pool1d(x, kernel, stride)
    return lambda x: F.avg_pool1d(x, kernel, stride)


def fast_plan(net: nn.Module, output: Output = None) -> Plan:
    """The fast-ISM plan of ``net`` (in eval mode), explaining ``output``
    (:class:`~seqnn.interpret.inputs.Explained`).

    Raises:
        Unsupported: a module or wiring the plan cannot follow (the message names it).
    """
    plan = _network_plan(net)
    if output is not None:
        plan.select = functools.partial(select_output, output=output)
    return plan


def _network_plan(net: nn.Module) -> Plan:
    if type(net) is BassetCNN:
        return sequence_plan(leaves([net.trunk, net.head]))
    if type(net) is DilatedResNet:
        scalar = ([], Dense(MeanPool(net.crop), leaves(net.scalar_head)[1:]))
        profile = ([Sliding(net.profile_head)], Materialise(net.crop))
        heads = {"scalar": [scalar], "profile": [profile], "both": [profile, scalar]}
        return Plan(positional_steps(leaves(net.trunk)), Outputs(heads[net.head_type]))
    if type(net) is nn.Sequential:
        return sequence_plan(leaves(net))
    raise Unsupported(type(net).__name__)


def leaves(modules: Iterable[nn.Module]) -> list[nn.Module]:
    """Modules in the order a stack runs them, nested plain ``nn.Sequential``s opened."""
    out = []
    for module in modules:
        if isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
            out += leaves(module)
        else:
            out.append(module)
    return out


def positional_step(module: nn.Module) -> Step | None:
    """The step of a module acting along positions, None for any other module."""
    if type(module) is nn.BatchNorm1d and module.running_mean is None:
        raise Unsupported("BatchNorm1d without running statistics")
    if type(module) in POINTWISE:
        return Pointwise(module)
    if type(module) in (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d):
        return Sliding(module)
    if type(module) is ResidualDilatedBlock:
        return Residual(positional_steps(leaves(module.body)))
    return None


def positional_steps(modules: list[nn.Module]) -> list[Step]:
    steps = [positional_step(m) for m in modules]
    if None in steps:
        raise Unsupported(type(modules[steps.index(None)]).__name__)
    return simplified(steps)


def simplified(steps: list[Step]) -> list[Step]:
    """The same function in fewer operations on the windows (see the three passes)."""
    return relu_in_place(pool_before_activation(fold_batch_norms(steps)))


def relu_in_place(steps: list[Step]) -> list[Step]:
    """ReLUs whose input window is a fresh tensor of the step before (a convolution, pooling
    or residual sum) run in place: one allocation and one pass over memory less. The first
    step's input is the caller's, and identity-like modules pass their input on as it is."""
    fresh = False  # whether the current step's input window is a tensor only it holds
    for step in steps:
        if isinstance(step, Pointwise):
            passes_on = type(step.module) in (nn.Identity, nn.Dropout)
            step.in_place = fresh and type(step.module) is nn.ReLU
            fresh = fresh if passes_on or step.in_place else True
        else:
            fresh = isinstance(step, (Sliding, Residual))
    return steps


def pool_before_activation(steps: list[Step]) -> list[Step]:
    """Max pooling moved before the monotonic activations (and dropouts) just ahead of it:
    ``max(f(a), f(b)) == f(max(a, b))`` exactly, and f then runs on 1/pool of the positions."""
    out: list[Step] = []
    for step in steps:
        run = 0  # movable steps just before this one
        while run < len(out) and commutes_with_max(out[-1 - run]):
            run += 1
        if isinstance(step, Sliding) and type(step.module) is nn.MaxPool1d and run:
            out.insert(len(out) - run, step)
        else:
            out.append(step)
    return out


def commutes_with_max(step: Step) -> bool:
    """A non-decreasing function of each position alone."""
    if not isinstance(step, Pointwise):
        return False
    module = step.module
    if type(module) is nn.LeakyReLU:
        return module.negative_slope >= 0
    if type(module) is nn.ELU:
        return module.alpha >= 0
    monotonic = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Dropout, nn.Identity, Exponential)
    return type(module) in monotonic


def fold_batch_norms(steps: list[Step]) -> list[Step]:
    """Each convolution followed by a batch norm (eval) as one convolution: one pass less over
    every window, at a float rounding's difference."""
    out: list[Step] = []
    for step in steps:
        previous = out[-1] if out else None
        if (
            isinstance(step, Pointwise)
            and isinstance(previous, Sliding)
            and foldable(previous.module, step.module)
        ):
            out[-1] = Sliding(folded_convolution(previous.module, step.module))
        else:
            out.append(step)
    return out


def sequence_plan(modules: list[nn.Module]) -> Plan:
    """Positional steps, then a flatten / pool and dense modules (or nothing: track outputs)."""
    steps = [positional_step(m) for m in modules]
    end = steps.index(None) if None in steps else len(modules)
    rest = modules[end + 1 :]
    if end == len(modules):
        head = Materialise()
    elif type(modules[end]) is nn.Flatten:
        head, rest = Materialise(), modules[end:]
    else:
        head = pool_head(modules[end])
    for module in rest:
        if type(module) not in VECTOR:
            raise Unsupported(type(module).__name__)
    return Plan(simplified(steps[:end]), Dense(head, rest) if rest else head)


def pool_head(module: nn.Module) -> Head:
    """The head of a pooling over all positions."""
    if type(module) is GlobalPool:
        return MeanPool() if module.mode == "mean" else MaxPool()
    size = getattr(module, "output_size", None)
    if type(module) is nn.AdaptiveAvgPool1d and single(size) == 1:
        return MeanPool(keepdim=True)
    if type(module) is nn.AdaptiveMaxPool1d and single(size) == 1 and not module.return_indices:
        return MaxPool(keepdim=True)
    raise Unsupported(type(module).__name__)


@torch.inference_mode()
def fast_effects(
    plan: Plan, x: torch.Tensor, region: range, indices: list[int], batch_size: int
) -> torch.Tensor:
    """ISM effects through ``plan``: (N, 4, L) one-hot -> (N, T, 4, len(region)).

    Sequences go in groups whose substitutions fill about one batch, so that the cached
    reference features stay as small as one batch's; every batch holds the 3 (4 at N)
    substitutions of consecutive positions.
    """
    effects = torch.zeros((len(x), len(indices), 4, len(region)), device=x.device)
    group = max(1, batch_size // (3 * max(len(region), 1)))
    for first in range(0, len(x), group):
        xs = x[first : first + group]
        ref = plan.reference(xs)[:, indices].float()
        # position-major (seq, pos, base) order: a batch is the substitutions of a block of
        # positions, so only the first and last batch of a sequence meet its ends
        present = xs[:, :, region.start : region.stop].permute(0, 2, 1) == 1  # (N, P, 4)
        seq, pos, base = torch.nonzero(~present, as_tuple=True)
        for s in range(0, len(seq), batch_size):
            n, b, i = seq[s : s + batch_size], base[s : s + batch_size], pos[s : s + batch_size]
            substitution = F.one_hot(b, 4).to(xs.dtype)[:, :, None]  # (B, 4, 1)
            out = plan.mutate(Window(n, i + region.start, substitution))
            effects[first + n, :, b, i] = out[:, indices].float() - ref[n]
    return effects
