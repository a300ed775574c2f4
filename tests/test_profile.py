"""Tests of the profile losses, metrics and ProfileModule (seqnn.tasks.profile*).

Profiles are seeded synthetic counts (N, T, L); networks are DilatedResNet(head="both") on
one-hot (N, 4, L).
"""

from __future__ import annotations

import math
from functools import partial

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import pearsonr, spearmanr
from torch.utils.data import DataLoader, TensorDataset

from seqnn.inference.predict import predict_profiles, predict_regions
from seqnn.models.dilated_resnet import DilatedResNet
from seqnn.tasks.profile import ProfileModule, profile_prediction
from seqnn.tasks.profile_losses import BPNetLoss, CountMSE, MultinomialNLL, PoissonProfileNLL
from seqnn.tasks.profile_metrics import (
    CountPearson,
    CountSpearman,
    ProfileJSD,
    ProfilePearson,
    profile_metrics,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*does not have many workers"),
    pytest.mark.filterwarnings("ignore:.*self.trainer. reference is not registered"),
    pytest.mark.filterwarnings("ignore:.*LightningModule.log. or .LightningModule.log_dict"),
]

N, T, LEN = 6, 2, 10


def random_profiles(seed: int = 0, n: int = N) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits (n, T, LEN), log totals (n, T) and Poisson counts (n, T, LEN)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, T, LEN, generator=g)
    log_counts = torch.randn(n, T, generator=g) + 3
    y = torch.poisson(torch.rand(n, T, LEN, generator=g) * 8, generator=g)
    return logits, log_counts, y


# ----------------------------------------------------------------------------- losses
def test_multinomial_nll_matches_torch_distribution():
    logits, _, y = random_profiles()
    expected = []
    for i in range(N):
        for t in range(T):
            dist = torch.distributions.Multinomial(
                int(y[i, t].sum()), logits=logits[i, t].double()
            )
            expected.append(-dist.log_prob(y[i, t].double()))
    assert MultinomialNLL()(logits, y).item() == pytest.approx(
        torch.stack(expected).mean().item(), rel=1e-5
    )


def test_multinomial_nll_by_hand():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25]]]))
    y = torch.tensor([[[2.0, 1.0, 0.0]]])
    # P = 3! / (2! 1! 0!) * 0.5^2 * 0.25 = 3 / 16
    assert MultinomialNLL()(logits, y).item() == pytest.approx(-math.log(3 / 16), rel=1e-6)


def test_count_mse():
    _, log_counts, y = random_profiles()
    expected = ((log_counts - torch.log1p(y.sum(-1))) ** 2).mean()
    assert CountMSE()(log_counts, y).item() == pytest.approx(expected.item(), rel=1e-6)
    # totals (N, T) work as well as profiles
    assert CountMSE()(log_counts, y.sum(-1)).item() == pytest.approx(expected.item(), rel=1e-6)


