"""Sequence design (seqnn.design.evolve) on hand-set networks whose best sequence is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqnn.data.encoding import encode
from seqnn.design import DesignError, evolve
from seqnn.inference.pretrained import ModelSpec, PretrainedModel


def word_net(*words: str) -> nn.Module:
    """One filter per word, each scoring matches (its length for an exact match), max over
    positions: (N, 4, L) -> (N, len(words))."""
    width = max(map(len, words))
    conv = nn.Conv1d(4, len(words), width, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        for k, word in enumerate(words):
            onehot = nn.functional.one_hot(torch.from_numpy(encode(word)).long(), 4)
            conv.weight[k, :, : len(word)] = onehot.T.float()
    return nn.Sequential(conv, nn.AdaptiveMaxPool1d(1), nn.Flatten()).eval()


def gc_net() -> nn.Module:
    """The GC fraction: (N, 4, L) -> (N, 1)."""
    net = nn.Sequential(nn.Conv1d(4, 1, 1, bias=False), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    with torch.no_grad():
        net[0].weight[:] = torch.tensor([0.0, 1, 1, 0]).view(1, 4, 1)
    return net.eval()


def random_strings(n: int, length: int, seed: int = 0, letters: str = "ACGT") -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(letters), length)) for _ in range(n)]


def test_greedy_builds_the_word_one_edit_a_round():
    starts = random_strings(5, 30)
    design = evolve(word_net("TATAAT"), starts, rounds=8)
    assert all("TATAAT" in s for s in design.sequences)
    np.testing.assert_allclose(design.scores, 6.0)
    t = design.trajectory
    assert set(t.columns) >= {"start", "round", "sequence", "score", "position", "ref", "alt"}
    for _, rows in t.groupby("start"):
        scores = rows["score"].to_numpy()
        assert (np.diff(scores) == 1).all()  # each round adds one matching base
        assert rows["round"].tolist() == list(range(len(rows)))
        for prev, row in zip(rows.iloc[:-1].itertuples(), rows.iloc[1:].itertuples(), strict=True):
            assert prev.sequence[row.position] == row.ref and row.sequence[row.position] == row.alt
            assert sum(a != b for a, b in zip(prev.sequence, row.sequence, strict=True)) == 1


def test_until_stops_a_start_at_the_score():
    design = evolve(word_net("TATAAT"), random_strings(4, 30, seed=5), rounds=8, until=5.0)
    last = design.trajectory.groupby("start")["score"].last()
    assert (last == 5.0).all() and (design.scores == 5.0).all()


def test_full_passes_give_the_same_design_as_fast_ism():
    starts = random_strings(3, 25, seed=1)
    fast = evolve(word_net("GATTACA"), starts, rounds=4)
    plain = evolve(word_net("GATTACA"), starts, rounds=4, scoring="plain")
    assert fast.sequences == plain.sequences
    np.testing.assert_allclose(fast.scores, plain.scores)


def test_a_profile_models_count_head_by_index_or_output_selector():
    from seqnn.models.dilated_resnet import DilatedResNet

    torch.manual_seed(0)
    net = DilatedResNet(1, 8, 5, 2, 3, crop=2, head="both").eval()
    starts = random_strings(2, 30, seed=6)
    n_flat = 26 + 1  # the profile (30 - 2 crop x 2 positions), then the count
    by_index = evolve(net, starts, target=n_flat - 1, rounds=3)
    by_head = evolve(net, starts, rounds=3, output=lambda y: y[1])
    by_name = evolve(net, starts, rounds=3, output="count", scoring="plain")
    assert by_index.sequences == by_head.sequences == by_name.sequences
    assert (by_head.scores > by_head.trajectory.query("round == 0")["score"].to_numpy()).all()


def test_minimise_reach_a_value_and_hold_another_output():
    net = word_net("AAAA", "CCCC")
    starts = ["AAAACCCCGTGTGTGTGT"]
    low = evolve(net, starts, target=0, goal="min", rounds=3)
    assert low.scores[0] == 3.0 or low.scores[0] < 4.0
    # reach 2 on the first output while the second stays at 4
    held = evolve(net, starts, target=0, goal=2.0, hold=[1], rounds=5)
    out = net(torch.nn.functional.one_hot(torch.from_numpy(encode(held.sequences)).long(), 4)
              .permute(0, 2, 1).float())  # fmt: skip
    assert out[0, 0].item() == 2.0 and out[0, 1].item() == 4.0


def test_beam_search_is_at_least_as_good_as_greedy():
    starts = random_strings(4, 30, seed=3)
    net = word_net("TATAAT", "TTGACA")
    greedy = evolve(net, starts, target=1, rounds=3)
    beam = evolve(net, starts, target=1, rounds=3, method="beam", beam_size=3)
    assert (beam.scores >= greedy.scores).all()


def test_constraints_gc_forbidden_motifs_and_region_hold_in_every_round():
    starts = random_strings(4, 40, seed=4)
    design = evolve(gc_net(), starts, rounds=10, gc=(0.3, 0.6))
    for seq in design.trajectory["sequence"]:
        gc = sum(c in "GC" for c in seq) / len(seq)
        assert 0.3 <= gc <= 0.6
    assert design.scores.max() == pytest.approx(0.6)
    # the word is forbidden: the best the filter can do without it is 5 of 6
    banned = evolve(word_net("TATAAT"), starts, rounds=10, forbidden=["TATAAT"])
    designed = banned.trajectory.query("round > 0")["sequence"]  # start 2 has one: repaired
    assert all("TATAAT" not in s and "ATTATA" not in s for s in designed)
    assert banned.scores.max() == 5.0
    inside = evolve(word_net("TATAAT"), starts, rounds=10, region=(10, 20))
    assert inside.trajectory.query("round > 0")["position"].between(10, 19).all()
    for start, seq in zip(starts, inside.sequences, strict=True):
        assert seq[:10] == start[:10] and seq[20:] == start[20:]


def test_a_start_that_breaks_the_gc_range_is_repaired_first():
    design = evolve(word_net("TATAAT"), ["A" * 20], rounds=6, gc=(0.2, 0.5))
    gcs = [sum(c in "GC" for c in s) for s in design.trajectory["sequence"]]
    assert gcs[:5] == [0, 1, 2, 3, 4]  # one base a round until 20%


def test_random_starts_on_a_pretrained_model_and_names():
    spec = ModelSpec(network={}, input_length=24, targets=["tata", "ttgaca"],
                     output_transform="identity", task="regression")  # fmt: skip
    model = PretrainedModel(word_net("TATAAT", "TTGACA"), spec).eval()
    design = evolve(model, 3, target="ttgaca", rounds=6, seed=1)
    assert len(design.sequences) == 3 and all(len(s) == 24 for s in design.sequences)
    assert all("TTGACA" in s for s in design.sequences)


def test_bad_settings_and_unmeetable_constraints_name_the_argument():
    spec = ModelSpec(network={}, input_length=20, targets=["a", "b"], task="multilabel")
    model = PretrainedModel(word_net("AAAA", "CCCC"), spec).eval()
    starts = ["ACGT" * 5]
    with pytest.raises(DesignError, match="target: the model has 2 outputs"):
        evolve(model, starts)
    with pytest.raises(DesignError, match="target='z'"):
        evolve(model, starts, target="z")
    with pytest.raises(DesignError, match="hold="):
        evolve(model, starts, target="a", hold=["z"])
    # GC 50% now; 90% would need 8 more G/C but the region holds only 2 A/T
    with pytest.raises(DesignError, match=r"gc=\(0.9, 1.0\).*region=\(0, 4\)"):
        evolve(model, starts, target="a", gc=(0.9, 1.0), region=(0, 4))
    with pytest.raises(DesignError, match="forbidden motif 'A+' is 30 bp"):
        evolve(model, starts, target="a", forbidden=["A" * 30])
    with pytest.raises(DesignError, match="forbidden: start 0 has 'ACGT' at 4"):
        evolve(model, starts, target="a", forbidden=["ACGT"], region=(0, 4))
    with pytest.raises(DesignError, match="region=\\(5, 50\\)"):
        evolve(model, starts, target="a", region=(5, 50))
    with pytest.raises(DesignError, match="method='anneal'"):
        evolve(model, starts, target="a", method="anneal")
    with pytest.raises(DesignError, match="goal='up'"):
        evolve(model, starts, target="a", goal="up")


def test_the_command_line_writes_the_trajectory_and_names_bad_settings(tmp_path, capsys):
    from seqnn.cli.design import main

    out = tmp_path / "designed.tsv"
    main(["model=ecoli-sigma70", "n_random=3", "rounds=2", f"out={out}", "gc=[0.3,0.7]"])
    import pandas as pd

    table = pd.read_csv(out, sep="\t")
    assert sorted(table["start"].unique()) == [0, 1, 2] and table["round"].max() <= 2
    assert table["sequence"].str.len().eq(81).all()
    fasta = tmp_path / "starts.fa"
    fasta.write_text(">a\n" + "A" * 81 + "\n")
    with pytest.raises(SystemExit) as exit_:
        main(["model=ecoli-sigma70", f"start={fasta}", "gc=[0.5,0.6]", "region=[0,10]",
              f"out={out}"])  # fmt: skip
    assert exit_.value.code == 2
    assert "seqnn-design: error: gc=(0.5, 0.6)" in capsys.readouterr().err
