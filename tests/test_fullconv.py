"""Fully convolutional scans: equal to the window path for valid-padded networks, fallbacks for
the others, receptive fields, bad settings, and interrupted scans that leave nothing behind."""

import contextlib
import logging
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqnn.cli.predict import main
from seqnn.data.genome import Genome, write_fasta
from seqnn.inference import multi_device
from seqnn.inference.fullconv import plan_network
from seqnn.inference.multi_device import scan_genome_distributed, scan_units
from seqnn.inference.predict import PredictError, autocast
from seqnn.inference.pretrained import ModelSpec, PretrainedModel, load_pretrained, save_pretrained
from seqnn.inference.scan import choose_method, scan_chunks, scan_genome
from seqnn.models import (
    BassetCNN,
    ConvRNN,
    ConvTransformer,
    DilatedResNet,
    Ensemble,
    ReverseComplementAverage,
)

LENGTH = 60


def _randomise(net: nn.Module) -> nn.Module:
    """Random running statistics, so that eval-mode batch norm is not the identity, and
    weights large enough that the outputs vary along a contig."""
    for m in net.modules():
        if isinstance(m, nn.Conv1d | nn.Linear):
            m.weight.data.normal_(0, 2 / m.weight[0].numel() ** 0.5)
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.3)
    return net


def basset_flatten():
    return BassetCNN(
        input_length=LENGTH,
        n_filters=[6, 5, 4],
        kernel_sizes=[5, 3, 3],
        pool_sizes=[2, 3, 1],
        n_hidden=[7],
        padding="valid",
    )


def basset_global():
    return BassetCNN(n_filters=[6, 5], kernel_sizes=[5, 4], pool_sizes=[3, 2], padding="valid")


def dilated():
    return DilatedResNet(n_filters=6, stem_kernel_size=5, n_layers=3, crop=2, padding="valid")


def rc_average():
    return ReverseComplementAverage(basset_flatten())


NETWORKS = {
    "basset_flatten": basset_flatten,
    "basset_global": basset_global,
    "dilated": dilated,
    "rc_average": rc_average,
}


def pretrained(net: nn.Module, folder) -> PretrainedModel:
    """A package whose predictions are the logits (identity transform)."""
    net = _randomise(net)
    return load_pretrained(save_pretrained(net, folder, input_length=LENGTH, task="regression"))


@pytest.fixture
def fasta(tmp_path):
    """Two contigs, one shorter than a window, with N runs inside."""
    rng = np.random.default_rng(3)
    chr1 = list("".join(rng.choice(list("ACGT"), 700)))
    chr1[100:110] = "N" * 10
    seqs = {"chr1": "".join(chr1), "chr2": "".join(rng.choice(list("ACGTN"), 41))}
    return write_fasta(tmp_path / "genome.fa", seqs)


def read_track(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, names=["chrom", "start", "end", "value"])


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("stride", [1, 3, 4, 7])
@pytest.mark.parametrize("rc", [False, "max"])
def test_fullconv_scan_equals_the_window_path(name, stride, rc, fasta, tmp_path):
    """Strides 1, a divisor (3) and non-divisors (4, 7) of BassetCNN's pooling factor 6, both
    strands, contig ends with N padding, several trunk passes per contig (small chunk_bp)."""
    torch.manual_seed(0)
    model = pretrained(NETWORKS[name](), tmp_path / "m")
    assert choose_method(model, "auto", stride).exact  # valid padding: the fast path
    fast, slow = (
        scan_values(model, fasta, stride, plan, rc, chunk_bp=90)
        for plan in (choose_method(model, "auto", stride), None)
    )
    assert fast[0].equals(slow[0])  # the same bins
    assert np.abs(fast[1] - slow[1]).max() <= 1e-4
    assert slow[1].std() > 0.05  # the comparison sees real variation


def scan_values(model, fasta, stride, plan, rc, chunk_bp) -> tuple[pd.DataFrame, np.ndarray]:
    """The bins and values of a scan (chunks of 50 bins, batches of 64 windows)."""
    genome = Genome(fasta)
    chunks = list(scan_chunks(model, genome, genome.names, stride, plan, 64, rc, 50, chunk_bp))
    bins = pd.DataFrame(
        [(c, s, e) for c, starts, ends, _ in chunks for s, e in zip(starts, ends, strict=True)]
    )
    return bins, np.concatenate([values for *_, values in chunks])


