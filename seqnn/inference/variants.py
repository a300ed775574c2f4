"""Variant effects: a pretrained model's predictions for the reference and the alternative
allele of each variant in a VCF, and their difference.

Layout: the model sees uint8 codes (N, L) (one-hot (N, 4, L) is made on its device) and
returns (N, T) predictions, one column per target. Each variant gives two windows of the
model's input length L, one per allele, with the allele in the middle (the rule is
:func:`variant_windows`); both go through the model in the same forward pass. Example::

    model = seqnn.load_pretrained("ecoli-sigma70")
    effects = variant_effects(model, "genome.fa", "calls.vcf.gz", rc=True)

The VCF's REF must match the FASTA (case aside): a mismatch (usually another genome build)
is an error naming the line, or, with ``ref_mismatch="skip"``/``"warn"``, dropped/kept with
one warning and counted in ``effects.attrs["ref_mismatches"]``. Never silent.

SNVs in the same window share one reference pass and get their alternative prediction by fast
ISM (:mod:`seqnn.inference.variant_sharing`; ``method="plain"``: two full passes each);
``regions=`` scores variants in their region's window instead of their own, and
``background=N`` ranks each SNV's effect among shuffled-context SNVs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from seqnn.atomic import atomic_open
from seqnn.data.encoding import BYTE_TO_CODE, CODE_TO_BYTE
from seqnn.data.genome import Genome
from seqnn.data.intervals import centred_start, checked_intervals, contig_indices, read_intervals
from seqnn.data.vcf import LINE, VARIANT_COLUMNS, iter_vcf, normalize_variants, read_vcf
from seqnn.errors import SeqnnInputError
from seqnn.inference.predict import RC, check_rc, predict_codes, write_rows
from seqnn.inference.pretrained import PretrainedModel
from seqnn.inference.variant_sharing import (
    RegionIndex,
    background_quantiles,
    shared_plan,
    shared_windows,
    snv_codes,
    window_snv_predictions,
)
from seqnn.interpret.fast_ism import Plan
from seqnn.progress import line_total, progress_bar

RefMismatch = Literal["error", "warn", "skip"]
Method = Literal["auto", "plain"]
PROBABILITY_OUTPUTS = ("sigmoid", "softmax")
_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the logit


class VariantError(SeqnnInputError):
    """Variants that do not fit the genome or a request that cannot be met (names the
    file:line and the fix)."""


def variant_effects(
    model: PretrainedModel,
    genome: Genome | str | Path,
    vcf: pd.DataFrame | str | Path,
    rc: RC = False,
    ref_mismatch: RefMismatch = "error",
    batch_size: int = 256,
    progress: bool = True,
    method: Method = "auto",
    regions: pd.DataFrame | str | Path | None = None,
    background: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Predict each variant's reference and alternative allele and compare them.

    Args:
        model: a pretrained model.
        genome: a :class:`Genome` or a FASTA path (the VCF's reference genome).
        vcf: a VCF path (plain, gzip or bgzip) or a DataFrame with chrom, pos (1-based), ref,
            alt (comma-separated alleles allowed) and optionally id.
        rc: ``True``/``"mean"`` averages each window's prediction with that of its reverse
            complement; ``"max"`` takes the larger (see
            :func:`seqnn.inference.predict.predict_codes`).
        ref_mismatch: a REF that differs from the FASTA is an ``"error"``; ``"skip"`` drops
            such variants, ``"warn"`` keeps them (scored on the FASTA's bases with ALT in
            place of REF); both warn once with the count.
        batch_size: variants per forward pass (each gives two windows).
        progress: show a progress bar on stderr (only when it is a terminal).
        method: ``"auto"``: SNVs in the same window share one reference pass and their
            alternative predictions come from fast ISM when the network allows it
            (:mod:`seqnn.inference.variant_sharing`; equal to full passes up to float
            rounding); ``"plain"``: two full passes per variant (the path before sharing).
        regions: a BED file or a DataFrame (chrom, start, end, optionally name): score each
            variant in the window of the model's input length centred on the region it falls
            in (one row per variant and region, a ``region`` column), so the variants of one
            region share one reference window; a region longer than the input length is
            tiled (windows every input length, the last ending at the region's end) and
            scored as the mean over its tiles, the ALT allele written into the tiles holding
            the variant. Variants in no region are left out and counted (one warning,
            ``attrs["outside_regions"]``). None: each allele's own centred window
            (:func:`variant_windows`).
        background: N > 0 adds ``<target>_effect_quantile``: each SNV's effect (alt - ref)
            as a quantile among the effects of N shuffled-context SNVs (same alleles, same
            window dinucleotide-shuffled, REF kept at its place; see
            :func:`~seqnn.inference.variant_sharing.background_quantiles`); NaN for indels.
            Costs N reference passes per SNV.
        seed: seeds the shuffles (with each variant's position: reproducible whatever the
            chunks and batches).

    Returns:
        One row per ALT allele: chrom, pos, id, ref, alt, then for each target ``t``:
        ``t_ref``, ``t_alt``, ``t_diff`` (alt - ref) and, for probability outputs
        (sigmoid/softmax), ``t_log_odds`` (logit(alt) - logit(ref), probabilities clipped to
        [1e-6, 1 - 1e-6]) or, for ``exp`` outputs (rates), ``t_log2fc`` (log2(alt / ref));
        for ``expm1`` outputs (a profile model's counts), log2((1 + alt) / (1 + ref)).
        ``attrs``: ``source``, ``ref_mismatches`` (REF != FASTA, counted in every mode) and
        ``skipped_alleles`` (symbolic alleles left out).

    Raises:
        VariantError: ``file:line: ...`` for an unknown contig (with the likely name), a
            variant past its contig's end, or a REF mismatch with ``ref_mismatch="error"``.
        VCFError: a VCF that cannot be read (see :func:`seqnn.data.vcf.read_vcf`).
    """
    check_request(rc, ref_mismatch, batch_size, method)
    check_rc(model, rc)
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    scoring = _scoring(model, genome, method, regions, background, seed)
    table = normalize_variants(vcf) if isinstance(vcf, pd.DataFrame) else read_vcf(vcf)
    with progress_bar(len(table), "variants", progress, "variants") as advance:
        return _effects(model, genome, table, rc, ref_mismatch, batch_size, advance, scoring)


