"""Published architectures (Enformer, Borzoi, ChromBPNet) from their ports: converters checked
for equality with the reference implementation on TINY random configurations (CPU), track
selection, and the errors for the wrong family's checkpoint or a mismatched target table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from seqnn.cli.convert import main as convert_main
from seqnn.cli.predict import main as predict_main
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.intervals import centred_start
from seqnn.inference.convert import ConvertError, convert
from seqnn.inference.export import export_model
from seqnn.inference.predict import predict_sequences
from seqnn.inference.pretrained import PretrainedError, load_pretrained
from seqnn.inference.variants import variant_effects
from seqnn.interpret import gradient_x_input, ism, saliency
from seqnn.models.spec import TRUSTED_CLASSES, SpecError, build_network

TOL = 1e-4
TINY_ENFORMER = {
    "dim": 48,
    "depth": 1,
    "heads": 2,
    "output_heads": {"human": 5, "mouse": 3},
    "target_length": 4,
    "num_downsamples": 3,
    "dim_divisible_by": 8,
    "attn_dim_key": 8,
}
TINY_BORZOI = {
    "dim": 32,
    "depth": 1,
    "heads": 2,
    "bins_to_return": 8,
    "attn_dim_key": 8,
    "attn_dim_value": 8,
    "enable_mouse_head": True,
}


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    """(n, 4, length) random one-hot DNA."""
    codes = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.one_hot(codes, 4).float().transpose(1, 2)


def test_spec_refuses_classes_outside_the_trusted_list():
    with pytest.raises(SpecError, match="bpnetlite.chrombpnet.ChromBPNet") as err:
        build_network({"_target_": "bpnetlite.io.PeakGenerator"})
    assert "refusing" in str(err.value)
    # the ports' classes that need config objects are reached through seqnn.models only
    with pytest.raises(SpecError, match="refusing"):
        build_network({"_target_": "enformer_pytorch.modeling_enformer.Enformer"})
    assert all(not name.endswith(".") for name in TRUSTED_CLASSES)


# ----------------------------------------------------------------------------- Enformer
@pytest.fixture(scope="module")
def enformer_port():
    enformer_pytorch = pytest.importorskip("enformer_pytorch")
    torch.manual_seed(0)
    return enformer_pytorch.Enformer.from_hparams(**TINY_ENFORMER).eval()


@pytest.fixture(scope="module")
def enformer_hub(enformer_port, tmp_path_factory):
    """The port saved as the hub publishes it (config.json + pytorch_model.bin)."""
    hub = tmp_path_factory.mktemp("enformer-hub")
    torch.save(enformer_port.state_dict(), hub / "pytorch_model.bin")
    (hub / "config.json").write_text(json.dumps({**TINY_ENFORMER, "model_type": "enformer"}))
    table = pd.DataFrame(
        {
            "identifier": [f"ENCFF{i}" for i in range(5)],
            "assay": ["DNASE", "CAGE", "DNASE", "CHIP", "CAGE"],
            "description": ["K562", "K562", "HepG2", "K562", "liver"],
        }
    )
    table.to_csv(hub / "targets_human.txt", sep="\t")
    return hub


@pytest.fixture(scope="module")
def enformer_package(enformer_hub):
    """The hub snapshot converted."""
    hub = enformer_hub
    out = hub.parent / "enformer-package"
    convert("enformer", hub, out, targets=hub / "targets_human.txt", input_length=64)
    return out


def test_enformer_conversion_equals_the_port(enformer_port, enformer_package):
    model = load_pretrained(enformer_package)
    x = one_hot(3, 64)
    with torch.no_grad():
        reference = enformer_port(x.transpose(1, 2))  # the port: (N, L, 4) -> (N, bins, T)
        tracks = model.tracks(x)
        mouse = load_pretrained(enformer_package, head="mouse").tracks(x)
    for head, ours in (("human", tracks), ("mouse", mouse)):
        diff = (ours - reference[head].transpose(1, 2)).abs().max().item()
        print(f"enformer {head} max abs diff {diff:.2e}")
        assert diff <= TOL
    assert tracks.shape == (3, 5, 4) and mouse.shape == (3, 3, 4)
    assert model.spec.output_bins == 4 and model.spec.bin_size == 128
    assert torch.allclose(model(x), tracks.mean(-1))


def test_other_heads_take_their_own_targets_table(
    enformer_port, enformer_hub, enformer_package, tmp_path
):
    hub = enformer_hub
    mouse = pd.DataFrame(
        {"identifier": ["m_a", "m_b", "m_c"], "assay": ["DNASE", "CAGE", "DNASE"]}
    )
    mouse.to_csv(tmp_path / "targets_mouse.txt", sep="\t")
    out = convert(
        "enformer",
        hub,
        tmp_path / "pkg",
        targets=hub / "targets_human.txt",
        head_targets={"mouse": tmp_path / "targets_mouse.txt"},
        input_length=64,
    )
    model = load_pretrained(out, head="mouse", targets="assay == 'DNASE'")
    assert model.targets == ["m_a", "m_c"]
    x = one_hot(2, 64, seed=3)
    with torch.no_grad():
        reference = enformer_port(x.transpose(1, 2))["mouse"].transpose(1, 2).mean(-1)
        assert (model(x) - reference[:, [0, 2]]).abs().max().item() <= TOL
    # the index names stay where no table is given, and a wrong table is refused
    assert load_pretrained(enformer_package, head="mouse").targets == [
        "mouse_0",
        "mouse_1",
        "mouse_2",
    ]
    with pytest.raises(ConvertError, match="3 outputs"):
        convert("enformer", hub, tmp_path / "x", head_targets={"mouse": hub / "targets_human.txt"})
    with pytest.raises(ConvertError, match="no other head named rat"):
        convert(
            "enformer", hub, tmp_path / "y", head_targets={"rat": tmp_path / "targets_mouse.txt"}
        )


def test_enformer_cpu_inference_equals_one_batch(enformer_package):
    """On a CPU without gradients the windows run one at a time: the same outputs."""
    model = load_pretrained(enformer_package).net
    x = one_hot(3, 64, seed=5)
    with torch.no_grad():
        windowed = model(x)  # the tower one window at a time
    whole = model(x)  # with gradients enabled: one batch
    assert torch.allclose(windowed, whole.detach(), atol=TOL)
    assert whole.requires_grad


def test_targets_by_name_and_by_query(enformer_package, tmp_path):
    full = load_pretrained(enformer_package)
    x = one_hot(2, 64, seed=1)
    by_name = load_pretrained(enformer_package, targets=["ENCFF2", "ENCFF0"])
    query = load_pretrained(enformer_package, targets="assay == 'DNASE'")
    assert by_name.targets == ["ENCFF2", "ENCFF0"]
    assert query.targets == ["ENCFF0", "ENCFF2"]
    assert query.spec.target_table["description"] == ["K562", "HepG2"]
    with torch.no_grad():
        assert torch.equal(by_name(x), full(x)[:, [2, 0]])
    exported = torch.jit.load(export_model(by_name, tmp_path / "e.pt", "torchscript"))
    with torch.no_grad():
        assert torch.allclose(exported(x), by_name(x), atol=TOL)  # selection and bin means
    with pytest.raises(PretrainedError, match="unknown target"):
        load_pretrained(enformer_package, targets=["ENCFF9"])
    with pytest.raises(PretrainedError, match="selects no target"):
        load_pretrained(enformer_package, targets="assay == 'ATAC'")
    with pytest.raises(PretrainedError, match="heads are"):
        load_pretrained(enformer_package, head="rat")


def test_seqnn_predict_on_a_converted_package(enformer_package, tmp_path, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / "g.fa").write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 400)) + "\n")
    (tmp_path / "r.bed").write_text("chr1\t10\t90\nchr1\t200\t260\n")
    out = tmp_path / "p.tsv"
    predict_main(
        [
            f"model={enformer_package}",
            f"fasta={tmp_path / 'g.fa'}",
            f"regions={tmp_path / 'r.bed'}",
            f"out={out}",
            "targets=description == 'K562'",
            "device=cpu",
            "progress=false",
        ]
    )
    table = pd.read_csv(out, sep="\t")
    assert [c for c in table.columns if c.endswith("_pred")] == [
        "ENCFF0_pred",
        "ENCFF1_pred",
        "ENCFF3_pred",
    ]
    assert len(table) == 2 and table.filter(like="_pred").to_numpy().min() >= 0  # softplus


def test_target_table_wider_than_the_network_is_refused(enformer_package, tmp_path):
    spec = json.loads((enformer_package / "seqnn.json").read_text())
    spec["targets"] = spec["targets"][:4]
    spec["target_table"] = {k: v[:4] for k, v in spec["target_table"].items()}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "seqnn.json").write_text(json.dumps(spec))
    (bad / "model.safetensors").write_bytes((enformer_package / "model.safetensors").read_bytes())
    with pytest.raises(PretrainedError, match="4 targets but the network has 5 outputs.*seqnn"):
        load_pretrained(bad)
    spec["target_table"]["assay"] = spec["target_table"]["assay"][:2]
    (bad / "seqnn.json").write_text(json.dumps(spec))
    with pytest.raises(PretrainedError, match="column 'assay' has 2 rows but there are 4"):
        load_pretrained(bad)


# ----------------------------------------------------------------------------- Borzoi
@pytest.fixture(scope="module")
def borzoi_hub(tmp_path_factory):
    borzoi_pytorch = pytest.importorskip("borzoi_pytorch")
    torch.manual_seed(0)
    port = borzoi_pytorch.Borzoi.from_hparams(**TINY_BORZOI).eval()
    hub = tmp_path_factory.mktemp("borzoi-hub")
    save_file({k: v.contiguous() for k, v in port.state_dict().items()}, hub / "model.safetensors")
    (hub / "config.json").write_text(json.dumps({**TINY_BORZOI, "model_type": "borzoi"}))
    return port, hub


def test_borzoi_conversion_equals_the_port(borzoi_hub, tmp_path):
    port, hub = borzoi_hub
    out = convert("borzoi", hub, tmp_path / "borzoi", input_length=1024)
    model = load_pretrained(out)
    x = one_hot(2, 1024)
    with torch.no_grad():
        for head, is_human in (("human", True), ("mouse", False)):
            ours = load_pretrained(out, head=head).tracks(x)
            diff = (ours - port(x, is_human=is_human)).abs().max().item()
            print(f"borzoi {head} max abs diff {diff:.2e}")
            assert diff <= TOL
    # the human targets table that ships with the port
    assert len(model.targets) == 7611 and "description" in model.spec.target_table
    cage = load_pretrained(out, targets="description.str.startswith('CAGE')")
    assert 0 < len(cage.targets) < 7611


def test_converter_names_the_family_of_a_wrong_checkpoint(borzoi_hub, tmp_path):
    _, hub = borzoi_hub
    with pytest.raises(ConvertError, match="borzoi checkpoint.*use family=borzoi"):
        convert("enformer", hub / "model.safetensors", tmp_path / "x")
    with pytest.raises(ConvertError, match="not a Keras .h5 model.*family=borzoi"):
        convert("chrombpnet", hub / "model.safetensors", tmp_path / "x", bias=hub / "config.json")
    with pytest.raises(ConvertError, match="family='basenji'"):
        convert("basenji", hub, tmp_path / "x")


def test_seqnn_convert_prints_one_error_line(borzoi_hub, tmp_path, capsys):
    _, hub = borzoi_hub
    with pytest.raises(SystemExit) as exit_info:
        convert_main(["family=enformer", f"checkpoint={hub}", f"out={tmp_path / 'x'}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqnn-convert: error:") and "use family=borzoi" in err
    assert "\n" not in err


# ----------------------------------------------------------------------------- ChromBPNet
def write_keras(model, path, prefix: str) -> None:
    """A bpnet-lite BPNet written as the official ChromBPNet Keras .h5 lays out its weights
    (the inverse of ``BPNet.from_chrombpnet``)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as h5:
        weights = h5.create_group("model_weights")

        def put(name, layer, dense=False):
            group = weights.create_group(name).create_group(name)
            kernel = layer.weight.detach()
            # torch (out, in, k) -> Keras (k, in, out); Dense: (out, in) -> (in, out)
            group["kernel:0"] = (kernel.T if dense else kernel.permute(2, 1, 0)).numpy()
            group["bias:0"] = layer.bias.detach().numpy()

        put(f"{prefix}bpnet_1st_conv", model.iconv)
        for i, conv in enumerate(model.rconvs, start=1):
            put(f"{prefix}bpnet_{i}conv", conv)
        last = f"{prefix}bpnet_" if prefix else ""
        put(f"{last}prof_out_precrop", model.fconv)
        put(f"{last}logcount_predictions", model.linear, dense=True)


