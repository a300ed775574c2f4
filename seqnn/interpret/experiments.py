"""In-silico experiments on a model: a motif inserted into backgrounds (:func:`marginalize`), a
region or motif instances replaced by shuffled sequence (:func:`ablate`), and two motifs at
each distance and orientation (:func:`spacing`).

Layout: one-hot (N, 4, L), channels A, C, G, T; sequences are handled as (N, L) uint8 codes
(A0 C1 G2 T3 N4) until the forward pass. Every experiment builds all of its perturbed
sequences as one array and predicts them in batches of ``batch_size`` (no loop over
sequences, distances or orientations).

What is explained: the network's outputs as (N, T) — by default the logits (``logits=True``,
as :func:`~seqnn.interpret.ism`), tracks and the parts of a tuple (a profile model's profile
and count heads) flattened and concatenated; ``output=`` chooses otherwise, as for every
attribution method (:data:`~seqnn.interpret.inputs.Output`: ``"count"``, ``"profile"`` or a
function of the raw output to (N, T)), and ``target=`` picks outputs (an index, a name, a list
of them, or None for all).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seqnn.data.background import shuffle_codes
from seqnn.data.encoding import encode
from seqnn.errors import SeqnnInputError
from seqnn.interpret.inputs import (
    Output,
    Target,
    network_of,
    one_hot_inputs,
    select_output,
    target_indices,
)
from seqnn.interpret.motifs import Motif

ORIENTATIONS = ("++", "+-", "-+", "--")
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)  # A<->T, C<->G, N stays N


class ExperimentError(SeqnnInputError):
    """Bad settings of an in-silico experiment (the message names the argument)."""


@dataclass
class Effect:
    """Predictions before and after a perturbation.

    Attributes:
        before: (N, T) predictions of the unperturbed sequences.
        after: (N, K, T) predictions of K perturbed copies of each (K shuffles for
            :func:`ablate`, 1 for :func:`marginalize`).
        targets: the T outputs' names.
    """

    before: np.ndarray
    after: np.ndarray
    targets: list[str]

    @property
    def delta(self) -> np.ndarray:
        """(N, T) ``mean_k after - before``: each sequence's effect."""
        return self.after.mean(axis=1) - self.before

    @property
    def mean(self) -> np.ndarray:
        """(T,) mean effect over the sequences."""
        return self.delta.mean(axis=0)

    @property
    def sd(self) -> np.ndarray:
        """(T,) standard deviation of the effect over the sequences (the background's spread)."""
        return self.delta.std(axis=0, ddof=1) if len(self.delta) > 1 else np.zeros(len(self.mean))


@dataclass
class SpacingCurve:
    """Two motifs' joint effect at each distance and orientation (see :func:`spacing`).

    Attributes:
        before: (N, T) predictions of the backgrounds.
        after: (N, D, O, T) predictions with both motifs inserted.
        distances: (D,) gaps in bp between the end of motif a and the start of motif b.
        orientations: O strand pairs, e.g. ``"+-"``: a forward, b reverse-complemented.
        targets: the T outputs' names.
    """

    before: np.ndarray
    after: np.ndarray
    distances: np.ndarray
    orientations: list[str]
    targets: list[str]

    @property
    def effect(self) -> np.ndarray:
        """(D, O, T) mean effect over the backgrounds."""
        return (self.after - self.before[:, None, None]).mean(axis=0)

    @property
    def sd(self) -> np.ndarray:
        """(D, O, T) standard deviation of the effect over the backgrounds."""
        return (self.after - self.before[:, None, None]).std(axis=0)

    def best(self, target: int = 0) -> tuple[int, str]:
        """(distance, orientation) of the curve's maximum for output ``target``."""
        d, o = np.unravel_index(np.argmax(self.effect[:, :, target]), self.effect.shape[:2])
        return int(self.distances[d]), self.orientations[o]


