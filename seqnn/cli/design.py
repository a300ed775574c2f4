"""``seqnn-design key=value ...``: sequences evolved toward a target output of a pretrained model
(settings and their documentation: ``configs/design.yaml``).

Bad input prints one ``seqnn-design: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from seqnn.atomic import atomic_open
from seqnn.cli.settings import run_cli
from seqnn.data.datasets import read_fasta_records
from seqnn.design.evolution import DesignError, evolve
from seqnn.inference.pretrained import load_pretrained, resolve_device


def run(cfg: DictConfig) -> list[Path]:
    """``seqnn-design``'s work: the settings -> the trajectory table written."""
    out = Path(cfg.out)
    if out.suffix not in (".tsv", ".csv"):
        raise DesignError(f"out={out}: write a .tsv or .csv table")
    model = load_pretrained(str(cfg.model), device=resolve_device(cfg.device))
    settings = OmegaConf.to_container(cfg, resolve=True)
    design = evolve(
        model,
        _starts(cfg.start, cfg.n_random),
        target=settings["target"],
        rounds=cfg.rounds,
        goal=settings["goal"],
        hold=settings["hold"],
        hold_weight=cfg.hold_weight,
        method=cfg.method,
        beam_size=cfg.beam_size,
        gc=None if cfg.gc is None else tuple(settings["gc"]),
        forbidden=settings["forbidden"],
        region=None if cfg.region is None else tuple(settings["region"]),
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        until=cfg.until,
    )
    with atomic_open(out) as fh:
        design.trajectory.to_csv(fh, sep="\t" if out.suffix == ".tsv" else ",", index=False)
    return [out]


def _starts(start: str | None, n_random: int) -> int | list[str]:
    """The sequences of a FASTA file, or a number of random starts."""
    if start is None:
        if n_random <= 0:
            raise DesignError(f"n_random={n_random}: give a positive number (or start=<FASTA>)")
        return n_random
    path = Path(str(start))
    if not path.is_file():
        raise DesignError(f"start={start}: no such FASTA file")
    _, seqs = read_fasta_records(path)
    if not seqs:
        raise DesignError(f"start={start}: the FASTA file holds no sequence")
    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise DesignError(f"{path}: start sequences must have one length, got {sorted(lengths)}")
    return [s.upper() for s in seqs]


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-design key=value ...`` (settings: ``configs/design.yaml``);
    bad input prints one error line and exits with status 2."""
    run_cli("seqnn-design", argv, "design.yaml", run, DesignError)


if __name__ == "__main__":
    main()