def test_chrombpnet_conversion_equals_the_port(tmp_path):
    bpnetlite = pytest.importorskip("bpnetlite")
    torch.manual_seed(0)
    bias = bpnetlite.BPNet(n_filters=8, n_layers=2, n_outputs=1, n_control_tracks=0)
    accessibility = bpnetlite.BPNet(n_filters=16, n_layers=3, n_outputs=1, n_control_tracks=0)
    reference = bpnetlite.ChromBPNet(bias, accessibility).eval()
    write_keras(bias, tmp_path / "bias_model_scaled.h5", "")
    write_keras(accessibility, tmp_path / "chrombpnet_nobias.h5", "wo_bias_")
    out = convert("chrombpnet", tmp_path, tmp_path / "package", input_length=300)
    model = load_pretrained(out)
    x = one_hot(4, 300)
    with torch.no_grad():
        profile, counts = reference(x)
        ours_profile, ours_counts = model.net(x)
        diff = max(
            (ours_profile - profile).abs().max().item(), (ours_counts - counts).abs().max().item()
        )
        print(f"chrombpnet max abs diff {diff:.2e}")
        assert diff <= TOL
        assert torch.allclose(model(x), torch.expm1(counts))
        assert model.profiles(x).shape == (4, 1, model.spec.output_bins)
        exported = torch.jit.load(export_model(model, tmp_path / "c.pt", "torchscript"))
        assert torch.allclose(exported(x), model(x), atol=TOL)  # the count head, as forward
    assert model.spec.network["_target_"] == "bpnetlite.chrombpnet.ChromBPNet"
    with pytest.raises(ConvertError, match="no ChromBPNet bias model"):
        convert("chrombpnet", tmp_path / "chrombpnet_nobias.h5", tmp_path / "x", bias="nope.h5")