# ----------------------------------------------------------------------------- shared parts
class Predictor:
    """A model's chosen outputs for (M, L) codes, predicted in batches: (M, T) float32.

    Args:
        model: a network or pretrained model.
        target, output, logits: what to explain (module docstring).
        batch_size: sequences per forward pass.
    """

    def __init__(
        self, model: nn.Module, target: Target, output: Output, logits: bool, batch_size: int
    ) -> None:
        if batch_size <= 0:
            raise ExperimentError(f"batch_size must be positive, got {batch_size}")
        self.model, self.output, self.batch_size = model, output, batch_size
        self.net = network_of(model, logits).eval()
        self.target = target
        self.indices: list[int] | None = None

    @torch.inference_mode()
    def __call__(self, codes: np.ndarray) -> np.ndarray:
        parts = []
        for first in range(0, len(codes), self.batch_size):
            x = one_hot_inputs(self.model, codes[first : first + self.batch_size])
            parts.append(self.outputs(x))
        return np.concatenate(parts)

    def outputs(self, x: torch.Tensor) -> np.ndarray:
        """(B, 4, L) one-hot -> (B, T) chosen outputs."""
        y = self.net(x)
        y = select_output(y, self.output)
        y = y.reshape(len(x), -1).float()
        if self.indices is None:
            self.indices = resolve_targets(self.model, self.target, y.shape[1])
        return y[:, self.indices].cpu().numpy()

    @property
    def names(self) -> list[str]:
        names = list(getattr(self.model, "targets", []))
        return [names[i] if i < len(names) else f"output_{i}" for i in self.indices or []]


def resolve_targets(model: nn.Module, target: Target, n_outputs: int) -> list[int]:
    """``target`` as output indices; an unknown name or index raises an error naming it."""
    try:
        return target_indices(model, target, n_outputs)[0]
    except ValueError as err:
        raise ExperimentError(f"target={target!r}: {err}") from None


