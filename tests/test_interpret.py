"""Attributions (ISM, captum gradients), filter PWMs, ground-truth scoring and plots."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from seqnn.data.background import dinucleotide_shuffle
from seqnn.data.encoding import decode, encode
from seqnn.inference.pretrained import ModelSpec, PretrainedModel
from seqnn.interpret import (
    attribute,
    filter_motifs,
    gradient_x_input,
    integrated_gradients,
    ism,
    observed,
    plot_ism,
    plot_logo,
    position_auroc,
    position_scores,
    saliency,
)

matplotlib.use("Agg")


def count_a_net() -> nn.Module:
    """Fraction of A in the sequence: (N, 4, L) -> (N, 1)."""
    net = nn.Sequential(nn.Conv1d(4, 1, 1, bias=False), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    with torch.no_grad():
        net[0].weight[:] = torch.tensor([1.0, 0, 0, 0]).view(1, 4, 1)
    return net.eval()


def small_cnn(n_targets: int = 2, pool: bool = True, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Conv1d(4, 8, 5, padding="same"), nn.BatchNorm1d(8), nn.ReLU()]
    layers += [nn.MaxPool1d(2), nn.Flatten(), nn.Linear(8 * 10, n_targets)] if pool else [
        nn.Flatten(), nn.Linear(8 * 20, n_targets)]  # fmt: skip
    net = nn.Sequential(*layers)
    with torch.no_grad():  # non-trivial batch-norm statistics
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    return net.eval()


def random_one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    return nn.functional.one_hot(torch.from_numpy(codes), 4).permute(0, 2, 1).float()


# ----------------------------------------------------------------------------- ISM
def test_ism_golden_values_on_a_count_model():
    effects = ism(count_a_net(), ["ACGTA", "AAAAN"])
    assert effects.shape == (2, 4, 5)
    a_to_other, other_to_a = -1 / 5, 1 / 5
    np.testing.assert_allclose(effects[0, 1:, 0], a_to_other, atol=1e-6)
    np.testing.assert_allclose(effects[0, 0, 1:4], other_to_a, atol=1e-6)
    assert effects[0, 0, 0] == 0 and effects[0, 1, 1] == 0  # the reference bases
    np.testing.assert_allclose(effects[1, 0, 4], other_to_a, atol=1e-6)  # N -> A counts


def test_ism_equals_a_mutant_by_mutant_loop_and_ignores_batch_size():
    net, x = small_cnn(), random_one_hot(3, 20)
    effects = ism(net, x, batch_size=7)  # (N, T, 4, L)
    assert effects.shape == (3, 2, 4, 20)
    np.testing.assert_allclose(effects, ism(net, x, batch_size=1000), atol=1e-5)
    with torch.no_grad():
        ref = net(x)
        for n, b, i in [(0, 1, 3), (2, 0, 19), (1, 3, 0)]:
            mutant = x[n : n + 1].clone()
            mutant[0, :, i] = 0
            mutant[0, b, i] = 1
            expected = (net(mutant) - ref[n]).numpy()[0]
            if x[n, b, i] == 1:
                expected = np.zeros(2)
            np.testing.assert_allclose(effects[n, :, b, i], expected, atol=1e-5)


def test_ism_centre_gives_the_present_base_minus_the_mean_effect():
    x = encode(["ACGTA"])
    centred = ism(count_a_net(), x, centre=True)
    present = observed(
        centred, nn.functional.one_hot(torch.from_numpy(x).long(), 4).permute(0, 2, 1)
    )
    # mutating an A away loses 1/5; mutating a C/G/T to A gains 1/5 (one of the three)
    np.testing.assert_allclose(present[0], [0.15, -0.05, -0.05, -0.05, 0.15], atol=1e-6)


def test_targets_by_name_on_a_pretrained_model_and_bad_targets():
    spec = ModelSpec(network={}, input_length=20, task="multilabel", targets=["a", "b"],
                     output_transform="sigmoid")  # fmt: skip
    model = PretrainedModel(small_cnn(), spec).eval()
    x = random_one_hot(2, 20)
    by_name = ism(model, x, target="b")
    assert by_name.shape == (2, 4, 20)
    np.testing.assert_allclose(by_name, ism(model.net, x, target=1), atol=1e-6)
    with pytest.raises(ValueError, match="target=.c.: no such target"):
        ism(model, x, target="c")
    with pytest.raises(ValueError, match="out of range"):
        gradient_x_input(model.net, x, target=5)


# ----------------------------------------------------------------------------- gradients
def test_saliency_and_gradient_x_input_equal_autograd():
    net, x = small_cnn(), random_one_hot(4, 20)
    xg = x.clone().requires_grad_()
    net(xg)[:, 1].sum().backward()
    np.testing.assert_allclose(saliency(net, x, target=1), xg.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(
        gradient_x_input(net, x, target=1), (xg.grad * x).numpy(), atol=1e-5
    )
    both = attribute(net, x, "gradient_x_input", batch_size=3)  # every target, batched
    assert both.shape == (4, 2, 4, 20)
    np.testing.assert_allclose(both[:, 1], (xg.grad * x).numpy(), atol=1e-5)


def test_integrated_gradients_sum_to_the_output_difference():
    net, x = small_cnn(pool=False), random_one_hot(3, 20)
    attr = integrated_gradients(net, x, target=0, n_steps=300)
    with torch.no_grad():
        delta = (net(x) - net(torch.zeros_like(x)))[:, 0].numpy()
    np.testing.assert_allclose(attr.sum(axis=(1, 2)), delta, rtol=0.02, atol=0.02)


def test_deeplift_shap_sums_to_output_minus_mean_shuffled_reference():
    net, x = small_cnn(pool=False), random_one_hot(3, 20, seed=4)
    attr = attribute(net, x, "deeplift_shap", target=0, n_shuffles=5, seed=0)
    codes = x.argmax(1).to(torch.uint8).numpy()
    refs = [dinucleotide_shuffle(codes, seed=k) for k in range(5)]  # as the method draws them
    with torch.no_grad():
        ref_out = torch.stack(
            [
                net(nn.functional.one_hot(torch.from_numpy(r).long(), 4).permute(0, 2, 1).float())
                for r in refs
            ]  # fmt: skip
        ).mean(0)
        delta = (net(x) - ref_out)[:, 0].numpy()
    np.testing.assert_allclose(attr.sum(axis=(1, 2)), delta, atol=1e-4)
    assert np.abs(attr).sum() > 0


def test_unknown_method_is_an_error():
    with pytest.raises(ValueError, match="unknown attribution method"):
        attribute(small_cnn(), random_one_hot(1, 20), "lime")


# ----------------------------------------------------------------------------- filters
def tataat_net() -> nn.Module:
    """One filter that scores matches to TATAAT (6 for an exact match)."""
    net = nn.Sequential(
        nn.Conv1d(4, 1, 6, padding="same", bias=False), nn.ReLU(),
        nn.AdaptiveMaxPool1d(1), nn.Flatten(),
    )  # fmt: skip
    with torch.no_grad():
        word = nn.functional.one_hot(torch.from_numpy(encode("TATAAT")).long(), 4)  # (6, 4)
        net[0].weight[:] = word.T[None].float()  # -> (1, 4, 6)
    return net.eval()


# the test network's even kernel: torch pads a copy of the input (speed, not results)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_filter_motifs_recover_the_filters_word():
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(40):
        s = list(decode(rng.integers(0, 4, 50).astype(np.uint8)))
        at = int(rng.integers(0, 44))
        s[at : at + 6] = "TATAAT"
        seqs.append("".join(s))
    (motif,) = filter_motifs(tataat_net(), seqs, threshold=0.99)
    assert motif.consensus() == "TATAAT"
    assert motif.counts.sum(axis=0).min() >= 40  # every implanted site (and exact chance hits)
    assert np.all(motif.counts[:, 0] == motif.counts[:, 0].max() * np.array([0, 0, 0, 1]))


def test_filter_motifs_needs_a_one_hot_convolution():
    with pytest.raises(ValueError, match="no Conv1d with 4 input channels"):
        filter_motifs(nn.Sequential(nn.Flatten(), nn.Linear(80, 1)), ["ACGT" * 5])


# ----------------------------------------------------------------------------- scoring, plots
def test_position_auroc():
    x = random_one_hot(2, 10)
    mask = np.zeros((2, 10), dtype=bool)
    mask[:, 3:6] = True
    perfect = x.numpy() * mask[:, None, :]
    assert position_auroc(perfect, mask, x, score="observed") == 1.0
    assert position_auroc(-perfect, mask, x, score="observed") == 0.0
    assert position_auroc(-perfect, mask) == 1.0  # l2: the size, whatever the sign
    with pytest.raises(ValueError, match="mask shape"):
        position_auroc(perfect, mask[:, :5])
    with pytest.raises(ValueError, match="both true and background"):
        position_auroc(perfect, np.ones((2, 10), dtype=bool))
    with pytest.raises(ValueError, match="needs the one-hot"):
        position_auroc(perfect, mask, score="observed")


def test_position_auroc_per_sequence_ignores_the_scale_between_sequences():
    """Each sequence ranks its own motif first, but sequence 1's scores are all 10x
    sequence 0's: pooled, its background outranks sequence 0's motif; per sequence, 1.0."""
    mask = np.zeros((3, 8), dtype=bool)
    mask[0, 2:4] = mask[1, 5:7] = True  # sequence 2 has no motif: left out per sequence
    scores = np.where(mask, 2.0, 1.0) * np.array([1.0, 10.0, 1.0])[:, None]
    attributions = np.zeros((3, 4, 8))
    attributions[:, 0, :] = scores
    assert position_auroc(attributions, mask, per_sequence=True) == 1.0
    assert position_auroc(attributions, mask) < 0.9


def test_position_scores_l2_is_the_norm_over_channels():
    a = np.zeros((1, 4, 3))
    a[0, :, 1] = [3, 0, 4, 0]
    np.testing.assert_allclose(position_scores(a), [[0, 5, 0]])


def test_plots_draw_on_axes():
    effects = ism(count_a_net(), ["ACGTACGTAA"])[0]
    ax = plot_ism(effects, "ACGTACGTAA", start=-5, title="ism")
    assert ax.get_title() == "ism" and len(ax.images) == 1
    ax = plot_logo(gradient_x_input(count_a_net(), ["ACGTACGTAA"])[0], title="logo")
    assert ax.get_title() == "logo" and len(ax.texts) + len(ax.patches) > 0
    with pytest.raises(ValueError, match=r"\(4, L\) matrix"):
        plot_logo(np.zeros((3, 5)))