# ----------------------------------------------------------------------------- interpret, variants
def test_interpret_a_track_package_per_selected_target(enformer_package):
    """Enformer's (N, T, bins) output is explained per selected target as the mean over its
    bins (logits): saliency is the gradient of that mean, ISM its change (full passes, the
    port is not a network fast ISM follows)."""
    model = load_pretrained(enformer_package, targets=["ENCFF2", "ENCFF0"])
    x = one_hot(2, 64, seed=2)
    grad = saliency(model, x, target="ENCFF0")  # (N, 4, L)
    xx = x.clone().requires_grad_(True)
    model.net(xx)[:, 0].mean(-1).sum().backward()  # the network's track 0 is ENCFF0
    assert grad.shape == (2, 4, 64)
    np.testing.assert_allclose(grad, xx.grad.numpy(), atol=1e-6)
    both = gradient_x_input(model, x)  # every selected target: (N, T, 4, L)
    assert both.shape == (2, 2, 4, 64)
    effects = ism(model, x, target="ENCFF2", positions=slice(30, 34))  # (N, 4, 4)
    base = (int(x[0, :, 31].argmax()) + 1) % 4  # another base than the one present
    mutant = x[:1].clone()
    mutant[0, :, 31] = torch.eye(4)[base]
    with torch.no_grad():
        expected = (model.net(mutant) - model.net(x[:1]))[0, 2].mean().item()
    assert abs(effects[0, base, 1] - expected) < 1e-5


