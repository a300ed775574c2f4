"""Packages on the Hugging Face Hub, offline: a fake hub cache, monkeypatched hub calls.

The cache is laid out as huggingface_hub lays it (``models--owner--repo/snapshots/<commit>/``,
``refs/main``) and read through the same code path as a real download, with ``HF_HUB_CACHE``
pointed at it and offline mode on; nothing here touches the network.
"""

from __future__ import annotations

import shutil

import huggingface_hub
import pytest
import torch
from huggingface_hub import errors as hub_errors

import seqnn
from seqnn.cli import predict as predict_cli
from seqnn.inference import pretrained
from seqnn.inference.hub import HubError, parse_source
from seqnn.inference.pretrained import SPEC_FILE, WEIGHTS_FILE, load_pretrained, save_pretrained
from seqnn.inference.push import model_card, push_to_hub
from seqnn.models import BassetCNN

COMMIT = "a" * 40
OLD_COMMIT = "b" * 40


def tiny_net(seed: int = 0) -> BassetCNN:
    torch.manual_seed(seed)
    return BassetCNN(n_targets=1, n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8])


def cache_repo(cache, repo_id, commit=COMMIT, ref="main", extra=(), seed=0):
    """Put a package in ``cache`` as the hub's cache holds a download of ``repo_id``."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    save_pretrained(
        tiny_net(seed).eval(),
        snapshot,
        input_length=32,
        targets=["bound"],
        card={"test_metrics": {"test/auroc": 0.9}, "command": "seqnn-train"},
    )
    for name in extra:
        (snapshot / name).write_bytes(b"not read")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty hub cache, offline mode on."""
    folder = tmp_path / "hub"
    folder.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


def test_loads_a_cached_repo_offline_like_a_folder(cache):
    snapshot = cache_repo(cache, "lab/ctcf")
    model = seqnn.load_pretrained("hf://lab/ctcf")
    reference = load_pretrained(snapshot)
    codes = torch.randint(0, 4, (3, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(model(codes), reference(codes))
    assert model.targets == ["bound"]


def test_local_files_only_without_the_offline_variable(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    cache_repo(cache, "lab/ctcf")

    def no_network(*args, **kwargs):
        raise AssertionError("local_files_only touched the network")

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", no_network)
    assert seqnn.load_pretrained("hf://lab/ctcf", local_files_only=True).input_length == 32


def test_revision_pinning_reads_that_commit(cache):
    cache_repo(cache, "lab/ctcf", commit=COMMIT, seed=0)
    cache_repo(cache, "lab/ctcf", commit=OLD_COMMIT, ref="v1", seed=1)
    codes = torch.randint(0, 4, (4, 32), dtype=torch.uint8)
    with torch.no_grad():
        main = seqnn.load_pretrained("hf://lab/ctcf")(codes)
        tagged = seqnn.load_pretrained("hf://lab/ctcf@v1")(codes)
        pinned = seqnn.load_pretrained(f"hf://lab/ctcf@{OLD_COMMIT}")(codes)
    assert torch.equal(tagged, pinned) and not torch.equal(main, tagged)


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "x.pkl", "last.ckpt", "m.py"])
def test_a_cached_repo_with_a_pickle_or_code_is_refused(cache, name):
    cache_repo(cache, "lab/mixed", extra=[name])
    with pytest.raises(HubError, match=rf"hf://lab/mixed: refused: the repo holds {name}"):
        seqnn.load_pretrained("hf://lab/mixed")


def test_a_listed_pickle_is_refused_before_any_download(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    files = [SPEC_FILE, WEIGHTS_FILE, "pytorch_model.bin", "modeling.py"]
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, *a, **k: files)

    def download(*args, **kwargs):
        raise AssertionError("downloaded a repo that holds a pickle")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    with pytest.raises(HubError, match="modeling.py, pytorch_model.bin"):
        seqnn.load_pretrained("hf://lab/mixed")


def test_online_downloads_only_the_package_files(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    snapshot = cache_repo(cache, "lab/ctcf")
    listed = [SPEC_FILE, WEIGHTS_FILE, "README.md", ".gitattributes", "notes.txt"]
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, *a, **k: listed)
    calls = []

    def download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    seqnn.load_pretrained("hf://lab/ctcf@v2")
    ((repo_id, kwargs),) = calls
    assert repo_id == "lab/ctcf" and kwargs["revision"] == "v2"
    assert sorted(kwargs["allow_patterns"]) == sorted(["README.md", SPEC_FILE, WEIGHTS_FILE])
    assert kwargs["cache_dir"] == str(cache) and kwargs["local_files_only"] is False


def hub_failure(cls):
    """A huggingface_hub HTTP error (its constructor wants an HTTP response, which differs
    between huggingface_hub versions; the message is all seqnn reads)."""
    error = cls.__new__(cls)
    Exception.__init__(error, "404 Client Error")
    return error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (hub_errors.RepositoryNotFoundError, r"hf://lab/none: no such repo on the hub"),
        (hub_errors.RevisionNotFoundError, r"hf://lab/none: no such revision"),
    ],
)
def test_a_missing_repo_or_revision_is_one_line(cache, monkeypatch, error, message):
    monkeypatch.delenv("HF_HUB_OFFLINE")

    def listing(self, *args, **kwargs):
        raise hub_failure(error)

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", listing)
    with pytest.raises(HubError, match=message) as info:
        seqnn.load_pretrained("hf://lab/none")
    assert "\n" not in str(info.value)


