"""Published checkpoints -> seqnn packages (``seqnn.json`` + ``model.safetensors``).

``convert("enformer", "enformer-official-rough/", "enformer/")`` reads a family's checkpoint
as its maintained port publishes it and writes a package that ``load_pretrained`` reads like
any other:

- ``enformer`` (``enformer-pytorch``) and ``borzoi`` (``borzoi-pytorch``): a hub snapshot
  folder (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``) or the weights file
  itself. ``.bin`` files are read with ``torch.load(weights_only=True)``: never unpickled.
- ``chrombpnet``: the official Keras models, ``chrombpnet_nobias.h5`` (the accessibility model)
  and ``bias_model_scaled.h5``, read with h5py through ``bpnet-lite``.

Targets: ``targets=<tsv>`` (the basenji/Borzoi ``targets.txt`` layout: a header, one row per
track; the ``identifier`` column names the tracks, every column goes into the target table).
Borzoi's human table ships with its port and is used when none is given.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from seqnn.inference.pretrained import (
    PretrainedError,
    load_weights,
    read_weights,
    save_pretrained,
    unique_state,
)
from seqnn.models import borzoi, enformer
from seqnn.models.spec import SpecError, build_network

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: a key only each family's state dict has (wrong-family checkpoints are named by it)
SIGNATURES = {"enformer": "stem.0.weight", "borzoi": "conv_dna.conv_layer.weight"}
FAMILIES = ("enformer", "borzoi", "chrombpnet")
CHROMBPNET_INPUT = 2114


class ConvertError(PretrainedError):
    """A checkpoint that cannot be converted (names the file and the fix)."""


def convert(
    family: str,
    checkpoint: str | Path,
    out: str | Path,
    *,
    bias: str | Path | None = None,
    targets: str | Path | None = None,
    head_targets: Mapping[str, str | Path] | None = None,
    input_length: int | None = None,
) -> Path:
    """Write a seqnn package from a published checkpoint.

    Args:
        family: ``enformer``, ``borzoi`` or ``chrombpnet``.
        checkpoint: the checkpoint folder or file (see the module docstring).
        out: the package folder to write.
        bias: chrombpnet: the bias model's ``.h5`` (default: ``bias_model_scaled.h5`` in the
            checkpoint's folder).
        targets: a targets table (TSV) for the default head.
        head_targets: Enformer / Borzoi: the targets tables of the other heads, by head name
            (``{"mouse": "targets_mouse.txt"}``); a head without one gets index names
            (``mouse_0``, ...) and no metadata table.
        input_length: the window (bp); default: the family's published input.

    Returns:
        The package folder.

    Raises:
        ConvertError: an unknown family, a missing file, another family's checkpoint, weights
            that do not fit.
    """
    if family not in FAMILIES:
        raise ConvertError(f"family={family!r}: give one of {', '.join(FAMILIES)}")
    checkpoint = Path(checkpoint).expanduser()
    if not checkpoint.exists():
        raise ConvertError(f"{checkpoint}: no such checkpoint file or folder")
    if family == "chrombpnet":
        if head_targets:
            raise ConvertError("head_targets=: chrombpnet has one output head; use targets=")
        return _convert_chrombpnet(checkpoint, out, bias, targets, input_length)
    return _convert_track_model(
        family, checkpoint, out, targets, dict(head_targets or {}), input_length
    )


# ----------------------------------------------------------------------------- Enformer, Borzoi
def _convert_track_model(
    family: str,
    checkpoint: Path,
    out: str | Path,
    targets: Any,
    head_targets: dict[str, Any],
    input_length: int | None,
) -> Path:
    weights_path, config = _hub_files(checkpoint)
    state = _torch_state(weights_path, family)
    module = enformer if family == "enformer" else borzoi
    cls = enformer.Enformer if family == "enformer" else borzoi.Borzoi
    known = inspect.signature(cls).parameters  # a hub config.json also holds transformers' keys
    config = {k: v for k, v in config.items() if k in known}
    if family == "enformer" and "use_tf_gamma" not in config:
        # as enformer_pytorch.from_pretrained does for the official weights
        config["use_tf_gamma"] = config.get("dim", 1536) == enformer.PUBLISHED["dim"]
    network = {"_target_": f"{cls.__module__}.{cls.__qualname__}", **config}
    try:
        net = build_network(network, str(checkpoint))
    except SpecError as err:
        raise ConvertError(f"{err}: is {checkpoint} a {family} checkpoint?") from None
    _load_port(net.port, state, weights_path, family)
    head = net.head
    network["head"] = head  # recorded: load_pretrained(head=...) switches it
    heads = _head_widths(net)
    table = _read_targets(targets, heads[head], head) if targets else None
    if table is None and family == "borzoi" and head == "human":
        table = _borzoi_human_targets(heads[head])
    names, table = table if table else ([f"{head}_{i}" for i in range(heads[head])], None)
    unknown = sorted(set(head_targets) - (set(heads) - {head}))
    if unknown:
        raise ConvertError(
            f"head_targets: no other head named {', '.join(unknown)}: this {family} has "
            f"{', '.join(sorted(heads))} ({head} is the default head: give its table as targets=)"
        )
    others = {
        name: _head_entry(name, width, head_targets.get(name))
        for name, width in heads.items()
        if name != head
    }
    bins = net.port.target_length if family == "enformer" else net.port.crop.target_length
    return save_pretrained(
        net,
        out,
        network=network,
        input_length=int(input_length or module.INPUT_LENGTH),
        targets=names,
        task="regression",
        output_transform="identity",  # the ports end in softplus
        output_bins=int(bins),
        bin_size=module.BIN_SIZE,
        target_table=table,
        heads=others or None,
        card={"family": family, "converted_from": checkpoint.name, "by": "seqnn-convert"},
    )


def _hub_files(checkpoint: Path) -> tuple[Path, dict[str, Any]]:
    """A hub snapshot's weights file and the constructor arguments in its config.json."""
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    if checkpoint.is_dir():
        found = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
        if not found:
            raise ConvertError(
                f"{checkpoint}: no {' or '.join(WEIGHT_FILES)}: give the folder of a "
                "downloaded hub snapshot, or the weights file"
            )
        checkpoint = found[0]
    config_path = folder / "config.json"
    if not config_path.is_file():
        return checkpoint, {}
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConvertError(f"{config_path}: not valid JSON ({err})") from None
    return checkpoint, config


