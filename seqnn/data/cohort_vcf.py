"""A cohort VCF as numpy arrays: the variants and genotypes of many people near given regions.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; the
haplotypes built from these arrays (:mod:`seqnn.data.haplotypes`) are uint8 codes (n, L) in
the genome's code alphabet (A0 C1 G2 T3 N4).

:class:`Cohort` opens a multi-sample, bgzipped and indexed VCF (``.vcf.gz`` + ``.tbi`` /
``.csi``) or BCF (+ ``.csi``) with cyvcf2, the htslib binding: measured on a 1,000-sample VCF
it reads genotypes as one (n_samples, 3) array per record (``genotype.array()``), where pysam
hands out one Python object per sample and record (see the commit that chose it). Reading is
the one loop per VCF record the binding gives; everything per sample is numpy.

:meth:`Cohort.load` reads the records near a table of regions once and returns a
:class:`VariantBlock`: positions, REF lengths, the alleles (REF then each ALT) as codes, and
genotypes as int8 (n_variants, n_samples, 2), -1 for a missing allele. The rules:

- **FILTER**: ``filters="pass"`` keeps records whose FILTER is ``PASS`` or ``.`` (no filter
  applied); ``"all"`` keeps every record.
- **multi-allelic sites**: the GT index picks the allele (0 REF, 1 the first ALT, ...).
- **symbolic alleles** (``<DEL>``, ``*``, breakends, ``.``): left out of the haplotypes (a
  genotype carrying one reads as REF there), counted in one warning.
- **missing genotypes** (``./.``, ``.|1``): ``missing="ref"`` reads the missing allele as REF,
  ``"N"`` writes N over REF's bases, ``"skip"`` reads REF but marks the (sample, region) as
  not fully called (:meth:`VariantBlock.called`): datasets and predictions leave it out.
- **unphased genotypes**: a heterozygous GT written ``0/1`` cannot be put on a haplotype:
  ``unphased="error"`` refuses it (naming the record and the sample), ``"as_phased"`` reads
  ``0/1`` as ``0|1``. Homozygous genotypes are the same phased or not.
- **ploidy**: diploid GTs; a haploid GT (``1``, e.g. chrY, chrM or a male's chrX) gives both
  haplotypes its allele; any other ploidy is an error.
- **REF**: must match the FASTA; ``ref_mismatch`` is the policy of
  :func:`seqnn.inference.variants.variant_effects`: ``"error"``, ``"warn"`` (keep, with one
  warning) or ``"skip"`` (drop, with one warning).

Records are read for each region's window and a margin around it that grows until it holds
more reference bases than all the records in it could delete, so a haplotype window is exact
whatever its deletions.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from seqnn.data.encoding import BYTE_TO_CODE, INVALID
from seqnn.data.genome import _BGZF_EOF, Genome, suggest_contig
from seqnn.data.haplotypes import all_items, haplotype_windows
from seqnn.data.intervals import centred_start, checked_intervals, read_intervals
from seqnn.errors import SeqnnInputError

Missing = Literal["ref", "N", "skip"]
Filters = Literal["pass", "all"]
Unphased = Literal["error", "as_phased"]
RefMismatch = Literal["error", "warn", "skip"]
_POLICIES = {
    "missing": ("ref", "N", "skip"),
    "filters": ("pass", "all"),
    "unphased": ("error", "as_phased"),
    "ref_mismatch": ("error", "warn", "skip"),
}
_KEY = np.int64(1) << 40  # contig index * _KEY + position: one sortable key per base
_CHUNK = 4096  # records whose genotypes are checked and packed at once


class CohortError(SeqnnInputError):
    """A cohort VCF that cannot be read, or a request it cannot meet (names file and record)."""


# ----------------------------------------------------------------------------- file checks
def check_vcf_file(path: Path) -> None:
    """Refuse a missing, plain-text, plain-gzip, truncated or unindexed VCF/BCF, saying how
    to make the file and index that :class:`Cohort` needs."""
    if not path.is_file():
        raise CohortError(f"{path}: no such VCF/BCF file (check the path)")
    with open(path, "rb") as fh:
        head = fh.read(18)
        fh.seek(max(path.stat().st_size - len(_BGZF_EOF), 0))
        tail = fh.read()
    if head[:2] != b"\x1f\x8b":
        raise CohortError(
            f"{path}: not bgzip-compressed: a cohort VCF is read by region through its "
            f"index: `bgzip {path.name} && tabix -p vcf {path.name}.gz` (or "
            f"`bcftools view -Oz -W {path.name} -o {path.stem}.vcf.gz`)"
        )
    if head[12:14] != b"BC":  # BGZF's extra field; plain gzip has none
        raise CohortError(
            f"{path}: plain gzip, not bgzip: the index needs BGZF blocks: recompress it with "
            f"`zcat {path.name} | bgzip > {path.stem}.bgz.gz && tabix -p vcf {path.stem}.bgz.gz`"
        )
    if tail != _BGZF_EOF:
        raise CohortError(
            f"{path}: the bgzip file is truncated (it lacks bgzip's end-of-file block): was "
            "its download or compression cut short? Fetch or write it again"
        )
    bcf = path.name.lower().endswith(".bcf")
    indexes = [Path(f"{path}.csi")] + ([] if bcf else [Path(f"{path}.tbi")])
    if not any(index.is_file() for index in indexes):
        how = f"`bcftools index {path.name}`" + ("" if bcf else f" or `tabix -p vcf {path.name}`")
        raise CohortError(f"{path}: no index ({path.name}.tbi or .csi) beside it: make one: {how}")


def _check_policy(**given: str) -> None:
    for name, value in given.items():
        if value not in _POLICIES[name]:
            options = " | ".join(_POLICIES[name])
            raise CohortError(f"{name}={value!r}: give {name}={options}")


# ----------------------------------------------------------------------------- arrays
@dataclass
class VariantBlock:
    """The variants of a cohort near a set of regions, as arrays.

    Variants are sorted by (contig, position). Alleles are numbered per record: allele
    ``allele0[v] + g`` is record ``v``'s allele of GT index ``g`` (0 = REF); its codes are
    ``allele_codes[allele_start[a] : allele_start[a] + allele_len[a]]``, and
    ``allele_len[a] == -1`` marks a symbolic allele (read as REF).

    Per region ``r`` (the rows of the regions table): the genome contig ``region_contig``, the
    anchor ``region_anchor`` (the reference base at the window's index ``L // 2``), the
    reference span ``[span_lo, span_hi)`` read for it and the variants ``[v_lo, v_hi)`` that
    may touch it.
    """

    samples: list[str]
    contig: np.ndarray  # (n_var,) int64 genome contig indices
    pos: np.ndarray  # (n_var,) int64, 0-based
    rlen: np.ndarray  # (n_var,) int64 REF lengths
    allele0: np.ndarray  # (n_var,) int64
    gt: np.ndarray  # (n_var, n_samples, 2) int8, -1 missing
    allele_start: np.ndarray  # (n_alleles,) int64
    allele_len: np.ndarray  # (n_alleles,) int64, -1 symbolic
    allele_codes: np.ndarray  # (sum of allele lengths,) uint8
    alleles: np.ndarray  # (n_alleles,) object: the allele strings, for reports
    region_contig: np.ndarray  # (n_regions,) int64
    region_anchor: np.ndarray  # (n_regions,) int64
    span_lo: np.ndarray  # (n_regions,) int64
    span_hi: np.ndarray  # (n_regions,) int64
    v_lo: np.ndarray  # (n_regions,) int64
    v_hi: np.ndarray  # (n_regions,) int64
    seq_len: int

    @property
    def n_regions(self) -> int:
        return len(self.region_anchor)

    def called(self) -> np.ndarray:
        """(n_regions, n_samples) bool: no allele of the sample is missing (``.``) at the
        records whose REF overlaps the region's reference window: those that start in it,
        and those that start before it and reach into it (a deletion across its left edge)."""
        regions = np.arange(self.n_regions)
        missing = self.gt.min(axis=2) < 0  # (n_var, n_samples)
        lo, hi = self._window_ranges(regions, starting=True)
        out = np.ones((self.n_regions, len(self.samples)), dtype=bool)
        some = hi > lo
        if some.any():
            padded = np.concatenate([missing, np.zeros((1, missing.shape[1]), dtype=bool)])
            # one reduceat over the runs [lo, hi) of every region (interleaved with their ends)
            bounds = np.stack([lo[some], hi[some]], axis=1).ravel()
            out[some] = ~np.logical_or.reduceat(padded, bounds, axis=0)[::2]
        # the records that start before the window (within the longest REF): few reach in
        wide, _ = self._window_ranges(regions)
        v = ragged_index(wide, lo - wide)
        region = np.repeat(regions, lo - wide)
        window_start = self.region_anchor - self.seq_len // 2
        reach = self.pos[v] + self.rlen[v] > window_start[region]
        before = np.zeros_like(out)
        np.logical_or.at(before, region[reach], missing[v[reach]])
        return out & ~before

    def _window_ranges(
        self, regions: np.ndarray, starting: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Index ranges of the variants that may overlap (``starting``: that start in) each
        region's reference window ``[anchor - L//2, anchor - L//2 + L)``."""
        ws = self.region_anchor[regions] - self.seq_len // 2
        key = self.contig * _KEY + self.pos
        base = self.region_contig[regions] * _KEY
        before = 0 if starting else int(self.rlen.max(initial=1))
        lo = np.searchsorted(key, base + ws - before, side="left")
        hi = np.searchsorted(key, base + ws + self.seq_len, side="left")
        return lo, np.maximum(hi, lo)

    def window_variants(self, region: int) -> np.ndarray:
        """Indices of the variants whose REF overlaps region ``region``'s reference window."""
        lo, hi = self._window_ranges(np.array([region]))
        v = np.arange(lo[0], hi[0])
        ws = self.region_anchor[region] - self.seq_len // 2
        return v[self.pos[v] + self.rlen[v] > ws]

    def describe(self, v: np.ndarray, names: list[str]) -> list[str]:
        """``chr1:1234 A>G`` (1-based POS, every ALT) for each variant index in ``v``."""
        n_alt = np.diff(np.append(self.allele0, len(self.allele_start)))
        return [
            f"{names[self.contig[i]]}:{self.pos[i] + 1} {self.alleles[self.allele0[i]]}>"
            + ",".join(self.alleles[self.allele0[i] + 1 : self.allele0[i] + n_alt[i]])
            for i in v
        ]


# ----------------------------------------------------------------------------- cohort
class Cohort:
    """A reference genome and a multi-sample VCF: each person's variants near regions.

    Args:
        fasta: the reference FASTA (path or :class:`~seqnn.data.genome.Genome`); the VCF's
            contigs must be named as in it.
        vcf: a bgzipped, indexed VCF (``.vcf.gz`` + ``.tbi``/``.csi``) or BCF (+ ``.csi``).
        samples: the samples to read (default: all, in the VCF's order).
        missing: a missing allele (``.``): ``"ref"``, ``"N"`` or ``"skip"`` (see the module
            docstring).
        filters: ``"pass"`` (FILTER PASS or ``.``) or ``"all"`` records.
        unphased: a heterozygous unphased GT: ``"error"`` or ``"as_phased"``.
        ref_mismatch: a REF differing from the FASTA: ``"error"``, ``"warn"`` or ``"skip"``.

    Raises:
        CohortError: naming the file (and record) for a missing, unindexed, plain-gzip or
            truncated VCF, a sample not in it, or a bad policy.

    Example:
        >>> cohort = Cohort("hg38.fa", "cohort.vcf.gz", samples=["HG00096", "HG00097"])
        >>> codes, ref_pos = cohort.haplotypes("promoters.bed", seq_len=1000)
    """

    def __init__(
        self,
        fasta: Genome | str | Path,
        vcf: str | Path,
        samples: list[str] | None = None,
        missing: Missing = "ref",
        filters: Filters = "pass",
        unphased: Unphased = "error",
        ref_mismatch: RefMismatch = "error",
    ) -> None:
        _check_policy(
            missing=missing, filters=filters, unphased=unphased, ref_mismatch=ref_mismatch
        )
        self.genome = fasta if isinstance(fasta, Genome) else Genome(fasta)
        self.path = Path(vcf).expanduser().absolute()
        check_vcf_file(self.path)
        self.missing, self.filters = missing, filters
        self.unphased, self.ref_mismatch = unphased, ref_mismatch
        header = self._open(None)
        self.all_samples: list[str] = list(header.samples)
        self.contigs: list[str] = list(header.seqnames)
        self.samples: list[str] = self._pick(samples)

    # ------------------------------------------------------------------ the file
    def _open(self, samples: list[str] | None):
        """A fresh cyvcf2 reader of ``samples``' genotypes (None: all): htslib takes the
        sample subset once per open file, and an open reader does not pickle, so each read
        opens its own (a few milliseconds)."""
        import cyvcf2

        try:
            return cyvcf2.VCF(str(self.path), gts012=False, lazy=True, samples=samples)
        except Exception as err:  # htslib's errors come as OSError, or plain Exception
            raise CohortError(
                f"{self.path}: htslib cannot open it as VCF/BCF ({err}): is it a VCF, and "
                "whole? (a corrupt or truncated file reads so too)"
            ) from None

    def _pick(self, samples: list[str] | None) -> list[str]:
        """The samples asked for, checked against the VCF's header."""
        if samples is None or samples == "all":
            return list(self.all_samples)
        samples = [samples] if isinstance(samples, str) else [str(s) for s in samples]
        if not samples:
            raise CohortError(f"samples=[]: give at least one sample of {self.path.name}, or all")
        known = set(self.all_samples)
        unknown = [s for s in samples if s not in known]
        if unknown:
            import difflib

            near = difflib.get_close_matches(unknown[0], self.all_samples, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            shown = ", ".join(self.all_samples[:5]) + (", ..." if len(known) > 5 else "")
            raise CohortError(
                f"{self.path.name}: sample {unknown[0]!r} is not in the VCF{hint} "
                f"({len(unknown)} unknown of {len(samples)}); its {len(known)} samples are "
                f"{shown}: fix the sample list (`bcftools query -l {self.path.name}`)"
            )
        if len(set(samples)) != len(samples):
            raise CohortError(f"samples: {samples} names a sample twice: give each once")
        return samples

    def sample_index(self, samples: list[str] | str | None) -> np.ndarray:
        """(n,) int64: positions in :attr:`samples` of ``samples`` (None / "all": all)."""
        if samples is None or samples == "all":
            return np.arange(len(self.samples), dtype=np.int64)
        picked = self._pick(samples)
        where = {s: i for i, s in enumerate(self.samples)}
        missing = [s for s in picked if s not in where]
        if missing:
            raise CohortError(
                f"sample {missing[0]!r} is in {self.path.name} but not among the samples "
                "this Cohort was opened with: open it with samples=None (all) or add it"
            )
        return np.array([where[s] for s in picked], dtype=np.int64)

    # ------------------------------------------------------------------ loading
    def regions(self, regions: pd.DataFrame | str | Path) -> tuple[pd.DataFrame, np.ndarray]:
        """A regions table (BED/TSV path or DataFrame: chrom, start, end[, name]) checked
        against the genome, and its contig indices."""
        frame = regions if isinstance(regions, pd.DataFrame) else read_intervals(regions)
        frame, contig = checked_intervals(frame.reset_index(drop=True), self.genome)
        self._check_contig_names(frame["chrom"].unique().tolist())
        return frame, contig

    def _check_contig_names(self, chroms: list[str]) -> None:
        """Regions on a contig the VCF names otherwise (``1`` for ``chr1``) are an error
        suggesting the rename; contigs the VCF lacks altogether have no variants (warned)."""
        names = set(self.contigs)
        absent = []
        for chrom in (c for c in chroms if c not in names):  # the regions' contigs, not rows
            near = suggest_contig(chrom, self.contigs) or ""
            if near.lower().removeprefix("chr") == chrom.lower().removeprefix("chr"):
                raise CohortError(
                    f"{self.path.name}: names its contigs {near!r} where the FASTA "
                    f"{self.genome.path.name} has {chrom!r}: rename the VCF's contigs to the "
                    f"FASTA's (`bcftools annotate --rename-chrs chr_names.txt`, a file of "
                    f"'{near}\\t{chrom}' lines), or use a FASTA with the VCF's names"
                )
            absent.append(chrom)
        if absent:
            warnings.warn(
                f"{self.path.name}: no contig {absent[0]!r} in the VCF ({len(absent)} of the "
                f"regions' contigs): the windows there are the reference for everyone",
                stacklevel=3,
            )

    def load(
        self,
        regions: pd.DataFrame | str | Path,
        seq_len: int,
        samples: list[str] | str | None = None,
        contig: np.ndarray | None = None,
    ) -> VariantBlock:
        """Read the variants of ``samples`` near every region (one pass over each merged span).

        Args:
            regions: a BED/TSV path or DataFrame (chrom, start, end): each window of
                ``seq_len`` is centred on its region (:func:`~seqnn.data.intervals.centred_start`).
            seq_len: the window length L.
            samples: a subset of :attr:`samples` (default: all of them).
            contig: the regions' contig indices when ``regions`` is a table that
                :meth:`regions` has checked already (it is not checked again).

        Returns:
            The :class:`VariantBlock` (genotypes for ``samples``, in that order).
        """
        if int(seq_len) <= 0:
            raise CohortError(f"seq_len={seq_len}: give the model's input length (bp), > 0")
        frame, contig = self.regions(regions) if contig is None else (regions, contig)
        picked = self.sample_index(samples)
        c = centred_start(frame["start"].to_numpy(np.int64), frame["end"].to_numpy(np.int64), 0)
        margin = np.full(len(frame), seq_len // 2 + 64, dtype=np.int64)
        while True:  # rounds, not regions: grows the margins where deletions could use them up
            lo, hi = c - seq_len // 2 - margin, c - seq_len // 2 + seq_len + margin
            block = self._read(contig, lo, hi, picked, int(seq_len), c)
            deleted = _deletable(block)
            short = deleted > margin
            if not short.any():
                return block
            margin = np.where(short, 2 * deleted + 64, margin)

    def _read(
        self,
        contig: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        picked: np.ndarray,
        seq_len: int,
        anchor: np.ndarray,
    ) -> VariantBlock:
        """Records overlapping the spans ``[lo, hi)`` of each region, as a block."""
        spans = _merge_spans(contig, lo, hi)
        raw = _Records(self)
        names = self.genome.names
        known = set(self.contigs)
        vcf = self._open(self._set_samples(picked))
        with _htslib_errors() as errors:
            for k, s, e, prev_end in spans:  # one htslib query per merged span
                if names[k] not in known:
                    continue
                where = f"{names[k]}:{max(s, 0) + 1}-{max(e, 1)}"
                raw.read(vcf, where, k, prev_end, self.path, self._file_names)
        if errors:  # cyvcf2 ends a query quietly at a read error: the records after are lost
            raise CohortError(
                f"{self.path.name}: htslib cannot read the records after "
                f"{raw.last or 'the header'} ({errors[0].strip()}): the file is corrupt or "
                f"truncated (`bgzip -t {self.path.name}` tests it); fetch or write it again"
            )
        arrays = raw.finish(len(picked))
        return _block(arrays, [self.samples[i] for i in picked], contig, lo, hi, anchor, seq_len)

    def _set_samples(self, picked: np.ndarray) -> list[str]:
        """The names of the samples ``picked``; keeps how to reorder their genotypes."""
        names = [self.samples[i] for i in picked]
        # htslib keeps the file's order: put the genotypes in the order asked for
        order = {s: i for i, s in enumerate(self.all_samples)}
        position = [order[s] for s in names]
        self._order = np.argsort(np.argsort(position))
        self._file_names = [names[i] for i in np.argsort(position)]
        return names

    def haplotypes(
        self,
        regions: pd.DataFrame | str | Path,
        samples: list[str] | str | None = None,
        seq_len: int = 1000,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every (region, sample, haplotype)'s window, built from the reference and the
        sample's alleles (:func:`~seqnn.data.haplotypes.haplotype_windows` states the rule).

        Args:
            regions: a BED/TSV path or DataFrame (chrom, start, end).
            samples: a subset of :attr:`samples` (default all).
            seq_len: the window length L.

        Returns:
            codes: (n_regions * n_samples * 2, L) uint8, rows ordered region, then sample,
                then haplotype (0, 1); ref_pos: (same shape) int64, each base's 0-based
                reference position, -1 for inserted bases.
        """
        block = self.load(regions, seq_len, samples)
        region, sample, hap = all_items(block.n_regions, len(block.samples), 2)
        return haplotype_windows(self.genome, block, region, sample, hap, self.missing)


# ----------------------------------------------------------------------------- reading
@contextlib.contextmanager
def _htslib_errors() -> Iterator[list[str]]:
    """Collect htslib's error lines (``[E::...]``, written to file descriptor 2) while the
    block runs: cyvcf2 ends an iteration quietly when htslib fails to read a block, so this
    is how a corrupt file is told from one without more records. Other lines written there
    meanwhile are passed on to stderr afterwards; cyvcf2's 'no intervals found' (a contig
    without records) is dropped."""
    errors: list[str] = []
    sys.stderr.flush()
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            yield errors
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines()
            errors += [line for line in lines if line.startswith("[E::")]
            rest = [x for x in lines if not x.startswith(("[E::", "no intervals found"))]
            if rest:
                sys.stderr.write("\n".join(rest) + "\n")


def ragged_index(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indices ``starts[i] .. starts[i] + lengths[i] - 1`` of every run, end to end."""
    lengths = np.asarray(lengths, dtype=np.int64)
    first = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, dtype=np.int64) - first, lengths) + np.arange(
        int(lengths.sum()), dtype=np.int64
    )


def _merge_spans(contig: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[tuple[int, ...]]:
    """The regions' spans merged where they overlap, sorted: (contig, start, end, end of the
    previous merged span on that contig or -1) each, so that a record reaching into two spans
    is kept once."""
    if not len(contig):
        return []
    order = np.lexsort((lo, contig))
    k, s, e = contig[order], lo[order], hi[order]
    # running end within each contig: a new span starts where a start passes it
    new = np.ones(len(k), dtype=bool)
    reach = _running_max_per_group(e, k)
    new[1:] = (k[1:] != k[:-1]) | (s[1:] >= reach[:-1])
    first = np.flatnonzero(new)
    last = np.r_[first[1:], len(k)] - 1
    ends = reach[last]
    prev = np.where(np.r_[False, k[first][1:] == k[first][:-1]], np.r_[-1, ends[:-1]], -1)
    return list(
        zip(k[first].tolist(), s[first].tolist(), ends.tolist(), prev.tolist(), strict=True)
    )


def _running_max_per_group(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Cumulative maximum of ``values`` restarting where ``group`` (sorted) changes."""
    shift = (group - group.min()) * (_KEY * 4)  # each group above every earlier one
    return np.maximum.accumulate(values + shift) - shift


class _Records:
    """The records of the queries, gathered one per record as the binding yields them; the
    genotypes are checked and packed ``_CHUNK`` records at a time, so reading needs about
    twice the final genotype array, not a list of per-record arrays besides it."""

    def __init__(self, cohort: Cohort) -> None:
        self.cohort = cohort
        self.pending: list[np.ndarray] = []  # (n_samples, 3) int8 per record, not yet packed
        self.chunks: list[np.ndarray] = []  # (records, n_samples, 2) int8
        self.packed = 0  # records in chunks
        self.contig: list[int] = []
        self.pos: list[int] = []
        self.alleles: list[list[str]] = []
        self.passed: list[bool] = []
        self.last: str | None = None  # the last record read, for messages

    def read(
        self, vcf, region: str, k: int, prev_end: int, path: Path, samples: list[str]
    ) -> None:
        """Append the records of one query (``samples``: the genotypes' columns, for
        messages)."""
        start = int(region.rsplit(":", 1)[1].split("-")[0]) - 1
        where = region
        try:
            for record in vcf(region):
                pos = record.start
                where = f"{record.CHROM}:{pos + 1}"
                if pos < start and pos < prev_end:  # read with the previous span already
                    continue
                genotype = record.genotype
                if genotype is None:
                    raise CohortError(
                        f"{path.name}: record {where}: no GT field: a cohort VCF needs "
                        "genotypes (FORMAT GT)"
                    )
                self.last = where
                self.contig.append(k)
                self.pos.append(pos)
                self.alleles.append([record.REF, *record.ALT])
                self.passed.append(record.FILTER is None)
                self.pending.append(_diploid(genotype.array(), path, where, samples))
                if len(self.pending) >= _CHUNK:
                    self._pack()
        except CohortError:
            raise
        except Exception as err:  # htslib's read errors: a corrupt or truncated block
            raise CohortError(
                f"{path.name}: cannot read the records after {where} ({type(err).__name__}: "
                f"{err}): the file is corrupt or truncated; fetch or write it again"
            ) from None

    def _pack(self) -> None:
        """Check and pack the pending genotypes into a chunk."""
        if not self.pending:
            return
        gt = np.stack(self.pending)  # (records, n_samples, 3): alleles (-2: haploid), phase
        self.pending = []
        records = {"contig": self.contig, "pos": self.pos, "alleles": self.alleles}
        self.chunks.append(_genotypes(gt, records, self.cohort, self.packed))
        self.packed += len(gt)

    def finish(self, n_samples: int) -> dict:
        """The records as arrays, after the FILTER, ploidy, phasing and REF checks."""
        self._pack()
        cohort = self.cohort
        arrays = {
            "contig": np.asarray(self.contig, dtype=np.int64),
            "pos": np.asarray(self.pos, dtype=np.int64),
            "alleles": self.alleles,
            "gt": (
                np.concatenate(self.chunks)
                if self.chunks
                else np.zeros((0, n_samples, 2), dtype=np.int8)
            ),
        }
        self.chunks = []
        keep = np.asarray(self.passed, dtype=bool) | (cohort.filters == "all")
        return _finish_alleles(arrays, keep, cohort)


def _describe(arrays: dict, cohort: Cohort, v: int) -> str:
    names = cohort.genome.names
    ref, *alt = arrays["alleles"][v]
    return (
        f"{cohort.path.name}: record {names[arrays['contig'][v]]}:{arrays['pos'][v] + 1} "
        f"{ref}>{','.join(alt)}"
    )


def _diploid(gt: np.ndarray, path: Path, where: str, samples: list[str]) -> np.ndarray:
    """One record's cyvcf2 GT array (n_samples, ploidy + 1) (alleles, -1 missing, -2 past a
    sample's ploidy; then the phase) as (n_samples, 3) int8; ploidy above 2 is an error."""
    if gt.shape[1] == 2:  # haploid for everyone: (allele, phase)
        gt = np.stack([gt[:, 0], np.full_like(gt[:, 0], -2), gt[:, 1]], axis=1)
    elif gt.shape[1] > 3:
        more = (gt[:, 2:-1] != -2).any(axis=1)
        s = int(np.argmax(more))
        raise CohortError(
            f"{path.name}: record {where}: sample {samples[s]!r} has ploidy "
            f"{int((gt[s, :-1] != -2).sum())}: diploid (or haploid) genotypes only"
        )
    return gt.astype(np.int8)


def _genotypes(gt: np.ndarray, records: dict, cohort: Cohort, first: int) -> np.ndarray:
    """(n, n_samples, 3) int8 GTs (two alleles, then the phase) of the records ``first ...
    first + n - 1`` -> (n, n_samples, 2) int8 allele indices (-1 missing), haploid copied to
    both; unphased and out-of-range GTs checked."""
    samples = cohort._file_names
    alleles, phased = gt[:, :, :2].copy(), gt[:, :, 2]
    haploid = alleles[:, :, 1] == -2
    alleles[:, :, 1] = np.where(haploid, alleles[:, :, 0], alleles[:, :, 1])
    het = (alleles[:, :, 0] != alleles[:, :, 1]) & (alleles >= 0).all(axis=2)
    unphased = het & (phased == 0) & ~haploid
    if cohort.unphased == "error" and unphased.any():
        v, s = np.argwhere(unphased)[0]
        raise CohortError(
            f"{_describe(records, cohort, first + v)}: sample {samples[s]!r} has an unphased "
            f"heterozygous genotype ({alleles[v, s, 0]}/{alleles[v, s, 1]}; "
            f"{int(unphased.sum())} in this chunk): phase the VCF (e.g. SHAPEIT, Beagle) or pass "
            "unphased=as_phased to read 0/1 as 0|1"
        )
    chunk = records["alleles"][first : first + len(gt)]
    n_alleles = np.asarray([len(a) for a in chunk], dtype=np.int64)
    over = alleles >= n_alleles[:, None, None]
    if over.any():
        v, s, _ = np.argwhere(over)[0]
        raise CohortError(
            f"{_describe(records, cohort, first + v)}: sample {samples[s]!r} has GT allele "
            f"{alleles[v, s].max()} but the record has {n_alleles[v] - 1} ALT allele(s)"
        )
    alleles = np.maximum(alleles, -1).astype(np.int8)  # -2 padding left: none
    return alleles[:, cohort._order] if len(cohort._order) else alleles


_SYMBOLIC = {"<": "symbolic <...>", "*": "'*' (overlapping deletion)", ".": "missing '.'"}


def _allele_kind(allele: str) -> str | None:
    """Why an ALT allele is not a sequence (None: it is one)."""
    if allele[:1] in _SYMBOLIC and (allele[:1] != "." or len(allele) == 1):
        return _SYMBOLIC[allele[:1]]
    if "[" in allele or "]" in allele or (len(allele) > 1 and "." in (allele[0], allele[-1])):
        return "breakend"
    return None


def _finish_alleles(arrays: dict, keep: np.ndarray, cohort: Cohort) -> dict:
    """Drop filtered records, flag symbolic alleles, check the letters and the REFs, and lay
    the alleles out as one code array."""
    n_filtered = int((~keep).sum())
    if n_filtered:
        arrays = _take(arrays, keep)
    flat = [a.upper() for alleles in arrays["alleles"] for a in alleles]
    n_alleles = np.asarray([len(a) for a in arrays["alleles"]], dtype=np.int64)
    allele0 = np.cumsum(n_alleles) - n_alleles
    is_ref = np.zeros(len(flat), dtype=bool)
    is_ref[allele0] = True
    kinds = [None if r else _allele_kind(a) for a, r in zip(flat, is_ref, strict=True)]
    symbolic = np.array([k is not None for k in kinds], dtype=bool)
    lengths = np.array([len(a) for a in flat], dtype=np.int64)
    text = "".join(a for a, sym in zip(flat, symbolic, strict=True) if not sym)
    codes = BYTE_TO_CODE[np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)]
    kept_len = np.where(symbolic, 0, lengths)
    start = np.cumsum(kept_len) - kept_len
    bad = (codes == INVALID) | (codes > 4)  # sequences: A C G T N only
    if bad.any():
        a = int(np.searchsorted(start, np.argmax(bad), side="right") - 1)
        v = int(np.searchsorted(allele0, a, side="right") - 1)
        raise CohortError(
            f"{_describe(arrays, cohort, v)}: allele {flat[a]!r} is not a DNA sequence "
            "(A, C, G, T, N; symbolic alleles such as <DEL> are skipped)"
        )
    if symbolic.any():
        counts = pd.Series([k for k in kinds if k]).value_counts()
        warnings.warn(
            f"{cohort.path.name}: {int(symbolic.sum())} ALT allele(s) are not sequences and "
            f"read as REF ({', '.join(f'{n} {k}' for k, n in counts.items())})",
            stacklevel=5,
        )
    arrays.update(
        allele0=allele0,
        allele_start=start,
        allele_len=np.where(symbolic, -1, lengths),
        allele_codes=codes,
        allele_text=np.asarray(flat, dtype=object),
        rlen=lengths[allele0] if len(allele0) else np.zeros(0, np.int64),
        n_filtered=n_filtered,
    )
    return _ref_policy(arrays, cohort)


def _take(arrays: dict, keep: np.ndarray) -> dict:
    """The records ``keep`` (bool) of the per-record arrays."""
    index = np.flatnonzero(keep)
    return {
        **arrays,
        "contig": arrays["contig"][index],
        "pos": arrays["pos"][index],
        "gt": arrays["gt"][index],
        "alleles": [arrays["alleles"][i] for i in index],
    }


def _ref_policy(arrays: dict, cohort: Cohort) -> dict:
    """Compare every REF with the FASTA (one batched fetch); raise, warn or drop."""
    rlen, allele0 = arrays["rlen"], arrays["allele0"]
    if not len(rlen):
        return arrays
    first = np.cumsum(rlen) - rlen
    flat = np.repeat(arrays["pos"] - first, rlen) + np.arange(int(rlen.sum()))
    contig = np.repeat(arrays["contig"], rlen)
    fasta = cohort.genome.fetch_batch(contig, flat, 1)[:, 0]
    vcf = arrays["allele_codes"][ragged_index(arrays["allele_start"][allele0], rlen)]
    differs = np.add.reduceat((fasta != vcf).astype(np.int64), first) > 0
    if not differs.any():
        return arrays
    v = int(np.argmax(differs))
    p = int(arrays["pos"][v])
    name = cohort.genome.names[arrays["contig"][v]]
    message = (
        f"{_describe(arrays, cohort, v)}: REF differs from the FASTA "
        f"{cohort.genome.path.name}, which has {cohort.genome.fetch(name, p, p + int(rlen[v]))}"
        f" ({int(differs.sum())} of {len(rlen)} record(s) differ)"
    )
    if cohort.ref_mismatch == "error":
        raise CohortError(
            f"{message}: is the VCF for this genome build? Pass ref_mismatch=skip to drop "
            "them or ref_mismatch=warn to keep them"
        )
    action = "dropped" if cohort.ref_mismatch == "skip" else "kept (ALT put over the FASTA)"
    warnings.warn(f"{message}; {action}", stacklevel=5)
    if cohort.ref_mismatch == "skip":  # every genotype reads REF there: the record is gone
        arrays["gt"][differs] = 0
    return arrays


def _block(
    arrays: dict,
    samples: list[str],
    contig: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    anchor: np.ndarray,
    seq_len: int,
) -> VariantBlock:
    """The arrays of the records (sorted by contig and position) and each region's span and
    variant range."""
    order = np.lexsort((arrays["pos"], arrays["contig"]))  # stable: file order at one POS
    n_alleles = np.diff(np.append(arrays["allele0"], len(arrays["allele_len"])))
    # renumber the alleles in the sorted order of their records (one ragged range, not a
    # Python loop over the records: a cohort's block holds millions at hg38 scale)
    allele_index = ragged_index(arrays["allele0"][order], n_alleles[order])
    sorted_n = n_alleles[order]
    key = arrays["contig"][order] * _KEY + arrays["pos"][order]
    longest = int(arrays["rlen"].max(initial=1))
    v_lo = np.searchsorted(key, contig * _KEY + lo - longest, side="left")
    v_hi = np.searchsorted(key, contig * _KEY + hi, side="left")
    return VariantBlock(
        samples=samples,
        contig=arrays["contig"][order],
        pos=arrays["pos"][order],
        rlen=arrays["rlen"][order],
        allele0=np.cumsum(sorted_n) - sorted_n,
        gt=np.ascontiguousarray(arrays["gt"][order]),
        allele_start=arrays["allele_start"][allele_index],
        allele_len=arrays["allele_len"][allele_index],
        allele_codes=arrays["allele_codes"],
        alleles=arrays["allele_text"][allele_index],
        region_contig=np.asarray(contig, dtype=np.int64),
        region_anchor=np.asarray(anchor, dtype=np.int64),
        span_lo=np.asarray(lo, dtype=np.int64),
        span_hi=np.asarray(hi, dtype=np.int64),
        v_lo=v_lo,
        v_hi=np.maximum(v_hi, v_lo),
        seq_len=seq_len,
    )


def _deletable(block: VariantBlock) -> np.ndarray:
    """(n_regions,) int64: at most how many reference bases the records read for each region
    can delete (each record's REF length less its shortest sequence ALT), an upper bound on
    what a haplotype needs beyond the window."""
    n_alt = np.diff(np.append(block.allele0, len(block.allele_len)))
    alt_len = np.where(block.allele_len < 0, np.iinfo(np.int64).max, block.allele_len)
    ref_first = np.zeros(len(alt_len), dtype=bool)
    ref_first[block.allele0] = True
    alt_len = np.where(ref_first, np.iinfo(np.int64).max, alt_len)
    shortest = (
        np.minimum.reduceat(alt_len, block.allele0)
        if len(block.allele0)
        else np.zeros(0, np.int64)
    )
    shortest = np.where(n_alt > 1, shortest, block.rlen)
    loss = np.maximum(block.rlen - np.minimum(shortest, block.rlen), 0)
    total = np.concatenate([[0], np.cumsum(loss)])
    return total[block.v_hi] - total[block.v_lo]
