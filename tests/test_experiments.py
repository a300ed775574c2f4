"""In-silico experiments (marginalize, ablate, spacing) on hand-set networks with known answers."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from seqnn.data.encoding import decode, encode
from seqnn.inference.pretrained import ModelSpec, PretrainedModel
from seqnn.interpret import (
    ExperimentError,
    ablate,
    marginalize,
    plot_effect,
    plot_spacing,
    spacing,
)
from seqnn.models.dilated_resnet import DilatedResNet

matplotlib.use("Agg")


def word_net(word: str, relu_bias: float | None = None) -> nn.Module:
    """One filter scoring matches to ``word`` (its length for an exact match), max over
    positions; with ``relu_bias`` the filter fires only above ``-relu_bias``."""
    width = len(word)
    conv = nn.Conv1d(4, 1, width, bias=relu_bias is not None)
    with torch.no_grad():
        onehot = nn.functional.one_hot(torch.from_numpy(encode(word.replace("N", "A"))).long(), 4)
        conv.weight[:] = onehot.T[None].float() * torch.tensor(
            [0.0 if c == "N" else 1.0 for c in word]
        )
        if relu_bias is not None:
            conv.bias[:] = relu_bias
    layers = [conv] + ([nn.ReLU()] if relu_bias is not None else [])
    return nn.Sequential(*layers, nn.AdaptiveMaxPool1d(1), nn.Flatten()).eval()


def pair_net(a: str, b: str, gap: int) -> nn.Module:
    """Fires (1) only where ``a``, ``gap`` bases, then ``b`` all match exactly."""
    word = a + "N" * gap + b
    return word_net(word, relu_bias=-(len(a) + len(b)) + 1.0)


def random_codes(n: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (n, length)).astype(np.uint8)


def test_marginalize_gives_the_motifs_effect_and_the_backgrounds_spread():
    net = word_net("TATAAT", relu_bias=-5.5)  # 0.5 for an exact match, else 0
    effect = marginalize(net, "TATAAT", backgrounds=50, length=40)
    assert effect.after.shape == (50, 1, 1) and effect.before.shape == (50, 1)
    np.testing.assert_allclose(effect.after[:, 0, 0], 0.5, atol=1e-6)
    # backgrounds that already hold a TATAAT gain nothing: the spread is theirs
    assert effect.mean[0] == pytest.approx(0.5 - effect.before.mean(), abs=1e-6)
    # a position of the motif: only that 6-mer is written
    codes = random_codes(3, 30)
    out = marginalize(net, "TATAAT", backgrounds=codes, position=0)
    np.testing.assert_allclose(out.after[:, 0, 0], 0.5, atol=1e-6)
    assert out.sd.shape == (1,)


def test_marginalize_n_keeps_the_background_and_strings_are_backgrounds():
    net = word_net("TTTTTT")
    seqs = ["A" * 20, "C" * 20]
    effect = marginalize(net, "TTNNTT", backgrounds=seqs)
    np.testing.assert_allclose(effect.after[:, 0, 0], [4.0, 4.0])  # the N kept A / C


def test_ablating_the_motif_region_or_its_instances_removes_the_effect():
    net = word_net("TATAAT", relu_bias=-5.5)
    codes = random_codes(20, 60, seed=1)
    codes[:, 10:16] = encode("TATAAT")
    region = ablate(net, codes, 8, 18, n_shuffles=5, seed=0)
    assert region.after.shape == (20, 5, 1)
    np.testing.assert_allclose(region.before[:, 0], 0.5, atol=1e-6)
    assert region.mean[0] < -0.4  # a shuffle rarely rebuilds the word
    elsewhere = ablate(net, codes, 30, 50, n_shuffles=5)
    assert elsewhere.mean[0] > -0.05
    instances = ablate(net, codes, motif="TATAAT", n_shuffles=5)
    assert instances.mean[0] < -0.4
    # a reverse-complement instance is an instance too
    rc = codes.copy()
    rc[:, 10:16] = encode("ATTATA")
    rc_net = word_net("ATTATA", relu_bias=-5.5)
    assert ablate(rc_net, rc, motif="TATAAT", n_shuffles=3).mean[0] < -0.4


def test_ablate_is_seeded_row_by_row_and_keeps_the_bases_outside():
    codes = random_codes(4, 30, seed=2)
    net = word_net("ACGT")
    one = ablate(net, codes, 5, 15, n_shuffles=3, seed=7, batch_size=2)
    two = ablate(net, codes, 5, 15, n_shuffles=3, seed=7, batch_size=64)
    np.testing.assert_array_equal(one.after, two.after)


def test_spacing_finds_the_distance_and_orientation_the_network_wants():
    net = pair_net("GATA", "CAGG", gap=7)
    curve = spacing(net, "GATA", "CAGG", distances=range(0, 15), backgrounds=8, length=60)
    assert curve.effect.shape == (15, 4, 1) and curve.after.shape == (8, 15, 4, 1)
    assert curve.best() == (7, "++")
    assert curve.effect[7, 0, 0] > 0.9 and np.delete(curve.effect[:, 0, 0], 7).max() < 0.2
    # b reverse-complemented is what a "+-" pair of the reverse complement word wants
    minus = pair_net("GATA", "CCTG", gap=3)
    assert spacing(minus, "GATA", "CAGG", range(6), backgrounds=4, length=40).best() == (3, "+-")


def test_experiments_on_profile_models_through_an_output_selector():
    torch.manual_seed(0)
    net = DilatedResNet(1, 8, 5, 2, 3, crop=2, head="both").eval()
    count = marginalize(net, "TATAAT", backgrounds=6, length=50, output=lambda y: y[1])
    assert count.after.shape == (6, 1, 1)
    whole = marginalize(net, "TATAAT", backgrounds=6, length=50)  # flattened tuple
    assert whole.after.shape[-1] > 1
    np.testing.assert_allclose(whole.after[:, 0, -1], count.after[:, 0, 0], rtol=1e-5)
    curve = spacing(net, "TATA", "GGCC", [0, 5], backgrounds=3, length=50, output=lambda y: y[1])
    assert curve.effect.shape == (2, 4, 1)


def test_targets_by_name_and_bad_inputs_name_the_argument():
    spec = ModelSpec(network={}, input_length=30, targets=["promoter"], output_transform="sigmoid")
    model = PretrainedModel(word_net("TATAAT"), spec).eval()
    effect = marginalize(model, "TATAAT", backgrounds=5, target="promoter")
    assert effect.targets == ["promoter"] and effect.after.shape == (5, 1, 1)
    with pytest.raises(ExperimentError, match="target='enhancer'"):
        marginalize(model, "TATAAT", backgrounds=5, target="enhancer")
    with pytest.raises(ExperimentError, match="motif is 40 bp, longer than the 30-bp window"):
        marginalize(model, "A" * 40, backgrounds=5)
    with pytest.raises(ExperimentError, match="motif_a \\+ distance 25 \\+ motif_b"):
        spacing(model, "TATA", "GGCC", [0, 25], backgrounds=2)
    with pytest.raises(ExperimentError, match="orientations"):
        spacing(model, "TATA", "GGCC", [0], orientations=["+x"], backgrounds=2)
    with pytest.raises(ExperimentError, match="start=20, end=10"):
        ablate(model, ["A" * 30], 20, 10)
    with pytest.raises(ExperimentError, match="motif"):
        ablate(model, ["A" * 30], motif="TAXA")
    with pytest.raises(ExperimentError, match="position=28"):
        marginalize(model, "TATAAT", backgrounds=2, position=28)


def test_plots_of_experiments_draw():
    net = pair_net("GATA", "CAGG", gap=2)
    curve = spacing(net, "GATA", "CAGG", range(5), backgrounds=3, length=30)
    ax = plot_spacing(curve)
    assert len(ax.lines) == 4 and ax.get_title() == "output_0"
    ax = plot_effect(marginalize(net, "GATAAACAGG", backgrounds=4, length=30), title="m")
    assert ax.get_title() == "m"
    assert decode(encode("GATA")) == "GATA"
