"""Fast ISM equals plain ISM on every network class it follows, and falls back on the others."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqnn.data.encoding import encode
from seqnn.data.genome import Genome, write_fasta
from seqnn.inference.pretrained import load_pretrained
from seqnn.interpret import ism, ism_intervals
from seqnn.interpret.fast_ism import Reference, Unsupported, fast_plan, positional_steps
from seqnn.interpret.mutagenesis import IsmError
from seqnn.models import (
    BassetCNN,
    ConvRNN,
    ConvTransformer,
    DilatedResNet,
    ReverseComplementAverage,
)
from seqnn.models.layers import Exponential, GlobalPool

LENGTH = 61  # odd, and not a multiple of any pooling: pools drop trailing positions


def randomised(net: nn.Module, seed: int = 0) -> nn.Module:
    """``net`` in eval mode with non-trivial batch-norm statistics and affine parameters."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d) and m.track_running_stats:
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def random_one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    x = nn.functional.one_hot(torch.from_numpy(codes), 4).permute(0, 2, 1).float()
    x[0, :, 3] = 0  # an N: all 4 bases are substitutions there
    return x


def sequential(*layers: nn.Module) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(*layers)


NETWORKS = {
    "basset_global_max": lambda: BassetCNN(3, n_filters=(8, 8, 8), n_hidden=(16,)),
    "basset_flatten": lambda: BassetCNN(2, LENGTH, (8, 6), (7, 5), (2, 3), n_hidden=(16, 8)),
    "basset_pool5_exponential": lambda: BassetCNN(
        2, LENGTH, (8, 8), (5, 3), 5, n_hidden=(), first_activation=Exponential
    ),
    "no_bn_avgpool_flatten": lambda: sequential(
        nn.Conv1d(4, 6, 4, padding="same"),
        nn.GELU(),
        nn.AvgPool1d(3),
        nn.Conv1d(6, 5, 3, padding=2, dilation=2),
        nn.Tanh(),
        nn.MaxPool1d(4, stride=2),
        nn.Flatten(),
        nn.Linear(5 * 9, 3),
    ),  # fmt: skip
    "strided_valid_mean": lambda: sequential(
        nn.Conv1d(4, 6, 5, stride=2),
        nn.ReLU(),
        nn.Conv1d(6, 6, 3, padding="valid"),
        nn.BatchNorm1d(6),
        nn.ELU(),
        GlobalPool("mean"),
        nn.Linear(6, 2),
    ),  # fmt: skip
    "adaptive_pools": lambda: sequential(
        nn.Conv1d(4, 4, 3, padding="same", bias=False),
        nn.BatchNorm1d(4),
        nn.GELU(),  # not monotonic: must not move after the max pool
        nn.MaxPool1d(3),
        nn.Conv1d(4, 4, 3),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
        nn.Linear(4, 1),
    ),  # fmt: skip
    "tracks_out": lambda: sequential(nn.Conv1d(4, 3, 5, padding="same"), nn.Softplus()),
    "resnet_scalar": lambda: DilatedResNet(2, 8, 7, 3, crop=5),
    "resnet_profile": lambda: DilatedResNet(2, 8, 5, 2, profile_kernel_size=3, head="profile"),
    "resnet_both": lambda: DilatedResNet(1, 8, 5, 3, 3, crop=10, head="both"),
}


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("name", NETWORKS)
def test_fast_ism_equals_plain_ism(name):
    net = randomised(NETWORKS[name]())
    fast_plan(net)  # the fast path is taken, not a fallback
    x = random_one_hot(2, LENGTH)
    fast = ism(net, x, method="fast", batch_size=50)
    plain = ism(net, x, method="plain")
    assert fast.shape == plain.shape
    assert np.abs(plain).max() > 1e-3  # the mutations do change the outputs
    np.testing.assert_allclose(fast, plain, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ism(net, x, method="fast", batch_size=23), fast, atol=1e-5)


@pytest.mark.slow
def test_fast_ism_equals_plain_ism_on_the_default_cnn_at_1kb():
    net = randomised(BassetCNN(2))
    x = random_one_hot(1, 1000)
    np.testing.assert_allclose(
        ism(net, x, method="fast"), ism(net, x, method="plain"), atol=1e-4, rtol=0
    )


