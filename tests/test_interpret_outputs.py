"""Every network explainable: profile models' tuple outputs (count head, profile projection),
ensembles, target names, and DeepLIFT/SHAP (tangermeme) summation to delta on seqnn networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqnn.inference.pretrained import ModelSpec, PretrainedModel
from seqnn.interpret import attribute, deeplift_shap, gradient_x_input, ism, saliency
from seqnn.interpret.gradients import _references
from seqnn.interpret.inputs import InterpretError
from seqnn.models.bassetcnn import BassetCNN
from seqnn.models.dilated_resnet import DilatedResNet
from seqnn.models.ensemble import Ensemble
from seqnn.models.layers import Exponential
from seqnn.models.outputs import profile_projection

LENGTH = 40


def resnet(head: str = "both", seed: int = 0) -> DilatedResNet:
    torch.manual_seed(seed)
    net = DilatedResNet(n_targets=2, n_filters=8, n_layers=2, head=head, crop=5)
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in net.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def random_one_hot(n: int, length: int = LENGTH, seed: int = 0) -> torch.Tensor:
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    return nn.functional.one_hot(torch.from_numpy(codes), 4).permute(0, 2, 1).float()


def autograd(f, x: torch.Tensor) -> np.ndarray:
    """d sum(f(x)) / dx: (N, 4, L)."""
    xg = x.clone().requires_grad_()
    f(xg).sum().backward()
    return xg.grad.numpy()


def mutant_effect(f, x: torch.Tensor, n: int, base: int, position: int) -> np.ndarray:
    """f(x with one substitution) - f(x) of sequence n: (T,)."""
    mutant = x[n : n + 1].clone()
    mutant[0, :, position] = 0
    mutant[0, base, position] = 1
    with torch.no_grad():
        return (f(mutant) - f(x[n : n + 1]))[0].numpy()


def profile_model(net: nn.Module) -> PretrainedModel:
    spec = ModelSpec(network={}, input_length=LENGTH, task="profile", targets=["a", "b"],
                     output_transform="identity")  # fmt: skip
    return PretrainedModel(net, spec).eval()


# ----------------------------------------------------------------------------- tuple outputs
def test_gradients_of_a_profile_model_no_longer_fail():
    # the AttributeError ('tuple' object has no attribute ...): every output flattened
    net, x = resnet(), random_one_hot(2)
    attr = gradient_x_input(net, x)
    assert attr.shape == (2, 2 * (LENGTH - 10) + 2, 4, LENGTH)
    expected = autograd(lambda v: net(v)[1][:, 0], x) * x.numpy()  # the first count output
    np.testing.assert_allclose(attr[:, 2 * (LENGTH - 10)], expected, atol=1e-5)


def test_count_head_gradients_equal_autograd():
    net, x = resnet(), random_one_hot(3)
    expected = autograd(lambda v: net(v)[1][:, 1], x)
    np.testing.assert_allclose(saliency(net, x, target=1, output="count"), expected, atol=1e-5)


def test_profile_head_gradients_are_the_projections():
    net, x = resnet(), random_one_hot(3)

    def projection(v):
        logits = net(v)[0][:, 0]  # (N, L')
        return (torch.softmax(logits.detach(), -1) * logits).sum(-1)

    attr = saliency(net, x, target=0, output="profile")
    np.testing.assert_allclose(attr, autograd(projection, x), atol=1e-5)
    profile_only = resnet("profile")  # a tensor (N, T, L') output: the same projection
    assert saliency(profile_only, x, output="profile").shape == (3, 2, 4, LENGTH)


@pytest.mark.parametrize("head, output", [("both", "count"), ("both", "profile"),
                                          ("scalar", "count"), ("profile", "profile"),
                                          ("both", None)])  # fmt: skip
def test_ism_fast_equals_plain_and_a_mutant_on_every_head(head, output):
    net, x = resnet(head), random_one_hot(2)
    fast = ism(net, x, method="fast", output=output)
    plain = ism(net, x, method="plain", output=output)
    np.testing.assert_allclose(fast, plain, atol=1e-4)

    def f(v):
        y = net(v)
        parts = y if isinstance(y, tuple) else (y,)
        if output == "count":
            return parts[-1]
        if output == "profile":
            return profile_projection(parts[0])
        return torch.cat([p.reshape(len(p), -1) for p in parts], 1)

    for n, base, position in [(0, 1, 3), (1, 2, 20), (1, 0, LENGTH - 1)]:
        if x[n, base, position] == 1:
            continue
        np.testing.assert_allclose(
            plain[n, :, base, position], mutant_effect(f, x, n, base, position), atol=1e-4
        )


def test_bad_output_and_target_name_the_argument():
    net, x = resnet("profile"), random_one_hot(1)
    with pytest.raises(InterpretError, match="output='count': the network has no count head"):
        gradient_x_input(net, x, output="count")
    with pytest.raises(InterpretError, match="output='counts'"):
        ism(net, x, output="counts")
    model = profile_model(resnet())
    with pytest.raises(InterpretError, match=r"target='c': no such target.*\['a', 'b'\]"):
        gradient_x_input(model, x, target="c", output="count")
    with pytest.raises(InterpretError, match="target='b'.*output='count'"):
        ism(model, x, target="b")  # names index tracks, not the flattened outputs
    with pytest.raises(InterpretError, match="target=7: out of range"):
        ism(model, x, target=7, output="count")


def test_targets_by_name_on_a_pretrained_profile_model():
    model, x = profile_model(resnet()), random_one_hot(2)
    for method in ("gradient_x_input", "deeplift_shap"):
        by_name = attribute(model, x, method, target="b", output="count", n_shuffles=3)
        by_index = attribute(model.net, x, method, target=1, output="count", n_shuffles=3)
        np.testing.assert_allclose(by_name, by_index, atol=1e-6)
    np.testing.assert_allclose(
        ism(model, x, target="a", output="profile"), ism(model.net, x, 0, output="profile")
    )


# ----------------------------------------------------------------------------- ensembles
def test_an_ensemble_explains_its_averaged_output():
    members = [resnet(seed=1), resnet(seed=2)]
    ensemble, x = Ensemble(members).eval(), random_one_hot(2)
    for output in ("count", "profile"):
        effects = ism(ensemble, x, output=output)  # plain passes: fast ISM has no ensembles
        fast_members = [ism(m, x, output=output, method="fast") for m in members]
        assert effects.shape == fast_members[0].shape
        if output == "count":  # the mean of logits: ISM effects average too
            np.testing.assert_allclose(effects, np.mean(fast_members, 0), atol=1e-4)
    grads = saliency(ensemble, x, target=1, output="count")
    mean = np.mean([saliency(m, x, target=1, output="count") for m in members], 0)
    np.testing.assert_allclose(grads, mean, atol=1e-5)


# ----------------------------------------------------------------------------- DeepLIFT/SHAP
def delta(f, x: torch.Tensor, n_shuffles: int, seed: int = 0) -> np.ndarray:
    """f(x) - mean f(references), with the references deeplift_shap draws: (N,)."""
    refs = _references(x, n_shuffles, seed)  # (N, S, 4, L)
    with torch.no_grad():
        ref_out = torch.stack([f(refs[:, k]) for k in range(n_shuffles)]).mean(0)
        return (f(x) - ref_out).numpy()


def exponential_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(4, 6, 7, padding="same"), nn.BatchNorm1d(6), Exponential(),
        nn.MaxPool1d(4), nn.Conv1d(6, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8, 2),
    ).eval()  # fmt: skip


@pytest.mark.parametrize(
    "name, net, output, f",
    [
        ("resnet count head", resnet(), "count", lambda net, v: net(v)[1][:, 1]),
        ("basset max-pool", BassetCNN(n_targets=2, n_filters=(8, 8), kernel_sizes=(7, 3),
                                      pool_sizes=(4, 2), n_hidden=(8,), input_length=LENGTH,
                                      dropout=0.0).eval(), None, lambda net, v: net(v)[:, 1]),
        ("exponential first layer", exponential_cnn(), None, lambda net, v: net(v)[:, 1]),
        ("basset global max pool", BassetCNN(n_targets=2, n_filters=(8, 8), kernel_sizes=(7, 3),
                                             pool_sizes=(2, 2), n_hidden=(8,), dropout=0.0,
                                             first_activation=Exponential).eval(), None,
         lambda net, v: net(v)[:, 1]),
    ],
)  # fmt: skip
def test_deeplift_shap_sums_to_delta_on_seqnn_networks(name, net, output, f):
    x = random_one_hot(3, seed=5)
    attr = deeplift_shap(net, x, target=1, n_shuffles=4, output=output)
    np.testing.assert_allclose(
        attr.sum(axis=(1, 2)), delta(lambda v: f(net, v), x, 4), atol=1e-3, rtol=1e-3
    )


def test_hypothetical_contributions_times_the_input_are_the_contributions():
    net, x = resnet(), random_one_hot(2, seed=3)
    hypothetical = deeplift_shap(net, x, target=0, n_shuffles=3, output="count",
                                 hypothetical=True)  # fmt: skip
    present = deeplift_shap(net, x, target=0, n_shuffles=3, output="count")
    assert (np.abs(hypothetical) * (1 - x.numpy())).sum() > 0  # absent bases are scored too
    np.testing.assert_allclose(hypothetical * x.numpy(), present, atol=1e-6)


def test_a_module_without_a_deeplift_rule_gives_one_warning_line():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(4, 4, 5), nn.Hardtanh(-0.1, 0.1), nn.Flatten(),
                        nn.Linear(4 * (LENGTH - 4), 1)).eval()  # fmt: skip
    with pytest.warns(RuntimeWarning) as record:
        deeplift_shap(net, random_one_hot(40, seed=2), n_shuffles=4, batch_size=64)
    messages = [str(w.message) for w in record]
    assert sum("do not sum to the output's change" in m for m in messages) == 1
    assert not any("tensor(" in m for m in messages)  # tangermeme's per-pair dumps
