"""``seqnn-interpret model=<m> (table=<csv|tsv> | fasta=<fa> regions=<bed>) out=<dir> ...``:
TF-MoDISco motifs of a pretrained model's attributions, matched to JASPAR by Tomtom, as a
report folder (settings and their documentation: ``configs/interpret.yaml``).

Bad input prints one ``seqnn-interpret: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from seqnn.cli.settings import run_cli
from seqnn.data.datasets import centred_codes, read_table
from seqnn.data.intervals import resize
from seqnn.inference.predict import prepare_regions
from seqnn.inference.pretrained import load_pretrained, resolve_device
from seqnn.interpret.inputs import InterpretError
from seqnn.interpret.motif_discovery import modisco


def region_codes(cfg: DictConfig, length: int) -> np.ndarray:
    """The sequences to explain, (N, length) uint8 codes: a seeded subset of at most
    ``max_regions`` rows of the table or regions."""
    has_table = check_sources(cfg)
    if has_table:
        frame = read_table(cfg.table)
        if cfg.sequence_column not in frame.columns:
            raise InterpretError(
                f"{cfg.table}: no {cfg.sequence_column!r} column (columns: "
                f"{list(frame.columns)}); name it with sequence_column="
            )
    else:
        genome, frame = prepare_regions(cfg.fasta, cfg.regions)
    rows = np.sort(subset(len(frame), cfg.max_regions, cfg.seed))
    frame = frame.iloc[rows]
    if has_table:
        sequences = frame[cfg.sequence_column].astype(str).tolist()
        return centred_codes(sequences, length, lambda i: f"{cfg.table}: row {rows[i]}")[0]
    windows = resize(frame[["chrom", "start", "end"]].reset_index(drop=True), length)
    return genome.fetch_codes(windows["chrom"], windows["start"], windows["end"])


def check_sources(cfg: DictConfig) -> bool:
    """True for table=, False for fasta= + regions=; anything else is an error."""
    has_table = cfg.table is not None
    region_keys = {key for key in ("fasta", "regions") if cfg[key] is not None}
    if has_table == bool(region_keys) or len(region_keys) == 1:
        raise InterpretError("give table=<csv|tsv> (a sequence column) or fasta=<fa> and "
                             "regions=<bed>, not both")  # fmt: skip
    return has_table


def subset(n: int, at_most: int, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of at most ``at_most`` of ``n`` rows."""
    if at_most <= 0:
        raise InterpretError(f"max_regions={at_most}: give a positive number of regions")
    if n <= at_most:
        return np.arange(n)
    return np.random.default_rng(seed).choice(n, at_most, replace=False)


def run(cfg: DictConfig) -> list[Path]:
    """``seqnn-interpret``'s work: the settings -> the report folder."""
    out = Path(cfg.out)
    if out.exists():
        raise InterpretError(f"out={out}: the folder exists; give a new one")
    check_sources(cfg)
    subset(1, cfg.max_regions, cfg.seed)  # checked before the model loads
    model = load_pretrained(str(cfg.model), device=resolve_device(cfg.device))
    codes = region_codes(cfg, model.input_length)
    result = modisco(
        model, codes, target=cfg.target, method=cfg.method, output=cfg.output, top_k=cfg.top_k,
        max_seqlets=cfg.max_seqlets, window=cfg.window, flank=cfg.flank,
        n_leiden_runs=cfg.n_leiden_runs, batch_size=cfg.batch_size,
        **({"n_shuffles": cfg.n_shuffles} if cfg.method == "deeplift_shap" else {}),
    )  # fmt: skip
    print(result.summary().to_string(index=False))
    return [result.write(out)]


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-interpret key=value ...`` (settings:
    ``configs/interpret.yaml``); bad input prints one error line and exits with status 2."""
    run_cli("seqnn-interpret", argv, "interpret.yaml", run, InterpretError, (OSError,))


if __name__ == "__main__":
    main()