@pytest.mark.parametrize("name", NETWORKS)
def test_receptive_field_equals_the_perturbed_one(name):
    """The input span one trunk position depends on, as the plan computes it, is the span
    whose perturbation changes trunk position 0."""
    torch.manual_seed(1)
    net = _randomise(NETWORKS[name]()).eval()
    plan = plan_network(net, LENGTH)
    trunk = (net.net if isinstance(net, ReverseComplementAverage) else net).trunk
    x = torch.randn(1, 4, 3 * plan.receptive_field)
    width = x.shape[-1]
    # three perturbations of every position (a max-pool may hide one, not three), one batch:
    # row 3 p + j perturbs position p
    y = x.repeat(3 * width, 1, 1)
    rows = torch.arange(3 * width)
    y[rows, :, rows // 3] += 10 * torch.randn(3 * width, 4)
    with torch.no_grad():
        moved = (trunk(y)[..., 0] - trunk(x)[..., 0]).abs().amax(-1) > 1e-5  # (3 * width,)
    changed = moved.reshape(width, 3).any(-1).numpy()
    span = np.flatnonzero(changed)
    assert span[0] == 0 and span[-1] + 1 == plan.receptive_field == len(span)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: BassetCNN(n_filters=[4], kernel_sizes=5, pool_sizes=2), "zero padding"),
        (lambda: DilatedResNet(n_filters=4, n_layers=2), "zero padding"),
        (lambda: ConvRNN(n_filters=4, kernel_size=5, pool_size=2, hidden_size=4), "recurrent"),
        (lambda: ConvTransformer(max_input_length=LENGTH, d_model=8, n_heads=2), "attention"),
        (lambda: Ensemble([basset_flatten(), basset_flatten()]), "Ensemble is not a network"),
        (lambda: DilatedResNet(n_filters=4, n_layers=2, head="profile", padding="valid"), "prof"),
    ],
)
def test_auto_falls_back_to_windows_with_one_log_line(make, reason, caplog):
    torch.manual_seed(0)
    net = make()
    model = PretrainedModel(net, ModelSpec(network={}, input_length=LENGTH)).eval()
    with caplog.at_level(logging.INFO, logger="seqnn.inference.scan"):
        assert choose_method(model, "auto", 5) is None
    (record,) = caplog.records
    assert "method=windows" in record.getMessage() and reason in record.getMessage()


def test_valid_networks_take_the_fast_path_silently(caplog):
    for make in NETWORKS.values():
        model = PretrainedModel(make(), ModelSpec(network={}, input_length=LENGTH)).eval()
        with caplog.at_level(logging.INFO, logger="seqnn.inference.scan"):
            plan = choose_method(model, "auto", 5)
        assert plan is not None and plan.exact
    assert not caplog.records


def test_auto_takes_windows_where_a_stride_shares_too_little(caplog):
    """A 1-kb CNN: the whole-contig pass is cheaper at stride 50, dearer at stride 1,000 (its
    second convolution, behind a 3-wide pool, is needed at every base)."""
    model = PretrainedModel(
        BassetCNN(1, 1000, (8, 8, 8), padding="valid"), ModelSpec(network={}, input_length=1000)
    ).eval()
    with caplog.at_level(logging.INFO, logger="seqnn.inference.scan"):
        assert choose_method(model, "auto", 50).exact
        assert not caplog.records
        assert choose_method(model, "auto", 1000) is None
    (record,) = caplog.records
    assert "at stride 1000 the whole-contig pass would cost" in record.getMessage()
    assert choose_method(model, "contextual", 1000).exact  # asked for: no cost check


