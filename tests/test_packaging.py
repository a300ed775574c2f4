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


def folder_of(package: str) -> Path:
    """The source folder of a dotted package under pyproject's ``package-dir`` mapping."""
    mapping = SETUPTOOLS["package-dir"]
    prefix = max((p for p in mapping if package == p or package.startswith(p + ".")), key=len)
    rest = package[len(prefix) :].lstrip(".")
    return ROOT / mapping[prefix] / Path(*rest.split(".")) if rest else ROOT / mapping[prefix]


def shipped_folders() -> dict[str, Path]:
    """Every folder under each mapped root that holds files, by dotted name (a folder whose name
    is no Python identifier, such as the model folder ``ecoli-sigma70``, is data of its parent)."""
    found = {}
    for package, source in SETUPTOOLS["package-dir"].items():
        for folder in [ROOT / source, *(ROOT / source).rglob("*")]:
            parts = folder.relative_to(ROOT / source).parts
            skip = any(not p.isidentifier() or p == "__pycache__" for p in parts)
            if not folder.is_dir() or skip:
                continue
            if any(f.is_file() for f in folder.iterdir()):
                found[".".join([package, *parts])] = folder
    return found


def test_every_folder_that_holds_files_is_a_declared_package():
    missing = sorted(set(shipped_folders()) - set(SETUPTOOLS["packages"]))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_declared_package_is_a_folder():
    for package in SETUPTOOLS["packages"]:
        assert folder_of(package).is_dir(), f"pyproject.toml lists {package}: no such folder"


def test_license_is_an_spdx_string():
    # a {text = ...} table is deprecated and warned about on every build
    assert isinstance(PROJECT["project"]["license"], str)
