"""Progress bars of the long loops: predict (regions, tiled, sequences), scan, variants and
evaluate draw one on a terminal, and nothing with ``progress=False`` or off a terminal."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from rich.console import Console

from seqnn import progress as progress_module
from seqnn.data.genome import write_fasta
from seqnn.inference.evaluate import evaluate_table
from seqnn.inference.predict import predict_regions, predict_sequences
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.inference.scan import scan_genome
from seqnn.inference.variants import variant_effects
from seqnn.models import BassetCNN
from seqnn.progress import progress_bar

LENGTH = 32


@pytest.fixture
def screen(monkeypatch) -> io.StringIO:
    """What the bars draw, on a console that says it is a terminal."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    monkeypatch.setattr(progress_module, "console", lambda: console)
    return buffer


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    net = BassetCNN(n_filters=[4], kernel_sizes=5, pool_sizes=2, n_hidden=[4], dropout=0.0)
    return load_pretrained(
        save_pretrained(net, tmp_path / "model", input_length=LENGTH, targets=["label"])
    )


CHR1 = "".join(np.random.default_rng(0).choice(list("ACGT"), 400))


@pytest.fixture
def fasta(tmp_path):
    return write_fasta(tmp_path / "g.fa", {"chr1": CHR1})


REGIONS = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 100, 200], "end": [50, 150, 390]})
# pos is 1-based: the REF is CHR1[99]
VARIANTS = pd.DataFrame({"chrom": ["chr1"], "pos": [100], "ref": [CHR1[99]], "alt": ["N"]})


def run_verb(name, model, fasta, tmp_path, progress):
    if name == "regions":
        predict_regions(model, fasta, REGIONS, batch_size=2, progress=progress)
    elif name == "tiled":
        predict_regions(model, fasta, REGIONS, tile_regions=True, progress=progress)
    elif name == "sequences":
        predict_sequences(model, ["ACGT" * 10] * 3, batch_size=2, progress=progress)
    elif name == "scan":
        scan_genome(model, fasta, tmp_path / "t.bedgraph", stride=25, progress=progress)
    elif name == "variants":
        variant_effects(model, fasta, VARIANTS, progress=progress)
    else:
        table = pd.DataFrame({"sequence": ["ACGT" * 8, "TTTT" * 8], "label": [1, 0]})
        evaluate_table(model, table, progress=progress)


VERBS = ["regions", "tiled", "sequences", "scan", "variants", "evaluate"]


@pytest.mark.parametrize("verb", VERBS)
def test_long_loops_draw_a_bar_with_rate_and_time_left(verb, model, fasta, tmp_path, screen):
    run_verb(verb, model, fasta, tmp_path, progress=True)
    text = screen.getvalue()
    assert "/s" in text and "left" in text, text


@pytest.mark.parametrize("verb", VERBS)
def test_progress_false_draws_nothing(verb, model, fasta, tmp_path, screen):
    run_verb(verb, model, fasta, tmp_path, progress=False)
    assert screen.getvalue() == ""


def test_no_bar_off_a_terminal(capsys):
    with progress_bar(3, "predict") as advance:  # pytest's stderr is not a terminal
        advance(3)
    assert capsys.readouterr().err == ""


def test_the_bar_counts_every_item(screen):
    with progress_bar(5, "scan", unit="bins") as advance:
        advance(2)
        advance(3)
    assert "5/5" in screen.getvalue() and "bins/s" in screen.getvalue()
