"""The top level of the package: ``import seqnn`` is cheap, and what it names is reachable."""

import subprocess
import sys

import pytest

import seqnn


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (this one has imported the sub-packages already)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_subpackages_are_reachable_from_import_seqnn_and_imported_on_first_use():
    done = run_python(
        "import sys, seqnn\n"
        "assert 'seqnn.data' not in sys.modules and 'torch' not in sys.modules\n"
        "assert seqnn.data.one_hot('ACGT').shape == (4, 4)\n"
        "assert seqnn.models.BassetCNN and seqnn.tasks.SupervisedModule\n"
        "assert seqnn.interpret.saliency\n"
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", seqnn.__all__)
def test_every_public_name_resolves(name):
    assert getattr(seqnn, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'seqnn' has no attribute 'nope'"):
        seqnn.nope  # noqa: B018
