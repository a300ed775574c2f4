"""In-silico mutagenesis: the change of a prediction for every single-base substitution.

Layout: one-hot (N, 4, L), channels A, C, G, T. Mutants are scored in batches (``batch_size``
substitutions per pass, across sequences), never one by one: through
:mod:`seqnn.interpret.fast_ism` (only each layer's receptive-field slice is recomputed) when
the network allows it, else by full forward passes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqnn.data.genome import Genome
from seqnn.data.intervals import LINE, read_intervals, resize, validate_intervals
from seqnn.errors import SeqnnInputError
from seqnn.interpret.fast_ism import Unsupported, fast_effects, fast_plan
from seqnn.interpret.inputs import (
    Explained,
    Output,
    Target,
    explained,
    n_outputs,
    one_hot_inputs,
    target_indices,
)

log = logging.getLogger("seqnn.interpret")

Method = Literal["auto", "fast", "plain"]


class IsmError(SeqnnInputError):
    """Bad ISM settings or intervals."""


@torch.inference_mode()
def ism(
    model: nn.Module,
    x,
    target: Target = None,
    batch_size: int = 1024,
    logits: bool = True,
    centre: bool = False,
    positions: slice | None = None,
    method: Method = "auto",
    output: Output = None,
) -> np.ndarray:
    """Effects of all 3 x L substitutions of every sequence.

    Args:
        model: a network or pretrained model (outputs (N, T), or tracks / a tuple of them,
            flattened and concatenated unless ``output`` picks one).
        x: strings, (N, L) codes or (N, 4, L) one-hot.
        target: output index or name, a list of them, or None for every output.
        batch_size: mutants per pass.
        logits: explain the network's logits (default) rather than the transformed outputs.
        centre: subtract each position's mean over the 4 bases, so that the present base
            carries ``-mean(alternative effects) * 3/4`` (comparable to gradient x input).
        positions: mutate only these positions, ``slice(a, b)`` (the whole sequence stays the
            model's input); None: every position.
        method: ``"auto"``: fast ISM when the network allows it (:mod:`fast_ism`; else full
            passes, with one log line saying why); ``"plain"``: full passes; ``"fast"``: fast
            ISM or an error.
        output: what a profile network's tuple explains: ``"count"``, ``"profile"`` (the
            profile projection) or None (every output flattened); see
            :class:`~seqnn.interpret.inputs.Explained`.

    Returns:
        effects ``f(mutant) - f(reference)``: (N, 4, P) for one target, (N, T, 4, P) for
        several, P the number of mutated positions (L, or ``b - a`` for ``slice(a, b)``;
        index p is position ``a + p``); 0 at the reference base (and at N positions every
        base is a substitution).
    """
    if batch_size <= 0:
        raise IsmError(f"batch_size must be positive, got {batch_size}")
    net = explained(model, logits, output)
    x = one_hot_inputs(model, x)
    region = _region(positions, x.shape[2])
    indices, single = target_indices(model, target, n_outputs(net, x))
    plan = _plan(net, method)
    if plan is not None:
        effects = fast_effects(plan, x, region, indices, batch_size)
    else:
        effects = _plain_effects(net, x, region, indices, batch_size)
    if centre:
        effects = effects - effects.mean(dim=2, keepdim=True)
    out = effects.cpu().numpy()
    return out[:, 0] if single else out


def _region(positions: slice | None, length: int) -> range:
    """``positions`` as a range of positions in ``[0, length)``."""
    if positions is None:
        return range(length)
    if not isinstance(positions, slice) or positions.step not in (None, 1):
        raise IsmError(f"positions must be a slice(start, end) with step 1, got {positions!r}")
    region = range(*positions.indices(length))
    if len(region) == 0:
        raise IsmError(f"positions {positions} select no position of a {length}-bp sequence")
    return region


def _plan(net: Explained, method: Method):
    """The fast-ISM plan, or None for full passes."""
    if method not in ("auto", "fast", "plain"):
        raise IsmError(f"method must be 'auto', 'fast' or 'plain', got {method!r}")
    if method == "plain":
        return None
    try:
        return fast_plan(net.net, output=net.output)
    except Unsupported as why:
        if method == "fast":
            raise IsmError(f"method='fast': {type(net.net).__name__} has {why}, which fast ISM "
                           "does not follow; use method='auto' or 'plain'") from None  # fmt: skip
        log.info("ism: full passes for %s (fast ISM does not follow %s)", type(net.net).__name__,
                 why)  # fmt: skip
        return None


def _plain_effects(
    net: nn.Module, x: torch.Tensor, region: range, indices: list[int], batch_size: int
) -> torch.Tensor:
    """Effects by full passes over batches of mutants: (N, T, 4, len(region))."""
    ref = _outputs(net, x, batch_size)[:, indices]  # (N, T)
    # every (sequence, base, position) whose base is not the one present
    seq, base, pos = torch.nonzero(x[:, :, region.start : region.stop] != 1, as_tuple=True)
    effects = torch.zeros((x.shape[0], len(indices), 4, len(region)), device=x.device)
    for s in range(0, len(seq), batch_size):
        n, b, i = seq[s : s + batch_size], base[s : s + batch_size], pos[s : s + batch_size]
        mutants = x[n].clone()  # (B, 4, L)
        rows = torch.arange(len(n), device=x.device)
        mutants[rows, :, i + region.start] = 0
        mutants[rows, b, i + region.start] = 1
        effects[n, :, b, i] = net(mutants)[:, indices].float() - ref[n]
    return effects


def _outputs(net: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, 4, L) -> (N, T) float outputs in batches."""
    return torch.cat([net(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)])