def motif_codes(motif: str | Motif | np.ndarray, name: str = "motif") -> np.ndarray:
    """A motif as (W,) codes: a string (N keeps the background's base), a
    :class:`~seqnn.interpret.Motif` or a (4, W) matrix (their consensus)."""
    if isinstance(motif, Motif):
        motif = motif.counts
    if isinstance(motif, str):
        if not motif or re.search(r"[^ACGTNacgtn]", motif):
            raise ExperimentError(f"{name}={motif!r}: give a non-empty string of A, C, G, T, N")
        return encode(motif.upper())
    matrix = np.asarray(motif, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != 4 or matrix.shape[1] == 0:
        raise ExperimentError(
            f"{name}: expected a string, a Motif or a (4, W) matrix (rows A, C, G, T), got "
            f"shape {matrix.shape}"
        )
    return matrix.argmax(axis=0).astype(np.uint8)


def insert(codes: np.ndarray, motif: np.ndarray, start: np.ndarray | int) -> np.ndarray:
    """``motif`` (W,) codes written into every row of (M, L) ``codes`` at ``start`` (an int or
    (M,) starts), N positions of the motif keeping the background; a copy."""
    out = codes.copy()
    start = np.broadcast_to(np.asarray(start), (len(out),))
    columns = start[:, None] + np.arange(len(motif))  # (M, W)
    rows = np.arange(len(out))[:, None]
    out[rows, columns] = np.where(motif == 4, out[rows, columns], motif)
    return out


def reverse_complement_motif(motif: np.ndarray) -> np.ndarray:
    return _COMPLEMENT[motif[::-1]]


def background_codes(
    model: nn.Module, backgrounds, length: int | None, gc: float, seed: int
) -> np.ndarray:
    """Backgrounds as (N, L) codes: ``backgrounds`` sequences (strings, codes or one-hot), or
    that many random sequences of ``length`` bp (default: the model's input length) with GC
    fraction ``gc``."""
    if isinstance(backgrounds, int | np.integer):
        if backgrounds <= 0:
            raise ExperimentError(f"backgrounds={backgrounds}: give a positive number")
        length = length or getattr(model, "input_length", None)
        if not length:
            raise ExperimentError(
                "backgrounds is a number but the model has no input_length: pass length="
            )
        if not 0 < gc < 1:
            raise ExperimentError(f"gc={gc}: give a fraction in (0, 1)")
        p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        rng = np.random.default_rng(seed)
        return rng.choice(4, size=(int(backgrounds), int(length)), p=p).astype(np.uint8)
    return as_codes(backgrounds, "backgrounds")


def as_codes(x, name: str) -> np.ndarray:
    """Strings, (N, L) codes or (N, 4, L) one-hot -> (N, L) uint8 codes."""
    if isinstance(x, str) or (isinstance(x, Sequence) and len(x) and isinstance(x[0], str)):
        return np.atleast_2d(encode([x] if isinstance(x, str) else list(x)))
    x = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    if x.ndim == 3 and x.shape[1] == 4:  # (N, 4, L) one-hot: all-zero columns are N
        return np.where(x.max(axis=1) > 0, x.argmax(axis=1), 4).astype(np.uint8)
    if x.ndim != 2 or len(x) == 0:
        raise ExperimentError(
            f"{name}: expected strings, (N, L) codes or (N, 4, L) one-hot, got shape {x.shape}"
        )
    return x.astype(np.uint8)


def check_fits(width: int, length: int, name: str, start: int | None = None) -> int:
    """The start of a ``width``-bp insert (centred when None); an error naming ``name`` when it
    does not fit a ``length``-bp window."""
    if width > length:
        raise ExperimentError(
            f"{name} is {width} bp, longer than the {length}-bp window: use a shorter motif "
            "or longer sequences"
        )
    start = (length - width) // 2 if start is None else int(start)
    if not 0 <= start <= length - width:
        raise ExperimentError(
            f"position={start}: a {width}-bp {name} must start in [0, {length - width}]"
        )
    return start


# ----------------------------------------------------------------------------- experiments
def marginalize(
    model: nn.Module,
    motif: str | Motif | np.ndarray,
    backgrounds=100,
    position: int | None = None,
    target: Target = None,
    output: Output = None,
    logits: bool = True,
    length: int | None = None,
    gc: float = 0.5,
    batch_size: int = 256,
    seed: int = 0,
) -> Effect:
    """The effect of a motif inserted into background sequences.

    Args:
        model: a network or pretrained model.
        motif: a string (N keeps the background's base), a Motif or a (4, W) matrix
            (its consensus is inserted).
        backgrounds: sequences (strings, (N, L) codes, (N, 4, L) one-hot), or a number of
            random ones (``length`` bp, GC fraction ``gc``, seeded by ``seed``).
        position: where the motif starts; None: centred.
        target, output, logits: what to explain (module docstring).
        length, gc, seed: of random backgrounds.
        batch_size: sequences per forward pass.

    Returns:
        An :class:`Effect` (``after`` has K = 1); ``.mean`` and ``.sd`` are the effect and
        the backgrounds' spread.
    """
    codes = background_codes(model, backgrounds, length, gc, seed)
    motif = motif_codes(motif)
    start = check_fits(len(motif), codes.shape[1], "motif", position)
    predict = Predictor(model, target, output, logits, batch_size)
    both = predict(np.concatenate([codes, insert(codes, motif, start)]))
    before, after = both[: len(codes)], both[len(codes) :]
    return Effect(before, after[:, None], predict.names)


def ablate(
    model: nn.Module,
    sequences,
    start: int | None = None,
    end: int | None = None,
    motif: str | Motif | np.ndarray | None = None,
    n_shuffles: int = 20,
    target: Target = None,
    output: Output = None,
    logits: bool = True,
    batch_size: int = 256,
    seed: int = 0,
) -> Effect:
    """The effect of replacing a region, or every instance of a motif, by shuffled sequence.

    The replacement is the same positions of a dinucleotide shuffle of the whole sequence
    (``n_shuffles`` of them): it keeps the sequence's composition, and unlike a shuffle of a
    short region alone it cannot rebuild the motif from the motif's own letters.

    Args:
        model: a network or pretrained model.
        sequences: strings, (N, L) codes or (N, 4, L) one-hot.
        start, end: the region ``[start, end)`` to ablate (give these or ``motif``).
        motif: ablate every instance of it (exact matches of its consensus, N matching
            anything, on either strand) instead of a region; a sequence without one is
            unchanged (effect 0).
        n_shuffles: shuffles per sequence (the after prediction is their mean).
        target, output, logits: what to explain (module docstring).
        batch_size: sequences per forward pass.
        seed: seeds the shuffles (row by row: batching does not change them).

    Returns:
        An :class:`Effect` with ``after`` (N, n_shuffles, T).
    """
    codes = as_codes(sequences, "sequences")
    if n_shuffles <= 0:
        raise ExperimentError(f"n_shuffles={n_shuffles}: give a positive number")
    mask = _ablation_mask(codes, start, end, motif)  # (N, L) bool
    repeated = np.repeat(codes, n_shuffles, axis=0)  # (N * S, L)
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=len(repeated))
    shuffled = shuffle_codes(repeated, seeds)
    ablated = np.where(np.repeat(mask, n_shuffles, axis=0), shuffled, repeated)
    predict = Predictor(model, target, output, logits, batch_size)
    both = predict(np.concatenate([codes, ablated]))
    before, after = both[: len(codes)], both[len(codes) :]
    return Effect(before, after.reshape(len(codes), n_shuffles, -1), predict.names)


