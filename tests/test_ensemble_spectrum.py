"""The k-mer spectrum layer, SpectrumMLP, and Ensemble (with its training policy)."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqnn.models import Ensemble, KmerCNN, KmerSpectrum, ReverseComplementAverage, SpectrumMLP
from seqnn.models.kmer_spectrum import gapped_pair_frequencies, kmer_frequencies, kmer_tracks
from seqnn.models.layers import periodic_power
from seqnn.models.spec import build_network, network_spec
from seqnn.tasks.supervised import SupervisedModule


def one_hot(codes: torch.Tensor) -> torch.Tensor:
    return F.one_hot(codes, 4).transpose(1, 2).float()


def counted(seq: str, k: int) -> torch.Tensor:
    """k-mer frequencies of one string by plain counting, k-mers in base-4 order (A0 C1 G2 T3)."""
    words = ["".join(w) for w in itertools.product("ACGT", repeat=k)]
    windows = [seq[p : p + k] for p in range(len(seq) - k + 1)]
    return torch.tensor([windows.count(w) / len(windows) for w in words])


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_kmer_frequencies_equal_plain_counting(k):
    seq = "ACGTTGCAAAGGGTTTACGATCGATCGGGATTACA"
    x = one_hot(torch.tensor([["ACGT".index(c) for c in seq]]))
    (freq,) = kmer_frequencies(x, [k])
    torch.testing.assert_close(freq[0], counted(seq, k))
    torch.testing.assert_close(kmer_tracks(x, k).mean(-1), freq)  # the two paths agree
    assert kmer_tracks(x, k).sum(1).eq(1).all()  # one k-mer per window


def test_spectrum_of_n_and_fractional_bases():
    x = one_hot(torch.tensor([[0, 1, 2, 3, 0, 1]]))
    x[0, :, 2] = 0  # an N as zeros: the windows over it count nothing
    (freq2,) = kmer_frequencies(x, [2])
    assert freq2.sum() == pytest.approx(3 / 5)  # AC, TA, AC of the 5 windows
    x[0, :, 2] = 0.25  # an N as 0.25 each: the expected count
    (freq2,) = kmer_frequencies(x, [2])
    assert freq2.sum() == pytest.approx(1.0)


def test_spectrum_features_periods_and_gradient():
    spectrum = KmerSpectrum([1, 2, 4], periods=[3], periodic_ks=[1, 2])
    assert spectrum.n_features == 4 + 16 + 256 + 4 + 16
    x = one_hot(torch.randint(0, 4, (3, 60))).requires_grad_()
    features = spectrum(x)
    assert features.shape == (3, spectrum.n_features)
    expected = periodic_power(kmer_tracks(x, 2), [3])[..., 0]
    torch.testing.assert_close(features[:, -16:], expected)
    features.sum().backward()  # attributions reach the input through the spectrum
    assert x.grad.abs().sum() > 0


def test_spectrum_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="ks"):
        KmerSpectrum([])
    with pytest.raises(ValueError, match="ks"):
        KmerSpectrum([9])
    with pytest.raises(ValueError, match="periods"):
        KmerSpectrum([2], periods=[1], periodic_ks=[1])
    with pytest.raises(ValueError, match="1 <= k <= L"):
        kmer_tracks(torch.zeros(1, 4, 3), 4)
    with pytest.raises(ValueError, match="shorter than its spectrum needs"):
        SpectrumMLP(ks=(1, 5))(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="shorter than its spectrum needs"):
        SpectrumMLP(ks=(1, 2), pair_distance=10, pair_windows=3)(torch.zeros(2, 4, 12))
    with pytest.raises(ValueError, match="pair_distance 1 must be 0"):
        KmerSpectrum([1], pair_distance=1)
    with pytest.raises(ValueError, match="pair_windows 0"):
        KmerSpectrum([1], pair_distance=4, pair_windows=0)
    with pytest.raises(ValueError, match="L >= max_distance"):
        gapped_pair_frequencies(torch.zeros(1, 4, 6), 5, 2)


@pytest.mark.parametrize("windows", [1, 3])
def test_gapped_pairs_equal_plain_counting(windows):
    seq = "ACGTTGCAAAGGGTTTACGATCGATCGGGATTACATTGACA"
    x = one_hot(torch.tensor([["ACGT".index(c) for c in seq]]))
    features = gapped_pair_frequencies(x, 6, windows).reshape(1, 5, windows, 16)  # d = 2..6
    words = ["".join(w) for w in itertools.product("ACGT", repeat=2)]
    for d in range(2, 7):
        starts = torch.tensor_split(torch.arange(len(seq) - d), windows)
        for w, positions in enumerate(starts):
            pairs = [seq[i] + seq[i + d] for i in positions.tolist()]
            expected = torch.tensor([pairs.count(word) / len(pairs) for word in words])
            torch.testing.assert_close(features[0, d - 2, w], expected)
    spectrum = KmerSpectrum([1, 2], pair_distance=6, pair_windows=windows)
    assert spectrum.n_features == 4 + 16 + 5 * windows * 16 == spectrum(x).shape[1]
    torch.testing.assert_close(spectrum(x)[:, 20:], features.reshape(1, -1))
    net = SpectrumMLP(ks=(1, 2), pair_distance=6, pair_windows=windows, n_hidden=(4,))
    assert net.receptive_field == 7 and net.eval()(x).shape == (1, 1)


def test_spectrum_mlp_is_float32_inside_under_bf16_autocast():
    net = SpectrumMLP(ks=(1, 2, 3, 4, 5), n_hidden=(8,)).eval()
    x = one_hot(torch.randint(0, 4, (4, 81)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = net(x)
    torch.testing.assert_close(low.float(), net(x), atol=0.05, rtol=0.05)


def small_members() -> dict[str, nn.Module]:
    return {
        "kmer": KmerCNN(2, 8, 5, 3, (8,), dropout=0.0, periods=(3,)),
        "spectrum": SpectrumMLP(2, ks=(1, 2, 3), n_hidden=(8,), dropout=0.0, input_dropout=0.0),
    }


def test_ensemble_averages_the_members_logits_and_round_trips():
    torch.manual_seed(0)
    net = Ensemble(small_members()).eval()
    x = one_hot(torch.randint(0, 4, (5, 40)))
    outputs = net.member_outputs(x)
    torch.testing.assert_close(net(x), (outputs[0] + outputs[1]) / 2)
    assert net.n_targets == 2 and net.receptive_field == 5
    rebuilt = build_network(network_spec(net))
    rebuilt.load_state_dict(net.state_dict())
    torch.testing.assert_close(rebuilt.eval()(x), net(x))
    listed = Ensemble(list(small_members().values()))
    assert list(listed.members) == ["0", "1"]


def test_ensemble_bad_members_fail_clearly():
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble({"a": None})
    with pytest.raises(ValueError, match="member 'b' is a dict, not a network"):
        Ensemble({"a": KmerCNN(1, 8), "b": {"kernel_size": 10}})
    assert list(Ensemble({"a": KmerCNN(1, 8), "b": None}).members) == ["a"]
    with pytest.raises(ValueError, match="different n_targets"):
        Ensemble([KmerCNN(1, 8), KmerCNN(2, 8)])


def test_task_trains_each_member_on_its_own_loss():
    torch.manual_seed(0)
    net = Ensemble(small_members())
    module, x, y, loss, outputs = member_losses_of(net, net)
    averaged = F.binary_cross_entropy_with_logits((outputs[0] + outputs[1]) / 2, y)
    assert not torch.isclose(loss, averaged)  # not the loss of the averaged output
    net.eval()  # validation: the loss of the averaged output, as the metrics see it
    val = module._step((x, y), "val")
    torch.testing.assert_close(val, F.binary_cross_entropy_with_logits(net(x), y))


@pytest.mark.parametrize("sync", [False, True])
def test_spectrum_mlp_trains_on_a_batch_of_one(sync):
    net = SpectrumMLP(ks=(1, 2, 3), n_hidden=(8,)).train()
    if sync:  # what trainer=ddp (sync_batchnorm) makes of it
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    x = one_hot(torch.randint(0, 4, (1, 30)))
    before = net.norm.running_mean.clone()
    net(x).sum().backward()  # plain BatchNorm1d raises on one value per channel
    torch.testing.assert_close(net.norm.running_mean, before)
    net(one_hot(torch.randint(0, 4, (4, 30))))  # larger batches update the statistics
    assert not torch.equal(net.norm.running_mean, before)


class CompileLike(nn.Module):
    """Stands in for torch.compile's wrapper: attributes fall through to the network, and only
    a call through it is 'compiled' (counted)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self._orig_mod = net
        self.calls = 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._orig_mod, name)