def _torch_state(path: Path, family: str) -> dict[str, torch.Tensor]:
    with open(path, "rb") as fh:
        if fh.read(8) == HDF5_MAGIC:
            raise ConvertError(
                f"{path}: a Keras .h5 model, not a {family} checkpoint: for ChromBPNet's "
                "official models use family=chrombpnet"
            )
    state = read_weights(path)
    for other, key in SIGNATURES.items():
        if other != family and key in state and SIGNATURES[family] not in state:
            raise ConvertError(
                f"{path}: this is a {other} checkpoint (it holds {key!r}), not {family}: use "
                f"family={other}"
            )
    return state


def _load_port(port: nn.Module, state: dict[str, torch.Tensor], path: Path, family: str) -> None:
    """Load the published state dict into the port, each shared module under any of its
    names; a missing, extra or misshapen tensor is an error naming the file."""
    own = port.state_dict(keep_vars=True)
    names_of: dict[int, list[str]] = {}
    for name, value in own.items():
        names_of.setdefault(id(value), []).append(name)
    missing = [names[0] for names in names_of.values() if not any(n in state for n in names)]
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise ConvertError(
            f"{path}: not a {family} checkpoint of the configuration in its config.json "
            f"(missing {missing[:3]}, unexpected {extra[:3]}): give the config.json that "
            "came with the weights, beside them"
        )
    load_weights(port, state, path, "give the config.json that came with the weights, beside them")


def _head_entry(name: str, width: int, path: Any) -> dict[str, Any]:
    """A non-default head's spec entry: its names (and table) from ``path``, else index names."""
    if path is None:
        return {"targets": [f"{name}_{i}" for i in range(width)]}
    names, table = _read_targets(path, width, name)
    return {"targets": names, "target_table": table}


def _head_widths(net: nn.Module) -> dict[str, int]:
    if isinstance(net, enformer.Enformer):
        return {str(k): int(v) for k, v in net.port.output_heads.items()}
    have = ["human"] + (["mouse"] if net.port.enable_mouse_head else [])
    return {name: borzoi.HEAD_TRACKS[name] for name in have}