def _ablation_mask(codes: np.ndarray, start, end, motif) -> np.ndarray:
    """(N, L) True where bases are replaced."""
    length = codes.shape[1]
    if motif is not None:
        if start is not None or end is not None:
            raise ExperimentError("give start/end or motif, not both")
        pattern = motif_codes(motif)
        check_fits(len(pattern), length, "motif")
        return motif_mask(codes, pattern)
    if start is None or end is None:
        raise ExperimentError("ablate needs start and end (a region) or motif=")
    if not 0 <= start < end <= length:
        raise ExperimentError(
            f"start={start}, end={end}: need 0 <= start < end <= {length} (the sequence length)"
        )
    mask = np.zeros(codes.shape, dtype=bool)
    mask[:, start:end] = True
    return mask


def motif_hits(codes: np.ndarray, motif: np.ndarray) -> np.ndarray:
    """(N, L - W + 1) True where an instance of ``motif`` (W,) codes starts, on either strand
    (N in the motif matches any base)."""
    windows = np.lib.stride_tricks.sliding_window_view(codes, len(motif), axis=1)
    hits = np.zeros(windows.shape[:2], dtype=bool)
    for pattern in (motif, reverse_complement_motif(motif)):
        hits |= ((windows == pattern) | (pattern == 4)).all(axis=2)
    return hits


def motif_mask(codes: np.ndarray, motif: np.ndarray) -> np.ndarray:
    """(N, L) True at every base of an instance of ``motif`` (either strand)."""
    hits = motif_hits(codes, motif).astype(np.int32)
    # a base is covered when an instance starts in the W positions up to it
    covered = np.zeros(codes.shape, dtype=np.int32)
    for j in range(len(motif)):
        covered[:, j : j + hits.shape[1]] += hits
    return covered > 0


def spacing(
    model: nn.Module,
    motif_a: str | Motif | np.ndarray,
    motif_b: str | Motif | np.ndarray,
    distances: Sequence[int] | np.ndarray,
    orientations: Sequence[str] = ORIENTATIONS,
    backgrounds=100,
    length: int | None = None,
    gc: float = 0.5,
    seed: int = 0,
    target: Target = None,
    output: Output = None,
    logits: bool = True,
    batch_size: int = 256,
) -> SpacingCurve:
    """Two motifs inserted at each distance and orientation: the joint effect curve.

    The pair (a, gap, b) is centred in each background; ``"-"`` inserts a motif's reverse
    complement.

    Args:
        model: a network or pretrained model.
        motif_a, motif_b: strings, Motifs or (4, W) matrices (as in :func:`marginalize`).
        distances: gaps (bp, >= 0) between the end of a and the start of b.
        orientations: strand pairs among ``"++", "+-", "-+", "--"``.
        backgrounds, length, gc, seed: as in :func:`marginalize`.
        target, output, logits: what to explain (module docstring).
        batch_size: sequences per forward pass.

    Returns:
        A :class:`SpacingCurve`; ``.effect`` is (D, O, T), ``.best()`` its maximum.
    """
    codes = background_codes(model, backgrounds, length, gc, seed)
    a, b = motif_codes(motif_a, "motif_a"), motif_codes(motif_b, "motif_b")
    distances = np.asarray(distances, dtype=np.int64).reshape(-1)
    orientations = list(orientations)
    bad = [o for o in orientations if o not in ORIENTATIONS]
    if bad or not orientations:
        raise ExperimentError(f"orientations={orientations}: each must be one of {ORIENTATIONS}")
    if len(distances) == 0 or (distances < 0).any():
        raise ExperimentError(f"distances={distances.tolist()}: give gaps >= 0 bp")
    widest = len(a) + int(distances.max()) + len(b)
    check_fits(widest, codes.shape[1], f"motif_a + distance {distances.max()} + motif_b")
    n, n_d, n_o = len(codes), len(distances), len(orientations)
    # (N, D, O) layouts, flattened in that order
    first = (codes.shape[1] - (len(a) + distances + len(b))) // 2  # (D,)
    batch = np.repeat(codes, n_d * n_o, axis=0)  # (N * D * O, L)
    starts_a = np.tile(np.repeat(first, n_o), n)
    starts_b = starts_a + len(a) + np.tile(np.repeat(distances, n_o), n)
    strands = np.tile(np.arange(n_o), n * n_d)
    for k, orientation in enumerate(orientations):
        rows = strands == k
        ma = a if orientation[0] == "+" else reverse_complement_motif(a)
        mb = b if orientation[1] == "+" else reverse_complement_motif(b)
        batch[rows] = insert(insert(batch[rows], ma, starts_a[rows]), mb, starts_b[rows])
    predict = Predictor(model, target, output, logits, batch_size)
    both = predict(np.concatenate([codes, batch]))
    before, after = both[:n], both[n:].reshape(n, n_d, n_o, -1)
    return SpacingCurve(before, after, distances, orientations, predict.names)