def test_bpnet_loss_is_the_weighted_sum():
    logits, log_counts, y = random_profiles()
    loss = BPNetLoss(count_weight=7.5)((logits, log_counts), y)
    expected = MultinomialNLL()(logits, y) + 7.5 * CountMSE()(log_counts, y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_poisson_profile_nll_matches_torch_distribution():
    logits, log_counts, y = random_profiles()
    rate = torch.softmax(logits, -1) * log_counts.exp().unsqueeze(-1)
    expected = -torch.distributions.Poisson(rate).log_prob(y).mean()
    loss = PoissonProfileNLL()((logits, log_counts), y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # a single tensor is taken as log-rates
    assert PoissonProfileNLL()(rate.log(), y).item() == pytest.approx(expected.item(), rel=1e-5)


def test_poisson_sum_decomposes_into_multinomial_plus_total():
    logits, log_counts, y = random_profiles()
    per_window = PoissonProfileNLL()((logits, log_counts), y) * LEN
    total = -torch.distributions.Poisson(log_counts.exp()).log_prob(y.sum(-1)).mean()
    assert per_window.item() == pytest.approx((MultinomialNLL()(logits, y) + total).item(), 1e-4)


def test_nan_positions_and_windows_are_masked():
    logits, log_counts, y = random_profiles()
    y_nan = y.clone()
    y_nan[0, 0, 3:] = float("nan")  # part of a window
    y_nan[1, 1] = float("nan")  # a whole window
    logits.requires_grad_(True)
    log_counts.requires_grad_(True)
    for loss_fn in (BPNetLoss(), PoissonProfileNLL()):
        loss = loss_fn((logits, log_counts), y_nan)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
        assert torch.isfinite(log_counts.grad).all()
        assert logits.grad[1, 1].abs().sum() == 0  # the masked window has no say
        logits.grad, log_counts.grad = None, None

    # the multinomial of a partly masked window is that of its valid positions
    nll = MultinomialNLL()
    keep = [(i, t) for i in range(N) for t in range(T) if (i, t) != (1, 1)]
    parts = [
        nll(logits[i, t, :3][None, None], y[i, t, :3][None, None])
        if (i, t) == (0, 0)
        else nll(logits[i, t][None, None], y[i, t][None, None])
        for i, t in keep
    ]
    assert nll(logits, y_nan).item() == pytest.approx(torch.stack(parts).mean().item(), rel=1e-5)
    # the count term drops windows with any masked position
    rows = [(i, t) for i, t in keep if (i, t) != (0, 0)]
    sq = [(log_counts[i, t] - torch.log1p(y[i, t].sum())) ** 2 for i, t in rows]
    assert CountMSE()(log_counts, y_nan).item() == pytest.approx(torch.stack(sq).mean().item())
    # Poisson: mean over the valid positions
    rate = torch.softmax(logits, -1) * log_counts.exp().unsqueeze(-1)
    valid = ~torch.isnan(y_nan)
    expected = -torch.distributions.Poisson(rate[valid]).log_prob(y[valid]).mean()
    got = PoissonProfileNLL()((logits, log_counts), y_nan)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


# ----------------------------------------------------------------------------- metrics
def update_in_batches(metric, logits, log_counts, y, size: int = 4):
    for s in range(0, logits.shape[0], size):
        metric.update((logits[s : s + size], log_counts[s : s + size]), y[s : s + size])
    return metric.compute()


def test_profile_pearson_and_jsd_match_scipy():
    logits, log_counts, y = random_profiles(1, n=11)
    y[2, 0] = 0.0  # empty window: constant profile, left out of both
    pred = profile_prediction(logits, log_counts).numpy()
    probs = torch.softmax(logits, -1).numpy()
    pearson, jsd = np.zeros(T), np.zeros(T)
    for t in range(T):
        rows = [i for i in range(11) if y[i, t].sum() > 0]
        pearson[t] = np.mean([pearsonr(pred[i, t], y[i, t].numpy())[0] for i in rows])
        jsd[t] = np.mean([jensenshannon(probs[i, t], y[i, t].numpy(), base=2) for i in rows])
    got = update_in_batches(ProfilePearson(T, ["a", "b"]), logits, log_counts, y)
    assert got["profile_pearson/a"].item() == pytest.approx(pearson[0], rel=1e-5)
    assert got["profile_pearson/b"].item() == pytest.approx(pearson[1], rel=1e-5)
    assert got["profile_pearson"].item() == pytest.approx(pearson.mean(), rel=1e-5)
    got = update_in_batches(ProfileJSD(T, ["a", "b"]), logits, log_counts, y)
    assert got["profile_jsd/a"].item() == pytest.approx(jsd[0], rel=1e-5)
    assert got["profile_jsd"].item() == pytest.approx(jsd.mean(), rel=1e-5)


def test_profile_metrics_mask_nan_positions():
    logits, log_counts, y = random_profiles(2)
    y[0, 0, :4] = float("nan")
    got_p = ProfilePearson(T)
    got_p.update((logits, log_counts), y)
    got_j = ProfileJSD(T)
    got_j.update((logits, log_counts), y)
    pred = profile_prediction(logits[0, 0, 4:], log_counts[0, 0]).numpy()
    probs = torch.softmax(logits[0, 0, 4:], -1).numpy()
    one_p, one_j = ProfilePearson(), ProfileJSD()
    one_p.update((logits[:1, :1, 4:], log_counts[:1, :1]), y[:1, :1, 4:])
    one_j.update((logits[:1, :1, 4:], log_counts[:1, :1]), y[:1, :1, 4:])
    assert one_p.compute()["profile_pearson"].item() == pytest.approx(
        pearsonr(pred, y[0, 0, 4:].numpy())[0], rel=1e-5
    )
    assert one_j.compute()["profile_jsd"].item() == pytest.approx(
        jensenshannon(probs, y[0, 0, 4:].numpy(), base=2), rel=1e-5
    )
    assert math.isfinite(got_p.compute()["profile_pearson"].item())
    assert math.isfinite(got_j.compute()["profile_jsd"].item())


def test_count_pearson_and_spearman_match_scipy():
    logits, log_counts, y = random_profiles(3, n=23)
    y[5, 1, 0] = float("nan")  # unknown total: window left out of target 1
    log_counts[7, 0] = log_counts[8, 0]  # a tie in the ranks
    obs = torch.log1p(y.sum(-1)).numpy()
    pred = log_counts.numpy()
    pearson = CountPearson(T, ["a", "b"])
    spearman = CountSpearman(T, ["a", "b"])
    got_p = update_in_batches(pearson, logits, log_counts, y, size=5)
    got_s = update_in_batches(spearman, logits, log_counts, y, size=5)
    for t, name in enumerate("ab"):
        ok = np.isfinite(obs[:, t])
        assert ok.sum() == (23 if t == 0 else 22)
        r = pearsonr(pred[ok, t], obs[ok, t])[0]
        rho = spearmanr(pred[ok, t], obs[ok, t])[0]
        assert got_p[f"count_pearson/{name}"].item() == pytest.approx(r, rel=1e-5)
        assert got_s[f"count_spearman/{name}"].item() == pytest.approx(rho, rel=1e-5)


def test_metric_collection_keys_and_reset():
    logits, log_counts, y = random_profiles()
    metrics = profile_metrics(T, ["a", "b"]).clone(prefix="val/")
    metrics.update((logits, log_counts), y)
    values = metrics.compute()
    for name in ("profile_pearson", "profile_jsd", "count_pearson", "count_spearman"):
        assert f"val/{name}" in values and f"val/{name}/a" in values
    metrics.reset()
    assert not metrics["count_spearman"].preds


# ----------------------------------------------------------------------------- module
def synthetic_batch(n: int = 16, length: int = 40, crop: int = 5):
    """One-hot (n, 4, L) and counts (n, 1, L - 2 crop) peaking at each sequence's 'G' bases."""
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4)
    x = x.float().transpose(1, 2)  # (N, L, 4) -> (N, 4, L)
    rate = 1 + 10 * x[:, 2:3, crop : length - crop]  # (N, 1, L_out)
    return x, torch.poisson(rate, generator=g)


def tiny_module(loss: torch.nn.Module | None = None, lr: float = 1e-2) -> ProfileModule:
    net = DilatedResNet(
        n_targets=1, n_filters=8, stem_kernel_size=5, n_layers=2, crop=5, head="both"
    )
    return ProfileModule(net, loss or BPNetLoss(), partial(torch.optim.Adam, lr=lr))


@pytest.mark.parametrize("loss", [BPNetLoss(), PoissonProfileNLL()], ids=["bpnet", "poisson"])
def test_module_fits_a_batch(loss):
    torch.manual_seed(0)
    x, y = synthetic_batch()
    module = tiny_module(loss)
    opt = module.configure_optimizers()
    losses = []
    for _ in range(30):
        opt.zero_grad()
        step = module.training_step((x, y), 0)
        step.backward()
        opt.step()
        losses.append(step.item())
    assert losses[-1] < 0.8 * losses[0]
    values = module.train_metrics.compute()
    assert {"train/profile_pearson", "train/count_pearson", "train/profile_jsd"} <= set(values)
    pred = module.predict_step(x, 0)
    assert pred.shape == y.shape and (pred >= 0).all()


def test_trainer_fast_dev_run(tmp_path):
    x, y = synthetic_batch(n=8)
    loader = DataLoader(TensorDataset(x, y[:, 0]), batch_size=4)  # one track: (N, L_out)
    trainer = L.Trainer(
        fast_dev_run=True,
        accelerator="cpu",
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    module = tiny_module()
    trainer.fit(module, loader, loader)
    assert "val/profile_pearson" in trainer.callback_metrics
    assert "val/count_spearman" in trainer.callback_metrics
    assert torch.isfinite(trainer.callback_metrics["val/loss"])
    (pred,) = trainer.predict(module, DataLoader(TensorDataset(x), batch_size=8))
    assert pred.shape == y.shape


def test_module_rejects_a_single_head_net():
    net = DilatedResNet(n_targets=1, n_filters=8, n_layers=1, head="profile")
    module = ProfileModule(net, BPNetLoss(), partial(torch.optim.Adam))
    with pytest.raises(ValueError, match="head='both'"):
        module.training_step((torch.zeros(2, 4, 30), torch.zeros(2, 1, 30)), 0)


def test_init_count_bias_sets_the_mean_log_total():
    from seqnn.tasks.profile import init_count_bias

    linear = torch.nn.Linear(8, 2)
    y = torch.zeros(3, 2, 5)
    y[:, 0, 0] = torch.tensor([9.0, 99.0, 999.0])  # log1p totals: log 10, log 100, log 1000
    y[0, 1, 1] = float("nan")  # target 1: only the two all-zero windows count
    init_count_bias(linear, y)
    expected = torch.tensor(
        [2 * torch.log(torch.tensor(10.0)).item(), 0.0]
    )  # mean of 1-3 x log 10
    torch.testing.assert_close(linear.bias, expected)


# ----------------------------------------------------------------------------- exported
def test_exported_profile_model_predicts_totals_profiles_and_variant_effects(tmp_path):
    """save_pretrained records task 'profile'; predict_* give totals, predict_profiles the
    per-position counts (they sum to the totals), variants the count log2 fold change."""
    import seqnn
    from seqnn.data import write_fasta
    from seqnn.data.encoding import encode

    torch.manual_seed(0)
    module = tiny_module().eval()  # batch norm with its running statistics, as exported
    module.net.scalar_head[-1].bias.data.fill_(3.0)  # totals around e^3 - 1
    folder = seqnn.save_pretrained(module, tmp_path / "model", input_length=40, targets=["cov"])
    model = seqnn.load_pretrained(folder)
    assert (model.spec.task, model.spec.output_transform) == ("profile", "expm1")

    rng = np.random.default_rng(0)
    genome = "".join(rng.choice(list("ACGT"), 300))
    fasta = write_fasta(tmp_path / "g.fa", {"chr1": genome})
    regions = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [10, 200], "end": [50, 240]})
    totals = predict_regions(model, fasta, regions)["cov_pred"].to_numpy()
    with torch.no_grad():
        x = torch.from_numpy(encode([genome[10:50], genome[200:240]]))
        expected = torch.expm1(module.net(module.one_hot(x))[1][:, 0]).numpy()
    np.testing.assert_allclose(totals, expected, rtol=1e-5)

    table, profiles = predict_profiles(model, fasta, regions)
    assert profiles.shape == (2, 1, 30) and (profiles >= 0).all()
    np.testing.assert_allclose(profiles.sum(-1)[:, 0], totals, rtol=1e-4)
    assert table["profile_start"].tolist() == [15, 205]
    assert table["profile_end"].tolist() == [45, 235]
    _, both = predict_profiles(model, fasta, regions, rc=True)
    assert both.shape == profiles.shape and not np.allclose(both, profiles)

    vcf = tmp_path / "v.vcf"
    alt = "A" if genome[29] != "A" else "C"
    vcf.write_text(
        f"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t30\tv1\t{genome[29]}\t{alt}\n"
    )
    effects = seqnn.variant_effects(model, fasta, vcf)
    ref, alt_ = effects["cov_ref"].iloc[0], effects["cov_alt"].iloc[0]
    assert effects["cov_log2fc"].iloc[0] == pytest.approx(
        np.log2((1 + alt_) / (1 + ref)), rel=1e-5
    )


