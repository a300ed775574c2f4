"""Batch norms folded into convolutions: same outputs, the network untouched, only eval-mode
norms with running statistics folded."""

import torch
from torch import nn

from seqnn.models.folding import fold_batch_norms, folded_convolution
from seqnn.models.layers import ConvBlock, ResidualDilatedBlock


def _randomised(*modules: nn.Module) -> list[nn.Module]:
    torch.manual_seed(0)
    for module in modules:
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.3, 3.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_(0, 0.5)
        module.eval()
    return list(modules)


def test_folded_stack_equals_the_stack_and_leaves_it_unchanged():
    block = ConvBlock(4, 6, 5, pool_size=2, padding="valid")
    residual = ResidualDilatedBlock(6, 3, dilation=2, padding="valid")
    modules = _randomised(*block, residual)
    before = {k: v.clone() for k, v in nn.Sequential(*modules).state_dict().items()}
    folded = fold_batch_norms(modules)
    x = torch.randn(3, 4, 40)
    expected, got = nn.Sequential(*modules)(x), nn.Sequential(*folded)(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    kinds = [type(m) for m in folded]
    assert nn.BatchNorm1d not in kinds and kinds[0] is nn.Conv1d
    assert not any(isinstance(m, nn.BatchNorm1d) for m in folded[-1].modules())
    assert any(isinstance(m, nn.BatchNorm1d) for m in residual.modules())  # the original kept
    after = nn.Sequential(*modules).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_training_mode_and_statless_norms_are_not_folded():
    conv, norm = nn.Conv1d(4, 3, 3), nn.BatchNorm1d(3)
    assert len(fold_batch_norms([conv, norm])) == 2  # training mode: batch statistics
    statless = nn.BatchNorm1d(3, track_running_stats=False).eval()
    assert len(fold_batch_norms([conv, statless])) == 2
    norm.eval()
    assert len(fold_batch_norms([conv, norm])) == 1
    assert len(fold_batch_norms([norm, conv])) == 2  # a norm before a convolution stays


def test_folded_convolution_keeps_an_existing_bias():
    conv, norm = _randomised(nn.Conv1d(4, 3, 3, bias=True), nn.BatchNorm1d(3))
    conv.bias.data.normal_()
    x = torch.randn(2, 4, 10)
    torch.testing.assert_close(folded_convolution(conv, norm)(x), norm(conv(x)))
