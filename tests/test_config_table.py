"""docs/configs.md, the option -> class table, is what scripts/config_table.py makes of the
configs now: a new or changed option fails here until the page is regenerated."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def config_table() -> SimpleNamespace:
    """The script's names (run as a module, not as __main__)."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "scripts" / "config_table.py")))


def test_the_committed_table_is_up_to_date(config_table):
    assert config_table.PAGE == ROOT / "docs" / "configs.md"
    assert config_table.PAGE.read_text() == config_table.render(), (
        "docs/configs.md is stale: run python scripts/config_table.py"
    )


def test_every_option_of_every_group_has_a_row_naming_its_class(config_table):
    page = config_table.PAGE.read_text()
    for group in config_table.GROUPS + config_table.SETTINGS:
        for option in config_table.options(group):
            (line,) = [x for x in page.splitlines() if x.startswith(f"| `{group}={option}` |")]
            named = "`" in line.split("|")[2]  # a class, or the options an experiment picks
            assert named or option == "none" or group in ("debug", "paths"), line
    assert "| `model=rnn` | `seqnn.models.ConvRNN` |" in page
    assert "| `task=poisson` | `seqnn.tasks.SupervisedModule` (regression, exp) |" in page
    assert "| `experiment=ctcf_peaks` | `data=table`, `task=binary`, `model=cnn` |" in page


def test_targets_walks_nested_objects(config_table):
    node = {"_target_": "A", "members": {"x": {"_target_": "B"}}, "ls": [{"_target_": "C"}]}
    assert config_table.targets(node) == [("", "A"), ("members.x", "B"), ("ls[0]", "C")]
