"""HaplotypeMean (seqnn.models.haplotype_mean): a person's output is the mean of the wrapped
network's outputs on each haplotype; one haplotype passes through; codes (N, 2, L) reach it
through the task's one-hot; a package saved with it loads and predicts one haplotype."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from seqnn.data.encoding import OneHot
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.models import (
    DilatedResNet,
    Ensemble,
    HaplotypeMean,
    KmerCNN,
    ReverseComplementAverage,
)
from seqnn.models.spec import build_network, network_spec
from seqnn.tasks.supervised import SupervisedModule

L = 40


def counter() -> nn.Module:
    torch.manual_seed(0)
    net = KmerCNN(n_targets=2, n_filters=4, kernel_size=5, n_bins=0, n_hidden=(8,))
    return ReverseComplementAverage(net).eval()


def haplotypes(n: int = 3, h: int = 2, length: int = L) -> torch.Tensor:
    codes = torch.randint(0, 4, (n, h, length), generator=torch.Generator().manual_seed(1))
    return OneHot()(codes.to(torch.uint8))  # (N, H, L) -> (N, H, 4, L)


@pytest.mark.parametrize("h", [1, 2, 3])
def test_output_is_the_mean_of_the_net_on_each_haplotype(h):
    net = counter()
    x = haplotypes(h=h)
    out = HaplotypeMean(net)(x)
    each = torch.stack([net(x[:, i]) for i in range(h)])  # (H, N, T)
    assert out.shape == (3, 2)
    torch.testing.assert_close(out, each.mean(0))
    assert not torch.allclose(each[0], each[-1]) or h == 1  # the haplotypes differ


def test_one_haplotype_passes_through_and_bad_shapes_are_refused():
    net = counter()
    x = haplotypes()[:, 0]  # (N, 4, L)
    torch.testing.assert_close(HaplotypeMean(net)(x), net(x))
    with pytest.raises(ValueError, match=r"expected one-hot \(N, H, 4, L\)"):
        HaplotypeMean(net)(torch.zeros(4, L))


def test_tuple_outputs_and_ensemble_members_are_averaged_per_haplotype():
    torch.manual_seed(0)
    profile = DilatedResNet(n_targets=1, n_filters=4, n_layers=1, head="both").eval()
    x = haplotypes(length=60)
    out = HaplotypeMean(profile)(x)
    for got, a, b in zip(out, profile(x[:, 0]), profile(x[:, 1]), strict=True):
        torch.testing.assert_close(got, (a + b) / 2)
    members = Ensemble({"a": counter(), "b": counter()}).eval()
    wrapped = HaplotypeMean(members)
    assert wrapped.has_members
    each = wrapped(x[..., :L], members=True)
    assert len(each) == 2 and each[0].shape == (3, 2)


def test_codes_of_both_haplotypes_train_through_the_task():
    """SupervisedModule's one-hot turns (N, 2, L) codes into (N, 2, 4, L); a step runs and
    the loss falls on a trait that is the sum of a base's count on both haplotypes."""
    torch.manual_seed(0)
    net = KmerCNN(n_targets=1, n_filters=4, kernel_size=1, n_bins=0, n_hidden=(8,))
    module = SupervisedModule(
        net=HaplotypeMean(net),
        loss=nn.MSELoss(),
        optimizer=partial(torch.optim.Adam, lr=1e-2),
        task="regression",
    )
    codes = torch.randint(0, 4, (64, 2, L), generator=torch.Generator().manual_seed(2))
    y = (codes == 0).float().mean(-1).sum(-1, keepdim=True) * 4  # (64, 1): A's, both haps
    optimizer = module.optimizer_factory(params=module.parameters())
    losses = []
    for _ in range(60):
        loss = nn.functional.mse_loss(module(codes.to(torch.uint8)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0] / 4


def test_spec_and_package_round_trip(tmp_path):
    wrapped = HaplotypeMean(counter()).eval()
    spec = network_spec(wrapped)
    assert spec["_target_"] == "seqnn.models.haplotype_mean.HaplotypeMean"
    assert isinstance(build_network(spec), HaplotypeMean)
    folder = save_pretrained(wrapped, tmp_path / "pkg", input_length=L, task="regression")
    loaded = load_pretrained(folder)
    x = haplotypes()
    with torch.inference_mode():
        torch.testing.assert_close(loaded.net(x), wrapped(x))
        torch.testing.assert_close(loaded.net(x[:, 1]), wrapped.net(x[:, 1]))
        assert loaded.net.n_targets == 2
