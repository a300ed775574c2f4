"""What seqnn-train may build from a config: allow-listed classes, five named functions, and
the classes of packages the run's environment trusts."""

import pytest
from omegaconf import OmegaConf

from seqnn.cli.config_targets import ConfigTargetError, check_targets


def config(target: str) -> object:
    return OmegaConf.create({"data": {"table": {"x": [{"_target_": target}]}}})


@pytest.mark.parametrize(
    "target",
    ["seqnn.models.BassetCNN", "torch.optim.AdamW", "seqnn.data.embedded.ecoli_fasta"],
)
def test_allowed_targets_pass(target):
    check_targets(config(target))


@pytest.mark.parametrize(
    "target",
    [
        "shutil.copyfile",  # outside every allowed package
        "torch.load",  # a function inside an allowed package: unpickles
        "torch.hub.load",  # downloads and runs code
        "seqnn.data.genome.write_fasta",  # writes a file
        "seqnn.modelsX.Net",  # a look-alike package
        "seqnn.models.NoSuchNet",  # not importable
    ],
)
def test_other_targets_are_refused_naming_the_key(target, monkeypatch):
    monkeypatch.delenv("SEQNN_TRUSTED_TARGETS", raising=False)
    with pytest.raises(ConfigTargetError, match=r"data\.table\.x\[0\]\._target_="):
        check_targets(config(target))


def test_a_package_trusted_by_the_environment(monkeypatch):
    cfg = config("collections.OrderedDict")
    with pytest.raises(ConfigTargetError):
        check_targets(cfg)
    monkeypatch.setenv("SEQNN_TRUSTED_TARGETS", "json, collections")
    check_targets(cfg)
    with pytest.raises(ConfigTargetError):  # its classes only, not its functions
        check_targets(config("collections.namedtuple"))


def test_hydras_own_node_is_not_checked():
    cfg = OmegaConf.create({"hydra": {"launcher": {"_target_": "hydra._internal.X"}}})
    check_targets(cfg)
