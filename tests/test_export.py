"""ONNX / TorchScript export: the exported graph gives the model's predictions."""

import numpy as np
import pytest
import torch

from seqnn.cli.export import main
from seqnn.data.encoding import one_hot
from seqnn.inference.export import export_model
from seqnn.inference.pretrained import load_pretrained, save_pretrained
from seqnn.models import BassetCNN, Ensemble, KmerCNN, SpectrumMLP


def networks() -> dict:
    return {
        "basset": lambda: BassetCNN(
            n_targets=2, n_filters=[8, 8], kernel_sizes=5, pool_sizes=2, n_hidden=[8]
        ),
        # 64 - 5 + 1 = 60 positions in 9 bins: ONNX's own adaptive pooling refuses that
        "kmer_ensemble": lambda: Ensemble(
            {
                "kmer": KmerCNN(2, 8, 5, 9, (8,), periods=(3,), frame_features=4),
                "spectrum": SpectrumMLP(2, ks=(1, 2, 3), pair_distance=6, n_hidden=(8,)),
            }
        ),
    }


@pytest.fixture(params=list(networks()))
def model(request, tmp_path):
    torch.manual_seed(0)
    net = networks()[request.param]()
    return load_pretrained(save_pretrained(net, tmp_path / "m", input_length=64))


def inputs(n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTN"), 64)) for _ in range(n)]
    return one_hot(seqs)


# format=torchscript stays for existing users; torch deprecates TorchScript itself
TORCHSCRIPT_DEPRECATED = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated")


@TORCHSCRIPT_DEPRECATED
def test_torchscript_matches(model, tmp_path):
    path = export_model(model, tmp_path / "m.pt", "torchscript")
    scripted = torch.jit.load(str(path))
    x = torch.from_numpy(inputs())
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x), rtol=1e-5, atol=1e-6)


def test_onnx_matches_within_1e4(model, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = export_model(model, tmp_path / "m.onnx", "onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = inputs(7)  # a batch size other than the export example's
    (got,) = session.run(None, {"one_hot": x})
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert got.shape == (7, 2)
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model={d}/none", "out={d}/x.onnx"], "no such model"),
        (["model={d}/m", "out={d}/x.onnx", "format=pdf"], "format must be 'onnx' or"),
        (["model={d}/m"], "missing setting(s): out=..."),
        (["model={d}/m", "out={d}/x.onnx", "opset=17"], "unknown setting 'opset=17'"),
        (["model={d}/m", "out={d}/x.onnx", "out={d}/x.onnx"], "out given more than once"),
    ],
)
def test_cli_bad_input_exits_2(model, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main([a.format(d=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("seqnn-export: error:") and message in err
    assert not (tmp_path / "x.onnx").exists()


@TORCHSCRIPT_DEPRECATED
def test_cli_writes_and_prints_help(model, tmp_path, capsys):
    main([f"model={tmp_path}/m", "format=torchscript", f"out={tmp_path}/x.pt"])
    assert capsys.readouterr().out == f"seqnn-export: wrote {tmp_path}/x.pt\n"
    assert torch.jit.load(str(tmp_path / "x.pt"))(torch.from_numpy(inputs())).shape == (5, 2)
    main(["--help"])
    assert "format: onnx" in capsys.readouterr().out


def test_onnx_without_the_onnx_package_is_a_clear_error(model, tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnx" else find_spec(name, *a),
    )
    with pytest.raises(SystemExit) as exit_:
        main([f"model={tmp_path}/m", f"out={tmp_path}/x.onnx"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "pip install 'seqnn[onnx]'" in err
    assert not (tmp_path / "x.onnx").exists()
