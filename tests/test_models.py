"""Networks of seqnn.models: shapes, receptive fields, invariances, and that each can overfit."""

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqnn.models.bassetcnn import BassetCNN
from seqnn.models.conv_autoencoder import ConvAutoencoder, VariationalConvAutoencoder
from seqnn.models.conv_rnn import ConvRNN
from seqnn.models.conv_transformer import ConvTransformer, RelativePositionBias
from seqnn.models.dilated_resnet import DilatedResNet
from seqnn.models.ensemble import Ensemble
from seqnn.models.kmer_cnn import KmerCNN
from seqnn.models.layers import (
    ConvBlock,
    broadcast,
    center_crop,
    crop_to_length,
    output_length,
    periodic_power,
    receptive_field,
)
from seqnn.models.reverse_complement import ReverseComplementAverage
from seqnn.models.spec import network_spec
from seqnn.models.spectrum_mlp import SpectrumMLP

N_TARGETS = 3
CROP = 4
LENGTHS = [81, 100, 201]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: a second intra-op thread only adds contention on a shared machine."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def _resnet(head: str, padding: str = "same") -> Callable[[int], nn.Module]:
    return lambda n: DilatedResNet(
        N_TARGETS,
        n_filters=16,
        stem_kernel_size=5,
        n_layers=3,
        crop=CROP,
        head=head,
        padding=padding,
    )


#: the valid-padded resnet's profile: 32 positions shorter (receptive field 5 + 2 * 14 = 33)
VALID_SHRINK = 32


# Tiny versions of every supervised network, built for a given input length.
SUPERVISED: dict[str, Callable[[int], nn.Module]] = {
    "basset_global": lambda n: BassetCNN(
        N_TARGETS, None, (16, 16), (7, 3), (2, 2), (32,), dropout=0.0
    ),
    "basset_flatten": lambda n: BassetCNN(
        N_TARGETS, n, (16, 16), (7, 3), (2, 2), (32,), dropout=0.0
    ),
    "resnet_scalar": _resnet("scalar"),
    "resnet_profile": _resnet("profile"),
    "resnet_both": _resnet("both"),
    "basset_flatten_valid": lambda n: BassetCNN(
        N_TARGETS, n, (16, 16), (7, 3), (2, 2), (32,), dropout=0.0, padding="valid"
    ),
    "resnet_both_valid": _resnet("both", "valid"),
    "kmer": lambda n: KmerCNN(N_TARGETS, 16, 5, 4, (16,), dropout=0.0),
    "kmer_periodic": lambda n: KmerCNN(N_TARGETS, 16, 5, 4, (16,), 0.0, periods=(3, 10)),
    "spectrum": lambda n: SpectrumMLP(N_TARGETS, (1, 2, 3), n_hidden=(16,), dropout=0.0),
    "ensemble": lambda n: Ensemble(
        {
            "kmer": KmerCNN(N_TARGETS, 16, 5, 4, (16,), dropout=0.0),
            "spectrum": SpectrumMLP(N_TARGETS, (1, 2, 3), n_hidden=(16,), dropout=0.0),
        }
    ),
    "rnn_lstm": lambda n: ConvRNN(N_TARGETS, 16, 7, 4, "lstm", 16, n_hidden=(), dropout=0.0),
    "rnn_gru": lambda n: ConvRNN(N_TARGETS, 16, 7, 4, "gru", 16, pool="mean", dropout=0.0),
    "transformer_learned": lambda n: ConvTransformer(
        N_TARGETS, n, 16, (7,), (4,), 1, 2, 32, positions="learned", dropout=0.0
    ),
    "transformer_relative": lambda n: ConvTransformer(
        N_TARGETS,
        n,
        16,
        (7,),
        (4,),
        1,
        2,
        32,
        positions="relative",
        max_distance=8,
        dropout=0.0,
    ),
}
AUTOENCODERS: dict[str, Callable[[int], nn.Module]] = {
    "ae": lambda n: ConvAutoencoder(n, (16, 16), 5, 2, latent_dim=16),
    "vae": lambda n: VariationalConvAutoencoder(n, (16, 16), 5, 2, latent_dim=16),
}
ALL = {**SUPERVISED, **AUTOENCODERS}


def random_one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=g)
    return F.one_hot(codes, 4).transpose(1, 2).float()  # (N, L, 4) -> (N, 4, L)


def rc(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1, -2)


def as_tuple(out) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, tuple | list) else (out,)