def ism_intervals(
    model: nn.Module,
    genome: Genome | str | Path,
    intervals: pd.DataFrame | str | Path,
    target: Target = None,
    context: int | None = None,
    batch_size: int = 1024,
    logits: bool = True,
    centre: bool = False,
    method: Method = "auto",
    on_invalid: Literal["error", "drop", "pad"] = "error",
    output: Output = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """ISM of genome intervals (a BED/TSV path or a DataFrame with chrom, start, end).

    Every base of each interval is mutated inside a window of ``context`` bp centred on the
    interval (N past contig ends), read on the + strand in groups of ``batch_size`` intervals.

    Args:
        model: a network or pretrained model.
        genome: a :class:`~seqnn.data.genome.Genome` or a FASTA path.
        intervals: the intervals, all of one width W; checked against the genome
            (``on_invalid`` as in :func:`seqnn.data.intervals.validate_intervals`).
        target, batch_size, logits, centre, method, output: as in :func:`ism`.
        context: the model's input window (bp, >= W); default: the model's ``input_length``,
            else W.

    Returns:
        (table, effects): the checked intervals, and their effects (N, 4, W) for one target,
        (N, T, 4, W) for several; ``effects[k, ..., b, p]`` is base b at ``start + p``.
    """
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    source = str(intervals) if not isinstance(intervals, pd.DataFrame) else "intervals"
    table = intervals if isinstance(intervals, pd.DataFrame) else read_intervals(intervals)
    table = validate_intervals(table, genome, on_invalid=on_invalid, source=source)
    width, length = _interval_width(table, source), context or getattr(model, "input_length", None)
    length = length or width
    if length < width:
        raise IsmError(f"{source}: intervals of {width} bp do not fit a context of {length} bp: "
                       "pass a larger context= or shorter intervals")  # fmt: skip
    windows = resize(table[["chrom", "start", "end"]], length)
    offset = int(table["start"].iloc[0] - windows["start"].iloc[0]) if len(table) else 0
    chunks = []
    for first in range(0, len(windows), batch_size):
        part = windows.iloc[first : first + batch_size]
        codes = genome.fetch_codes(part["chrom"], part["start"], part["end"])
        chunks.append(ism(model, codes, target, batch_size, logits, centre,
                          slice(offset, offset + width), method, output))  # fmt: skip
    effects = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return table.drop(columns=[LINE], errors="ignore").reset_index(drop=True), effects


def _interval_width(table: pd.DataFrame, source: str) -> int:
    """The one width of the intervals."""
    widths = (table["end"] - table["start"]).to_numpy()
    if len(widths) and (widths != widths[0]).any():
        k = int(np.argmax(widths != widths[0]))
        raise IsmError(
            f"{source}: interval {k + 1} is {widths[k]} bp, interval 1 is {widths[0]} bp: ISM of "
            "intervals needs one width (seqnn.data.intervals.resize)"
        )
    return int(widths[0]) if len(widths) else 1