def test_interpret_a_borzoi_package(borzoi_hub, tmp_path):
    """Borzoi: a query-selected target, its bins averaged."""
    _, hub = borzoi_hub
    model = load_pretrained(
        convert("borzoi", hub, tmp_path / "borzoi", input_length=1024),
        targets="description.str.startswith('CAGE')",
    )
    x = one_hot(1, 1024, seed=3)
    grad = gradient_x_input(model, x, target=0)
    assert grad.shape == (1, 4, 1024) and np.isfinite(grad).all() and np.abs(grad).max() > 0


def test_seqnn_variants_on_a_track_package(enformer_package, tmp_path):
    """seqnn-variants on Enformer (full passes: no fast ISM through the port): each effect
    is the selected targets' bin-mean prediction of the ALT window minus the REF one."""
    rng = np.random.default_rng(4)
    seq = "".join(rng.choice(list("ACGT"), 300))
    genome = Genome(write_fasta(tmp_path / "g.fa", {"chr1": seq}))
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    table = pd.DataFrame(
        {"chrom": ["chr1"] * 2, "pos": [100, 150], "id": ["a", "b"],
         "ref": [seq[99], seq[149]], "alt": [other[seq[99]], other[seq[149]]]}
    )  # fmt: skip
    model = load_pretrained(enformer_package, targets=["ENCFF1"])
    effects = variant_effects(model, genome, table, progress=False)
    for row in effects.itertuples():
        window = centred_start(row.pos - 1, row.pos, 64)
        ref = seq[window : window + 64]
        alt = ref[: row.pos - 1 - window] + row.alt + ref[row.pos - window :]
        expected = predict_sequences(model, [ref, alt], progress=False)["ENCFF1_pred"].to_numpy()
        np.testing.assert_allclose([row.ENCFF1_ref, row.ENCFF1_alt], expected, atol=1e-5)


def test_seqnn_convert_takes_other_heads_tables(enformer_hub, tmp_path):
    mouse = pd.DataFrame({"identifier": ["m_a", "m_b", "m_c"]})
    mouse.to_csv(tmp_path / "targets_mouse.txt", sep="\t")
    out = tmp_path / "pkg"
    convert_main(
        [
            "family=enformer",
            f"checkpoint={enformer_hub}",
            f"out={out}",
            "input_length=64",
            f"head_targets.mouse={tmp_path / 'targets_mouse.txt'}",
        ]
    )
    assert load_pretrained(out, head="mouse").targets == ["m_a", "m_b", "m_c"]