def _read_targets(
    path: str | Path, width: int, head: str
) -> tuple[list[str], dict[str, list[Any]]]:
    """A targets.txt: (names, table). Names: the ``identifier`` column (made unique)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t")
    except (OSError, ValueError) as err:
        raise ConvertError(f"{path}: not a readable targets table ({err})") from None
    frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed")])
    if len(frame) != width:
        raise ConvertError(
            f"{path}: {len(frame)} targets but the {head} head has {width} outputs: give the "
            f"targets file of the {head} head"
        )
    return _names(frame), {str(c): frame[c].tolist() for c in frame.columns}


def _names(frame: pd.DataFrame) -> list[str]:
    column = "identifier" if "identifier" in frame.columns else frame.columns[0]
    names = frame[column].astype(str)
    if names.duplicated().any():
        names = names + "_" + pd.Series(range(len(frame))).astype(str)
    return names.tolist()


def _borzoi_human_targets(width: int) -> tuple[list[str], dict[str, list[Any]]] | None:
    """The human targets table that borzoi-pytorch ships (None where it has none)."""
    import borzoi_pytorch  # the optional port, present when a Borzoi was just built

    path = Path(borzoi_pytorch.__file__).parent / "precomputed" / "targets.txt"
    return _read_targets(path, width, "human") if path.is_file() else None


# ----------------------------------------------------------------------------- ChromBPNet
def _convert_chrombpnet(
    checkpoint: Path, out: str | Path, bias: Any, targets: Any, input_length: int | None
) -> Path:
    accessibility = checkpoint / "chrombpnet_nobias.h5" if checkpoint.is_dir() else checkpoint
    bias = Path(bias) if bias else accessibility.parent / "bias_model_scaled.h5"
    from bpnetlite.bpnet import BPNet  # the optional port: seqnn[chrombpnet]

    parts = {}
    for role, path in (("bias", bias), ("accessibility", accessibility)):
        _check_keras(path, role)
        try:
            parts[role] = BPNet.from_chrombpnet(str(path))
        except (KeyError, ValueError, IndexError) as err:
            raise ConvertError(
                f"{path}: not a ChromBPNet {role} model (no layer {err}): give the "
                "official chrombpnet_nobias.h5 and bias_model_scaled.h5"
            ) from None
    network = {
        "_target_": "bpnetlite.chrombpnet.ChromBPNet",
        **{role: _bpnet_spec(part) for role, part in parts.items()},
    }
    net = build_network(network, str(accessibility))
    net.load_state_dict(
        {f"{role}.{k}": v for role, part in parts.items() for k, v in unique_state(part).items()}
    )
    length = int(input_length or CHROMBPNET_INPUT)
    names = _read_targets(targets, 1, "accessibility")[0] if targets else ["accessibility"]
    return save_pretrained(
        net,
        out,
        network=network,
        input_length=length,
        targets=names,
        task="profile",
        output_bins=length - 2 * parts["accessibility"].trimming,
        bin_size=1,
        card={"family": "chrombpnet", "converted_from": accessibility.name, "by": "seqnn-convert"},
    )


def _check_keras(path: Path, role: str) -> None:
    if not path.is_file():
        raise ConvertError(
            f"{path}: no ChromBPNet {role} model: give checkpoint=<chrombpnet_nobias.h5> and "
            "bias=<bias_model_scaled.h5> (the official release's files)"
        )
    with open(path, "rb") as fh:
        if fh.read(8) != HDF5_MAGIC:
            raise ConvertError(
                f"{path}: not a Keras .h5 model: ChromBPNet's official models are .h5 files; "
                "for a torch or safetensors checkpoint use family=enformer or family=borzoi"
            )


def _bpnet_spec(model: nn.Module) -> Mapping[str, Any]:
    return {
        "_target_": "bpnetlite.bpnet.BPNet",
        "n_filters": int(model.n_filters),
        "n_layers": int(model.n_layers),
        "n_outputs": int(model.n_outputs),
        "n_control_tracks": int(model.n_control_tracks),
        "verbose": False,
    }
