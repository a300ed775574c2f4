"""Motif discovery from attributions: TF-MoDISco (modisco-lite) -> patterns -> Tomtom matches.

Layout: one-hot (N, 4, L), channels A, C, G, T; hypothetical contributions (N, 4, L) (what
each base would contribute at each position: :func:`~seqnn.interpret.deeplift_shap` with
``hypothetical=True``, or centred ISM). TF-MoDISco (Shrikumar et al. 2018; modisco-lite, the
maintained rewrite by the Kundaje lab) cuts high-attribution seqlets out of the contributions
and clusters them into patterns; each pattern's PWM is matched to the shipped JASPAR 2024
CORE by Tomtom (:func:`~seqnn.interpret.motifs.match_motifs`, p- and q-values).
:meth:`ModiscoResult.write` writes a markdown report with logo PNGs and the patterns as MEME.

modisco-lite is the ``motifs`` extra (``pip install 'seqnn[motifs]'``); it is imported on
first use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from torch import nn

from seqnn.atomic import atomic_folder
from seqnn.interpret.gradients import attribute
from seqnn.interpret.inputs import InterpretError, Output, Target, one_hot_inputs
from seqnn.interpret.motifs import MATCH_COLUMNS, Motif, match_motifs, write_meme
from seqnn.interpret.mutagenesis import ism
from seqnn.interpret.plots import plot_logo

log = logging.getLogger("seqnn.interpret")

Method = Literal["deeplift_shap", "ism", "saliency"]
MIN_SEQUENCES = 20
"""Fewer sequences give TF-MoDISco too few seqlets to cluster (its null needs windows)."""
SUMMARY_COLUMNS = ["pattern", "n_seqlets", "seqlet_fraction", "consensus", "best_match",
                   "p_value", "q_value"]  # fmt: skip
MIN_PASSING_WINDOWS_FRAC = 0.03
"""modisco-lite's floor on the share of windows that seqlet calling keeps. Its threshold is an
FDR against a Laplace null fitted to all windows; where short sequences are mostly signal (81-bp
promoters) that null is wide, fewer than 3% of windows pass, and this floor sets the threshold."""
SEQLET_SIZES = {"window": 21, "flank": 10, "trim_to_window_size": 30, "initial_flank_to_add": 10}
"""modisco-lite's defaults: its patterns are trimmed to 30 bp and grown by 10 bp a side before
their seqlets are realigned, sizes made for its 21-bp window + 2 x 10 flank (41-bp seqlets).
:func:`run_tfmodisco` scales the two by the seqlet size actually asked for
(:func:`expansion_sizes`), so a smaller window on short sequences keeps the same proportions: with
the fixed sizes, 15-bp windows (+ 2 x 5) on 81-bp promoters gave no pattern from 194 seqlets."""

TRIM = 0.3
"""Pattern columns kept: from the first to the last whose total |CWM| reaches this fraction
of the pattern's largest (modisco-lite's report trims so before Tomtom)."""


@dataclass(frozen=True)
class Pattern:
    """One TF-MoDISco pattern, trimmed to its informative columns.

    Attributes:
        name: ``pos_<k>`` (positive contributions) or ``neg_<k>``, in TF-MoDISco's order.
        n_seqlets: seqlets clustered into the pattern.
        motif: the PWM as counts (base frequencies x ``n_seqlets``), id ``name``.
        cwm: (4, W) contribution weight matrix (mean contributions of the bases present).
        hcwm: (4, W) mean hypothetical contributions.
    """

    name: str
    n_seqlets: int
    motif: Motif
    cwm: np.ndarray
    hcwm: np.ndarray


@dataclass(frozen=True)
class ModiscoResult:
    """Patterns and their JASPAR matches.

    Attributes:
        patterns: largest first within each sign (TF-MoDISco's order).
        matches: :func:`~seqnn.interpret.motifs.match_motifs` of the patterns (``query`` is
            the pattern's name): p- and q-values per pattern and database motif.
        n_sequences: sequences the attributions covered.
    """

    patterns: list[Pattern]
    matches: pd.DataFrame
    n_sequences: int

    @property
    def n_seqlets(self) -> int:
        return sum(p.n_seqlets for p in self.patterns)

    def summary(self) -> pd.DataFrame:
        """One row per pattern: name, seqlets, their share, consensus and best match."""
        best = self.matches[self.matches["rank"] == 1].set_index("query")
        rows = []
        for p in self.patterns:
            match = best.loc[p.name] if p.name in best.index else None
            rows.append({
                "pattern": p.name, "n_seqlets": p.n_seqlets,
                "seqlet_fraction": p.n_seqlets / max(self.n_seqlets, 1),
                "consensus": p.motif.consensus(),
                "best_match": None if match is None else f"{match.target_id} {match.target_name}",
                "p_value": None if match is None else float(match.p_value),
                "q_value": None if match is None else float(match.q_value),
            })  # fmt: skip
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def write(self, out: str | Path) -> Path:
        """Write ``out/`` atomically (the folder appears whole or not at all): ``report.md``
        (the patterns with their seqlet counts, CWM and PWM logos and top Tomtom matches),
        ``logos/<pattern>_{cwm,pwm}.png``, ``patterns.meme``, ``matches.tsv``,
        ``patterns.tsv``.

        Raises:
            FileExistsError: ``out`` exists.
        """
        with atomic_folder(out) as tmp:
            (tmp / "logos").mkdir()
            for pattern in self.patterns:
                _write_logos(pattern, tmp / "logos")
            write_meme([p.motif for p in self.patterns], tmp / "patterns.meme")
            self.matches.to_csv(tmp / "matches.tsv", sep="\t", index=False)
            self.summary().to_csv(tmp / "patterns.tsv", sep="\t", index=False)
            (tmp / "report.md").write_text(self._markdown())
        return Path(out)

    def _markdown(self) -> str:
        lines = [
            "# TF-MoDISco patterns",
            "",
            f"{len(self.patterns)} patterns, {self.n_seqlets} seqlets, {self.n_sequences} "
            "sequences. Matches: Tomtom (memelite) against JASPAR 2024 CORE (or the database "
            "given); q-values are Benjamini-Hochberg over each pattern's matches.",
        ]
        for p in self.patterns:
            lines += ["", f"## {p.name}: {p.n_seqlets} seqlets, consensus {p.motif.consensus()}",
                      "", f"CWM ![{p.name} CWM](logos/{p.name}_cwm.png)",
                      "", f"PWM ![{p.name} PWM](logos/{p.name}_pwm.png)", "",
                      "| rank | target | name | p-value | q-value | offset | strand |",
                      "|---|---|---|---|---|---|---|"]  # fmt: skip
            for m in self.matches[self.matches["query"] == p.name].itertuples():
                lines.append(f"| {m.rank} | {m.target_id} | {m.target_name} | {m.p_value:.2e} "
                             f"| {m.q_value:.2e} | {m.offset} | {m.strand} |")  # fmt: skip
        return "\n".join(lines) + "\n"


def _write_logos(pattern: Pattern, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    from matplotlib import pyplot as plt

    for kind, matrix in (("cwm", pattern.cwm), ("pwm", _bits(pattern.motif))):
        fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * matrix.shape[1]), 1.6))
        plot_logo(matrix, ax=ax, title=f"{pattern.name} {kind.upper()}")
        fig.savefig(folder / f"{pattern.name}_{kind}.png", dpi=100, bbox_inches="tight")
        plt.close(fig)


def _bits(motif: Motif) -> np.ndarray:
    """(4, W) letter heights in bits: probabilities x information content."""
    return motif.probabilities(0.01) * motif.information_content(0.01)


def hypothetical_attributions(
    model: nn.Module,
    x,
    target: Target = None,
    method: Method = "deeplift_shap",
    output: Output = None,
    **kwargs,
) -> np.ndarray:
    """Hypothetical contributions of one output: (N, 4, L).

    ``deeplift_shap``: DeepLIFT/SHAP's hypothetical contributions; ``ism``: each base's
    effect minus the position's mean over the 4 bases; ``saliency``: the gradient minus its
    mean over the 4 bases (Majdandzic et al. 2023).
    """
    if method == "deeplift_shap":
        attr = attribute(model, x, method, target, output=output, hypothetical=True, **kwargs)
    elif method == "ism":
        attr = ism(model, x, target, centre=True, output=output, **kwargs)
    elif method == "saliency":
        attr = attribute(model, x, method, target, output=output, correct=True, **kwargs)
    else:
        raise InterpretError(f"method={method!r}: use 'deeplift_shap', 'ism' or 'saliency'")
    if attr.ndim != 3:
        raise InterpretError(
            f"target={target!r}: TF-MoDISco explains one output, and {attr.shape[1]} are "
            "selected; pass one target (an index or a name) and for a profile model "
            "output='count' or 'profile'"
        )
    return attr


def modisco(
    model: nn.Module | None,
    x,
    target: Target = None,
    method: Method = "deeplift_shap",
    output: Output = None,
    hypothetical: np.ndarray | None = None,
    database: list[Motif] | None = None,
    top_k: int = 3,
    min_sequences: int = MIN_SEQUENCES,
    max_seqlets: int = 2000,
    window: int = 21,
    flank: int = 10,
    n_leiden_runs: int = 2,
    min_passing_windows_frac: float = MIN_PASSING_WINDOWS_FRAC,
    batch_size: int = 128,
    **attribution_kwargs,
) -> ModiscoResult:
    """TF-MoDISco patterns of a model's attributions over sequences, matched to JASPAR.

    Args:
        model: a network or pretrained model (None when ``hypothetical`` is given).
        x: the sequences: strings, (N, L) codes or (N, 4, L) one-hot, all of one length.
        target: the output explained (an index or name; one output).
        method: ``deeplift_shap`` (default), ``ism`` or ``saliency``
            (:func:`hypothetical_attributions`).
        output: a profile model's ``"count"`` or ``"profile"`` head.
        hypothetical: precomputed hypothetical contributions (N, 4, L) instead of ``model``.
        database: motifs to match (default: the shipped JASPAR 2024 CORE).
        top_k: Tomtom matches kept per pattern.
        min_sequences: fewer sequences are refused (too few seqlets to cluster).
        max_seqlets: seqlets per sign clustered at most (modisco-lite's cap).
        window: TF-MoDISco's sliding window (bp) for seqlet calling.
        flank: bp added to each side of a seqlet.
        n_leiden_runs: Leiden clusterings per round (modisco-lite's default 50 is slow;
            2 finds the same patterns on seqnn's simulations).
        min_passing_windows_frac: seqlet calling keeps the windows that pass its FDR
            threshold, and at least this fraction of all windows
            (:data:`MIN_PASSING_WINDOWS_FRAC`, modisco-lite's default).
        batch_size: sequences per attribution pass.
        **attribution_kwargs: passed to the attribution method (e.g. ``n_shuffles``).

    Returns:
        The patterns and their Tomtom matches.

    Raises:
        InterpretError: too few sequences, sequences shorter than a seqlet, several targets.
    """
    if model is None and hypothetical is None:
        raise InterpretError("model=None: give a model or the hypothetical= contributions")
    one_hot = one_hot_inputs(model if model is not None else nn.Linear(1, 1), x)
    n, length = one_hot.shape[0], one_hot.shape[2]
    if n < min_sequences:
        raise InterpretError(
            f"x: {n} sequences; TF-MoDISco needs at least min_sequences={min_sequences} to "
            "find seqlets to cluster (give more regions)"
        )
    if length < window + 2 * flank:
        raise InterpretError(
            f"x: sequences of {length} bp are shorter than a seqlet (window={window} + 2 x "
            f"flank={flank}); give longer sequences or a smaller window"
        )
    if hypothetical is None:
        hypothetical = hypothetical_attributions(
            model, one_hot, target, method, output, batch_size=batch_size, **attribution_kwargs
        )
    hypothetical = np.asarray(hypothetical, dtype=np.float32)
    if hypothetical.shape != tuple(one_hot.shape):
        raise InterpretError(
            f"hypothetical: shape {hypothetical.shape}, the sequences' is {tuple(one_hot.shape)}"
        )
    patterns = run_tfmodisco(one_hot.cpu().numpy(), hypothetical, max_seqlets, window, flank,
                             n_leiden_runs, min_passing_windows_frac)  # fmt: skip
    if not patterns:
        log.warning("TF-MoDISco found no pattern in %d sequences", n)
        return ModiscoResult([], pd.DataFrame(columns=MATCH_COLUMNS), n)
    matches = match_motifs([p.motif for p in patterns], database, top_k)
    return ModiscoResult(patterns, matches, n)


def run_tfmodisco(
    one_hot: np.ndarray,
    hypothetical: np.ndarray,
    max_seqlets: int = 2000,
    window: int = 21,
    flank: int = 10,
    n_leiden_runs: int = 2,
    min_passing_windows_frac: float = MIN_PASSING_WINDOWS_FRAC,
) -> list[Pattern]:
    """modisco-lite on (N, 4, L) one-hot and hypothetical contributions -> trimmed patterns."""
    try:
        from modiscolite.tfmodisco import TFMoDISco
    except ImportError:
        raise ImportError("TF-MoDISco needs modisco-lite: pip install 'seqnn[motifs]'") from None
    positive, negative = TFMoDISco(
        one_hot=one_hot.transpose(0, 2, 1).astype(np.float32),  # (N, 4, L) -> (N, L, 4)
        hypothetical_contribs=hypothetical.transpose(0, 2, 1),  # (N, 4, L) -> (N, L, 4)
        sliding_window_size=window, flank_size=flank, max_seqlets_per_metacluster=max_seqlets,
        n_leiden_runs=n_leiden_runs, min_passing_windows_frac=min_passing_windows_frac,
        **expansion_sizes(window, flank),
    )  # fmt: skip
    patterns = []
    for sign, found in (("pos", positive), ("neg", negative)):
        for k, pattern in enumerate(found or []):
            patterns.append(_pattern(f"{sign}_{k}", pattern))
    return patterns


def expansion_sizes(window: int, flank: int) -> dict[str, int]:
    """modisco-lite's pattern trim and added flank (:data:`SEQLET_SIZES`) scaled by the seqlet
    size ``window + 2 * flank`` over its default 41 bp: 30 and 10 at the defaults, 18 and 6
    for a 15-bp window with 5-bp flanks."""
    default = SEQLET_SIZES["window"] + 2 * SEQLET_SIZES["flank"]
    scale = (window + 2 * flank) / default
    return {
        key: max(1, round(SEQLET_SIZES[key] * scale))
        for key in ("trim_to_window_size", "initial_flank_to_add")
    }


def _pattern(name: str, pattern) -> Pattern:
    """A modisco-lite pattern (tracks (W, 4)) trimmed by |CWM| (:data:`TRIM`)."""
    cwm = np.asarray(pattern.contrib_scores).T  # (W, 4) -> (4, W)
    score = np.abs(cwm).sum(axis=0)
    keep = np.flatnonzero(score >= TRIM * score.max())
    columns = slice(keep[0], keep[-1] + 1)
    n_seqlets = len(pattern.seqlets)
    ppm = np.asarray(pattern.sequence).T[:, columns]  # (W, 4) -> (4, W)
    hcwm = np.asarray(pattern.hypothetical_contribs).T[:, columns]
    motif = Motif(name, name, np.clip(ppm, 0, None) * n_seqlets)
    return Pattern(name, n_seqlets, motif, cwm[:, columns], hcwm)