FALLBACKS = {
    "ConvRNN": lambda: ConvRNN(1, 8, 5, 4, hidden_size=4, n_hidden=()),
    "ConvTransformer": lambda: ConvTransformer(1, 64, 8, (5, 3), (2, 2), 1, 2, 16),
    "ReverseComplementAverage": lambda: ReverseComplementAverage(BassetCNN(1, n_filters=4)),
    "linear_over_positions": lambda: sequential(
        nn.Conv1d(4, 4, 3), nn.Linear(LENGTH - 2, 3), nn.Flatten()
    ),
    "BatchNorm1d": lambda: sequential(
        nn.Conv1d(4, 4, 3),
        nn.BatchNorm1d(4, affine=False, track_running_stats=False),
        nn.Flatten(),
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", FALLBACKS)
def test_unfollowed_networks_fall_back_to_full_passes_with_one_log_line(name, caplog):
    net = randomised(FALLBACKS[name]())
    with pytest.raises(Unsupported):
        fast_plan(net)
    x = random_one_hot(2, LENGTH)
    with caplog.at_level(logging.INFO, logger="seqnn.interpret"):
        auto = ism(net, x)
    assert len([r for r in caplog.records if "full passes" in r.getMessage()]) == 1
    np.testing.assert_allclose(auto, ism(net, x, method="plain"), atol=1e-6)
    with pytest.raises(IsmError, match="method='fast'"):
        ism(net, x, method="fast")


@pytest.mark.parametrize("method", ["fast", "plain"])
def test_positions_mutate_only_a_region(method):
    net = randomised(NETWORKS["resnet_scalar"]())
    x = random_one_hot(2, LENGTH)
    whole = ism(net, x, method=method)
    part = ism(net, x, method=method, positions=slice(10, 25))
    assert part.shape == (2, 2, 4, 15)
    np.testing.assert_allclose(part, whole[..., 10:25], atol=1e-5)
    np.testing.assert_allclose(ism(net, x, positions=slice(-5, None)), whole[..., -5:], atol=1e-4)
    with pytest.raises(IsmError, match="select no position"):
        ism(net, x, positions=slice(30, 30))
    with pytest.raises(IsmError, match="step 1"):
        ism(net, x, positions=slice(0, 10, 2))


def test_ism_intervals_equal_ism_of_the_fetched_windows(tmp_path):
    rng = np.random.default_rng(0)
    contigs = {"c1": "".join(rng.choice(list("ACGT"), 200)), "c2": "ACGT" * 10}
    genome = Genome(write_fasta(tmp_path / "g.fa", contigs))
    net = randomised(BassetCNN(1, 40, (6,), (5,), (2,), n_hidden=()))
    bed = pd.DataFrame({"chrom": ["c1", "c2"], "start": [100, 30], "end": [110, 40]})
    table, effects = ism_intervals(net, genome, bed)
    assert effects.shape == (2, 4, 10) and list(table["start"]) == [100, 30]
    # each interval sits in the middle of a 40-bp window; c2's window runs 5 bp past its end
    windows = [contigs["c1"][85:125], contigs["c2"][15:] + "N" * 15]  # c2: 15..55 of 40 bp
    expected = ism(net, encode(windows), positions=slice(15, 25))
    np.testing.assert_allclose(effects, expected, atol=1e-5)
    bed.loc[1, "end"] = 39
    with pytest.raises(IsmError, match="interval 2 is 9 bp"):
        ism_intervals(net, genome, bed)
    with pytest.raises(IsmError, match="context"):
        ism_intervals(net, genome, bed.iloc[:1], context=5)


def test_fast_ism_equals_plain_ism_on_the_shipped_model():
    model = load_pretrained("ecoli-sigma70")
    x = random_one_hot(2, model.input_length)
    fast = ism(model, x, target="label", method="fast")
    assert fast.shape == (2, 4, model.input_length)
    np.testing.assert_allclose(fast, ism(model, x, method="plain"), atol=1e-4, rtol=0)


@pytest.mark.parametrize("counts", [[3, 3, 3, 3], [3, 6, 1, 4], [1, 1, 1, 1]])
def test_reference_gather_equals_slicing_for_runs_of_mutants(counts):
    """Mutants come in runs that share a sequence and a window: each run's slice is indexed
    once and repeated (equal runs, unequal runs at clamped ends, or no runs at all)."""
    torch.manual_seed(0)
    h = torch.randn(3, 5, 40)
    ref = Reference(h, pad=4)
    runs = torch.tensor([[0, -4], [2, 10], [1, 30], [2, 0]])[: len(counts)]
    rows, start = runs.repeat_interleave(torch.tensor(counts), 0).unbind(1)
    out = ref.gather(rows, start, 12)
    padded = torch.nn.functional.pad(h, (4, 4))
    expected = torch.stack(
        [padded[r, :, s + 4 : s + 16] for r, s in zip(rows, start, strict=True)]
    )
    assert torch.equal(out, expected)
    out += 1  # a fresh tensor per mutant, which patch() writes into
    assert torch.equal(ref.gather(rows, start, 12), expected)


def test_relu_runs_in_place_only_on_a_fresh_window():
    """In place after a convolution (through identity-like modules, and after another ReLU
    in place), never on the caller's input (the first step's, or passed on by an identity)."""
    modules = [nn.Identity(), nn.ReLU(), nn.Conv1d(4, 4, 3), nn.Dropout(), nn.ReLU(), nn.ReLU()]
    steps = positional_steps(modules)
    assert [getattr(s, "in_place", None) for s in steps] == [
        False, False, None, False, True, True
    ]  # fmt: skip
    first = positional_steps([nn.ReLU(), nn.Conv1d(4, 4, 3)])
    assert first[0].in_place is False
