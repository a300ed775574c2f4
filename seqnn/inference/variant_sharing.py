"""Variant scoring that shares work: one reference pass per window, SNV alleles by fast ISM,
and the region-anchored windows of :func:`seqnn.inference.variants.variant_effects`.

Layout: windows are (N, L) uint8 codes, the network sees one-hot (N, 4, L) (channels A, C,
G, T) and predicts (N, T).

The sharing rule: SNVs whose windows are the same genome interval (same contig and start)
share one reference pass, and each SNV's alternative prediction is the fast-ISM mutant of
that reference at the SNV's offset (:mod:`seqnn.interpret.fast_ism`: only each layer's
receptive-field slice is recomputed). With today's centred windows two SNVs share a window
only when they sit at the same position (the alleles of one site); with region-anchored
windows every SNV in a region shares the region's window. Sharing is within a batch of
variants (a VCF is streamed in chunks, so memory does not grow with it); a site's alleles are
adjacent lines, so they share.

Also here: the regions' lookup (:class:`RegionIndex`) and the background quantile of an
SNV's effect among shuffled-context SNVs (:func:`background_quantiles`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seqnn.data.background import shuffle_codes
from seqnn.data.encoding import BYTE_TO_CODE, reverse_complement_codes
from seqnn.data.genome import Genome
from seqnn.data.intervals import centred_start, contig_indices
from seqnn.inference.predict import RC, predict_codes
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


def shared_windows(
    genome: Genome, chrom: np.ndarray, start: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct windows among ``[start, start + length)`` of each variant, fetched once.

    Args:
        genome: the genome.
        chrom, start: (B,) each variant's window.
        length: the window length L.

    Returns:
        codes: (S, L) uint8 windows, S <= B; rows: (B,) each variant's row of ``codes``.
    """
    contig = contig_indices(chrom, genome.names)
    sites, rows = np.unique(contig * _KEY + _SHIFT + start, return_inverse=True)
    names = np.asarray(genome.names, dtype=object)[sites // _KEY]
    first = sites % _KEY - _SHIFT
    return genome.fetch_codes(names, first, first + length), rows.ravel()


@torch.inference_mode()
def window_snv_predictions(
    model: PretrainedModel,
    plan: Plan | None,
    codes: np.ndarray,
    rows: np.ndarray,
    offset: np.ndarray,
    alt: np.ndarray,
    rc: RC = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference and SNV predictions in given windows: (B, T) each.

    Args:
        model: a pretrained model.
        plan: its fast-ISM plan (one reference pass per window, mutants by fast ISM), or
            None (full passes of each SNV's reference and alternative window).
        codes: (S, L) uint8 reference windows.
        rows, offset, alt: (B,) each SNV's window (row of ``codes``), index in it and
            alternative base code.
        rc: as in :func:`seqnn.inference.predict.predict_codes`.
    """
    if plan is None:
        ref_codes = codes[rows]
        alt_codes = ref_codes.copy()
        alt_codes[np.arange(len(rows)), offset] = alt
        y = predict_codes(model, np.concatenate([ref_codes, alt_codes]), rc)
        return tuple(np.split(y, 2))
    length, device = model.input_length, model.device
    rows, offset = torch.from_numpy(rows), torch.from_numpy(offset.astype(np.int64))
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


# ----------------------------------------------------------------------------- background
def background_quantiles(
    model: PretrainedModel,
    plan: Plan | None,
    codes: np.ndarray,
    offset: np.ndarray,
    alt: np.ndarray,
    effect: np.ndarray,
    n: int,
    seeds: np.ndarray,
    rc: RC = False,
) -> np.ndarray:
    """Each SNV's effect as a quantile among the effects of ``n`` shuffled-context SNVs.

    A background SNV has the same alleles at the same offset, in the SNV's reference window
    dinucleotide-shuffled (:func:`~seqnn.data.background.shuffle_codes`) with REF written
    back at the offset (the flanks keep their dinucleotide counts, the two pairs touching
    the site aside). The quantile is the fraction of background effects below the SNV's,
    ties counted half: near 1 for an effect larger than any the context gives by chance.

    Args:
        model, plan, rc: as in :func:`window_snv_predictions`.
        codes: (B, L) each SNV's reference window.
        offset, alt: (B,) the SNV's index and alternative base code.
        effect: (B, T) the SNVs' effects (alt - ref).
        n: background SNVs per SNV.
        seeds: (B,) one seed per SNV (its backgrounds do not depend on its batch).

    Returns:
        (B, T) quantiles in [0, 1].
    """
    b = len(codes)
    ref_base = codes[np.arange(b), offset]
    # (B * n) row seeds: SNV b's k-th background from seeds[b] and k (a 31-bit mix)
    k = np.tile(np.arange(n, dtype=np.int64), b)
    row_seeds = (np.repeat(seeds.astype(np.int64), n) * 1_000_003 + k * 7919) % (2**31 - 1)
    shuffled = shuffle_codes(np.repeat(codes, n, axis=0), row_seeds)  # (B * n, L)
    rows = np.arange(b * n)
    shuffled[rows, np.repeat(offset, n)] = np.repeat(ref_base, n)
    ref, mut = window_snv_predictions(
        model, plan, shuffled, rows, np.repeat(offset, n), np.repeat(alt, n), rc
    )
    background = (mut - ref).reshape(b, n, -1)  # (B, n, T)
    below = (background < effect[:, None]).mean(axis=1)
    ties = (background == effect[:, None]).mean(axis=1)
    return below + ties / 2


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
    """Regions cut into windows (tiles) and sorted for a vectorised lookup of the tiles
    holding each variant.

    A region no longer than the window length L has one tile, the window centred on it
    (:func:`~seqnn.data.intervals.centred_start`), holding the variants of the region's
    bases inside it. A longer region is tiled as ``seqnn-predict tile=true`` tiles it:
    windows every L bp from its start, the last moved back to end at the region's end, so
    every base of the region is in a tile (one, or two where the last tile overlaps).

    Args:
        regions: chrom, start, end (0-based, half-open), optionally name.
        genome: the genome (contig order).
        length: the window length L.

    Attributes:
        window: (M,) each tile's window start, in lookup order.
        region: (M,) each tile's region (an index into ``name`` and ``n_tiles``).
        name: (R,) each region's label; ``n_tiles``: (R,) its number of tiles.
        contig: (R,) each region's contig index.
    """

    def __init__(self, regions: pd.DataFrame, genome: Genome, length: int) -> None:
        contig = contig_indices(regions["chrom"], genome.names)
        start = regions["start"].to_numpy(np.int64)
        end = regions["end"].to_numpy(np.int64)
        self.n_tiles = np.maximum(1, -(-(end - start) // length))
        region = np.repeat(np.arange(len(start)), self.n_tiles)
        k = np.arange(len(region)) - np.repeat(
            np.cumsum(self.n_tiles) - self.n_tiles, self.n_tiles
        )
        window = np.minimum(start[region] + k * length, end[region] - length)
        single = self.n_tiles[region] == 1  # a region within one window: the centred one
        window[single] = centred_start(start, end, length)[region[single]]
        # only the part of a region inside a tile's window can hold a scored variant
        first = np.maximum(start[region], window)
        last = np.minimum(end[region], window + length)
        key = contig[region] * _KEY + first
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.last = (contig[region] * _KEY + last)[order]
        self.window, self.region = window[order], region[order]
        self.name, self.contig = region_names(regions), contig
        self.span = int((last - first).max(initial=1))

    def lookup(self, contig: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(variant index, tile index) of every variant in every tile holding it, in
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
        tile = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
        inside = self.last[tile] > key[variant]
        return variant[inside], tile[inside]

    def tiles(self, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tile indices, their region) of every tile of ``regions`` (unique region indices)."""
        tile = np.flatnonzero(np.isin(self.region, regions))
        return tile, self.region[tile]
