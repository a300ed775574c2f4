"""Variants that share work: the shared path (one reference pass per window, SNV alleles by
fast ISM) equals full passes; the region-anchored windows equal full passes of each region's
window with the allele written in; method / regions through seqnn-variants."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqnn.cli.variants import main
from seqnn.data.encoding import BYTE_TO_CODE
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.intervals import centred_start
from seqnn.inference.predict import predict_codes
from seqnn.inference.pretrained import ModelSpec, PretrainedModel, save_pretrained
from seqnn.inference.variant_sharing import shared_plan
from seqnn.inference.variants import VariantError, variant_effects, variant_effects_to_file
from seqnn.interpret import ism
from seqnn.models import BassetCNN, DilatedResNet

L = 24
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
COLUMNS = ["chrom", "pos", "id", "ref", "alt"]


@pytest.fixture
def genome(tmp_path):
    rng = np.random.default_rng(1)
    contigs = {name: "".join(rng.choice(list("ACGT"), n)) for name, n in (("c1", 90), ("c2", 40))}
    return Genome(write_fasta(tmp_path / "g.fa", contigs))


def test_fast_ism_follows_valid_padded_residual_blocks():
    """The shared path's fast ISM on a valid-padded DilatedResNet (skips centre-cropped)."""
    torch.manual_seed(0)
    net = DilatedResNet(2, n_filters=6, stem_kernel_size=5, n_layers=3, padding="valid").eval()
    x = torch.randint(0, 4, (3, 48))
    np.testing.assert_allclose(ism(net, x, method="fast"), ism(net, x, method="plain"), atol=1e-5)


def cnn(length=L, seed=0, network="BassetCNN"):
    torch.manual_seed(seed)
    if network == "BassetCNN":
        net = BassetCNN(2, length, n_filters=[6, 6], kernel_sizes=5, pool_sizes=2, n_hidden=[8])
    else:
        net = DilatedResNet(2, n_filters=6, stem_kernel_size=5, n_layers=3, padding=network)
        length = 48 if network == "valid" else length  # longer than the receptive field
    spec = ModelSpec(network={}, input_length=length, task="multilabel", targets=["a", "b"])
    return PretrainedModel(net, spec).eval()


class Opaque(nn.Module):
    """A network fast ISM does not follow (an unknown module)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 3)

    def forward(self, x):
        return self.conv(x).mean(-1)


def variants(genome):
    """Every SNV of a dense stretch (several alleles per site), near both ends, and indels."""
    seq = genome.fetch("c1", 0, 90)
    rows = []
    for pos in (1, 2, 20, 21, 22, 45, 89, 90):
        ref = seq[pos - 1]
        rows += [("c1", pos, ".", ref, alt) for alt in "ACGT" if alt != ref]
    rows += [("c1", 30, "ins", seq[29], seq[29] + "GG"), ("c1", 31, "del", seq[30:33], seq[30])]
    rows.append(("c2", 5, "c2", genome.fetch("c2", 4, 5), "N"))
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.mark.parametrize(
    ("rc", "network"),
    [
        (False, "BassetCNN"),
        (True, "BassetCNN"),
        ("max", "BassetCNN"),
        (True, "same"),
        (False, "valid"),
    ],  # fmt: skip
)
def test_shared_path_equals_full_passes(genome, rc, network):
    model, table = cnn(network=network), variants(genome)
    assert shared_plan(model) is not None  # the shared path is the one tested
    fast = variant_effects(model, genome, table, rc=rc, batch_size=7, progress=False)
    plain = variant_effects(model, genome, table, rc=rc, method="plain", progress=False)
    assert fast.columns.tolist() == plain.columns.tolist()
    pd.testing.assert_frame_equal(fast[COLUMNS], plain[COLUMNS])
    np.testing.assert_allclose(
        fast.iloc[:, 5:].to_numpy(float), plain.iloc[:, 5:].to_numpy(float), atol=1e-5
    )


def test_unfollowed_networks_fall_back_to_full_passes(genome):
    spec = ModelSpec(network={}, input_length=L, task="regression", targets=["a", "b"])
    model = PretrainedModel(Opaque(), spec).eval()
    assert shared_plan(model) is None
    table = variants(genome)
    fast = variant_effects(model, genome, table, progress=False)
    plain = variant_effects(model, genome, table, method="plain", progress=False)
    pd.testing.assert_frame_equal(fast, plain)


def test_streamed_shared_file_equals_plain(genome, tmp_path):
    table = variants(genome)
    vcf = tmp_path / "v.vcf"
    vcf.write_text(HEADER + "".join("\t".join(map(str, r)) + "\t.\t.\t.\n" for r in table.values))
    out = {}
    for method in ("auto", "plain"):
        out[method] = tmp_path / f"{method}.tsv"
        variant_effects_to_file(
            cnn(), genome, vcf, out[method], method=method, chunk_rows=5, progress=False
        )
    fast, plain = (pd.read_csv(out[m], sep="\t") for m in ("auto", "plain"))
    pd.testing.assert_frame_equal(fast, plain, atol=1e-5)


def expected_in_region(model, genome, row, window):
    """Full passes of the region's window, ALT written over REF (cut to L)."""
    p = row.pos - 1
    before = genome.fetch(row.chrom, window, p)
    after = genome.fetch(row.chrom, p + len(row.ref), window + 2 * L)
    ref = genome.fetch(row.chrom, window, window + L)
    alt = (before + row.alt + after)[:L]
    codes = np.stack([np.frombuffer(s.encode(), np.uint8) for s in (ref, alt)])
    return predict_codes(model, BYTE_TO_CODE[codes])