def test_contextual_runs_a_padded_network_over_the_contig(fasta, tmp_path):
    """A zero-padded network's contextual track has the window path's bins but other values
    (its windows see real neighbours instead of their own edge zeros)."""
    torch.manual_seed(0)
    net = BassetCNN(input_length=LENGTH, n_filters=[6, 5], kernel_sizes=[5, 3], pool_sizes=2)
    model = pretrained(net, tmp_path / "m")
    (ctx,) = scan_genome(model, fasta, tmp_path / "c.bedgraph", 2, method="contextual")
    (win,) = scan_genome(model, fasta, tmp_path / "w.bedgraph", 2, method="windows")
    ctx, win = read_track(ctx), read_track(win)
    assert ctx[["chrom", "start", "end"]].equals(win[["chrom", "start", "end"]])
    assert np.abs(ctx.value - win.value).max() > 1e-3
    assert np.corrcoef(ctx.value, win.value)[0, 1] > 0.5
    rnn = ConvRNN(n_filters=4, kernel_size=5, pool_size=2, hidden_size=4)
    rnn_model = PretrainedModel(rnn, ModelSpec(network={}, input_length=LENGTH)).eval()
    with pytest.raises(PredictError, match="contextual.*recurrent"):
        choose_method(rnn_model, "contextual", 2)


def test_bad_scan_settings_name_the_setting(fasta, tmp_path):
    model = PretrainedModel(basset_flatten(), ModelSpec(network={}, input_length=LENGTH)).eval()
    with pytest.raises(PredictError, match=r"stride=61 is larger than the model's input length"):
        scan_genome(model, fasta, tmp_path / "t.bedgraph", stride=61)
    with pytest.raises(PredictError, match=r"chunk_bp=59 is smaller than .*receptive field"):
        scan_genome(model, fasta, tmp_path / "t.bedgraph", stride=5, chunk_bp=59)
    with pytest.raises(PredictError, match="method='fast'"):
        scan_genome(model, fasta, tmp_path / "t.bedgraph", stride=5, method="fast")
    model.spec.input_length = None
    with pytest.raises(PredictError, match="no fixed input length"):
        scan_genome(model, fasta, tmp_path / "t.bedgraph", stride=5)
    assert not list(tmp_path.glob("*bedgraph*")) and not list(tmp_path.glob(".*"))


def test_cli_scan_method_and_its_fallback_line(fasta, tmp_path, capsys):
    torch.manual_seed(0)
    padded = BassetCNN(input_length=LENGTH, n_filters=[4], kernel_sizes=5, pool_sizes=2)
    folder = save_pretrained(padded, tmp_path / "padded", input_length=LENGTH)
    args = [f"model={folder}", f"fasta={fasta}", "scan=true", "stride=5", "progress=false"]
    main([*args, f"out={tmp_path}/a.bedgraph"])
    err = capsys.readouterr().err
    assert err.count("seqnn-predict: scan: method=windows") == 1 and "zero padding" in err
    main([*args, f"out={tmp_path}/b.bedgraph", "method=windows"])
    assert "scan:" not in capsys.readouterr().err  # asked for: nothing to explain
    with pytest.raises(SystemExit) as exit_:
        main([*args, f"out={tmp_path}/c.bedgraph", "method=fast"])
    assert exit_.value.code == 2 and "method='fast'" in capsys.readouterr().err
    assert (tmp_path / "a.bedgraph").read_text() == (tmp_path / "b.bedgraph").read_text()