def variant_effects_to_file(
    model: PretrainedModel,
    genome: Genome | str | Path,
    vcf: str | Path,
    out: str | Path,
    rc: RC = False,
    ref_mismatch: RefMismatch = "error",
    batch_size: int = 256,
    progress: bool = True,
    chunk_rows: int = 100_000,
    method: Method = "auto",
    regions: pd.DataFrame | str | Path | None = None,
    background: int = 0,
    seed: int = 0,
) -> Path:
    """:func:`variant_effects` streamed from a VCF to a table file (seqnn-variants).

    The VCF is read ``chunk_rows`` lines at a time (:func:`seqnn.data.vcf.iter_vcf`); each
    chunk's rows are appended to a temp file, renamed to ``out`` once all are written (an
    error or an interrupt leaves no ``out``). Memory holds one chunk, so 10,000 and
    10,000,000 variants need the same. Rows and columns are those of
    :func:`variant_effects` + :func:`seqnn.inference.predict.write_table`; the warnings
    and error counts (REF mismatches, skipped alleles) are per chunk.

    Args:
        model, genome, rc, ref_mismatch, batch_size, progress: as in
            :func:`variant_effects`.
        method, regions, background, seed: as in :func:`variant_effects` (the regions are
            held in memory, the VCF is streamed).
        vcf: the VCF file (plain, gzip or bgzip).
        out: the table (TSV; CSV for ``.csv``).
        chunk_rows: VCF lines per chunk.

    Returns:
        ``out``.
    """
    check_request(rc, ref_mismatch, batch_size, method)
    check_rc(model, rc)
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    scoring = _scoring(model, genome, method, regions, background, seed)
    out = Path(out)
    total = line_total(vcf)  # lines, meta lines included: about the variants
    with atomic_open(out) as fh, progress_bar(total, "variants", progress, "variants") as advance:
        for i, table in enumerate(iter_vcf(vcf, chunk_rows)):
            effects = _effects(
                model, genome, table, rc, ref_mismatch, batch_size, advance, scoring
            )
            write_rows(effects, fh, out, header=i == 0)
    return out