@pytest.mark.parametrize("method", ["auto", "plain"])
def test_region_windows_equal_full_passes_of_the_region_window(genome, method):
    model, table = cnn(), variants(genome)
    regions = pd.DataFrame(
        {
            "chrom": ["c1", "c1", "c2"],
            "start": [15, 19, 0],
            "end": [35, 25, 3],
            "name": ["enh", "core", "c2start"],
        }  # fmt: skip
    )
    with pytest.warns(UserWarning, match="lie in no region"):
        fast = variant_effects(
            model, genome, table, regions=regions, method=method, progress=False
        )
    assert fast.columns.tolist()[:6] == [*COLUMNS, "region"]
    # 20-22 are in both regions (a row each); 30/31 (indels) in enh; the rest in none
    assert fast.attrs["outside_regions"] == 5 * 3 + 1
    in_both = fast[fast.pos == 21]
    assert sorted(in_both.region.unique()) == ["core", "enh"]
    assert set(fast.id[fast.region == "enh"]) >= {"ins", "del"}
    for row in fast.itertuples():
        start, end = {"enh": (15, 35), "core": (19, 25)}[row.region]
        window = centred_start(start, end, L)
        ref, alt = expected_in_region(model, genome, row, window)
        np.testing.assert_allclose([row.a_ref, row.b_ref], ref, atol=1e-5)
        np.testing.assert_allclose([row.a_alt, row.b_alt], alt, atol=1e-5)
    # one region, one reference: every variant's ref prediction in 'enh' is the same
    assert np.ptp(fast.a_ref[fast.region == "enh"]) < 1e-6


@pytest.mark.parametrize("method", ["auto", "plain"])
def test_a_region_longer_than_the_window_is_tiled_and_averaged(genome, method):
    """c1:0-90 with L = 24: tiles at 0, 24, 48 and 66 (the last ends at the region's end);
    the region's prediction is the mean over its tiles, and a variant changes the tiles that
    hold it (two for pos 70-72, where the last tiles overlap). Every variant is scored."""
    model, table = cnn(), variants(genome)
    table = table[table.chrom == "c1"]
    regions = pd.DataFrame({"chrom": ["c1"], "start": [0], "end": [90], "name": ["long"]})
    effects = variant_effects(model, genome, table, regions=regions, method=method, progress=False)
    assert len(effects) == len(table) and effects.attrs["outside_regions"] == 0
    tiles = [0, 24, 48, 66]
    ref_tiles = predict_codes(model, BYTE_TO_CODE[np.stack([codes(genome, t) for t in tiles])])
    np.testing.assert_allclose(
        effects[["a_ref", "b_ref"]], np.tile(ref_tiles.mean(0), (len(table), 1)), atol=1e-5
    )
    for row in effects.itertuples():
        alt_tiles = ref_tiles.copy()
        for k, t in enumerate(tiles):
            if t <= row.pos - 1 < t + L:
                alt_tiles[k] = expected_in_region(model, genome, row, t)[1]
        np.testing.assert_allclose([row.a_alt, row.b_alt], alt_tiles.mean(0), atol=1e-5)


