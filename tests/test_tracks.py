"""seqnn.plot.tracks: observed and predicted tracks and a logo around a locus, one figure."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from genome_files import write_bigwig, write_fasta_and_windows
from torch import nn

import seqnn.plot
from seqnn.data.genome import Genome
from seqnn.errors import SeqnnInputError
from seqnn.inference.pretrained import ModelSpec, PretrainedModel
from seqnn.interpret.tracks import TracksError, parse_locus, plot_tracks
from seqnn.models.dilated_resnet import DilatedResNet

matplotlib.use("Agg")


def count_gc_model(length: int = 30) -> PretrainedModel:
    """The GC fraction of the window, as a regression model."""
    net = nn.Sequential(nn.Conv1d(4, 1, 1, bias=False), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    with torch.no_grad():
        net[0].weight[:] = torch.tensor([0.0, 1, 1, 0]).view(1, 4, 1)
    spec = ModelSpec(network={}, input_length=length, task="regression", targets=["gc"],
                     output_transform="identity")  # fmt: skip
    return PretrainedModel(net.eval(), spec).eval()


def profile_model() -> PretrainedModel:
    torch.manual_seed(0)
    net = DilatedResNet(1, 8, 5, 2, 3, crop=5, head="both").eval()
    spec = ModelSpec(network={}, input_length=60, task="profile", targets=["cov"],
                     output_transform="expm1")  # fmt: skip
    return PretrainedModel(net, spec).eval()


def test_a_scan_draws_observed_predicted_and_a_logo(tmp_path):
    fasta, _ = write_fasta_and_windows(tmp_path)
    bigwig = write_bigwig(tmp_path / "cov.bw")
    model = count_gc_model()
    fig = seqnn.plot.tracks(model, fasta, "chr1:1,000-1,020", bigwigs=[bigwig], stride=2)
    observed, predicted, logo = fig.axes
    assert "cov" in observed.get_ylabel() and "gc" in predicted.get_ylabel()
    assert len(logo.patches) + len(logo.texts) > 0
    # the predicted track is the GC fraction of the window centred on each bin
    path = predicted.collections[0].get_paths()[0].vertices
    genome = Genome(fasta)
    centre = 1001  # the first 2-bp bin's centre
    window = genome.fetch("chr1", centre - 15, centre + 15)
    assert path[:, 1].max() >= sum(c in "GC" for c in window) / 30 - 1e-6


def test_a_profile_model_draws_its_profile_over_the_locus(tmp_path):
    fasta, _ = write_fasta_and_windows(tmp_path)
    model = profile_model()
    fig = plot_tracks(model, fasta, ("chr2", 500, 530), attribution=None)
    (ax,) = fig.axes
    x = ax.collections[0].get_paths()[0].vertices[:, 0]
    assert x.min() >= 499 and x.max() <= 531
    # the plotted values are the model's profile over those positions
    genome = Genome(fasta)
    codes = genome.fetch_codes(["chr2"], [485], [545])
    expected = model.profiles(torch.from_numpy(codes)).detach().numpy()[0, 0]
    heights = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(heights.max(), expected[10:40].max(), rtol=1e-5)
    fig = plot_tracks(model, fasta, ("chr2", 500, 530))  # ISM of the count head
    assert len(fig.axes) == 2


def test_bad_loci_and_settings_name_the_argument(tmp_path):
    fasta, _ = write_fasta_and_windows(tmp_path)
    model = count_gc_model()
    assert parse_locus("chr1:1,000-2,000") == ("chr1", 1000, 2000)
    with pytest.raises(TracksError, match="locus='chr1:10'"):
        plot_tracks(model, fasta, "chr1:10")
    with pytest.raises(TracksError, match="locus is 100 bp, wider than the model's 30-bp"):
        plot_tracks(model, fasta, "chr1:100-200")
    with pytest.raises(TracksError, match="attribution: expected a \\(4, 10\\)"):
        plot_tracks(model, fasta, "chr1:100-110", attribution=np.zeros((4, 3)))
    with pytest.raises(TracksError, match="not a readable bigWig"):
        (tmp_path / "x.bw").write_text("no")
        plot_tracks(model, fasta, "chr1:100-110", bigwigs=tmp_path / "x.bw")
    with pytest.raises(SeqnnInputError, match="target='z'"):
        plot_tracks(model, fasta, "chr1:100-110", target="z", attribution=None)