def test_profiles_of_a_classifier_is_a_clear_error(tmp_path):
    import seqnn
    from seqnn.models import BassetCNN

    net = BassetCNN(n_targets=1)  # global max-pool: any length
    model = seqnn.load_pretrained(seqnn.save_pretrained(net, tmp_path / "m", input_length=40))
    with pytest.raises(ValueError, match="only 'profile' models"):
        model.profiles(torch.zeros(1, 40, dtype=torch.uint8))


# ----------------------------------------------------------------------------- ensembles
def tiny_resnet(seed: int, crop: int = 5) -> DilatedResNet:
    torch.manual_seed(seed)
    return DilatedResNet(
        n_targets=1, n_filters=8, stem_kernel_size=5, n_layers=2, crop=crop, head="both"
    )


def test_ensemble_averages_profile_outputs_element_by_element():
    from seqnn.models import Ensemble

    nets = [tiny_resnet(k).eval() for k in range(2)]
    net = Ensemble(nets).eval()
    x, _ = synthetic_batch(n=4)
    with torch.no_grad():
        (la, ca), (lb, cb) = nets[0](x), nets[1](x)
        logits, log_counts = net(x)
    torch.testing.assert_close(logits, (la + lb) / 2)
    torch.testing.assert_close(log_counts, (ca + cb) / 2)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        Ensemble([tiny_resnet(0), tiny_resnet(1, crop=3)]).eval()(x)
    with pytest.raises(ValueError, match="tensor / tuple"):
        from seqnn.models.ensemble import average_outputs

        average_outputs([(la, ca), la])