def codes(genome, start):
    return np.frombuffer(genome.fetch("c1", start, start + L).encode(), np.uint8)


def test_bad_method_is_an_error(genome):
    with pytest.raises(VariantError, match="method must be 'auto' or 'plain'"):
        variant_effects(cnn(), genome, variants(genome), method="fast", progress=False)


def test_cli_regions_and_method(genome, tmp_path, capsys):
    model_dir = save_pretrained(cnn().net, tmp_path / "m", input_length=L, targets=["a", "b"])
    table = variants(genome)
    vcf = tmp_path / "v.vcf"
    vcf.write_text(HEADER + "".join("\t".join(map(str, r)) + "\t.\t.\t.\n" for r in table.values))
    bed = tmp_path / "r.bed"
    bed.write_text("c1\t15\t35\tenh\n")
    out = tmp_path / "e.tsv"
    args = [f"model={model_dir}", f"fasta={genome.path}", f"vcf={vcf}", f"out={out}"]
    try:
        main(
            [
                *args,
                f"regions={bed}",
                "method=plain",
                "background=4",
                "device=cpu",
                "progress=false",
            ]
        )
    except SystemExit as exit_:
        assert not exit_.code
    effects = pd.read_csv(out, sep="\t")
    assert set(effects.region) == {"enh"} and len(effects) == 3 * 3 + 2
    assert effects["a_effect_quantile"].between(0, 1).sum() == 3 * 3  # SNVs; indels: NaN
    assert "lie in no region" in capsys.readouterr().err


def act_model(length=L):
    """1 when the window holds ACT, else 0: a max-pooled 3-mer detector."""
    net = nn.Sequential(nn.Conv1d(4, 1, 3), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].weight[0, [0, 1, 3], [0, 1, 2]] = 1.0  # A, C, T at offsets 0, 1, 2
        net[0].bias.fill_(-2.0)
    spec = ModelSpec(network={}, input_length=length, task="regression", targets=["act"],
                     output_transform="identity")  # fmt: skip
    return PretrainedModel(net, spec).eval()


@pytest.mark.parametrize("method", ["auto", "plain"])
def test_background_quantile_near_one_for_a_huge_effect(tmp_path, method):
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 200)).replace("ACT", "AGT")
    seq = seq[:49] + "AGT" + seq[52:149] + "CGG" + seq[152:]
    seq = seq.replace("ACT", "AGT")
    genome = Genome(write_fasta(tmp_path / "g.fa", {"c": seq}))
    assert "ACT" not in seq
    table = pd.DataFrame(
        [
            ("c", 51, "gain", "G", "C"),
            ("c", 151, "none", "G", "C"),
            ("c", 100, "indel", seq[99], seq[99] + "T"),
        ],
        columns=COLUMNS,
    )
    model = act_model()
    effects = variant_effects(
        model, genome, table, background=64, seed=1, method=method, progress=False
    )
    gain, none, indel = effects["act_effect_quantile"]
    assert effects["act_diff"].tolist()[:2] == [1.0, 0.0]
    assert gain > 0.9  # creating ACT: more than almost any shuffled context gives
    assert 0.3 < none < 0.6  # no effect: mid-distribution (ties count half)
    assert np.isnan(indel)  # backgrounds are for SNVs
    again = variant_effects(model, genome, table, background=64, seed=1, progress=False)
    np.testing.assert_allclose(again["act_effect_quantile"], effects["act_effect_quantile"])


def test_background_must_not_be_negative(genome):
    with pytest.raises(VariantError, match="background must be 0"):
        variant_effects(cnn(), genome, variants(genome), background=-1, progress=False)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("method=fast", "method must be 'auto' or 'plain'"),
        ("background=-2", "background must be 0"),
    ],
)
def test_cli_bad_settings_exit_2(genome, tmp_path, capsys, extra, message):
    model_dir = save_pretrained(cnn().net, tmp_path / "m", input_length=L, targets=["a", "b"])
    vcf = tmp_path / "v.vcf"
    vcf.write_text(HEADER + "c1\t5\t.\t" + genome.fetch("c1", 4, 5) + "\tN\t.\t.\t.\n")
    out = tmp_path / "e.tsv"
    args = [f"model={model_dir}", f"fasta={genome.path}", f"vcf={vcf}", f"out={out}", extra]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "device=cpu"])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()
