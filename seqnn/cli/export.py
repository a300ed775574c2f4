"""``seqnn-export model=<folder|name> format=onnx|torchscript out=<file>``: a pretrained model
as one file for other runtimes (settings and their documentation: ``configs/export.yaml``).

Bad input prints one ``seqnn-export: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

from seqnn.cli.settings import run_cli
from seqnn.inference.export import export_model
from seqnn.inference.pretrained import PretrainedError, load_pretrained


def run(cfg) -> list[Path]:
    """``seqnn-export`` with its settings (``configs/export.yaml``): the file written."""
    return [export_model(load_pretrained(cfg.model), cfg.out, cfg.format)]


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-export model=<folder|name> format=onnx|torchscript
    out=<file>`` (settings: ``configs/export.yaml``); bad input prints one error line and
    exits with status 2."""
    run_cli("seqnn-export", argv, "export.yaml", run, PretrainedError, (ValueError,))


if __name__ == "__main__":
    main()
