"""WeightedBCEWithLogitsLoss: BCE with positive-class weights given as numbers (configs)."""

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from seqnn.tasks.losses import WeightedBCEWithLogitsLoss
from seqnn.tasks.supervised import SupervisedModule


def batch(n_targets: int = 1):
    torch.manual_seed(0)
    logits = torch.randn(16, n_targets)
    target = (torch.rand(16, n_targets) < 0.3).float()
    return logits, target


@pytest.mark.parametrize(("weight", "n_targets"), [(3.5, 1), (2, 3), ([1.0, 4.0, 0.5], 3)])
def test_equals_torch_with_a_weight_tensor(weight, n_targets):
    logits, target = batch(n_targets)
    expected = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(weight, dtype=torch.float32))
    got = WeightedBCEWithLogitsLoss(pos_weight=weight)(logits, target)
    torch.testing.assert_close(got, expected(logits, target))
    assert not torch.allclose(got, nn.BCEWithLogitsLoss()(logits, target))


def test_none_is_the_plain_loss_and_positives_weigh_w_times():
    logits, target = batch()
    plain = WeightedBCEWithLogitsLoss()(logits, target)
    torch.testing.assert_close(plain, nn.BCEWithLogitsLoss()(logits, target))
    positive, negative = target[:, 0] == 1, target[:, 0] == 0
    each = WeightedBCEWithLogitsLoss(pos_weight=3.0, reduction="none")(logits, target)
    unweighted = WeightedBCEWithLogitsLoss(reduction="none")(logits, target)
    torch.testing.assert_close(each[positive], 3.0 * unweighted[positive])
    torch.testing.assert_close(each[negative], unweighted[negative])


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), [], [1.0, "a"], True])
def test_bad_weights_are_refused(bad):
    with pytest.raises(ValueError, match="pos_weight must be a number > 0"):
        WeightedBCEWithLogitsLoss(pos_weight=bad)


def test_a_weight_per_target_must_match_the_targets():
    loss = WeightedBCEWithLogitsLoss(pos_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="2 pos_weight values for 3 targets"):
        SupervisedModule(nn.Linear(4, 3), loss, torch.optim.SGD, task="multilabel", n_targets=3)
    SupervisedModule(nn.Linear(4, 2), loss, torch.optim.SGD, task="multilabel", n_targets=2)


def test_the_weight_is_a_buffer_of_the_module():
    module = SupervisedModule(
        nn.Linear(4, 1), WeightedBCEWithLogitsLoss(pos_weight=2.0), torch.optim.SGD
    )
    assert module.state_dict()["loss.pos_weight"] == 2.0  # a buffer: .to(device) moves it
    module.to(torch.float64)
    assert module.loss.pos_weight.dtype == torch.float64


def test_configs_set_it_from_the_command_line():
    from hydra import compose, initialize_config_module

    with initialize_config_module("seqnn.configs", version_base="1.3"):
        default = compose("train")
        cfg = compose("train", overrides=["+task.loss.pos_weight=3.58"])
        listed = compose("train", overrides=["task=multilabel", "+task.loss.pos_weight=[1,2.5]"])
    assert float(instantiate(cfg.task.loss).pos_weight) == pytest.approx(3.58)
    assert instantiate(listed.task.loss).pos_weight.tolist() == [1.0, 2.5]
    assert instantiate(default.task.loss).pos_weight is None


def test_balanced_needs_seqnn_train():
    with pytest.raises(ValueError, match="'balanced' is resolved by seqnn-train"):
        WeightedBCEWithLogitsLoss(pos_weight="balanced")
