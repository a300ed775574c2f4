"""Hydra entry point ``seqnn-qc`` / ``python -m seqnn.cli.qc``: the data checks of
:mod:`seqnn.qc` on a training configuration's data, split as ``seqnn-train`` would split it
(settings: ``configs/qc.yaml``, which takes ``configs/train.yaml`` with its ``data=`` group
and ``experiment=`` recipes). Examples::

    seqnn-qc out=qc_ecoli
    seqnn-qc experiment=cnnprom_ecoli out=qc_cnnprom pretrained=ecoli-sigma70

Writes ``<out>/report.md`` (with ``gc.png`` and ``roc.png``) and ``<out>/qc.json``. Exit
status 0; 1 when ``qc=error`` finds a leak or conflicting labels; 2 for bad input (one
``seqnn-qc: error: ...`` line).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from seqnn.cli.data_qc import add_model, check_mode, checked, data_of
from seqnn.cli.train import check_required, instantiate, quiet_lightning_console
from seqnn.errors import exit_on_bad_input
from seqnn.inference.pretrained import load_pretrained
from seqnn.qc import QCSettings, write_report
from seqnn.qc.composition import binary_columns

log = logging.getLogger("seqnn.qc")


def qc(cfg: DictConfig) -> int:
    """Check ``cfg.data`` and write the report into ``cfg.out``; returns the exit status."""
    quiet_lightning_console()
    mode = check_mode(cfg.qc)
    settings = instantiate(cfg.get("qc_settings")) or QCSettings()
    datamodule = instantiate(cfg.data, _convert_="all")
    data = data_of(datamodule, settings)
    out = Path(cfg.out)
    result = checked("warn", settings, data, out)
    if cfg.get("pretrained"):
        curves = add_model(result, load_pretrained(str(cfg.pretrained)), data)
        columns = binary_columns(data)
        write_report(result, out, None if columns is None else columns[0][:, 0], curves)
    for finding in result.findings:
        print(f"seqnn-qc: {finding}", file=sys.stderr)
    for key in ("duplicates_across_splits", "rc_duplicates_across_splits"):
        print(f"{key}\t{result.figures[key]}")
    print(f"near_duplicates_across_splits\t{result.figures['near_duplicates_across_splits']}")
    if "overlapping_intervals_across_splits" in result.figures:
        overlaps = result.figures["overlapping_intervals_across_splits"]
        print(f"overlapping_intervals_across_splits\t{overlaps}")
    names = ("baseline_auroc", "low_order_auroc", "baseline_pearson", "margin_over_baseline")
    for name in names:
        for target, value in result.figures.get(name, {}).items():
            print(f"{name}/{target}\t{value}")
    print(f"seqnn-qc: wrote {out / 'report.md'} and {out / 'qc.json'}")
    return 1 if mode == "error" and result.errors else 0


@hydra.main(version_base="1.3", config_path="pkg://seqnn.configs", config_name="qc")
def main(cfg: DictConfig) -> None:
    """Console entry point; bad input prints one ``seqnn-qc: error: ...`` line (status 2)."""
    with exit_on_bad_input("seqnn-qc"):
        check_required(cfg)
        status = qc(cfg)
    if status:
        sys.exit(status)


if __name__ == "__main__":
    main()
