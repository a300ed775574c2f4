"""Per-person predictions: a model on each person's two haplotypes at each region, against the
reference, streamed to files a block of regions at a time.

Layout: the model sees uint8 codes (N, L) (one-hot (N, 4, L) is made on its device) and
returns (N, T) predictions. The haplotype windows follow the rule of
:mod:`seqnn.data.haplotypes` (centred on the region's reference centre, indels filled from the
haplotype's own flanks); the reference window is the plain genome window of the same centre
(:func:`~seqnn.data.intervals.centred_start`). Example::

    model = seqnn.load_pretrained("ecoli-sigma70")
    rows, summary = seqnn.predict_personal(model, "ref.fa", "cohort.vcf.gz", "promoters.bed")

Outputs, one row per (sample, haplotype, region) and one per (sample, region):

- rows: sample, haplotype (0 / 1), region, chrom, start, end, then per target ``t``:
  ``t_pred`` (the haplotype), ``t_ref`` (the reference window), ``t_diff`` (pred - ref);
- summary: sample, region, chrom, start, end, per target ``t_mean`` (the mean of both
  haplotypes' predictions), ``t_mean_diff`` (that mean - ref) and ``t_max_diff`` (the
  difference of the haplotype whose effect is larger in absolute value, with its sign);
- report (``report=``): for each (sample, region, target) whose ``|t_max_diff|`` reaches
  ``threshold``: the effects and the sample's variants in the window (``chr1:1234 A>G 0|1``).

Memory is flat in the number of samples: a block holds about ``block_items`` haplotype
windows (regions per block = block_items / (2 x samples)), and each file is written to a
temporary file renamed into place at the end (an error leaves none of them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from seqnn.atomic import atomic_open
from seqnn.data.cohort_vcf import Cohort, VariantBlock
from seqnn.data.encoding import reverse_complement_codes
from seqnn.data.genome import Genome
from seqnn.data.haplotypes import all_items, haplotype_windows
from seqnn.data.intervals import strand_flags
from seqnn.data.personal import region_names
from seqnn.errors import SeqnnInputError
from seqnn.inference.predict import RC, check_rc, predict_codes, write_rows
from seqnn.inference.pretrained import PretrainedModel
from seqnn.progress import progress_bar

# the Cohort's VCF policies and their defaults, in its argument order
_POLICIES = {"missing": "ref", "filters": "pass", "unphased": "error", "ref_mismatch": "error"}


class PersonalError(SeqnnInputError):
    """A per-person prediction request that cannot be met (names the setting and the fix)."""


class PersonalPredictions(NamedTuple):
    """What :func:`predict_personal` returns without ``out``: the two tables (and the report,
    empty unless ``threshold`` was given)."""

    rows: pd.DataFrame
    summary: pd.DataFrame
    report: pd.DataFrame


def predict_personal(
    model: PretrainedModel,
    fasta: Genome | str | Path,
    vcf: str | Path | Cohort,
    regions: pd.DataFrame | str | Path,
    samples: Sequence[str] | str | None = "all",
    out: str | Path | None = None,
    batch_size: int = 256,
    rc: RC = False,
    missing: str = "ref",
    filters: str = "pass",
    unphased: str = "error",
    ref_mismatch: str = "error",
    report: str | Path | None = None,
    threshold: float | None = None,
    progress: bool = True,
    block_items: int = 65536,
    use_strand: bool = True,
) -> PersonalPredictions | list[Path]:
    """Predict every person's haplotypes at every region and compare with the reference.

    Args:
        model: a pretrained model; its ``input_length`` is the window length.
        fasta: the reference FASTA (or Genome) the VCF was called against.
        vcf: a bgzipped, indexed cohort VCF/BCF, or an open
            :class:`~seqnn.data.cohort_vcf.Cohort` (whose policies then apply).
        regions: BED/TSV path or DataFrame (chrom, start, end[, name]).
        samples: ``"all"`` / None, or a list of sample names.
        out: the rows' table (TSV; CSV for ``.csv``); the summary goes beside it as
            ``<stem>.summary<suffix>``. None: return the tables instead.
        batch_size: windows per forward pass.
        rc: as in :func:`~seqnn.inference.predict.predict_codes`.
        missing, filters, unphased, ref_mismatch: the Cohort's policies
            (:mod:`seqnn.data.cohort_vcf`); ``missing="skip"`` leaves out the (sample, region)
            pairs with a missing allele in the window.
        report: a TSV (``.md``: a markdown table) of the carriers of a predicted change
            (needs ``threshold``).
        threshold: the ``|t_max_diff|`` a (sample, region, target) must reach to be reported.
        progress: a progress bar on stderr (on a terminal only).
        block_items: about how many haplotype windows a block of regions holds.
        use_strand: reverse-complement the windows (haplotypes and reference) of regions on
            the ``-`` strand, when the regions have a strand column (as
            :func:`~seqnn.inference.predict.predict_regions` does).

    Returns:
        :class:`PersonalPredictions` (rows, summary, report) without ``out``; else the paths
        written (rows, summary[, report]).

    Raises:
        PersonalError: a report without threshold, or a bad batch size.
        CohortError: bad VCF input (see :class:`~seqnn.data.cohort_vcf.Cohort`).
    """
    if report is not None and threshold is None:
        raise PersonalError("report= lists the carriers of a change: give threshold= too")
    policies = (missing, filters, unphased, ref_mismatch)
    blocks = _blocks(model, fasta, vcf, regions, samples, policies, batch_size, rc, threshold,
                     progress, block_items, use_strand)  # fmt: skip
    paths = _outputs(out, report)
    parts: list[list[pd.DataFrame]] = [[], [], []]
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(atomic_open(p)) if p else None for p in paths]
        for i, tables in enumerate(blocks):
            for k, frame in enumerate(tables):
                if files[k] is not None:
                    _write(frame, files[k], paths[k], header=i == 0)
                if out is None:  # returned (a report= file is also written)
                    parts[k].append(frame)
    if out is not None:
        return [p for p in paths if p is not None]
    return PersonalPredictions(*(pd.concat(p, ignore_index=True) for p in parts))


def personal_report(
    model: PretrainedModel,
    fasta: Genome | str | Path,
    vcf: str | Path | Cohort,
    regions: pd.DataFrame | str | Path,
    threshold: float,
    out: str | Path | None = None,
    samples: Sequence[str] | str | None = "all",
    **options,
) -> pd.DataFrame:
    """Which people carry a predicted change at which regions (e.g. pharmacogene promoters).

    The report of :func:`predict_personal` alone (its rows and summary are not kept, so
    memory holds the report and one block): one row per (sample, region, target) whose
    larger haplotype effect ``|t_max_diff|`` reaches ``threshold``: sample, region, target,
    max_diff, mean_diff and the variants the sample carries in the window, as
    ``chr1:1234 A>G 0|1; ...``.

    Args:
        model, fasta, vcf, regions, samples: as in :func:`predict_personal`.
        threshold: the smallest absolute effect reported.
        out: also write it (TSV; CSV for ``.csv``; a markdown table for ``.md``), atomically.
        **options: ``batch_size``, ``rc``, the VCF policies, ``progress``, ``block_items``
            (:func:`predict_personal`).

    Returns:
        The report.
    """
    policies = tuple(options.pop(k, default) for k, default in _POLICIES.items())
    blocks = _blocks(model, fasta, vcf, regions, samples, policies, threshold=threshold, **options)
    parts = [tables[2] for tables in blocks]
    report = pd.concat(parts, ignore_index=True)
    if out is not None:
        with atomic_open(out) as fh:
            _write(report, fh, Path(out), header=True)
    return report


def _blocks(
    model: PretrainedModel,
    fasta,
    vcf,
    regions,
    samples,
    policies: tuple[str, str, str, str],
    batch_size: int = 256,
    rc: RC = False,
    threshold: float | None = None,
    progress: bool = True,
    block_items: int = 65536,
    use_strand: bool = True,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """(rows, summary, report) of each block of regions, in order."""
    if int(batch_size) <= 0:
        raise PersonalError(f"batch_size={batch_size}: give a positive number of windows")
    check_rc(model, rc)
    cohort = vcf if isinstance(vcf, Cohort) else Cohort(fasta, vcf, None, *policies)
    table, contig = cohort.regions(regions)
    if table.empty:
        raise PersonalError(f"regions: {table.attrs.get('source', 'the table')} has no region")
    picked = cohort.sample_index(samples)
    stranded = use_strand and "strand" in table.columns
    reverse = strand_flags(table) if stranded else np.zeros(len(table), dtype=bool)
    per_block = max(1, int(block_items) // (2 * len(picked)))
    total = len(table) * len(picked) * 2
    with progress_bar(total, "personal", progress, unit="haplotypes") as advance:
        for start in range(0, len(table), per_block):
            rows = slice(start, start + per_block)
            block = table.iloc[rows].reset_index(drop=True), contig[rows], reverse[rows]
            yield _predict_block(model, cohort, block, picked, batch_size, rc, threshold, advance)


def _outputs(out, report) -> list[Path | None]:
    """The rows', summary's and report's paths (None where not written)."""
    if out is None:
        return [None, None, Path(report) if report else None]
    out = Path(out)
    summary = out.with_name(f"{out.name.removesuffix(out.suffix)}.summary{out.suffix}")
    return [out, summary, Path(report) if report else None]


