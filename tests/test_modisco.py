"""TF-MoDISco (modisco-lite) -> patterns -> Tomtom: seqnn.interpret.modisco, its report and
the seqnn-interpret command line."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import torch

from seqnn.cli.interpret import main
from seqnn.data.encoding import one_hot
from seqnn.data.simulate import implant_motifs
from seqnn.inference.pretrained import save_pretrained
from seqnn.interpret import ModiscoResult, jaspar_core, match_motifs, modisco, read_meme
from seqnn.interpret.inputs import InterpretError
from seqnn.interpret.motif_discovery import SEQLET_SIZES, Pattern
from seqnn.models import BassetCNN

MOTIFS = ("MA1155.1", "MA0163.1")  # ZSCAN4, PLAG1: no other JASPAR ID resembles them


@pytest.fixture(scope="module")
def implanted():
    """Positives of the motif simulation, with contributions that are the implanted bases
    (plus noise): what a perfect model's attributions look like."""
    database = {m.id: m for m in jaspar_core()}
    sim = implant_motifs(
        [database[i].trim(0.5) for i in MOTIFS], 600, 200, motifs_per_sequence=(1, 1), seed=0
    )
    positives = sim.table.label.to_numpy() == 1
    x = one_hot(sim.table.sequence[positives].tolist())  # (N, 4, L)
    noise = np.random.default_rng(0).normal(0, 0.05, x.shape).astype(np.float32)
    return x, noise + x * sim.mask[positives][:, None, :]


def pattern_of(motif_id: str, n_seqlets: int) -> Pattern:
    motif = next(m for m in jaspar_core() if m.id == motif_id)
    probabilities = motif.probabilities()
    motif = type(motif)(f"pos_{n_seqlets}", f"pos_{n_seqlets}", probabilities * n_seqlets)
    return Pattern(motif.id, n_seqlets, motif, probabilities, probabilities)


@pytest.mark.slow
def test_modisco_recovers_every_implanted_motif_and_writes_a_report(implanted, tmp_path):
    x, hypothetical = implanted
    result = modisco(None, x, hypothetical=hypothetical)
    summary = result.summary()
    best = set(summary.loc[summary.q_value < 0.05, "best_match"].str.split().str[0])
    assert best == set(MOTIFS)
    assert summary.seqlet_fraction.min() > 0.05  # no spurious small pattern
    folder = result.write(tmp_path / "report")
    assert len(read_meme(folder / "patterns.meme")) == len(result.patterns)
    report = (folder / "report.md").read_text()
    for pattern in result.patterns:
        assert f"logos/{pattern.name}_cwm.png" in report
        assert (folder / "logos" / f"{pattern.name}_pwm.png").stat().st_size > 0


def test_seqlet_floor_reaches_modisco_lite(implanted, monkeypatch):
    tfmodisco = pytest.importorskip("modiscolite.tfmodisco")
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return None, None  # no pattern of either sign

    monkeypatch.setattr(tfmodisco, "TFMoDISco", fake)
    x, hypothetical = implanted
    result = modisco(None, x[:40], hypothetical=hypothetical[:40], min_passing_windows_frac=0.2)
    assert seen["min_passing_windows_frac"] == 0.2
    assert result.patterns == []
    modisco(None, x[:40], hypothetical=hypothetical[:40])
    assert seen["min_passing_windows_frac"] == 0.03  # modisco-lite's own default


def test_pattern_sizes_scale_with_the_seqlet(implanted, monkeypatch):
    """modisco-lite's own sizes at its default seqlet; proportionally smaller for a smaller one."""
    tfmodisco = pytest.importorskip("modiscolite.tfmodisco")
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return None, None

    monkeypatch.setattr(tfmodisco, "TFMoDISco", fake)
    x, hypothetical = implanted
    modisco(None, x[:40], hypothetical=hypothetical[:40])
    assert (seen["trim_to_window_size"], seen["initial_flank_to_add"]) == (30, 10)
    modisco(None, x[:40], hypothetical=hypothetical[:40], window=15, flank=5)
    assert (seen["trim_to_window_size"], seen["initial_flank_to_add"]) == (18, 6)


def test_the_default_sizes_are_modisco_lites_own():
    tfmodisco = pytest.importorskip("modiscolite.tfmodisco")
    defaults = inspect.signature(tfmodisco.TFMoDISco).parameters
    named = {"window": "sliding_window_size", "flank": "flank_size"}
    for key, value in SEQLET_SIZES.items():
        assert defaults[named.get(key, key)].default == value, key


def test_report_is_written_whole_and_not_over_an_existing_folder(tmp_path):
    patterns = [pattern_of("MA0139.2", 120), pattern_of("MA1155.1", 30)]
    matches = match_motifs([p.motif for p in patterns], top_k=2)
    result = ModiscoResult(patterns, matches, n_sequences=500)
    folder = result.write(tmp_path / "out")
    table = pd.read_csv(folder / "patterns.tsv", sep="\t")
    assert table.n_seqlets.tolist() == [120, 30]
    assert table.best_match.str.startswith("MA0139").iloc[0] and table.q_value.iloc[0] < 0.05
    assert "| 1 | MA0139" in (folder / "report.md").read_text()
    with pytest.raises(FileExistsError):
        result.write(folder)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp folder left


def test_bad_input_names_the_argument(implanted):
    x, hypothetical = implanted
    with pytest.raises(InterpretError, match="x: 5 sequences; .* min_sequences=20"):
        modisco(None, x[:5], hypothetical=hypothetical[:5])
    with pytest.raises(InterpretError, match="x: sequences of 30 bp are shorter than a seqlet"):
        modisco(None, x[:, :, :30], hypothetical=hypothetical[:, :, :30])
    with pytest.raises(InterpretError, match="model=None"):
        modisco(None, x)
    net = BassetCNN(n_targets=2, n_filters=[4], kernel_sizes=5, pool_sizes=2, n_hidden=[4])
    with pytest.raises(InterpretError, match="target=None: TF-MoDISco explains one output"):
        modisco(net.eval(), x[:20], method="saliency")
    with pytest.raises(InterpretError, match="method='lime'"):
        modisco(net.eval(), x[:20], target=0, method="lime")


# ----------------------------------------------------------------------------- seqnn-interpret
def package(tmp_path):
    torch.manual_seed(0)
    net = BassetCNN(n_targets=1, n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8])
    return save_pretrained(net.eval(), tmp_path / "model", input_length=60, targets=["y"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["table={t}", "fasta={t}"], "give table=<csv|tsv> (a sequence column) or fasta="),
        (["fasta={t}"], "give table=<csv|tsv>"),
        (["table={t}", "out={m}"], "the folder exists"),
        (["table={t}", "max_regions=0"], "max_regions=0: give a positive number"),
        (["table={t}", "sequence_column=seq"], "no 'seq' column"),
        (["table={t}"], "x: 8 sequences; TF-MoDISco needs at least min_sequences=20"),
        (["table={t}", "target=z"], "target='z': no such target; the model's targets are ['y']"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    folder = package(tmp_path)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(8)]
    pd.DataFrame({"sequence": seqs}).to_csv(tmp_path / "t.csv", index=False)
    paths = {"m": folder, "t": tmp_path / "t.csv"}
    argv = [f"model={folder}", *(a.format(**paths) for a in args)]
    if not any(a.startswith("out=") for a in argv):
        argv.append(f"out={tmp_path / 'report'}")
    if "target=z" in args:  # enough sequences to reach the attributions
        pd.DataFrame({"sequence": seqs * 3}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("seqnn-interpret: error:") and message in err, err
    assert not (tmp_path / "report").exists()