SCAN_SCRIPT = """
import signal
# Ctrl-C as at a terminal: a shell starts background jobs with SIGINT ignored, and a child
# inherits that (a test run started so would otherwise see the scan ignore it and finish)
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np, torch
from seqnn.cli.predict import main
from seqnn.data.genome import Genome, write_fasta
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.inference.scan import scan_genome
from seqnn.models import BassetCNN
torch.manual_seed(0)
folder = {folder!r}
genome = write_fasta(folder + "/g.fa", {{"chr1": "ACGT" * 500_000}})
net = BassetCNN(input_length=64, n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8])
model = load_pretrained(save_pretrained(net, folder + "/m", input_length=64))
scan_genome(model, genome, folder + "/out/track.bedgraph", stride=1, chunk_bins=256,
            method="windows", progress=False)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_killed_scan_leaves_no_track_and_no_temp_file(signum, tmp_path):
    """Killed mid-contig (the temp track already has lines), the scan leaves an empty folder."""
    script = textwrap.dedent(SCAN_SCRIPT.format(folder=str(tmp_path)))
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    out = tmp_path / "out"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            temps = list(out.glob(".track.bedgraph.*.tmp")) if out.exists() else []
            if temps and temps[0].stat().st_size > 0:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert list(out.iterdir()) == []


def test_scan_units_cover_every_bin_once_in_genome_order(fasta):
    genome = Genome(fasta)
    units = scan_units(genome, genome.names, 3, chunk_bins=50)
    # chr1: 700 bp -> 234 bins in chunks of 50; chr2: 41 bp -> 14 bins
    assert units.tolist() == [[0, 0, 50], [0, 50, 50], [0, 100, 50], [0, 150, 50], [0, 200, 34],
                              [1, 0, 14]]  # fmt: skip


def test_multi_device_scan_takes_the_fast_path_and_writes_the_same_track(
    fasta, tmp_path, monkeypatch
):
    """One rank in this process: the chunks go through the fully convolutional plan (as
    scan_genome's do) and the merged track equals scan_genome's, byte for byte."""
    torch.manual_seed(0)
    model = pretrained(basset_flatten(), tmp_path / "m")
    plans = []
    real = multi_device.chunk_values
    monkeypatch.setattr(
        multi_device, "chunk_values", lambda *a, **k: plans.append(a[5]) or real(*a, **k)
    )
    out = tmp_path / "multi.bedgraph"
    paths = scan_genome_distributed(
        model, fasta, out, 4, devices=1, accelerator="cpu", strategy="auto", chunk_bins=50
    )
    assert paths == [out] and len(plans) == 5 and all(p is not None and p.exact for p in plans)
    scan_genome(model, fasta, tmp_path / "one.bedgraph", 4, chunk_bins=50, progress=False)
    assert out.read_text() == (tmp_path / "one.bedgraph").read_text()
    assert not list(tmp_path.glob(".multi*"))  # the shard folder and its shards


@pytest.mark.slow
def test_two_process_scan_equals_the_window_path(fasta, tmp_path):
    """seqnn-predict scan=true devices=2 (gloo processes on the CPU): chunks shared out over
    the ranks, merged in genome order; a valid network's fast track equals the window one."""
    torch.manual_seed(0)
    folder = save_pretrained(
        _randomise(basset_flatten()), tmp_path / "m", input_length=LENGTH, task="regression"
    )
    args = [f"model={folder}", f"fasta={fasta}", "scan=true", "stride=3", "progress=false"]
    command = [sys.executable, "-m", "seqnn.cli.predict", *args, "device=cpu", "batch_size=16"]
    result = subprocess.run(
        [*command, f"out={tmp_path}/ddp.bedgraph", "devices=2", "accelerator=cpu"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "method=windows" not in result.stderr  # the fully convolutional pass
    main([*args, f"out={tmp_path}/windows.bedgraph", "method=windows", "device=cpu"])
    ddp, windows = read_track(tmp_path / "ddp.bedgraph"), read_track(tmp_path / "windows.bedgraph")
    assert ddp[["chrom", "start", "end"]].equals(windows[["chrom", "start", "end"]])
    np.testing.assert_allclose(ddp["value"], windows["value"], atol=1e-4)
    assert not (tmp_path / ".ddp.bedgraph.shards").exists()


def test_autocast_only_for_a_bf16_trained_model_on_a_gpu(tmp_path, monkeypatch):
    model = pretrained(basset_global(), tmp_path / "m")
    assert isinstance(autocast(model), contextlib.nullcontext)  # CPU
    monkeypatch.setattr(PretrainedModel, "device", property(lambda self: torch.device("cuda")))
    assert isinstance(autocast(model), contextlib.nullcontext)  # trained in float32
    model.spec.card["precision"] = "bf16-mixed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no CUDA here: torch warns and disables it
        context = autocast(model)
    assert isinstance(context, torch.autocast) and context.fast_dtype == torch.bfloat16


def test_global_pool_heads_slide_once_over_the_trunk():
    """A head that starts with a global pool reads every window's pool from one sliding pool
    (the equality tests above then check it); a flatten head gathers each window's slice."""
    assert plan_network(basset_global(), LENGTH).pooled.mode == "max"
    pooled = plan_network(dilated(), LENGTH).pooled
    assert (pooled.mode, pooled.crop) == ("mean", 2)
    assert plan_network(basset_flatten(), LENGTH).pooled is None
