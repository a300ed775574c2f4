"""``seqnn-predict key=value ...``: a pretrained model's predictions on FASTA regions, a
genome-wide scan, or every sequence of a file (settings and their documentation:
``configs/predict.yaml``).

Bad input prints one ``seqnn-predict: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig

from seqnn.cli.settings import run_cli
from seqnn.data.genome import Genome
from seqnn.inference.multi_device import predict_regions_distributed, scan_genome_distributed
from seqnn.inference.personal import predict_personal
from seqnn.inference.predict import (
    PredictError,
    add_calls,
    check_calls,
    predict_regions_to_file,
    predict_sequences_to_file,
    write_table,
)
from seqnn.inference.pretrained import load_pretrained, resolve_device
from seqnn.inference.scan import scan_genome


def run(cfg: DictConfig) -> list[Path]:
    """``seqnn-predict``'s work: the settings -> the files written."""
    for key in ("model", "fasta", "regions", "out", "vcf", "report", "sequences"):
        if cfg[key] is not None and not isinstance(cfg[key], str):
            raise PredictError(f"{key}={cfg[key]}: give one file name (a path)")
    out = Path(cfg.out)
    if cfg.stride is not None and int(cfg.stride) <= 0:
        raise PredictError(f"stride={cfg.stride}: give a positive number of bp")
    if cfg.sequences is not None:
        return _predict_sequences(cfg, out)
    if cfg.fasta is None:
        raise PredictError(
            "give fasta=<genome.fa> with regions=<bed|tsv> (or scan=true), or "
            "sequences=<fa|csv|tsv> to predict each sequence of a file"
        )
    if not cfg.scan and not cfg.regions:
        raise PredictError("give regions=<bed|tsv> (or scan=true for a genome-wide track)")
    if cfg.calls and cfg.scan:
        raise PredictError("calls=true adds columns to a regions table, not to a scan track")
    model = load_pretrained(
        str(cfg.model), device=resolve_device(cfg.device), head=cfg.head, targets=_targets(cfg)
    )
    if cfg.calls:
        check_calls(model)  # before any prediction
    if cfg.vcf:
        return _predict_personal(cfg, model, out)
    genome = Genome(cfg.fasta)
    if cfg.scan:
        stride = int(cfg.stride or max(1, model.input_length // 8))
        contigs = list(cfg.contigs) if cfg.contigs else None
        with _scan_log_to_stderr():
            if cfg.devices and int(cfg.devices) > 1:  # the same tracks, chunks over devices
                paths = scan_genome_distributed(
                    model,
                    genome,
                    out,
                    stride,
                    devices=int(cfg.devices),
                    accelerator=cfg.accelerator,
                    batch_size=cfg.batch_size,
                    rc=cfg.rc,
                    contigs=contigs,
                    method=cfg.method,
                )
                return paths or []  # rank 0 wrote the tracks
            return scan_genome(
                model,
                genome,
                out,
                stride,
                cfg.batch_size,
                cfg.rc,
                contigs,
                progress=cfg.progress,
                method=cfg.method,
            )
    if cfg.devices and int(cfg.devices) > 1:
        table = _predict_distributed(cfg, model, genome, out)
        if table is None:  # not rank 0: rank 0 writes the merged table
            return []
        write_table(add_calls(table, model) if cfg.calls else table, out)
        return [out]
    # one device: streamed, a block of regions at a time (memory does not grow with them)
    predict_regions_to_file(
        model,
        genome,
        cfg.regions,
        out,
        batch_size=cfg.batch_size,
        rc=cfg.rc,
        tile_regions=cfg.tile,
        stride=cfg.stride,
        aggregate=cfg.aggregate,
        use_strand=cfg.use_strand,
        on_invalid=cfg.on_invalid,
        calls=cfg.calls,
        progress=cfg.progress,
    )
    return [out]


def _predict_sequences(cfg: DictConfig, out: Path) -> list[Path]:
    """``sequences=``: each sequence of a FASTA or CSV/TSV file."""
    others = [f"{k}=" for k in ("fasta", "regions", "vcf") if cfg[k]] + ["scan"] * bool(cfg.scan)
    if others or (cfg.devices and int(cfg.devices) > 1):
        raise PredictError(
            "sequences= predicts each sequence of its file on one device: leave out "
            + ", ".join(others or ["devices"])
        )
    model = load_pretrained(str(cfg.model), device=resolve_device(cfg.device), head=cfg.head,
                            targets=_targets(cfg))  # fmt: skip
    predict_sequences_to_file(
        model,
        cfg.sequences,
        out,
        sequence_column=str(cfg.sequence_column),
        batch_size=cfg.batch_size,
        rc=cfg.rc,
        calls=cfg.calls,
        progress=cfg.progress,
    )
    return [out]


def _targets(cfg: DictConfig):
    return (
        cfg.targets if cfg.targets is None or isinstance(cfg.targets, str) else list(cfg.targets)
    )


def _predict_personal(cfg: DictConfig, model, out: Path) -> list[Path]:
    """``vcf=``: each person's haplotypes at each region (seqnn.inference.personal)."""
    # tile=auto (the default) is accepted: each region's window is centred on it
    tiled = str(cfg.tile).lower() not in ("auto", "false", "none")
    if cfg.scan or tiled or cfg.calls or (cfg.devices and int(cfg.devices) > 1):
        raise PredictError(
            "vcf= predicts one window per (sample, haplotype, region), centred on the region: "
            "leave out scan, tile=true, calls and devices"
        )
    if not cfg.regions:
        raise PredictError("vcf= needs regions=<bed|tsv>: the windows to predict per person")
    samples = (
        cfg.samples
        if cfg.samples in (None, "all") or isinstance(cfg.samples, str)
        else list(cfg.samples)
    )
    if isinstance(samples, str) and samples != "all":
        samples = samples.split(",")
    return predict_personal(
        model,
        cfg.fasta,
        cfg.vcf,
        cfg.regions,
        samples=samples,
        out=out,
        batch_size=cfg.batch_size,
        rc=cfg.rc,
        missing=cfg.missing,
        filters=cfg.filters,
        unphased=cfg.unphased,
        ref_mismatch=cfg.ref_mismatch,
        report=cfg.report,
        threshold=cfg.threshold,
        progress=cfg.progress,
        use_strand=cfg.use_strand,
    )


@contextlib.contextmanager
def _scan_log_to_stderr() -> Iterator[None]:
    """The scan's one line on its method (why a network falls back to windows) as
    ``seqnn-predict: scan: ...`` on stderr."""
    logger = logging.getLogger("seqnn.inference.scan")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("seqnn-predict: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _predict_distributed(cfg: DictConfig, model, genome: Genome, out: Path):
    """``devices>1``: the rows of one device (the same tiling, stride and aggregate) over
    several devices; None on ranks other than 0."""
    return predict_regions_distributed(
        model,
        genome,
        cfg.regions,
        devices=int(cfg.devices),
        accelerator=cfg.accelerator,
        batch_size=cfg.batch_size,
        rc=cfg.rc,
        tile_regions=cfg.tile,
        stride=cfg.stride,
        aggregate=cfg.aggregate,
        use_strand=cfg.use_strand,
        on_invalid=cfg.on_invalid,
        shard_dir=out.parent / f".{out.name}.shards",
    )


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-predict key=value ...`` (settings: ``configs/predict.yaml``).

    Bad input prints one ``seqnn-predict: error: ...`` line and exits with status 2.
    """
    run_cli("seqnn-predict", argv, "predict.yaml", run, PredictError)


if __name__ == "__main__":
    main()