def test_a_repo_without_seqnn_files_is_not_a_package(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    listed = ["config.json", "model.safetensors", "README.md"]
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, *a, **k: listed)
    with pytest.raises(HubError, match=r"hf://lab/bert: not a seqnn package: no seqnn.json"):
        seqnn.load_pretrained("hf://lab/bert")


def test_offline_without_a_cached_copy_says_how_to_get_one(cache):
    with pytest.raises(HubError, match=r"hf://lab/absent: no cached copy \(offline mode\)"):
        seqnn.load_pretrained("hf://lab/absent")
    cache_repo(cache, "lab/ctcf")
    with pytest.raises(HubError, match=r"no cached copy"):  # a revision never downloaded
        seqnn.load_pretrained("hf://lab/ctcf@v9")


@pytest.mark.parametrize(
    "source", ["hf://", "hf://ctcf", "hf://a/b/c", "hf://lab/ctcf@", "hf://../x"]
)
def test_a_malformed_source_is_refused(source):
    with pytest.raises(HubError, match="write hf://<owner>/<repo>"):
        parse_source(source)


def test_seqnn_predict_reads_a_hub_model(cache, tmp_path, capsys):
    cache_repo(cache, "lab/ctcf")
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "ACGTTGCA" * 20 + "\n")
    regions = tmp_path / "r.bed"
    regions.write_text("chr1\t0\t32\nchr1\t40\t72\n")
    out = tmp_path / "p.tsv"
    predict_cli.main(["model=hf://lab/ctcf", f"fasta={fasta}", f"regions={regions}", f"out={out}"])
    assert len(out.read_text().strip().splitlines()) == 3  # header + 2 regions


def test_shipped_names_need_no_hub(cache, monkeypatch):
    monkeypatch.setattr(pretrained, "fetch_package", None)  # any hub call would fail
    assert seqnn.load_pretrained("ecoli-sigma70").input_length == 81


def test_push_uploads_the_package_and_its_card(tmp_path, monkeypatch):
    folder = save_pretrained(
        tiny_net().eval(),
        tmp_path / "pkg",
        input_length=32,
        targets=["bound"],
        card={"test_metrics": {"test/auroc": 0.91}, "split": {"test_fraction": 0.2}},
    )
    (folder / "stray.pkl").write_bytes(b"never uploaded")
    uploaded = {}

    def create_repo(self, repo_id, **kwargs):
        uploaded["created"] = repo_id

    def upload_folder(self, *, repo_id, folder_path, allow_patterns, **kwargs):
        uploaded.update(repo=repo_id, allow=allow_patterns)
        target = tmp_path / "hub" / "models--me--ctcf" / "snapshots" / COMMIT
        shutil.copytree(folder_path, target)
        uploaded["files"] = sorted(p.name for p in target.iterdir())

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    assert push_to_hub(folder, "me/ctcf") == "hf://me/ctcf"
    assert uploaded["created"] == uploaded["repo"] == "me/ctcf"
    assert uploaded["files"] == sorted(["README.md", SPEC_FILE, WEIGHTS_FILE])
    card = (tmp_path / "hub" / "models--me--ctcf" / "snapshots" / COMMIT / "README.md").read_text()
    assert "library_name: seqnn" in card and "| test/auroc | 0.91 |" in card
    assert 'seqnn.load_pretrained("hf://me/ctcf")' in card
    # what was pushed loads back through the hub path
    (tmp_path / "hub" / "models--me--ctcf" / "refs").mkdir()
    (tmp_path / "hub" / "models--me--ctcf" / "refs" / "main").write_text(COMMIT)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert seqnn.load_pretrained("hf://me/ctcf").targets == ["bound"]


def test_push_refuses_a_package_that_does_not_load(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", None)  # never reached
    with pytest.raises(seqnn.inference.pretrained.PretrainedError, match="no such model"):
        push_to_hub(tmp_path / "missing", "me/ctcf")


def test_model_card_lists_many_targets_briefly():
    spec = load_pretrained("ecoli-sigma70").spec
    spec.targets = [f"t{i}" for i in range(25)]
    text = model_card(spec, "me/big")
    assert "t19 and 5 more" in text and "t20" not in text