@dataclass
class _Scoring:
    """How variants are scored: the fast-ISM plan (None: full passes) and the regions."""

    plan: Plan | None
    regions: RegionIndex | None
    background: int = 0
    seed: int = 0


def _scoring(
    model: PretrainedModel,
    genome: Genome,
    method: Method,
    regions: pd.DataFrame | str | Path | None,
    background: int,
    seed: int,
) -> _Scoring:
    if int(background) < 0:
        raise VariantError(f"background must be 0 (none) or a positive count, got {background}")
    plan = shared_plan(model) if method == "auto" else None
    index = None
    if regions is not None:
        table = regions if isinstance(regions, pd.DataFrame) else read_intervals(regions)
        table = checked_intervals(table, genome, on_invalid="error")[0]
        index = RegionIndex(table, genome, model.input_length)
    return _Scoring(plan, index, int(background), int(seed))


def _effects(
    model: PretrainedModel,
    genome: Genome,
    table: pd.DataFrame,
    rc: RC,
    ref_mismatch: RefMismatch,
    batch_size: int,
    advance: Callable[[int], None],
    scoring: _Scoring | None = None,
) -> pd.DataFrame:
    """:func:`variant_effects` for a table of variants already read."""
    scoring = scoring or _Scoring(None, None)
    _check_contigs(table, genome)
    mismatch = ref_mismatches(table, genome)
    table = _apply_ref_policy(table, genome, mismatch, ref_mismatch)
    first, pairs, region, outside = None, None, None, 0
    if scoring.regions is not None:
        table, first, pairs, outside = _in_regions(table, genome, scoring.regions)
    ref, alt = _predict(model, genome, table, rc, batch_size, advance, scoring.plan, first)
    quantiles = None
    if scoring.background:
        quantiles = _background(model, genome, table, alt - ref, scoring, first, rc, batch_size)
    if pairs is not None:
        table, ref, alt, keep, region = _per_region(
            model, genome, scoring.regions, table, pairs, ref, alt, rc, batch_size
        )
        quantiles = None if quantiles is None else quantiles[keep]
    effects = effect_table(table, ref, alt, model.targets, model.spec.output_transform)
    if quantiles is not None:
        for j, name in enumerate(model.targets):
            effects[f"{name}_effect_quantile"] = quantiles[:, j]
    if region is not None:
        effects.insert(len(VARIANT_COLUMNS), "region", region)
    effects.attrs.update(
        source=table.attrs.get("source", "variants"),
        ref_mismatches=int(mismatch.sum()),
        skipped_alleles=int(table.attrs.get("skipped_alleles", 0)),
        outside_regions=outside,
    )
    return effects


