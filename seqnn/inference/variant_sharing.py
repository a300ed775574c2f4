"""Variant scoring that shares work: one reference pass per window, SNV alleles by fast ISM,
and the region-anchored windows of :func:`seqnn.inference.variants.variant_effects`.

Layout: windows are (N, L) uint8 codes, the network sees one-hot (N, 4, L) (channels A, C,
G, T) and predicts (N, T).

The sharing rule: SNVs whose windows are the same genome interval (same contig and start)
share one reference pass, and each SNV's alternative prediction is the fast-ISM mutant of
that reference at the SNV's offset (:mod:`seqnn.interpret.fast_ism`: only each layer's
receptive-field slice is recomputed). With today's centred windows two SNVs share a window
only when they sit at the same position (the alleles of one site); with region-anchored
windows every SNV in a region shares the region's window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seqnn.data.encoding import BYTE_TO_CODE, reverse_complement_codes
from seqnn.data.genome import Genome
from seqnn.data.intervals import centred_start, contig_indices
from seqnn.inference.predict import RC
from seqnn.inference.pretrained import PretrainedModel
from seqnn.interpret.fast_ism import Plan, Unsupported, Window, fast_plan

_KEY = np.int64(1) << 40  # contig index * _KEY + position: one sortable key per base
_SHIFT = np.int64(1) << 39  # window starts may be negative (N padding): keep keys in order


def shared_plan(model: PretrainedModel) -> Plan | None:
    """The fast-ISM plan of the model's network, or None (full passes) for networks fast ISM
    does not follow and for profile models (their output is not the network's)."""
    if model.kind.profile_head:
        return None
    try:
        return fast_plan(model.net.eval())
    except Unsupported:
        return None


def snv_codes(alleles: pd.Series) -> np.ndarray:
    """(B,) uint8 codes of one-base alleles."""
    return BYTE_TO_CODE[np.frombuffer("".join(alleles).encode("ascii"), dtype=np.uint8)]


@torch.inference_mode()
def snv_predictions(
    model: PretrainedModel,
    plan: Plan,
    genome: Genome,
    chrom: np.ndarray,
    start: np.ndarray,
    offset: np.ndarray,
    alt: np.ndarray,
    rc: RC = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference and alternative predictions of SNVs, one reference pass per distinct window.

    Args:
        model: a pretrained model whose network ``plan`` follows.
        plan: :func:`shared_plan` of the model.
        genome: the genome.
        chrom, start: (B,) each SNV's window ``[start, start + L)``.
        offset: (B,) the SNV's index in its window.
        alt: (B,) uint8 code of the alternative base.
        rc: as in :func:`seqnn.inference.predict.predict_codes`.

    Returns:
        ref, alt: (B, T) float32 predictions.
    """
    length, device = model.input_length, model.device
    contig = contig_indices(chrom, genome.names)
    sites, rows = np.unique(contig * _KEY + _SHIFT + start, return_inverse=True)  # shared
    names = np.asarray(genome.names, dtype=object)[sites // _KEY]
    first = sites % _KEY - _SHIFT
    codes = genome.fetch_codes(names, first, first + length)  # (S, L) windows
    rows, offset = torch.from_numpy(rows.ravel()), torch.from_numpy(offset.astype(np.int64))
    bases = alt.astype(np.uint8)[:, None]  # (B, 1)
    strands = [(codes, rows, offset, bases)]
    if rc:  # the reverse strand: the window reversed, the base complemented
        rc_codes, rc_bases = reverse_complement_codes(codes), reverse_complement_codes(bases)
        strands.append((rc_codes, rows, length - 1 - offset, rc_bases))
    outs = [_strand(model, plan, *s, device) for s in strands]
    ref, mutant = outs[0]
    if rc:
        combine = torch.maximum if rc == "max" else lambda a, b: (a + b) / 2
        ref, mutant = combine(ref, outs[1][0]), combine(mutant, outs[1][1])
    return ref.cpu().numpy(), mutant.cpu().numpy()


def _strand(
    model: PretrainedModel,
    plan: Plan,
    codes: np.ndarray,
    rows: torch.Tensor,
    offset: torch.Tensor,
    bases: np.ndarray,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) reference and mutant predictions of one strand's windows."""
    x = model.one_hot(torch.from_numpy(np.ascontiguousarray(codes)).to(device))  # (S, 4, L)
    ref = plan.reference(x)  # caches the reference features of the S windows
    values = model.one_hot(torch.from_numpy(np.ascontiguousarray(bases)).to(device))  # (B, 4, 1)
    rows, offset = rows.to(device), offset.to(device)
    mutant = plan.mutate(Window(rows, offset, values.to(x.dtype)))
    return model.output_fn(ref.float())[rows], model.output_fn(mutant.float())


# ----------------------------------------------------------------------------- regions
def region_names(regions: pd.DataFrame) -> np.ndarray:
    """Each region's label: its BED name, else ``chrom:start-end``."""
    if "name" in regions and not regions["name"].isin([".", ""]).all():
        return regions["name"].astype(str).to_numpy(object)
    text = regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    return text.to_numpy(object)


class RegionIndex:
    """Regions sorted for a vectorised lookup of the ones holding each variant.

    A region's window is the model's input length centred on the region
    (:func:`~seqnn.data.intervals.centred_start`); a variant belongs to a region when its
    first REF base lies inside both the region and that window (a region longer than the
    window scores only the variants of its middle ``L`` bases).

    Args:
        regions: chrom, start, end (0-based, half-open), optionally name.
        genome: the genome (contig order).
        length: the window length L.
    """

    def __init__(self, regions: pd.DataFrame, genome: Genome, length: int) -> None:
        contig = contig_indices(regions["chrom"], genome.names)
        start = regions["start"].to_numpy(np.int64)
        end = regions["end"].to_numpy(np.int64)
        window = centred_start(start, end, length)
        # only the part of a region inside its window can hold a scored variant
        first, last = np.maximum(start, window), np.minimum(end, window + length)
        order = np.argsort(contig * _KEY + first, kind="stable")
        self.key = (contig * _KEY + first)[order]
        self.last = (contig * _KEY + last)[order]
        self.window = window[order]
        self.name = region_names(regions)[order]
        self.span = int((last - first).max(initial=1))

    def lookup(self, contig: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(variant index, region index) of every variant in every region holding it, in
        variant order.

        Args:
            contig: (n,) contig index of each variant.
            pos: (n,) 0-based position of each variant's first REF base.
        """
        key = contig * _KEY + pos
        lo = np.searchsorted(self.key, key - self.span + 1)  # candidates start within span
        hi = np.searchsorted(self.key, key, side="right")
        counts = hi - lo
        variant = np.repeat(np.arange(len(key)), counts)
        # a ragged arange: lo, lo + 1, ..., hi - 1 for each variant
        region = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
        inside = self.last[region] > key[variant]
        return variant[inside], region[inside]
