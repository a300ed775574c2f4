"""In-silico evolution: single-base edits, round by round, toward a target output.

Layout: one-hot (N, 4, L), channels A, C, G, T; sequences are (N, L) uint8 codes (A0 C1 G2 T3
N4) between rounds. Each round scores every allowed substitution of every sequence at once:
by :func:`seqnn.interpret.ism` (the fast receptive-field path where the network allows it,
:mod:`seqnn.interpret.fast_ism`), else by batched full passes; ``scoring="plain"`` forces
those). Greedy search keeps the best edit of each sequence; beam search keeps the
``beam_size`` best distinct sequences. All starts evolve together (one ISM call per round).

The objective, maximised: the target's logit (``goal="max"``), minus it (``"min"``), or minus
the distance of its prediction to a value (``goal=0.3``: the prediction after the model's
output transform, e.g. a probability); minus ``hold_weight`` times the distance of each held
output's prediction to its value in the start. Constraints — a GC range, motifs that must not
appear (either strand) and a region outside which nothing is edited — are never broken by an
edit; a start that breaks them is first repaired (each edit must then reduce the violation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqnn.data.encoding import decode
from seqnn.errors import SeqnnInputError
from seqnn.interpret.experiments import (
    Output,
    Predictor,
    as_codes,
    background_codes,
    motif_codes,
    resolve_targets,
    reverse_complement_motif,
)
from seqnn.interpret.inputs import Target
from seqnn.interpret.mutagenesis import Method, ism

BASES = "ACGTN"
METHODS = ("greedy", "beam")


class DesignError(SeqnnInputError):
    """Design settings that are invalid or cannot be met (the message names the argument)."""


@dataclass
class Design:
    """The result of :func:`evolve`.

    Attributes:
        trajectory: one row per start and round (round 0: the start): ``start``, ``round``,
            ``sequence``, ``score`` (the target's prediction), ``objective``, and the
            round's edit ``position``, ``ref``, ``alt`` (-1, "" in round 0). A start stops
            when no allowed edit improves its objective.
        sequences: each start's final (best) sequence.
        scores: (N,) their scores.
    """

    trajectory: pd.DataFrame
    sequences: list[str]
    scores: np.ndarray


@dataclass
class Objective:
    """The objective of (M, T) raw outputs (see the module docstring)."""

    index: int
    goal: str | float
    hold: list[int]
    hold_weight: float
    transform: object = None
    held: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def predictions(self, raw: np.ndarray) -> np.ndarray:
        """(..., T) raw outputs -> predictions (the model's output transform)."""
        if self.transform is None:
            return raw
        return self.transform(torch.from_numpy(np.ascontiguousarray(raw))).numpy()

    def __call__(self, raw: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M, ..., T) raw outputs of starts ``rows`` (M,) -> (objective, score), (M, ...)."""
        pred = self.predictions(raw)
        score = pred[..., self.index]
        if self.goal == "max":
            objective = raw[..., self.index].astype(np.float64)
        elif self.goal == "min":
            objective = -raw[..., self.index].astype(np.float64)
        else:
            objective = -np.abs(score - float(self.goal)).astype(np.float64)
        if self.hold:
            ref = self.held[rows].reshape((len(rows),) + (1,) * (raw.ndim - 2) + (-1,))
            objective = objective - self.hold_weight * np.abs(pred[..., self.hold] - ref).sum(-1)
        return objective, score


def evolve(
    model: nn.Module,
    start,
    target: Target = None,
    rounds: int = 20,
    goal: str | float = "max",
    hold: Sequence[int | str] = (),
    hold_weight: float = 1.0,
    method: str = "greedy",
    beam_size: int = 4,
    gc: tuple[float, float] | None = None,
    forbidden: Sequence[str] = (),
    region: tuple[int, int] | None = None,
    output: Output = None,
    batch_size: int = 4096,
    seed: int = 0,
    until: float | None = None,
    scoring: Method = "auto",
) -> Design:
    """Evolve sequences by single-base edits toward a target output.

    Args:
        model: a network or pretrained model.
        start: sequences (strings, (N, L) codes or (N, 4, L) one-hot), or a number of random
            ones of the model's input length (GC 0.5, seeded by ``seed``).
        target: the output to optimise (index or name); None when the model has one output.
        rounds: edits per sequence at most.
        goal: ``"max"``, ``"min"`` or a value to reach (in prediction units).
        hold: outputs to keep at their start's prediction (indices or names).
        hold_weight: the weight of the held outputs' distance in the objective.
        method: ``"greedy"`` (the best edit) or ``"beam"`` (the ``beam_size`` best distinct
            sequences each round).
        beam_size: sequences kept per start by beam search.
        gc: (low, high) GC fraction every sequence must keep; None: any.
        forbidden: motifs (strings, N matching any base) that must not appear, on either
            strand.
        region: (start, end): edit only positions in ``[start, end)``; None: anywhere.
        output: what to optimise of a network with several heads, as for attributions
            (:data:`~seqnn.interpret.inputs.Output`: ``"count"``, ``"profile"``, a function
            of the raw output to (N, T), or None: every output flattened).
        batch_size: mutants per forward pass.
        seed: seeds random starts.
        until: stop a start once its score reaches this (>= for ``"max"``, <= for
            ``"min"``); None: run every round that improves.
        scoring: how each round scores every edit, as :func:`~seqnn.interpret.ism`'s
            ``method``: ``"auto"`` (fast ISM where the network allows it, else full passes),
            ``"fast"`` or ``"plain"`` (full passes of every mutant).

    Returns:
        A :class:`Design` (its ``trajectory`` has one row per start and round).

    Raises:
        DesignError: an unknown target, bad settings, or constraints that no edit inside the
            region can meet (the message names the argument).
    """
    codes = as_codes(start, "start") if not isinstance(start, int) else None
    codes = background_codes(model, start, None, 0.5, seed) if codes is None else codes
    n, length = codes.shape
    _check_search(rounds, method, beam_size, goal)
    a, b = _region(region, length)
    rules = Constraints(gc, [motif_codes(m, "forbidden") for m in forbidden], a, b)
    rules.check_start(codes)
    score = Scorer(model, target, goal, hold, hold_weight, output, batch_size, codes, scoring)
    beam = 1 if method == "greedy" else beam_size
    if until is not None and goal not in ("max", "min"):
        raise DesignError(f"until={until}: only with goal='max' or 'min'")
    sign = -1.0 if goal == "min" else 1.0
    reached = None if until is None else (lambda value: sign * value >= sign * until)
    return _search(score, rules, codes, rounds, beam, reached)


def _check_search(rounds: int, method: str, beam_size: int, goal) -> None:
    if rounds < 0:
        raise DesignError(f"rounds={rounds}: give a number >= 0")
    if method not in METHODS:
        raise DesignError(f"method={method!r}: give one of {METHODS}")
    if beam_size < 1:
        raise DesignError(f"beam_size={beam_size}: give a number >= 1")
    if goal not in ("max", "min") and not isinstance(goal, int | float):
        raise DesignError(f"goal={goal!r}: give 'max', 'min' or a number (a value to reach)")


def _region(region, length: int) -> tuple[int, int]:
    if region is None:
        return 0, length
    a, b = (region.start, region.stop) if isinstance(region, slice) else region
    if not 0 <= a < b <= length:
        raise DesignError(
            f"region=({a}, {b}): need 0 <= start < end <= {length} (the sequence length)"
        )
    return int(a), int(b)


class Scorer:
    """Every substitution's objective and score, (M, 4, P) over the region's P positions."""

    def __init__(self, model, target, goal, hold, hold_weight, output, batch_size, codes, scoring):
        self.model, self.output, self.batch_size = model, output, batch_size
        self.scoring = scoring
        self.predict = Predictor(model, None, output, True, batch_size)
        raw = self.predict(codes[:1])
        names = list(getattr(model, "targets", []))
        if target is None:
            if raw.shape[1] != 1:
                raise DesignError(
                    f"target: the model has {raw.shape[1]} outputs {names[:8]}; name the one "
                    "to optimise (target=<index or name>)"
                )
            target = 0
        if isinstance(target, list | tuple):
            raise DesignError(f"target={target!r}: give one output (an index or a name)")
        index = _indices(model, target, raw.shape[1], "target")[0]
        held = _indices(model, list(hold), raw.shape[1], "hold") if hold else []
        spec = getattr(model, "spec", None)
        profile = spec is not None and model.kind.profile_head
        transform = model.output_fn if spec is not None and not profile else None
        self.objective = Objective(index, goal, held, hold_weight, transform)
        self.objective.held = self.objective.predictions(self.predict(codes))[:, held]

    def reference(self, codes: np.ndarray, rows: np.ndarray):
        """(M, L) codes of starts ``rows`` -> (objective, score), each (M,)."""
        return self.objective(self.predict(codes), rows)

    def mutants(self, codes: np.ndarray, rows: np.ndarray, a: int, b: int):
        """(objective, score) of every substitution in ``[a, b)``: (M, 4, b - a) each."""
        raw = self.predict(codes)  # (M, T)
        effects = ism(self.model, codes, None, self.batch_size, positions=slice(a, b),
                      method=self.scoring, output=self.output)  # fmt: skip
        effects = effects.reshape(len(codes), raw.shape[1], 4, b - a)
        mutant = raw[:, :, None, None] + effects  # (M, T, 4, P)
        # (M, T, 4, P) -> (M, 4, P, T): the objective reads the outputs on the last axis
        return self.objective(mutant.transpose(0, 2, 3, 1), rows)


def _indices(model, target, n: int, name: str) -> list[int]:
    try:
        return resolve_targets(model, target, n)
    except SeqnnInputError as err:
        raise DesignError(str(err).replace("target=", f"{name}=", 1)) from None


class Constraints:
    """GC range, forbidden motifs and the editable region: which edits are allowed."""

    def __init__(self, gc, forbidden: list[np.ndarray], a: int, b: int) -> None:
        self.gc, self.a, self.b = gc, a, b
        self.patterns = [p for m in forbidden for p in (m, reverse_complement_motif(m))]
        if gc is not None:
            lo, hi = gc
            if not 0 <= lo <= hi <= 1:
                raise DesignError(f"gc={gc}: give (low, high) fractions, 0 <= low <= high <= 1")

    def gc_bounds(self, length: int) -> tuple[int, int]:
        lo, hi = self.gc if self.gc is not None else (0.0, 1.0)
        return int(np.ceil(lo * length - 1e-9)), int(np.floor(hi * length + 1e-9))

    def violation(self, codes: np.ndarray) -> np.ndarray:
        """(M,) how far each sequence is from meeting the constraints (0: it meets them)."""
        lo, hi = self.gc_bounds(codes.shape[1])
        g = _is_gc(codes).sum(axis=1)
        v = np.maximum(0, np.maximum(lo - g, g - hi))
        for pattern in self.patterns:
            v = v + _windows_ok(codes, pattern).all(axis=2).sum(axis=1)
        return v

    def violation_change(self, codes: np.ndarray) -> np.ndarray:
        """(M, 4, P) the violation after each substitution in the region, minus now's."""
        m, length = codes.shape
        lo, hi = self.gc_bounds(length)
        region = codes[:, self.a : self.b]  # (M, P)
        g = _is_gc(codes).sum(axis=1)[:, None, None]  # (M, 1, 1)
        new_g = g + np.array([0, 1, 1, 0])[None, :, None] - _is_gc(region)[:, None, :]
        gc_now = np.maximum(0, np.maximum(lo - g, g - hi))
        change = np.maximum(0, np.maximum(lo - new_g, new_g - hi)) - gc_now
        for pattern in self.patterns:
            change += _motif_change(codes, pattern)[:, :, self.a : self.b]
        return change

    def check_start(self, codes: np.ndarray) -> None:
        """Errors for starts whose constraints no edit in the region can meet."""
        m, length = codes.shape
        for pattern in self.patterns[::2]:
            if len(pattern) > length:
                raise DesignError(
                    f"forbidden motif {decode(pattern)!r} is {len(pattern)} bp, longer than the "
                    f"{length}-bp sequences"
                )
        if self.gc is not None:
            lo, hi = self.gc_bounds(length)
            if lo > hi:
                raise DesignError(f"gc={self.gc}: no GC count of a {length}-bp sequence fits")
            g = _is_gc(codes).sum(axis=1)
            inside = _is_gc(codes[:, self.a : self.b])
            most = g + (~inside).sum(axis=1)
            least = g - inside.sum(axis=1)
            bad = np.flatnonzero((most < lo) | (least > hi))
            if len(bad):
                k = int(bad[0])
                raise DesignError(
                    f"gc={self.gc}: start {k} has GC {g[k] / length:.2f}, and edits inside "
                    f"region=({self.a}, {self.b}) reach only {least[k] / length:.2f}.."
                    f"{most[k] / length:.2f}: widen gc or region"
                )
        for pattern in self.patterns:
            hits = _windows_ok(codes, pattern).all(axis=2)  # (M, S)
            s = np.arange(hits.shape[1])
            fixed = hits & ((s + len(pattern) <= self.a) | (s >= self.b))[None, :]
            if fixed.any():
                k, at = (int(v[0]) for v in np.nonzero(fixed))
                raise DesignError(
                    f"forbidden: start {k} has {decode(pattern)!r} at {at}, outside "
                    f"region=({self.a}, {self.b}) where no edit can remove it: widen region"
                )


def _is_gc(codes: np.ndarray) -> np.ndarray:
    return (codes == 1) | (codes == 2)


def _windows_ok(codes: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """(M, S, W) True where window s's base j fits ``pattern[j]`` (N fits any)."""
    windows = np.lib.stride_tricks.sliding_window_view(codes, len(pattern), axis=1)
    return (windows == pattern) | (pattern == 4)


def _motif_change(codes: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """(M, 4, L): instances of ``pattern`` made minus destroyed by each substitution."""
    ok = _windows_ok(codes, pattern)  # (M, S, W)
    misses = (~ok).sum(axis=2)  # (M, S)
    out = np.zeros((len(codes), 4, codes.shape[1]), dtype=np.int64)
    n_windows = ok.shape[1]
    for j, letter in enumerate(pattern):  # the window's base j is the substituted one
        fits = (np.arange(4) == letter) | (letter == 4)  # (4,) new base fits position j
        after = misses[:, None, :] - (~ok[:, None, :, j]) + (~fits)[None, :, None]  # (M, 4, S)
        made = (after == 0).astype(np.int64) - (misses == 0)[:, None, :]
        out[:, :, j : j + n_windows] += made
    return out


def _search(score: Scorer, rules: Constraints, codes, rounds: int, beam: int, reached=None):
    """The rounds of greedy (beam 1) or beam search: the trajectory."""
    n, length = codes.shape
    state = codes[:, None, :].copy()  # (N, B, L), B = 1 at first
    rows = np.arange(n)
    objective, value = score.reference(codes, rows)
    obj, val = objective[:, None], value[:, None]  # (N, B)
    violation = rules.violation(codes)[:, None]
    edits = np.full((n, 1, 3), -1, dtype=np.int64)  # position, ref, alt of each member
    records = [_record(state, obj, val, edits, violation, rows, 0)]
    alive = np.ones(n, dtype=bool)
    for k in range(1, rounds + 1):
        if reached is not None:
            alive &= ~reached(val[np.arange(n), _best(obj, violation)])
        if not alive.any():
            break
        live = np.flatnonzero(alive)
        chosen = _expand(score, rules, state[live], obj[live], violation[live], live, beam)
        for i, (seqs, o, v, viol, e) in zip(live, chosen, strict=True):
            if seqs is None:
                alive[i] = False
                continue
            if state.shape[1] != len(seqs):  # the beam fills up after round 1
                state = _widen(state, len(seqs))
                obj, val = _widen(obj, len(seqs)), _widen(val, len(seqs))
                violation, edits = _widen(violation, len(seqs)), _widen(edits, len(seqs))
            state[i], obj[i], val[i], violation[i], edits[i] = seqs, o, v, viol, e
        if alive.any():
            records.append(_record(state, obj, val, edits, violation, np.flatnonzero(alive), k))
    trajectory = pd.concat(records, ignore_index=True).sort_values(["start", "round"])
    best = _best(obj, violation)
    final = state[np.arange(n), best]
    return Design(trajectory.reset_index(drop=True), decode(final), val[np.arange(n), best])


def _widen(a: np.ndarray, width: int) -> np.ndarray:
    """(N, B, ...) -> (N, width, ...), new members copies of member 0."""
    return np.concatenate([a] + [a[:, :1]] * (width - a.shape[1]), axis=1)


def _best(obj: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """(N,) each start's best member: the fewest violations, then the highest objective."""
    return np.argmax(obj - 1e6 * violation, axis=1)


def _record(state, obj, val, edits, violation, rows, k) -> pd.DataFrame:
    best = _best(obj[rows], violation[rows])
    e = edits[rows, best]  # (R, 3)
    return pd.DataFrame({
        "start": rows,
        "round": k,
        "sequence": decode(state[rows, best]),
        "score": val[rows, best].astype(np.float64),
        "objective": obj[rows, best],
        "position": e[:, 0],
        "ref": [BASES[c] if c >= 0 else "" for c in e[:, 1]],
        "alt": [BASES[c] if c >= 0 else "" for c in e[:, 2]],
    })  # fmt: skip


def _expand(score: Scorer, rules: Constraints, state, obj, violation, rows, beam):
    """One round for starts ``rows``: per start, the next members (or None when no allowed
    edit improves on the best member)."""
    n, b, length = state.shape
    flat = state.reshape(n * b, length)
    member_rows = np.repeat(rows, b)
    objective, value = score.mutants(flat, member_rows, rules.a, rules.b)  # (nB, 4, P)
    change = rules.violation_change(flat)  # (nB, 4, P)
    now = violation.reshape(-1)[:, None, None]  # (nB, 1, 1)
    region = flat[:, rules.a : rules.b]
    allowed = np.arange(4)[None, :, None] != region[:, None, :]
    allowed &= (change < 0) | ((change == 0) & (now == 0))
    # rank: fewer violations first, then the objective
    rank = np.where(allowed, objective - 1e6 * (now + change), -np.inf).reshape(n, -1)
    out = []
    for i in range(n):
        order = np.argsort(-rank[i], kind="stable")
        order = order[np.isfinite(rank[i, order])]
        best_now = np.max(obj[i] - 1e6 * violation[i])
        if len(order) == 0 or rank[i, order[0]] <= best_now:
            out.append((None,) * 5)
            continue
        out.append(_members(state[i], order, objective[i * b : (i + 1) * b],
                            value[i * b : (i + 1) * b], now[i * b : (i + 1) * b, 0, 0],
                            change[i * b : (i + 1) * b], rules.a, beam))  # fmt: skip
    return out


def _members(parents, order, objective, value, violation, change, a, beam):
    """The ``beam`` best distinct children of one start's members, in rank order."""
    b, p = parents.shape[0], objective.shape[2]
    seqs, objs, vals, viols, edits, seen = [], [], [], [], [], set()
    for flat_index in order[: beam * (b + 4)]:
        member, base, pos = np.unravel_index(flat_index, (b, 4, p))
        child = parents[member].copy()
        ref = int(child[a + pos])
        child[a + pos] = base
        key = child.tobytes()
        if key in seen:
            continue
        seen.add(key)
        seqs.append(child)
        objs.append(objective[member, base, pos])
        vals.append(value[member, base, pos])
        viols.append(violation[member] + change[member, base, pos])
        edits.append((a + pos, ref, base))
        if len(seqs) == beam:
            break
    while len(seqs) < beam:  # fewer distinct children than the beam: repeat the best
        seqs, objs, vals = seqs + seqs[:1], objs + objs[:1], vals + vals[:1]
        viols, edits = viols + viols[:1], edits + edits[:1]
    return np.stack(seqs), objs, vals, viols, np.array(edits)