def _write(frame: pd.DataFrame, fh, path: Path, header: bool) -> None:
    """A block of a table: TSV / CSV (:func:`~seqnn.inference.predict.write_rows`), or the
    rows of a markdown table for ``.md``."""
    if path.suffix.lower() != ".md":
        write_rows(frame, fh, path, header=header)
        return
    if header:
        fh.write("| " + " | ".join(frame.columns) + " |\n")
        fh.write("|" + "---|" * len(frame.columns) + "\n")
    text = frame.map(lambda x: f"{x:.4g}" if isinstance(x, float) else str(x))
    fh.writelines("| " + " | ".join(row) + " |\n" for row in text.itertuples(index=False))


def _predict_block(
    model: PretrainedModel,
    cohort: Cohort,
    regions: tuple[pd.DataFrame, np.ndarray, np.ndarray],
    picked: np.ndarray,
    batch_size: int,
    rc: RC,
    threshold: float | None,
    advance: Callable[[int], None],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(rows, summary, report) of one block of regions (checked: the table, its contig
    indices and its reverse-strand flags)."""
    length = model.input_length
    table, contig, reverse = regions
    block = cohort.load(table, length, [cohort.samples[i] for i in picked], contig)
    n_r, n_s = len(table), len(picked)
    region, sample, hap = all_items(n_r, n_s, 2)
    every = np.arange(n_r)
    ref = _predict(model, cohort, block, (every, every * 0, -1), reverse, batch_size, rc)
    items = (region, sample, hap)
    pred = _predict(model, cohort, block, items, reverse, batch_size, rc, advance)
    pred = pred.reshape(n_r, n_s, 2, -1)  # (regions, samples, haplotypes, targets)
    keep = block.called() if cohort.missing == "skip" else np.ones((n_r, n_s), dtype=bool)
    rows = _rows(table, block, pred, ref, keep, model.targets)
    summary, effect, pairs = _summary(table, block, pred, ref, keep, model.targets)
    report = _report(summary, effect, pairs, block, cohort, threshold, model.targets)
    return rows, summary, report


def _predict(model, cohort, block, items, reverse, batch_size, rc, advance=None) -> np.ndarray:
    """(n, T) predictions of the items' windows: ``items`` = (region, sample, haplotype)
    (haplotype -1: the reference), those of ``reverse`` regions reverse-complemented."""
    region, sample, hap = items
    hap = np.broadcast_to(np.asarray(hap, dtype=np.int64), region.shape)
    out = []
    for start in range(0, len(region), batch_size):
        s = slice(start, start + batch_size)
        codes, _ = haplotype_windows(
            cohort.genome, block, region[s], sample[s], hap[s], cohort.missing, positions=False
        )
        flip = reverse[region[s]]
        if flip.any():
            codes[flip] = reverse_complement_codes(codes[flip])
        out.append(predict_codes(model, codes, rc))
        if advance is not None:
            advance(len(codes))
    return np.concatenate(out) if out else np.zeros((0, len(model.targets)), np.float32)


def _region_columns(table: pd.DataFrame, index: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "region": region_names(table)[index],
        "chrom": table["chrom"].to_numpy(dtype=object)[index],
        "start": table["start"].to_numpy(np.int64)[index],
        "end": table["end"].to_numpy(np.int64)[index],
    }


def _rows(table, block: VariantBlock, pred, ref, keep, targets) -> pd.DataFrame:
    n_r, n_s = keep.shape
    region, sample, hap = all_items(n_r, n_s, 2)
    kept = np.repeat(keep.ravel(), 2)
    values = pred.reshape(n_r * n_s * 2, -1)
    columns = {
        "sample": np.asarray(block.samples, dtype=object)[sample],
        "haplotype": hap,
        **_region_columns(table, region),
    }
    for j, t in enumerate(targets):
        columns[f"{t}_pred"] = values[:, j]
        columns[f"{t}_ref"] = ref[region, j]
        columns[f"{t}_diff"] = values[:, j] - ref[region, j]
    return pd.DataFrame(columns)[kept].reset_index(drop=True)


def _summary(table, block, pred, ref, keep, targets) -> tuple[pd.DataFrame, np.ndarray, tuple]:
    """The per-(sample, region) table, its (pairs, T) larger effects and the (region,
    sample) index of each of its rows (the pairs kept)."""
    n_r, n_s = keep.shape
    region, sample, _ = all_items(n_r, n_s, 1)
    diff = pred - ref[:, None, None, :]  # (regions, samples, 2, T)
    larger = np.take_along_axis(diff, np.abs(diff).argmax(axis=2)[:, :, None], axis=2)[:, :, 0]
    mean = pred.mean(axis=2).reshape(n_r * n_s, -1)
    effect = larger.reshape(n_r * n_s, -1)
    columns = {
        "sample": np.asarray(block.samples, dtype=object)[sample],
        **_region_columns(table, region),
    }
    for j, t in enumerate(targets):
        columns[f"{t}_mean"] = mean[:, j]
        columns[f"{t}_mean_diff"] = mean[:, j] - ref[region, j]
        columns[f"{t}_max_diff"] = effect[:, j]
    kept = keep.ravel()
    frame = pd.DataFrame(columns)[kept].reset_index(drop=True)
    return frame, effect[kept], (region[kept], sample[kept])


def _report(summary, effect, pairs, block, cohort, threshold, targets) -> pd.DataFrame:
    """One row per (sample, region, target) whose larger effect reaches ``threshold``, with
    the sample's variants in the window (a loop over the rows reported only)."""
    columns = ["sample", "region", "target", "max_diff", "mean_diff", "variants"]
    if threshold is None or not len(summary):
        return pd.DataFrame(columns=columns)
    pair, target = np.nonzero(np.abs(effect) >= float(threshold))
    region_of, sample_of = pairs
    variants = [
        _carried(block, cohort, int(region_of[p]), int(sample_of[p])) for p in pair.tolist()
    ]
    return pd.DataFrame(
        {
            "sample": summary["sample"].to_numpy()[pair],
            "region": summary["region"].to_numpy()[pair],
            "target": np.asarray(targets, dtype=object)[target],
            "max_diff": effect[pair, target],
            "mean_diff": summary[[f"{t}_mean_diff" for t in targets]].to_numpy()[pair, target],
            "variants": variants,
        }
    )


def _carried(block: VariantBlock, cohort: Cohort, region: int, sample: int) -> str:
    """``chr1:1234 A>G 0|1; ...``: the variants of ``sample`` in region ``region``'s window."""
    v = block.window_variants(region)
    gt = block.gt[v, sample]  # (n, 2)
    v, gt = v[(gt > 0).any(axis=1)], gt[(gt > 0).any(axis=1)]
    names = block.describe(v, cohort.genome.names)
    return "; ".join(f"{n} {a}|{b}" for n, (a, b) in zip(names, gt.tolist(), strict=True))
