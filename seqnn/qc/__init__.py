"""Data quality and bias checks before training: leaks, shortcuts and confounders.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; the
checks read uint8 codes (:mod:`seqnn.data.encoding`).

- :mod:`seqnn.qc.duplicates`: exact, reverse-complement and near duplicates across splits
  (MinHash over canonical k-mers, verified by exact Jaccard), overlapping intervals,
  conflicting labels;
- :mod:`seqnn.qc.composition`: the composition-only baseline (``baseline_auroc``) and the
  model's ``margin_over_baseline``, AUROC by GC stratum;
- :mod:`seqnn.qc.confounders`: per-class GC / length / N / soft-mask / contig distributions
  with a test statistic each, class balance per split;
- :mod:`seqnn.qc.checks`: :func:`run_qc` runs them all; :mod:`seqnn.qc.report` writes
  ``report.md`` + ``qc.json``.

Example::

    from seqnn.qc import qc_data, run_qc, write_report
    result = run_qc(qc_data(datamodule))          # the splits as seqnn-train sees them
    write_report(result, "qc/")
    for finding in result.findings:
        print(finding)
"""

from seqnn.qc.checks import MODES, Finding, QCResult, QCSettings, run_qc
from seqnn.qc.composition import baseline_report, composition_features, margin, stratified_auroc
from seqnn.qc.report import write_report
from seqnn.qc.sources import QCData, QCError, qc_data, table_data

__all__ = [
    "MODES",
    "Finding",
    "QCData",
    "QCError",
    "QCResult",
    "QCSettings",
    "baseline_report",
    "composition_features",
    "margin",
    "qc_data",
    "run_qc",
    "stratified_auroc",
    "table_data",
    "write_report",
]