def _in_regions(
    table: pd.DataFrame, genome: Genome, regions: RegionIndex
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """One row per (variant, region tile holding it), its window start, the (variant, tile)
    pairs, and the number of variants in no region (warned about)."""
    p = table["pos"].to_numpy(np.int64) - 1
    variant, tile = regions.lookup(contig_indices(table["chrom"], genome.names), p)
    outside = len(table) - len(np.unique(variant))
    if outside:
        warnings.warn(
            f"{outside} of {len(table)} variant(s) lie in no region and are not "
            f"scored ({table.attrs.get('source', 'variants')})",
            stacklevel=4,
        )
    rows = table.iloc[variant].reset_index(drop=True)
    rows.attrs = dict(table.attrs)
    return rows, regions.window[tile], np.stack([variant, tile], axis=1), outside


def _per_region(
    model: PretrainedModel,
    genome: Genome,
    regions: RegionIndex,
    table: pd.DataFrame,
    pairs: np.ndarray,
    ref: np.ndarray,
    alt: np.ndarray,
    rc: RC,
    batch_size: int,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tile rows -> one row per (variant, region): the region's prediction is the mean over
    its tiles (as ``seqnn-predict tile=true aggregate=mean`` gives it), and the variant
    changes the tiles that hold it. A one-tile region keeps its row as it is.

    Returns:
        The rows, (m, T) ref and alt, (m,) the tile row each kept row came from, and (m,)
        the region names.
    """
    tile_region = regions.region[pairs[:, 1]]
    groups, keep, inverse = np.unique(
        pairs[:, 0] * len(regions.n_tiles) + tile_region, return_index=True, return_inverse=True
    )
    region = tile_region[keep]
    n = regions.n_tiles[region]
    ref_out, alt_out = ref[keep].copy(), alt[keep].copy()
    long = np.flatnonzero(n > 1)
    if len(long):
        delta = np.zeros((len(groups), ref.shape[1]), dtype=np.float64)
        np.add.at(delta, inverse.reshape(-1), alt.astype(np.float64) - ref)
        mean = _region_means(model, genome, regions, np.unique(region[long]), rc, batch_size)
        ref_out[long] = mean[region[long]]
        alt_out[long] = ref_out[long] + delta[long] / n[long, None]
    rows = table.iloc[keep].reset_index(drop=True)
    rows.attrs = dict(table.attrs)
    return rows, ref_out, alt_out, keep, regions.name[region]


def _region_means(
    model: PretrainedModel,
    genome: Genome,
    regions: RegionIndex,
    wanted: np.ndarray,
    rc: RC,
    batch_size: int,
) -> np.ndarray:
    """(R, T) the mean reference prediction over the tiles of the ``wanted`` regions (other
    rows are left zero)."""
    tile, region = regions.tiles(wanted)
    total = np.zeros((len(regions.n_tiles), len(model.targets)), dtype=np.float64)
    for i in range(0, len(tile), batch_size):
        sl = slice(i, i + batch_size)
        contig = regions.contig[region[sl]]
        codes = genome.fetch_batch(contig, regions.window[tile[sl]], model.input_length)
        np.add.at(total, region[sl], predict_codes(model, codes, rc))
    return (total / regions.n_tiles[:, None]).astype(np.float32)


def check_request(rc: RC, ref_mismatch: str, batch_size: int, method: str = "auto") -> None:
    if method not in ("auto", "plain"):
        raise VariantError(f"method must be 'auto' or 'plain', got {method!r}")
    if rc not in (False, True, "mean", "max"):
        raise VariantError(f"rc must be true, false, 'mean' or 'max', got {rc!r}")
    if ref_mismatch not in ("error", "warn", "skip"):
        raise VariantError(f"ref_mismatch must be 'error', 'warn' or 'skip', got {ref_mismatch!r}")
    if int(batch_size) <= 0:
        raise VariantError(f"batch_size must be positive, got {batch_size}")


# ----------------------------------------------------------------------------- checks
def _check_contigs(table: pd.DataFrame, genome: Genome) -> None:
    """Every variant on a contig of the genome, its REF inside the contig."""
    source = table.attrs.get("source", "variants")
    size = table["chrom"].map(genome.sizes)
    unknown = size.isna().to_numpy()
    if unknown.any():
        i = int(np.argmax(unknown))
        n_rows = int(unknown.sum())
        raise VariantError(
            f"{source}:{table[LINE].iloc[i]}: {genome.unknown_contig_message(table.chrom.iloc[i])}"
            f" ({n_rows} variant(s) on contigs not in the FASTA: check the genome build or the "
            "contig names, e.g. 'chr1' vs '1')"
        )
    end = table["pos"].to_numpy() - 1 + table["ref"].str.len().to_numpy()
    past = end > size.to_numpy(np.int64)
    if past.any():
        i = int(np.argmax(past))
        row = table.iloc[i]
        raise VariantError(
            f"{source}:{row[LINE]}: POS {row.pos} (REF {row.ref}, ending at {end[i]}) is past "
            f"the end of {row.chrom} ({genome.sizes[row.chrom]} bp): is the VCF for this genome?"
        )


def ref_mismatches(table: pd.DataFrame, genome: Genome) -> np.ndarray:
    """(n,) bool: the variants whose REF differs from the FASTA's bases (case aside).

    Args:
        table: variants (chrom, pos, ref) that lie inside their contigs.
        genome: the genome.
    """
    fasta, starts = _fasta_refs(table, genome)
    if not len(fasta):
        return np.zeros(len(table), dtype=bool)
    vcf = BYTE_TO_CODE[np.frombuffer("".join(table["ref"]).encode("ascii"), dtype=np.uint8)]
    return np.add.reduceat((fasta != vcf).astype(np.int64), starts) > 0


def _fasta_refs(table: pd.DataFrame, genome: Genome) -> tuple[np.ndarray, np.ndarray]:
    """The FASTA's codes under every REF, end to end (sum of REF lengths,), and where each
    variant's bases start in that array (n,)."""
    lengths = table["ref"].str.len().to_numpy(np.int64)
    starts = np.cumsum(lengths) - lengths
    # genome position of every REF base: a ragged arange, one run per variant; one batched
    # fetch of 1-bp windows for all of them (no pass per contig)
    flat = np.repeat(table["pos"].to_numpy(np.int64) - 1 - starts, lengths)
    flat += np.arange(int(lengths.sum()), dtype=np.int64)
    contig = np.repeat(contig_indices(table["chrom"], genome.names), lengths)
    return genome.fetch_batch(contig, flat, 1)[:, 0], starts


def _apply_ref_policy(
    table: pd.DataFrame, genome: Genome, mismatch: np.ndarray, policy: RefMismatch
) -> pd.DataFrame:
    """Raise, drop or keep the REF mismatches; ``skip`` and ``warn`` warn with the count."""
    if not mismatch.any():
        return table
    source = table.attrs.get("source", "variants")
    i = int(np.argmax(mismatch))
    row = table.iloc[i]
    start = row.pos - 1
    fasta = genome.fetch(row.chrom, start, start + len(row.ref))
    first = (
        f"{source}:{row[LINE]}: REF {row.ref} at {row.chrom}:{row.pos} but the FASTA "
        f"{genome.path.name} has {fasta}"
    )
    n = int(mismatch.sum())
    if policy == "error":
        raise VariantError(
            f"{first} ({n} of {len(table)} variant(s) differ): is the VCF for this genome "
            "build? Pass ref_mismatch=skip to drop them or ref_mismatch=warn to keep them"
        )
    action = "dropped" if policy == "skip" else "kept (scored on the FASTA's bases)"
    warnings.warn(
        f"{n} of {len(table)} variant(s) have a REF that differs from the FASTA, {action}; "
        f"first: {first}",
        stacklevel=3,
    )
    if policy == "skip":
        kept = table[~mismatch].reset_index(drop=True)
        kept.attrs = dict(table.attrs)
        return kept
    return table


# ----------------------------------------------------------------------------- windows
def variant_windows(
    genome: Genome, variants: pd.DataFrame, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """The reference and alternative windows of variants, as uint8 codes.

    With ``h = length // 2``, ``p = pos - 1`` (REF's 0-based start), ``r = len(REF)`` and
    ``a = len(ALT)``, each allele's middle base (the right one of an even-length allele) sits
    at index ``h``:

    - ref window = genome ``[p + r//2 - h, p + r//2 - h + length)``;
    - alt window = the alt haplotype (genome before ``p``, then ALT, then genome from
      ``p + r`` on) read the same way: ``h - a//2`` bases before ``p``, ALT, then
      ``length - (h - a//2) - a`` bases from ``p + r``; an ALT longer than ``length`` is cut
      to its middle ``length`` bases.

    For an SNV both windows are genome ``[p - h, p - h + length)`` and differ only at ``h``.
    Bases past a contig end are N, so variants near the ends get full-length windows too.

    Args:
        genome: the genome.
        variants: (B rows) chrom, pos (1-based), ref, alt (one DNA allele each).
        length: the window length L.

    Returns:
        ref, alt: (B, L) uint8 codes each.
    """
    p = variants["pos"].to_numpy(np.int64) - 1
    r = variants["ref"].str.len().to_numpy(np.int64)
    a = variants["alt"].str.len().to_numpy(np.int64)
    start = centred_start(p, p + r, length)  # REF's window
    ref = genome.fetch_codes(variants["chrom"].to_numpy(), start, start + length)
    # ALT's window starts as far before ALT as REF's is centred on REF
    return ref, alt_windows(genome, variants, length, centred_start(0, a, length))


def alt_windows(
    genome: Genome, variants: pd.DataFrame, length: int, first: np.ndarray
) -> np.ndarray:
    """(B, L) uint8 codes: windows of the alt haplotypes (genome before ``p``, then ALT, then
    genome from ``p + len(REF)`` on), starting ``first`` bases from ALT's first base
    (``first <= 0``: ``-first`` bases of the left flank come first).

    Args:
        genome: the genome.
        variants: (B rows) chrom, pos (1-based), ref, alt (one DNA allele each).
        length: the window length L.
        first: (B,) int64 offsets.
    """
    chrom = variants["chrom"].to_numpy()
    p = variants["pos"].to_numpy(np.int64) - 1
    r = variants["ref"].str.len().to_numpy(np.int64)
    a = variants["alt"].str.len().to_numpy(np.int64)
    left = genome.fetch_codes(chrom, p - length, p)  # (B, L): the bases before the allele
    right = genome.fetch_codes(chrom, p + r, p + r + length)  # (B, L): the bases after REF
    width = max(int(a.max(initial=1)), 1)
    alleles = BYTE_TO_CODE[  # (B, width) codes; the padding past each allele is never read
        np.array(variants["alt"].tolist(), dtype=f"S{width}").view(np.uint8).reshape(-1, width)
    ]
    # the alt haplotype around each variant, (B, L + width + L): left | ALT (padded) | right
    haplotype = np.concatenate([left, alleles, right], axis=1)
    k = np.asarray(first, dtype=np.int64)[:, None] + np.arange(length)  # (B, L) from ALT's start
    index = k + length  # left flank (k < 0) and ALT (0 <= k < a) ...
    index += (k >= a[:, None]) * (width - a)[:, None]  # ... and the right flank after ALT
    return np.take_along_axis(haplotype, index, axis=1)


def decode_windows(codes: np.ndarray) -> list[str]:
    """(B, L) codes -> B strings (to look at or test windows)."""
    return [row.tobytes().decode("ascii") for row in CODE_TO_BYTE[codes]]


# ----------------------------------------------------------------------------- predictions
def _predict(
    model: PretrainedModel,
    genome: Genome,
    table: pd.DataFrame,
    rc: RC,
    batch_size: int,
    advance: Callable[[int], None],
    plan: Plan | None = None,
    first: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, T) predictions for the ref and the alt windows, a batch of variants at a time.

    ``first``: (n,) each variant's window start (region-anchored), None for centred windows.
    With a fast-ISM ``plan`` SNVs share reference passes (:mod:`variant_sharing`); other
    variants get full passes of both windows.
    """
    n, n_targets = len(table), len(model.targets)
    ref = np.empty((n, n_targets), dtype=np.float32)
    alt = np.empty((n, n_targets), dtype=np.float32)
    length = model.input_length
    p = table["pos"].to_numpy(np.int64) - 1
    start, alt_first = _window_starts(table, length, first)
    snv = np.zeros(n, dtype=bool) if plan is None else _snvs(table)
    for i in range(0, n, batch_size):
        rows = slice(i, i + batch_size)
        done = np.flatnonzero(snv[rows]) + i
        if len(done):
            chunk = table.iloc[done]
            codes, sites = shared_windows(genome, chunk["chrom"].to_numpy(), start[done], length)
            ref[done], alt[done] = window_snv_predictions(
                model, plan, codes, sites, p[done] - start[done], snv_codes(chunk["alt"]), rc
            )
        full = np.flatnonzero(~snv[rows]) + i
        if len(full):
            chunk, s = table.iloc[full], start[full]
            ref_codes = genome.fetch_codes(chunk["chrom"].to_numpy(), s, s + length)
            alt_codes = alt_windows(genome, chunk, length, alt_first[full])
            # one forward pass for both alleles: (2B, L) -> (2B, T)
            y = predict_codes(model, np.concatenate([ref_codes, alt_codes]), rc)
            ref[full], alt[full] = np.split(y, 2)
        advance(min(batch_size, n - i))
    return ref, alt


def _window_starts(
    table: pd.DataFrame, length: int, first: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(n,) each variant's REF window start and its ALT window's first base relative to
    ALT's start (see :func:`alt_windows`)."""
    p = table["pos"].to_numpy(np.int64) - 1
    if first is None:  # centred on each allele (see variant_windows)
        start = centred_start(p, p + table["ref"].str.len().to_numpy(np.int64), length)
        return start, centred_start(0, table["alt"].str.len().to_numpy(np.int64), length)
    return first, first - p  # one window for both alleles, ALT written over REF's place


def _snvs(table: pd.DataFrame) -> np.ndarray:
    return ((table["ref"].str.len() == 1) & (table["alt"].str.len() == 1)).to_numpy()


def _background(
    model: PretrainedModel,
    genome: Genome,
    table: pd.DataFrame,
    effect: np.ndarray,
    scoring: _Scoring,
    first: np.ndarray | None,
    rc: RC,
    batch_size: int,
) -> np.ndarray:
    """(n, T) each SNV's effect quantile among ``scoring.background`` shuffled-context SNVs
    (:func:`~seqnn.inference.variant_sharing.background_quantiles`); NaN for other
    variants."""
    n_background, length = scoring.background, model.input_length
    out = np.full(effect.shape, np.nan, dtype=np.float32)
    snv = np.flatnonzero(_snvs(table))
    p = table["pos"].to_numpy(np.int64) - 1
    start = _window_starts(table, length, first)[0]
    contig = contig_indices(table["chrom"], genome.names)
    # one seed per variant and window: the same quantiles whatever the chunks and batches
    seeds = (scoring.seed * 1_000_003 + contig * 7_919 + p * 31 + start) % (2**31 - 1)
    step = max(1, batch_size // n_background)  # about batch_size shuffled windows a pass
    for i in range(0, len(snv), step):
        rows = snv[i : i + step]
        chunk = table.iloc[rows]
        codes = genome.fetch_codes(chunk["chrom"].to_numpy(), start[rows], start[rows] + length)
        out[rows] = background_quantiles(
            model, scoring.plan, codes, p[rows] - start[rows], snv_codes(chunk["alt"]),
            effect[rows], n_background, seeds[rows], rc,
        )  # fmt: skip
    return out


def effect_table(
    variants: pd.DataFrame,
    ref: np.ndarray,
    alt: np.ndarray,
    targets: list[str],
    output_transform: str,
) -> pd.DataFrame:
    """The variants' columns, then ``t_ref``, ``t_alt``, ``t_diff`` and ``t_log_odds`` /
    ``t_log2fc`` for each target ``t`` (see :func:`variant_effects`).

    Args:
        variants: (n rows) chrom, pos, id, ref, alt.
        ref, alt: (n, T) predictions.
        targets: T target names.
        output_transform: the model's output transform (decides the log-ratio column).
    """
    columns: dict[str, np.ndarray] = {}
    ref64, alt64 = ref.astype(np.float64), alt.astype(np.float64)
    for j, name in enumerate(targets):
        columns[f"{name}_ref"], columns[f"{name}_alt"] = ref[:, j], alt[:, j]
        columns[f"{name}_diff"] = alt[:, j] - ref[:, j]
        if output_transform in PROBABILITY_OUTPUTS:
            columns[f"{name}_log_odds"] = _logit(alt64[:, j]) - _logit(ref64[:, j])
        elif output_transform == "exp":
            tiny = np.finfo(np.float32).tiny  # an underflowed rate is not -inf
            columns[f"{name}_log2fc"] = np.log2(np.maximum(alt64[:, j], tiny)) - np.log2(
                np.maximum(ref64[:, j], tiny)
            )
        elif output_transform == "expm1":  # counts: a pseudocount of 1, as the head learns
            columns[f"{name}_log2fc"] = np.log2(1 + alt64[:, j]) - np.log2(1 + ref64[:, j])
    base = variants[VARIANT_COLUMNS].reset_index(drop=True)
    return pd.concat([base, pd.DataFrame(columns)], axis=1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)