def build(factory: Callable[[int], nn.Module], n: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return factory(n)


def expected_shapes(name: str, n: int, length: int) -> list[tuple[int, ...]]:
    profile, scalar = (n, N_TARGETS, length - 2 * CROP), (n, N_TARGETS)
    return {
        "resnet_profile": [profile],
        "resnet_both": [profile, scalar],
        "resnet_both_valid": [(n, N_TARGETS, length - 2 * CROP - VALID_SHRINK), scalar],
        "ae": [(n, 4, length)],
        "vae": [(n, 4, length), (n, 16), (n, 16)],
    }.get(name, [scalar])


# ---------------------------------------------------------------- layers


def test_receptive_field_and_length_arithmetic():
    stack = nn.Sequential(ConvBlock(4, 2, 5, pool_size=2), ConvBlock(2, 2, 3, dilation=2))
    assert receptive_field(stack) == 5 + 1 + (3 - 1) * 2 * 2
    assert output_length(stack, 101) == 50
    assert output_length(nn.Conv1d(4, 2, 5), 20) == 16
    assert broadcast(3, 2, "k") == (3, 3)
    with pytest.raises(ValueError, match="kernel_sizes has 1 values"):
        broadcast([3], 2, "kernel_sizes")


def test_crops():
    x = torch.arange(10.0).view(1, 1, 10)
    assert center_crop(x, 2).flatten().tolist() == [2, 3, 4, 5, 6, 7]
    assert crop_to_length(x, 7).flatten().tolist() == [1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(ValueError):
        center_crop(x, 5)


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("name", list(ALL))
def test_output_shapes(name, n, length):
    net = build(ALL[name], length).eval()
    with torch.no_grad():
        out = as_tuple(net(random_one_hot(n, length)))
    assert [tuple(t.shape) for t in out] == expected_shapes(name, n, length)
    assert all(torch.isfinite(t).all() for t in out)
    if name in SUPERVISED:
        assert net.n_targets == N_TARGETS


def test_default_receptive_fields_match_docstrings():
    assert BassetCNN().receptive_field == 168
    assert DilatedResNet().receptive_field == 273
    assert ConvRNN().receptive_field == 37
    assert ConvTransformer().receptive_field == 46
    assert ConvAutoencoder().receptive_field == 64


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="head must be"):
        DilatedResNet(head="counts")
    with pytest.raises(ValueError, match="rnn_type"):
        ConvRNN(rnn_type="rnn")
    with pytest.raises(ValueError, match="pool_sizes has 2 values"):
        BassetCNN(n_filters=(8, 8, 8), pool_sizes=(2, 2))
    with pytest.raises(ValueError, match="longer than max_input_length"):
        SUPERVISED["transformer_learned"](81)(random_one_hot(1, 201))
    with pytest.raises(ValueError, match="input_length 81"):
        AUTOENCODERS["ae"](81)(random_one_hot(1, 100))


def test_old_seq_len_keyword_warns_and_records_the_new_name():
    """seq_len= still builds each network for one release, with a DeprecationWarning; the
    recorded constructor call (what a package's spec holds) uses the new name."""
    cases = [
        (BassetCNN, "input_length", 81),
        (ConvAutoencoder, "input_length", 40),
        (VariationalConvAutoencoder, "input_length", 40),
        (ConvTransformer, "max_input_length", 100),
    ]
    for cls, new, value in cases:
        with pytest.warns(DeprecationWarning, match=f"seq_len= is now {new}="):
            net = cls(seq_len=value)
        assert net._config[new] == value and "seq_len" not in net._config
        assert network_spec(cls(**{new: value})) == network_spec(net)
    with pytest.raises(TypeError, match="disagree"):
        BassetCNN(seq_len=81, input_length=100)


def test_basset_cnn_takes_one_filter_count_for_every_block():
    # seqnn-train -m model=cnn,rnn model.n_filters=64 (the README's sweep) passes an int
    def widths(net):
        return [m.out_channels for m in net.trunk.modules() if isinstance(m, nn.Conv1d)]

    assert widths(BassetCNN(n_filters=8)) == [8, 8, 8]
    assert widths(BassetCNN(n_filters=8, kernel_sizes=[5, 5], pool_sizes=2)) == [8, 8]
    assert widths(BassetCNN(n_filters=8, kernel_sizes=5, pool_sizes=[2, 2, 2, 2])) == [8] * 4
    assert BassetCNN(n_filters=8)(random_one_hot(2, 200)).shape == (2, 1)


# ---------------------------------------------------------------- receptive fields


def input_support(fn: Callable[[torch.Tensor], torch.Tensor], length: int) -> torch.Tensor:
    """Input positions whose gradient is non-zero for any of 8 random inputs."""
    x = torch.randn(8, 4, length, generator=torch.Generator().manual_seed(1), requires_grad=True)
    fn(x).sum().backward()
    return x.grad.abs().sum(dim=(0, 1)).nonzero().flatten()


@pytest.mark.parametrize(
    "name", [n for n in ALL if n not in ("resnet_both", "spectrum", "ensemble")]
)
def test_receptive_field_of_trunk_is_empirical(name):
    net = build(ALL[name], 400).eval()
    trunk = net.encoder if name in AUTOENCODERS else net.trunk
    support = input_support(lambda x: trunk(x)[..., trunk(x).shape[-1] // 2], 400)
    assert support.max() - support.min() + 1 == net.receptive_field


@pytest.mark.parametrize("crop", [0, 7])
def test_profile_receptive_field_and_crop(crop):
    torch.manual_seed(0)
    net = DilatedResNet(
        2, 8, stem_kernel_size=5, n_layers=3, profile_kernel_size=3, crop=crop, head="profile"
    ).eval()
    j, half = 50, (net.receptive_field - 1) // 2
    support = input_support(lambda x: net(x)[..., j], 200)
    # Profile position j is input position j + crop, with a symmetric window around it.
    assert (support.min().item(), support.max().item()) == (j + crop - half, j + crop + half)
    assert len(support) == net.receptive_field == 5 + 2 * (2 + 4 + 8) + 2
    assert net.output_length(200) == net(torch.zeros(1, 4, 200)).shape[-1] == 200 - 2 * crop


def test_relative_position_bias_is_indexed_by_clipped_offset():
    rel = RelativePositionBias(n_heads=2, max_distance=1)
    nn.init.normal_(rel.bias.weight)
    bias, table = rel(4), rel.bias.weight  # table rows: offsets -1, 0, +1
    assert bias.shape == (2, 4, 4)
    for i in range(4):
        for j in range(4):
            torch.testing.assert_close(bias[:, i, j], table[max(-1, min(1, j - i)) + 1])


def test_relative_positions_reach_the_output():
    net = build(SUPERVISED["transformer_relative"], 100)
    net(random_one_hot(2, 100)).sum().backward()
    assert net.position_bias.bias.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------- invariances


@pytest.mark.parametrize("length", [81, 100])
@pytest.mark.parametrize("name", list(SUPERVISED))
def test_reverse_complement_average_is_strand_symmetric(name, length):
    net = build(SUPERVISED[name], length).eval()
    wrapped = ReverseComplementAverage(net).eval()
    x = random_one_hot(4, length, seed=2)
    with torch.no_grad():
        fwd, rev = as_tuple(wrapped(x)), as_tuple(wrapped(rc(x)))
        plain_fwd, plain_rev = as_tuple(net(x)), as_tuple(net(rc(x)))
    for f, r, pf, pr in zip(fwd, rev, plain_fwd, plain_rev, strict=True):
        align = (lambda t: t.flip(-1)) if f.ndim == 3 else (lambda t: t)
        torch.testing.assert_close(f, align(r), atol=1e-5, rtol=0)
        assert not torch.allclose(pf, align(pr), atol=1e-5)  # the test can fail without it
    assert wrapped.n_targets == N_TARGETS and wrapped.receptive_field == net.receptive_field


@pytest.mark.parametrize("name", list(ALL))
def test_eval_outputs_do_not_depend_on_batch(name):
    net = build(ALL[name], 100).eval()
    x = random_one_hot(8, 100, seed=3)
    with torch.no_grad():
        batch, alone = as_tuple(net(x)), as_tuple(net(x[5:6]))
    for b, a in zip(batch, alone, strict=True):
        torch.testing.assert_close(b[5:6], a, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- training


def loss_fn(name: str, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = net(x)
    if name == "ae":
        return F.cross_entropy(out, x.argmax(1))
    if name == "vae":
        logits, mu, logvar = out
        kl = VariationalConvAutoencoder.kl_divergence(mu, logvar).mean()
        return F.cross_entropy(logits, x.argmax(1)) + 1e-4 * kl
    return sum(
        F.binary_cross_entropy_with_logits(o, t) for o, t in zip(as_tuple(out), y, strict=True)
    )


def overfit(name: str, net: nn.Module, x: torch.Tensor, y, max_steps: int = 200) -> list[float]:
    """Adam on one fixed batch until the loss is 10% of where it started; returns the losses."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses: list[float] = []
    for _ in range(max_steps):
        loss = loss_fn(name, net, x, y)
        losses.append(loss.item())
        if losses[-1] <= 0.1 * losses[0]:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


@pytest.mark.parametrize("name", list(ALL))
def test_overfits_a_tiny_batch(name):
    length, n = 100, 16
    net = build(ALL[name], length).train()
    x = random_one_hot(n, length, seed=4)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        y = [torch.randint(0, 2, o.shape, generator=g).float() for o in as_tuple(net(x))]
    losses = overfit(name, net, x, y)
    assert losses[-1] <= 0.1 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    if name in AUTOENCODERS:
        with torch.no_grad():
            logits = as_tuple(net.eval()(x))[0]
        assert (logits.argmax(1) == x.argmax(1)).float().mean() >= 0.95


# ---------------------------------------------------------------- VAE


def test_vae_latents_kl_and_sampling():
    torch.manual_seed(0)
    vae = AUTOENCODERS["vae"](81).eval()
    x = random_one_hot(6, 81)
    mu, logvar = vae.encode_distribution(x)
    assert mu.shape == logvar.shape == (6, 16)
    torch.testing.assert_close(vae.encode(x), mu)
    torch.testing.assert_close(vae(x)[0], vae.decode(mu))  # eval mode decodes the mean

    kl = vae.kl_divergence(torch.randn(50, 16) * 3, torch.randn(50, 16) * 3)
    assert kl.shape == (50,) and (kl >= 0).all()
    zeros = torch.zeros(4, 16)
    assert vae.kl_divergence(zeros, zeros).abs().max() == 0
    assert vae.kl_divergence(zeros + 1, zeros).allclose(torch.full((4,), 8.0))

    z = vae.reparameterize(mu, logvar)
    assert z.shape == mu.shape and not torch.equal(z, mu)
    assert vae.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, 4, 81)
    path = torch.stack([torch.lerp(mu[0], mu[1], t) for t in torch.linspace(0, 1, 4)])
    assert vae.decode(path).shape == (4, 4, 81)


def test_kmer_cnn_short_input_is_a_clear_error():
    with pytest.raises(ValueError, match="shorter than kernel_size 6"):
        KmerCNN(1)(torch.zeros(2, 4, 10))


def test_periodic_power_finds_the_period_and_ignores_the_phase():
    track = torch.zeros(2, 1, 90)
    track[0, 0, ::3] = 1.0  # every third position
    track[1, 0, 1::3] = 1.0  # the same, one base later
    power = periodic_power(track, (3, 10))
    assert power.shape == (2, 1, 2)
    assert power[0, 0, 0] == pytest.approx(1 / 3, abs=1e-5)  # |sum of 30 ones| / 90
    assert power[0, 0, 1] < 1e-4  # no period 10 in it
    torch.testing.assert_close(power[0], power[1])  # the phase is dropped
    assert periodic_power(track, (4,)).max() < 0.02  # nor (about) period 4
    long = torch.rand(2, 3, 995)  # bf16 tracks: angles are still exact (n mod P, in float32)
    low = periodic_power(long.bfloat16(), (3,))
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), periodic_power(long, (3,)), rtol=0.03, atol=1e-3)
    dead = torch.zeros(1, 1, 76, dtype=torch.float16, requires_grad=True)
    periodic_power(dead, (3,)).sum().backward()
    assert not dead.grad.isnan().any()  # a silent filter gets a finite gradient
    assert periodic_power(torch.ones(1, 1, 90), (3,)).abs().max() < 1e-4  # no constant part


def test_kmer_cnn_periods_round_trip_through_the_spec():
    from seqnn.models.spec import build_network, network_spec

    torch.manual_seed(0)
    net = KmerCNN(1, 8, 6, 3, (8,), periods=(3,)).eval()
    assert [m.in_features for m in net.modules() if isinstance(m, nn.Linear)][0] == 8 * (1 + 3 + 1)
    rebuilt = build_network(network_spec(net)).eval()
    rebuilt.load_state_dict(net.state_dict())
    x = random_one_hot(3, 81)
    torch.testing.assert_close(rebuilt(x), net(x))
    with pytest.raises(ValueError, match=r"periods \[3, 1\] must each be >= 2"):
        KmerCNN(1, periods=(3, 1))


def test_codon_frames_read_every_frame_and_follow_a_shift():
    from seqnn.models.layers import codon_frames

    track = torch.zeros(1, 2, 12)
    track[0, 0, 1::3] = 1.0  # filter 0 fires at positions 1 mod 3
    track[0, 1, 2::3] = 3.0  # filter 1 at 2 mod 3
    rows = codon_frames(track)
    assert rows.shape == (1, 3, 6)
    # row 0 reads positions 0, 1, 2 mod 3 as codon positions 1, 2, 3; means centred
    expected = torch.tensor([[-1 / 3, 2 / 3, -1 / 3, -1, -1, 2]])
    torch.testing.assert_close(rows[:, 0], expected)
    torch.testing.assert_close(rows[:, 1], expected[:, [1, 2, 0, 4, 5, 3]])  # starts at 1 mod 3
    # one base later (circularly): the same three readings, each one row on
    moved = codon_frames(torch.roll(track, 1, -1))
    torch.testing.assert_close(moved, rows[:, [2, 0, 1]])
    tail = torch.cat([track, torch.full((1, 2, 2), 9.0)], -1)  # L mod 3 positions left out
    torch.testing.assert_close(codon_frames(tail), rows)


def test_kmer_cnn_frame_features():
    from seqnn.models.layers import codon_frames
    from seqnn.models.spec import build_network, network_spec

    torch.manual_seed(0)
    net = KmerCNN(1, 8, 6, 3, (8,), periods=(3,), frame_features=5).eval()
    assert [m.in_features for m in net.modules() if isinstance(m, nn.Linear)][1] == 8 * 5 + 5
    x = random_one_hot(3, 81)
    rebuilt = build_network(network_spec(net)).eval()
    rebuilt.load_state_dict(net.state_dict())
    torch.testing.assert_close(rebuilt(x), net(x))
    # the frame block: the best of the three readings, the same for a circularly moved track
    h = net.trunk(x)[..., :75]
    block = lambda t: net.frames(codon_frames(t)).amax(1)  # noqa: E731
    torch.testing.assert_close(block(torch.roll(h, 1, -1)), block(h))
    assert not torch.allclose(block(h), net.frames(codon_frames(h))[:, 0])
    net(x).sum().backward()  # the block feeds the output
    assert net.frames[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="frame_features -1 must be >= 0"):
        KmerCNN(1, frame_features=-1)
    with pytest.raises(ValueError, match="frame_features needs 3 detector positions"):
        KmerCNN(1, 8, 6, 0, frame_features=4)(torch.zeros(2, 4, 7))


def test_exponential_first_activation_round_trips_through_the_spec():
    from seqnn.models.layers import Exponential
    from seqnn.models.spec import build_network, network_spec

    net = BassetCNN(2, first_activation=Exponential).eval()
    assert isinstance(net.trunk[0][2], Exponential) and isinstance(net.trunk[1][2], nn.ReLU)
    rebuilt = build_network(network_spec(net)).eval()
    rebuilt.load_state_dict(net.state_dict())
    x = torch.rand(3, 4, 200)
    torch.testing.assert_close(rebuilt(x), net(x))
    torch.testing.assert_close(net.trunk[0][2](torch.zeros(1)), torch.ones(1))


def test_padding_round_trips_through_the_spec_and_old_specs_stay_same():
    from seqnn.models.spec import build_network, network_spec

    net = BassetCNN(2, 100, (8, 8), (7, 3), (2, 2), (16,), padding="valid").eval()
    # (100 - 6) // 2 = 47, (47 - 2) // 2 = 22 positions of 8 filters
    assert net.head[1][0].in_features == 8 * 22
    spec = network_spec(net)
    assert spec["padding"] == "valid"
    rebuilt = build_network(spec).eval()
    rebuilt.load_state_dict(net.state_dict())
    x = torch.rand(3, 4, 100)
    torch.testing.assert_close(rebuilt(x), net(x))
    old = {k: v for k, v in spec.items() if k != "padding"}  # written before the option
    assert build_network(old).trunk[0][0].padding == "same"
    resnet = DilatedResNet(2, 8, 5, 2, padding="valid")
    assert resnet.output_length(100) == 100 - (resnet.receptive_field - 1)
    with pytest.raises(ValueError, match="padding must be 'same' or 'valid'"):
        BassetCNN(padding="full")


@pytest.mark.parametrize(("length", "n_bins"), [(60, 9), (81, 9), (9, 9), (10, 3), (73, 1)])
def test_binned_mean_is_adaptive_average_pooling(length, n_bins):
    from seqnn.models.layers import binned_mean

    h = torch.randn(2, 3, length)
    torch.testing.assert_close(binned_mean(h, n_bins), nn.AdaptiveAvgPool1d(n_bins)(h))
