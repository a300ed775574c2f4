"""Tracks around a locus as one figure: observed coverage (bigWig), the model's predictions and
an attribution logo.

Layout: one-hot (N, 4, L), channels A, C, G, T. A profile model (a pretrained model whose task
is ``profile``) predicts each position's expected count in one pass over the window centred on
the locus; any other model is *scanned*: the window centred on each bin of ``stride`` bp is
predicted (batched), giving one value per bin. The logo is the centred ISM of the window
centred on the locus (the count head of a profile model), the present base's letter scaled
by its attribution.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqnn.data.genome import Genome
from seqnn.data.intervals import centred_start
from seqnn.errors import SeqnnInputError
from seqnn.interpret.experiments import Predictor, resolve_targets
from seqnn.interpret.inputs import Target, flat_outputs, network_of, one_hot_inputs
from seqnn.interpret.mutagenesis import ism
from seqnn.interpret.plots import plot_logo

_LOCUS = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


class TracksError(SeqnnInputError):
    """A locus, bigWig or setting that :func:`plot_tracks` cannot use."""


def parse_locus(locus: str | tuple[str, int, int]) -> tuple[str, int, int]:
    """``"chr1:1,000-2,000"`` or ``(chrom, start, end)`` (0-based, half-open) -> a tuple."""
    if isinstance(locus, str):
        match = _LOCUS.match(locus.strip())
        if not match:
            raise TracksError(f"locus={locus!r}: write it as chrom:start-end, e.g. chr1:100-400")
        locus = (match["chrom"], int(match["start"].replace(",", "")),
                 int(match["end"].replace(",", "")))  # fmt: skip
    chrom, start, end = locus
    if not 0 <= int(start) < int(end):
        raise TracksError(f"locus={locus!r}: need 0 <= start < end")
    return str(chrom), int(start), int(end)


def plot_tracks(
    model: nn.Module,
    genome: Genome | str | Path,
    locus: str | tuple[str, int, int],
    bigwigs: Sequence[str | Path] | str | Path = (),
    target: Target = None,
    attribution: str | np.ndarray | None = "ism",
    stride: int | None = None,
    batch_size: int = 256,
    figsize: tuple[float, float] | None = None,
):
    """Observed and predicted tracks and an attribution logo around ``locus``, one figure.

    Args:
        model: a pretrained model (a profile model draws per-position profiles) or a network
            (scanned, its outputs as they are).
        genome: a :class:`~seqnn.data.genome.Genome` or a FASTA path.
        locus: ``"chrom:start-end"`` or ``(chrom, start, end)``, 0-based half-open.
        bigwigs: observed coverage files, one row each (the mean per bin for scans).
        target: the outputs to draw (index, name, list, None: all).
        attribution: ``"ism"`` (the window centred on the locus; needs the locus to fit the
            model's input length), a (4, W) array over the locus, or None for no logo.
        stride: bp per bin of a scan (default: a bin per bp up to 200 bins).
        batch_size: windows per forward pass.
        figsize: the figure's size in inches (default: 10 wide, 1.4 per row).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    genome = genome if isinstance(genome, Genome) else Genome(genome)
    chrom, start, end = parse_locus(locus)
    bigwigs = [bigwigs] if isinstance(bigwigs, str | Path) else list(bigwigs)
    length = int(getattr(model, "input_length", 0) or 0)
    if not length:
        raise TracksError("the model has no input_length: load it with seqnn.load_pretrained")
    if _is_profile(model):
        x, predicted, names = _profile_tracks(model, genome, chrom, start, end, target)
    else:
        x, predicted, names = _scan_tracks(model, genome, chrom, start, end, target, stride,
                                           batch_size)  # fmt: skip
    observed = [_bigwig_values(path, chrom, start, end, len(x)) for path in bigwigs]
    logo = _attribution(model, genome, chrom, start, end, target, attribution)
    n_rows = len(observed) + predicted.shape[0] + (logo is not None)
    fig, axes = plt.subplots(n_rows, 1, sharex=True, squeeze=False,
                             figsize=figsize or (10.0, 1.4 * n_rows))  # fmt: skip
    axes = axes[:, 0]
    for ax, values, path in zip(axes, observed, bigwigs, strict=False):
        ax.fill_between(x, values, step="mid", color="grey")
        ax.set_ylabel(Path(path).stem, rotation=0, ha="right")
    for ax, values, name in zip(axes[len(observed) :], predicted, names, strict=False):
        ax.fill_between(x, values, step="mid", color="tab:blue")
        ax.set_ylabel(f"{name}\n(predicted)", rotation=0, ha="right")
    if logo is not None:
        plot_logo(logo, ax=axes[-1], start=start)
        axes[-1].set_ylabel("attribution", rotation=0, ha="right")
    axes[-1].set_xlabel(f"{chrom}:{start:,}-{end:,}")
    axes[-1].set_xlim(start - 0.5, end - 0.5)
    return fig


def _is_profile(model: nn.Module) -> bool:
    return hasattr(model, "spec") and model.kind.profile_head


def _profile_tracks(model, genome: Genome, chrom: str, start: int, end: int, target: Target):
    """Per-position expected counts over the locus: (x (P,), values (T, P), names)."""
    length = model.input_length
    first = int(centred_start(start, end, length))
    codes = genome.fetch_codes([chrom], [first], [first + length])
    with torch.inference_mode():
        x = torch.from_numpy(codes).to(model.device)
        profiles = model.profiles(x).float().cpu().numpy()[0]  # (T, L_out)
    offset = first + (length - profiles.shape[1]) // 2  # the output is centred on the input
    x = np.arange(offset, offset + profiles.shape[1])
    keep = (x >= start) & (x < end)
    indices = resolve_targets(model, target, profiles.shape[0])
    return x[keep], profiles[indices][:, keep], [model.targets[i] for i in indices]


def _scan_tracks(model, genome, chrom, start, end, target, stride, batch_size):
    """Predictions of the windows centred on each bin: (x (B,), values (T, B), names)."""
    width = end - start
    stride = stride or max(1, -(-width // 200))
    if stride <= 0:
        raise TracksError(f"stride={stride}: give a positive number of bp")
    bins = np.arange(start, end, stride)
    centres = np.minimum(bins + stride // 2, end - 1)
    length = model.input_length
    first = centred_start(centres, centres + 1, length)
    codes = genome.fetch_codes([chrom] * len(bins), first, first + length)
    predict = Predictor(model, target, None, False, batch_size)
    values = predict(codes)  # (B, T)
    return centres, values.T, predict.names


def _bigwig_values(path, chrom: str, start: int, end: int, n_bins: int) -> np.ndarray:
    """The bigWig's values over the locus, averaged into ``n_bins`` bins (NaN -> 0)."""
    import pyBigWig

    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        raise TracksError(f"{path}: not a readable bigWig file") from None
    try:
        if chrom not in bw.chroms():
            raise TracksError(f"{path}: no contig {chrom!r} (it has {list(bw.chroms())[:5]})")
        stop = min(end, bw.chroms()[chrom])
        values = np.nan_to_num(np.asarray(bw.values(chrom, start, stop), dtype=float))
    finally:
        bw.close()
    values = np.pad(values, (0, end - start - len(values)))
    edges = np.linspace(0, len(values), n_bins + 1).astype(int)
    return np.add.reduceat(values, edges[:-1]) / np.maximum(np.diff(edges), 1)


def _attribution(model, genome, chrom, start, end, target, attribution):
    """The (4, W) logo matrix over the locus, or None."""
    if attribution is None:
        return None
    width = end - start
    if not isinstance(attribution, str):
        matrix = np.asarray(attribution, dtype=float)
        if matrix.shape != (4, width):
            raise TracksError(
                f"attribution: expected a (4, {width}) matrix over the locus, got {matrix.shape}"
            )
        return matrix
    if attribution != "ism":
        raise TracksError(f"attribution={attribution!r}: give 'ism', a (4, W) array or None")
    length = model.input_length
    if width > length:
        raise TracksError(
            f"locus is {width} bp, wider than the model's {length}-bp input: ISM explains one "
            "window; pass attribution=None or a narrower locus"
        )
    first = int(centred_start(start, end, length))
    codes = genome.fetch_codes([chrom], [first], [first + length])
    index = _explained_output(model, codes, target)
    effects = ism(model, codes, index, centre=True, positions=slice(start - first, end - first))
    x = one_hot_inputs(model, codes)[0, :, start - first : end - first].cpu().numpy()
    return effects[0] * x  # the present base's letter


def _explained_output(model, codes, target) -> int:
    """The flat output ISM explains: the target's count (a profile model) or the target."""
    net = network_of(model)
    n_flat = int(flat_outputs(net(one_hot_inputs(model, codes))).shape[1])
    names = list(getattr(model, "targets", []))
    n_targets = len(names) if _is_profile(model) else n_flat
    indices = resolve_targets(model, target, n_targets)
    # a profile net's flat outputs are the profiles, then one count per target
    return indices[0] + (n_flat - n_targets if _is_profile(model) else 0)
