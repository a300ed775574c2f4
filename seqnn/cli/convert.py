"""``seqnn-convert family=enformer|borzoi|chrombpnet checkpoint=... out=...``: a published
model's checkpoint as a seqnn package (settings and their documentation:
``configs/convert.yaml``).

Bad input prints one ``seqnn-convert: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

from seqnn.cli.settings import run_cli
from seqnn.inference.convert import ConvertError, convert
from seqnn.inference.pretrained import PretrainedError


def run(cfg) -> list[Path]:
    """``seqnn-convert`` with its settings (``configs/convert.yaml``): the folder written."""
    length = None if cfg.input_length is None else int(cfg.input_length)
    return [
        convert(
            cfg.family,
            cfg.checkpoint,
            cfg.out,
            bias=cfg.bias,
            targets=cfg.targets,
            head_targets=dict(cfg.head_targets or {}),
            input_length=length,
        )
    ]


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-convert family=... checkpoint=... out=...`` (settings:
    ``configs/convert.yaml``); bad input prints one error line and exits with status 2."""
    run_cli("seqnn-convert", argv, "convert.yaml", run, ConvertError, (PretrainedError,))


if __name__ == "__main__":
    main()
