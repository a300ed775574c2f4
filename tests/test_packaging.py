"""pyproject.toml ships every folder of the package as a declared package.

setuptools warns (hundreds of lines per install) about data files in folders that are importable
but not listed in ``packages``, and says it will stop shipping them; a folder added to
``seqnn/`` or ``configs/`` must therefore be added to the list, which this test checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
ROOT = Path(__file__).parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PROJECT["tool"]["setuptools"]


# where each shipped tree lies in the repo: configs/ reaches the package through the symlink
# seqnn/configs -> ../configs (see pyproject.toml)
ROOTS = {"seqnn": ROOT / "seqnn", "seqnn.configs": ROOT / "configs"}


def folder_of(package: str) -> Path:
    """The source folder of a dotted package (``package-dir`` maps the root to the repo)."""
    return ROOT / Path(*package.split("."))


def shipped_folders() -> dict[str, Path]:
    """Every folder under each shipped tree that holds files, by dotted name (a folder whose name
    is no Python identifier, such as the model folder ``ecoli-sigma70``, is data of its parent)."""
    found = {}
    for package, source in ROOTS.items():
        for folder in [source, *source.rglob("*")]:
            parts = folder.relative_to(source).parts
            skip = any(not p.isidentifier() or p == "__pycache__" for p in parts)
            if not folder.is_dir() or folder.is_symlink() or skip:
                continue
            if any(f.is_file() for f in folder.iterdir()):
                found[".".join([package, *parts])] = folder
    return found


def test_configs_ship_through_the_package_symlink():
    # a plain layout (no per-package mapping) keeps `pip install -e` free of setuptools'
    # meta-path-finder notice; the symlink puts the top-level configs/ inside the package
    assert SETUPTOOLS["package-dir"] == {"": "."}
    link = ROOT / "seqnn" / "configs"
    assert link.is_symlink() and link.resolve() == (ROOT / "configs").resolve()


def test_every_folder_that_holds_files_is_a_declared_package():
    missing = sorted(set(shipped_folders()) - set(SETUPTOOLS["packages"]))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_declared_package_is_a_folder():
    for package in SETUPTOOLS["packages"]:
        assert folder_of(package).is_dir(), f"pyproject.toml lists {package}: no such folder"


def test_license_is_an_spdx_string():
    # a {text = ...} table is deprecated and warned about on every build
    assert isinstance(PROJECT["project"]["license"], str)


def test_every_shipped_model_is_named_and_small():
    from seqnn.inference.pretrained import SHIPPED_MODELS, SPEC_FILE, WEIGHTS_FILE

    folders = {p.name: p for p in (ROOT / "seqnn" / "resources" / "models").iterdir()}
    assert sorted(folders) == sorted(SHIPPED_MODELS), "SHIPPED_MODELS lists every model folder"
    assert "models/*/*" in SETUPTOOLS["package-data"]["seqnn.resources"]
    for name, folder in folders.items():
        assert sorted(p.name for p in folder.iterdir()) == sorted([SPEC_FILE, WEIGHTS_FILE]), name
        assert sum(p.stat().st_size for p in folder.iterdir()) < 5 * 2**20, f"{name}: over 5 MB"
