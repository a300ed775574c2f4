"""``seqnn-variants key=value ...``: the effect of each VCF variant on a pretrained model's
predictions (settings and their documentation: ``configs/variants.yaml``).

Bad input prints one ``seqnn-variants: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from seqnn.cli.settings import run_cli
from seqnn.data.genome import Genome
from seqnn.inference.pretrained import load_pretrained, resolve_device
from seqnn.inference.variants import VariantError, check_request, variant_effects_to_file


def run(cfg: DictConfig) -> list[Path]:
    """``seqnn-variants``' work: the settings -> the files written."""
    check_request(cfg.rc, cfg.ref_mismatch, cfg.batch_size, cfg.method)
    out = Path(cfg.out)
    model = load_pretrained(str(cfg.model), device=resolve_device(cfg.device))
    # streamed, a chunk of variants at a time (memory does not grow with the VCF)
    variant_effects_to_file(
        model,
        Genome(cfg.fasta),
        cfg.vcf,
        out,
        rc=cfg.rc,
        ref_mismatch=cfg.ref_mismatch,
        batch_size=cfg.batch_size,
        progress=cfg.progress,
        method=cfg.method,
        regions=cfg.regions,
        background=cfg.background,
        seed=cfg.seed,
    )
    return [out]


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-variants key=value ...`` (settings:
    ``configs/variants.yaml``); bad input prints one error line and exits with status 2."""
    run_cli("seqnn-variants", argv, "variants.yaml", run, VariantError)


if __name__ == "__main__":
    main()
