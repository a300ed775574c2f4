"""Helpers shared by the config and training tests: compose train.yaml as seqnn-train does."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, read_write

CONFIGS = Path(str(resources.files("seqnn.configs")))  # what seqnn-train composes from


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


@pytest.fixture(scope="module", autouse=True)
def seqnn_cache(tmp_path_factory) -> Path:
    """The decompressed E. coli genome and its code cache go to the session's tmp folder
    (shared by the modules that import this fixture; unset again after each module)."""
    folder = tmp_path_factory.getbasetemp() / "seqnn-cache"
    folder.mkdir(exist_ok=True)
    before = os.environ.get("SEQNN_CACHE_DIR")
    os.environ["SEQNN_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("SEQNN_CACHE_DIR", None)
    else:
        os.environ["SEQNN_CACHE_DIR"] = before


def compose_train(overrides: list[str], output_dir: Path) -> DictConfig:
    """train.yaml with ``overrides``, its hydra node set up as a Hydra run would
    (``${hydra:runtime.output_dir}`` is ``output_dir``)."""
    with initialize_config_module("seqnn.configs", version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with read_write(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig().set_config(cfg)
    return cfg