def test_profile_module_trains_each_member_of_an_ensemble_on_its_own_loss():
    from seqnn.models import Ensemble, ReverseComplementAverage

    x, y = synthetic_batch(n=8)
    for wrap in (lambda net: net, ReverseComplementAverage):
        net = Ensemble([tiny_resnet(k) for k in range(2)])
        module = ProfileModule(wrap(net), BPNetLoss(), partial(torch.optim.Adam))
        torch.manual_seed(0)
        loss = module.training_step((x, y), 0)
        torch.manual_seed(0)
        outputs = module.net(x, members=True)  # train mode: the same batch statistics
        own = torch.stack([BPNetLoss()(out, y) for out in outputs]).mean()
        torch.testing.assert_close(loss, own)
        logits = torch.stack([out[0] for out in outputs]).mean(0)
        counts = torch.stack([out[1] for out in outputs]).mean(0)
        assert not torch.isclose(loss, BPNetLoss()((logits, counts), y))


def test_profile_ensemble_fits_and_starts_every_count_head(tmp_path):
    from seqnn.models import Ensemble

    x, y = synthetic_batch(n=8)
    net = Ensemble([tiny_resnet(k) for k in range(2)])
    loader = DataLoader(TensorDataset(x, y), batch_size=8)

    class Data(L.LightningDataModule):
        def train_dataloader(self):
            return loader

        def val_dataloader(self):
            return loader

    trainer = L.Trainer(
        max_steps=1,
        accelerator="cpu",
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    module = ProfileModule(net, BPNetLoss(), partial(torch.optim.Adam, lr=1e-12))
    trainer.fit(module, datamodule=Data())
    mean_log_total = torch.log1p(y.sum(-1)).mean()
    for member in net.members.values():  # both count heads started at the data's mean
        assert member.scalar_head[-1].bias.item() == pytest.approx(mean_log_total.item(), 1e-4)


def test_seqnn_ensemble_of_profile_packages(tmp_path):
    import seqnn
    from seqnn.cli.ensemble import main as ensemble_main
    from seqnn.inference.ensemble import ensemble_pretrained

    folders = [
        seqnn.save_pretrained(
            ProfileModule(tiny_resnet(k), BPNetLoss(), partial(torch.optim.Adam)).eval(),
            tmp_path / f"m{k}",
            input_length=40,
            targets=["cov"],
        )
        for k in range(2)
    ]
    ensemble_main([f"models={folders[0]},{folders[1]}", f"out={tmp_path / 'ens'}"])
    model = seqnn.load_pretrained(tmp_path / "ens")
    assert model.spec.task == "profile" and model.spec.output_transform == "expm1"
    members = [seqnn.load_pretrained(f) for f in folders]
    x, _ = synthetic_batch(n=4)
    with torch.no_grad():
        outs = [m.net(x) for m in members]
        logits = (outs[0][0] + outs[1][0]) / 2
        log_counts = (outs[0][1] + outs[1][1]) / 2
        torch.testing.assert_close(model.profiles(x), profile_prediction(logits, log_counts))
        torch.testing.assert_close(model(x), torch.expm1(log_counts))
        assert not torch.allclose(model(x), members[0](x))

    cropped = seqnn.save_pretrained(
        ProfileModule(tiny_resnet(2, crop=3), BPNetLoss(), partial(torch.optim.Adam)).eval(),
        tmp_path / "cropped",
        input_length=40,
        targets=["cov"],
    )
    from seqnn.inference.pretrained import PretrainedError

    with pytest.raises(PretrainedError, match=r"cropped: profile output .* \(1, 34\)"):
        ensemble_pretrained([folders[0], cropped])