def member_losses_of(net: nn.Module, wrapped: nn.Module):
    """The training step of a task holding ``wrapped`` (around ``net``, or ``net`` itself)
    averages the members' own losses, computed through ``wrapped``'s forward. Returns the
    task, the batch, the step's loss and the members' outputs."""
    module = SupervisedModule(
        wrapped, nn.BCEWithLogitsLoss(), torch.optim.AdamW, task="multilabel", n_targets=2
    )
    module.log = lambda *args, **kwargs: None  # no trainer attached
    x = one_hot(torch.randint(0, 4, (6, 40)))
    y = torch.randint(0, 2, (6, 2)).float()
    module.train()
    torch.manual_seed(1)
    loss = module._step((x, y), "train")
    torch.manual_seed(1)
    outputs = wrapped(x, members=True)
    own = torch.stack([F.binary_cross_entropy_with_logits(out, y) for out in outputs]).mean()
    torch.testing.assert_close(loss, own)
    return module, x, y, loss, outputs


def test_ensemble_trains_through_a_compile_wrapper():
    torch.manual_seed(0)
    net = Ensemble(small_members())
    wrapped = CompileLike(net)
    member_losses_of(net, wrapped)
    assert wrapped.calls == 2  # the training step's call went through the wrapper


def test_reverse_complement_average_of_an_ensemble_keeps_member_losses():
    torch.manual_seed(0)
    net = Ensemble(small_members())
    wrapped = ReverseComplementAverage(net)
    assert wrapped.has_members and not ReverseComplementAverage(KmerCNN(1, 8)).has_members
    member_losses_of(net, wrapped)
    x = one_hot(torch.randint(0, 4, (3, 40)))
    wrapped.eval()
    outputs = wrapped(x, members=True)
    torch.testing.assert_close(wrapped(x), torch.stack(outputs).mean(0))
    kmer = net.members["kmer"]
    torch.testing.assert_close(outputs[0], (kmer(x) + kmer(x.flip(-1, -2))) / 2)
