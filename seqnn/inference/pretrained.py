"""Pretrained packages: a folder with ``model.safetensors`` (weights only) and ``seqnn.json``.

``seqnn.json`` is the human-readable spec: the network's ``_target_`` and arguments, the input
length, alphabet and layout, the N/IUPAC policy, the task kind, target names and output
transform, the seqnn version, and a model card (training data, split, test metrics, date).

Loading never unpickles: weights come from safetensors, the network is rebuilt by
:func:`seqnn.models.spec.build_network` (only ``seqnn.models`` / ``torch.nn`` classes), and a
Lightning ``.ckpt`` is read with ``torch.load(weights_only=True)`` only. Example::

    model = seqnn.load_pretrained("ecoli-sigma70")          # shipped inside the package
    model = seqnn.load_pretrained("hf://my-lab/my-model@v1")  # from the Hugging Face Hub
    seqnn.predict_sequences(model, ["TTGACA...TATAAT..."])
    seqnn.save_pretrained(module, "my_model/", input_length=1000, card={"data": "..."})
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from seqnn.atomic import atomic_open, atomic_path
from seqnn.data.embedded import resource_path
from seqnn.data.encoding import ALPHABET, DEFAULT_POLICY, EncodingPolicy, OneHot
from seqnn.errors import SeqnnInputError
from seqnn.inference.hub import fetch_package, is_hub_source
from seqnn.kinds import AUTOENCODER, BINARY, PROFILE, TaskKind, task_kind
from seqnn.kinds import TASK_KINDS as TASK_KINDS  # the kinds by name, as before
from seqnn.models.outputs import OUTPUT_TRANSFORMS, profile_prediction
from seqnn.models.spec import SpecError, build_network, network_spec
from seqnn.version import __version__

FORMAT_VERSION = 1
#: the longest input a spec may ask for (bp); published models take up to ~1 Mb
MAX_INPUT = 10_000_000
#: the largest safetensors JSON header read (bytes): ~100k tensors
MAX_HEADER = 16 * 2**20
SPEC_FILE = "seqnn.json"
WEIGHTS_FILE = "model.safetensors"
# names that load_pretrained resolves to folders shipped in seqnn/resources/models/ (their
# provenance: seqnn/resources/PROVENANCE.md; tests/test_packaging.py checks the list is whole)
SHIPPED_MODELS = ("ecoli-sigma70", "ctcf-peaks", "bsubtilis-promoters")


class PretrainedError(SeqnnInputError):
    """A pretrained package that cannot be written or read (names the file and the fix)."""


@dataclass
class ModelSpec:
    """What a pretrained network needs besides its weights (the content of ``seqnn.json``).

    Args:
        network: the network's constructor call (``_target_`` + arguments).
        input_length: the sequence length the model was trained on (bp).
        task: ``binary``, ``multilabel``, ``multiclass``, ``regression``, ``profile`` (a
            BPNet-style net returning (profile logits, log(1 + total)); predictions are the
            totals) or ``autoencoder``.
        targets: one name per output.
        output_transform: logits -> predictions: ``sigmoid``, ``softmax``, ``exp``, ``identity``.
        policy: the N/IUPAC encoding policy used in training (and so in prediction).
        card: free-form model card: training data, split, test metrics, date, ...
        threshold: binary / multilabel: the decision threshold of training's call metrics
            (``task.threshold``); ``seqnn-predict calls=true`` calls a probability above it
            positive. None: 0.5.
        strand_specific: True when the model was trained on sequences read on their
            feature's strand (the data's ``use_strand``, e.g. promoters): its prediction for
            the reverse complement is the other strand's, so averaging the two (``rc=true``)
            halves a one-strand signal. None: not recorded (specs written before this field).
        output_bins, bin_size: a track model's (N, T, bins) output: bins per window and bp per
            bin (Enformer: 896 x 128 bp). None: the network returns (N, T).
        target_table: metadata of the targets, column -> one value per target (assay,
            description, ...), for ``load_pretrained(targets="assay == 'DNASE'")``.
        heads: a multi-head network's other heads: name -> ``{"targets": [...],
            "target_table": {...}}``; ``targets`` above are those of ``network["head"]``.
    """

    network: dict[str, Any]
    input_length: int
    task: str = BINARY.name
    targets: list[str] = field(default_factory=lambda: ["target_0"])
    output_transform: str = "sigmoid"
    policy: EncodingPolicy = DEFAULT_POLICY
    card: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    strand_specific: bool | None = None
    output_bins: int | None = None
    bin_size: int | None = None
    target_table: dict[str, list[Any]] | None = None
    heads: dict[str, dict[str, Any]] | None = None
    alphabet: str = ALPHABET
    layout: str = "(batch, 4, length), channels A, C, G, T"
    seqnn_version: str = __version__
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"format": "seqnn-pretrained", **asdict(self), "policy": asdict(self.policy)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = SPEC_FILE) -> ModelSpec:
        """Check a spec read from ``source``; errors name the file and the field."""
        version = data.get("format_version")
        if not isinstance(version, int):
            raise PretrainedError(f"{source}: no integer 'format_version': not a seqnn spec")
        if version > FORMAT_VERSION:
            raise PretrainedError(
                f"{source}: written by seqnn {data.get('seqnn_version', '?')} (spec format "
                f"{version}); this seqnn {__version__} reads format {FORMAT_VERSION} at most: "
                "upgrade seqnn (pip install -U seqnn)"
            )
        missing = [k for k in ("network", "input_length") if k not in data]
        if missing:
            raise PretrainedError(f"{source}: missing field(s) {missing}")
        if data.get("alphabet", ALPHABET) != ALPHABET:
            raise PretrainedError(
                f"{source}: alphabet {data['alphabet']!r}: seqnn models read {ALPHABET!r}"
            )
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            spec = cls(**{**known, "policy": EncodingPolicy(**data.get("policy", {}))})
        except (TypeError, ValueError) as err:
            raise PretrainedError(f"{source}: {err}") from None
        length = spec.input_length
        if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= MAX_INPUT:
            raise PretrainedError(
                f"{source}: input_length {length!r}: give a whole number of bp from 1 to "
                f"{MAX_INPUT:,}"
            )
        if spec.threshold is not None and not (
            isinstance(spec.threshold, int | float) and 0 < spec.threshold < 1
        ):
            raise PretrainedError(
                f"{source}: threshold {spec.threshold!r} is not a probability in (0, 1)"
            )
        if spec.strand_specific not in (None, True, False):
            raise PretrainedError(
                f"{source}: strand_specific {spec.strand_specific!r} is not true, false or null"
            )
        _kind(spec.task, source)
        _check_table(spec.targets, spec.target_table, source)
        for name, head in (spec.heads or {}).items():
            if not isinstance(head, dict) or not isinstance(head.get("targets"), list):
                raise PretrainedError(f"{source}: heads.{name} has no list of 'targets'")
            _check_table(head["targets"], head.get("target_table"), f"{source}: heads.{name}")
        if spec.output_transform not in OUTPUT_TRANSFORMS:
            raise PretrainedError(
                f"{source}: output_transform {spec.output_transform!r} is not one of "
                f"{tuple(OUTPUT_TRANSFORMS)}"
            )
        return spec


def _check_table(targets: list[str], table: Any, source: str) -> None:
    """A target table is column -> one value per target."""
    if table is None:
        return
    if not isinstance(table, dict):
        raise PretrainedError(f"{source}: target_table is a JSON object: column -> values")
    for column, values in table.items():
        if not isinstance(values, list) or len(values) != len(targets):
            rows = len(values) if isinstance(values, list) else "no list of"
            raise PretrainedError(
                f"{source}: target_table column {column!r} has {rows} rows but there are "
                f"{len(targets)} targets: the table belongs to another model; write the "
                "package again with seqnn-convert (or save_pretrained targets=...)"
            )


class PretrainedModel(nn.Module):
    """A network with its spec: codes (N, L) or one-hot (N, 4, L) -> predictions (N, T).

    ``forward`` applies the spec's N/IUPAC policy and output transform (probabilities for
    classifiers); a track model's (N, T, bins) output is averaged over its bins (the
    window's mean signal; :meth:`tracks` gives the bins). With ``track_index`` (set by
    ``load_pretrained(targets=...)``) only those outputs are kept. Made by
    :func:`load_pretrained`; in eval mode.
    """

    def __init__(
        self, net: nn.Module, spec: ModelSpec, track_index: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.net = net
        self.spec = spec
        self.one_hot = OneHot(spec.policy)
        self.output_fn = OUTPUT_TRANSFORMS[spec.output_transform]
        self.kind = _kind(spec.task, SPEC_FILE)
        self.track_index = track_index

    @property
    def targets(self) -> list[str]:
        return list(self.spec.targets)

    @property
    def threshold(self) -> float:
        """The decision threshold of a binary / multilabel model (the spec's, else 0.5)."""
        return 0.5 if self.spec.threshold is None else float(self.spec.threshold)

    @property
    def input_length(self) -> int:
        return int(self.spec.input_length)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L) uint8 codes or (N, 4, L) one-hot -> (N, T) float32 predictions (a profile
        model's: the predicted total count of each window's target region)."""
        return self.from_one_hot(self.one_hot(x))

    def from_one_hot(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, L) float one-hot (already encoded with the spec's policy) -> (N, T)
        predictions: :meth:`forward` after the encoding (what ``seqnn-export`` writes)."""
        out = self.net(x)
        if self.kind.profile_head:
            out = self._profile_outputs(out)[1]
        out = self._select(out)
        if out.ndim == 3:  # (N, T, bins) -> (N, T)
            out = out.float().mean(dim=-1)
        return self.output_fn(out.float())

    def tracks(self, x: torch.Tensor) -> torch.Tensor:
        """A track model's predictions per bin, (N, T, bins) float32 (``spec.output_bins``
        bins of ``spec.bin_size`` bp, centred on the input)."""
        out = self._select(self.net(self.one_hot(x)))
        if out.ndim != 3:
            raise PretrainedError(
                f"tracks(): the network returns shape {tuple(out.shape)}, not (N, T, bins): "
                "only track models (Enformer, Borzoi) predict bins"
            )
        return self.output_fn(out.float())

    def _select(self, out: torch.Tensor) -> torch.Tensor:
        """Keep the selected targets (dim 1) of (N, T) or (N, T, bins) outputs."""
        if self.track_index is None:
            return out
        return out.index_select(1, self.track_index.to(out.device))

    def profiles(self, x: torch.Tensor) -> torch.Tensor:
        """A profile model's expected counts per position, (N, T, L_out) float32: the profile
        head's softmax × the predicted total."""
        if not self.kind.profile_head:
            raise PretrainedError(
                f"profiles(): the model's task is {self.spec.task!r}; only {PROFILE.name!r} "
                "models (e.g. DilatedResNet head='both' trained with task=profile) predict "
                "profiles"
            )
        logits, log_counts = self._profile_outputs(self.net(self.one_hot(x)))
        return profile_prediction(logits.float(), log_counts.float())

    @staticmethod
    def _profile_outputs(out: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise PretrainedError(
                "a 'profile' model's net must return (profile_logits, log_counts), e.g. "
                "DilatedResNet(head='both')"
            )
        return out[0], out[1]

    def save(self, folder: str | Path) -> Path:
        """Write this model as a pretrained package (see :func:`save_pretrained`)."""
        return save_pretrained(self, folder)


# ----------------------------------------------------------------------------- saving
def save_pretrained(
    model: nn.Module,
    folder: str | Path,
    *,
    input_length: int | None = None,
    targets: list[str] | None = None,
    task: str | None = None,
    output_transform: str | None = None,
    policy: EncodingPolicy | None = None,
    card: dict[str, Any] | None = None,
    network: dict[str, Any] | None = None,
    threshold: float | None = None,
    strand_specific: bool | None = None,
    output_bins: int | None = None,
    bin_size: int | None = None,
    target_table: dict[str, list[Any]] | None = None,
    heads: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write ``folder/model.safetensors`` and ``folder/seqnn.json``.

    Args:
        model: a seqnn network, a ``SupervisedModule``/``AutoencoderModule`` (its net, task,
            targets, output transform and policy are used) or a :class:`PretrainedModel`.
        folder: created if missing; files are written to temp files and renamed.
        input_length: the training length (bp); default: the model's spec or ``net.input_length``.
        targets, task, output_transform, policy, threshold: override what the model says
            (see :class:`ModelSpec`).
        strand_specific, output_bins, bin_size, target_table, heads: likewise.
        card: model card fields (merged with ``date`` and ``seqnn_version``).
        network: the constructor call, for networks that do not record it.

    Returns:
        The folder.
    """
    if getattr(model, "track_index", None) is not None:
        raise PretrainedError(
            "save_pretrained: this model keeps only some targets (loaded with targets=): save "
            "the package loaded without targets=, whose weights and targets match"
        )
    defaults = _describe(model)
    net = defaults.pop("net")
    given = {
        "input_length": input_length,
        "targets": targets,
        "task": task,
        "output_transform": output_transform,
        "policy": policy,
        "threshold": threshold,
        "strand_specific": strand_specific,
        "output_bins": output_bins,
        "bin_size": bin_size,
        "target_table": target_table,
        "heads": heads,
    }
    values = {**defaults, **{k: v for k, v in given.items() if v is not None}}
    if values.get("input_length") is None:
        raise PretrainedError("save_pretrained: pass input_length= (the training length in bp)")
    if not values.get("targets"):
        values["targets"] = [f"target_{i}" for i in range(int(getattr(net, "n_targets", 1)))]
    values["targets"] = [str(t) for t in values["targets"]]
    values.setdefault("task", BINARY.name)
    kind = _kind(values["task"], "save_pretrained")
    values["output_transform"] = values.get("output_transform") or kind.output_transform
    try:
        spec_network = network or network_spec(net)
    except SpecError as err:
        raise PretrainedError(f"save_pretrained: {err}") from None
    card = {**defaults.pop("card", {}), **(card or {})}
    card.setdefault("date", datetime.date.today().isoformat())
    spec = ModelSpec(network=spec_network, card=card, **_spec_fields(values))
    _check_table(spec.targets, spec.target_table, "save_pretrained")
    try:  # before any file is written: a card that is not JSON leaves no half package
        text = json.dumps(spec.to_dict(), indent=2, default=_json_scalar) + "\n"
    except (TypeError, ValueError) as err:
        raise PretrainedError(f"save_pretrained: the spec or card is not JSON: {err}") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in unique_state(net).items()}
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(state, tmp, metadata={"format": "pt"})
    with atomic_open(folder / SPEC_FILE) as fh:
        fh.write(text)
    return folder


def _kind(name: str, source: str) -> TaskKind:
    """The task kind ``name``; an unknown one is an error naming ``source``."""
    try:
        return task_kind(name)
    except ValueError as err:
        raise PretrainedError(f"{source}: {err}") from None


def _json_scalar(value: Any) -> Any:
    """numpy / torch scalars (a card's metrics) as Python numbers; anything else is an error."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON serializable")


def _spec_fields(values: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "input_length",
        "targets",
        "task",
        "output_transform",
        "policy",
        "threshold",
        "strand_specific",
        "output_bins",
        "bin_size",
        "target_table",
        "heads",
    )
    return {k: values[k] for k in keys if values.get(k) is not None}


def _net_of(model: nn.Module) -> nn.Module:
    # a task module (it has hparams) holds its network as .net; a network wrapper
    # (ReverseComplementAverage, HaplotypeMean) holds one too, but is itself the network
    net = model.net if hasattr(model, "hparams") and hasattr(model, "net") else model
    return getattr(net, "_orig_mod", net)


def _describe(model: nn.Module) -> dict[str, Any]:
    """What a model says about itself: its net and any spec fields it knows."""
    if isinstance(model, PretrainedModel):
        spec = model.spec
        return {"net": model.net, **asdict(spec), "policy": spec.policy}
    out: dict[str, Any] = {"net": _net_of(model)}
    hparams = getattr(model, "hparams", None)
    if hparams is not None and hasattr(model, "net"):
        out["task"] = hparams.get("task", getattr(model, "task_kind", AUTOENCODER.name))
        out["targets"] = hparams.get("target_names")
        out["output_transform"] = hparams.get("output_transform") or getattr(
            model, "output_transform_kind", None
        )
        if _kind(out["task"], "save_pretrained").calls:
            out["threshold"] = hparams.get("threshold")
    one_hot = getattr(model, "one_hot", None)
    if isinstance(one_hot, OneHot):
        out["policy"] = one_hot.policy
    input_length = getattr(out["net"], "input_length", None)
    if isinstance(input_length, int):
        out["input_length"] = input_length
    return out


# ----------------------------------------------------------------------------- loading
def load_pretrained(
    source: str | Path,
    device: str | torch.device = "cpu",
    spec: str | Path | ModelSpec | None = None,
    *,
    head: str | None = None,
    targets: str | Sequence[str] | None = None,
    local_files_only: bool = False,
) -> PretrainedModel:
    """Load a pretrained package, a shipped model by name, a hub repo, or a Lightning checkpoint.

    Args:
        source: a package folder (``seqnn.json`` + ``model.safetensors``), its
            ``model.safetensors``, a shipped model name (``"ecoli-sigma70"``), a Hugging Face
            Hub repo ``"hf://<owner>/<repo>[@revision]"`` (:mod:`seqnn.inference.hub`: only the
            package's files are downloaded, into the hub's cache; a repo holding a pickle or
            code is refused), or a Lightning ``.ckpt`` (read with
            ``torch.load(weights_only=True)``; its spec is taken from ``spec=``, or from the
            run's ``model/seqnn.json`` next to ``checkpoints/``).
        device: ``"cpu"``, ``"cuda"``, ``"auto"`` (cuda when present) or a torch.device.
        spec: a spec (or its file) for checkpoints that do not sit in a seqnn run folder.
        head: a multi-head network's head (Enformer, Borzoi: ``"human"`` or ``"mouse"``);
            default: the spec's.
        targets: keep only these outputs: target names, or one query on the spec's target
            table (``"assay == 'DNASE' and description.str.contains('K562')"``, pandas
            ``DataFrame.query`` syntax; the column ``name`` holds the target names).
        local_files_only: a hub source is read from the cache only, never downloaded (as
            ``HF_HUB_OFFLINE=1`` does).

    Returns:
        The model in eval mode on ``device``.

    Raises:
        PretrainedError: naming the file: missing weights or spec, a spec from a newer seqnn,
            a file that needs pickle (refused, never executed), weights that do not fit.
    """
    path = _resolve_source(source, local_files_only)
    if path.is_dir():
        weights_path, spec_source = path / WEIGHTS_FILE, spec or path / SPEC_FILE
    else:
        weights_path, spec_source = path, spec or _spec_next_to(path)
    model_spec = spec_source if isinstance(spec_source, ModelSpec) else read_spec(spec_source)
    where = str(spec_source) if not isinstance(spec_source, ModelSpec) else SPEC_FILE
    if head is not None:
        model_spec = with_head(model_spec, head, where)
    state = read_weights(weights_path)
    net = _build(
        model_spec,
        None if isinstance(spec_source, ModelSpec) else Path(spec_source),
        sum(t.numel() for t in state.values()),
    )
    load_weights(net, state, weights_path, "the spec and the weights come from different models")
    _check_width(net, model_spec, where)
    model = PretrainedModel(net, model_spec).eval()
    if targets is not None:
        model = select_targets(model, targets)
    return model.to(resolve_device(device))


def load_weights(net: nn.Module, state: dict[str, torch.Tensor], source: Any, fix: str) -> None:
    """``net.load_state_dict(state)``, shared tensors under any of their names; weights that
    do not fit are an error naming ``source`` and the ``fix``."""
    try:
        net.load_state_dict({**_aliases(net, state), **state})
    except RuntimeError as err:
        detail = str(err).split("\n\t", 1)[-1].split("\n")[0]
        raise PretrainedError(
            f"{source}: the weights do not fit the network ({detail}): {fix}"
        ) from None


def unique_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """``net.state_dict()`` with each shared tensor once (under its first name): a port that
    reaches one module by two paths (Enformer's ``stem`` and ``_trunk.0``) lists it twice,
    which safetensors refuses to write."""
    state, seen = {}, set()
    for name, value in net.state_dict(keep_vars=True).items():
        if id(value) not in seen:
            seen.add(id(value))
            state[name] = value.detach()
    return state


def _aliases(net: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The names that :func:`unique_state` left out, filled from their first name."""
    first: dict[int, str] = {}
    out = {}
    for name, value in net.state_dict(keep_vars=True).items():
        origin = first.setdefault(id(value), name)
        if origin != name and name not in state and origin in state:
            out[name] = state[origin]
    return out


def with_head(spec: ModelSpec, head: str, source: str = SPEC_FILE) -> ModelSpec:
    """The spec of a multi-head network switched to ``head`` (its targets and table)."""
    current = spec.network.get("head")
    heads = spec.heads or {}
    if head == current:
        return spec
    if head not in heads:
        have = sorted({*heads, *([current] if current else [])})
        raise PretrainedError(
            f"{source}: head={head!r}: this model's heads are {have or 'none (one output)'}"
        )
    others = {k: v for k, v in heads.items() if k != head}
    if current is not None:
        others[current] = {"targets": spec.targets, "target_table": spec.target_table}
    chosen = heads[head]
    return replace(
        spec,
        network={**spec.network, "head": head},
        targets=list(chosen["targets"]),
        target_table=chosen.get("target_table"),
        heads=others,
    )


def select_targets(model: PretrainedModel, targets: str | Sequence[str]) -> PretrainedModel:
    """``model`` keeping only some of its outputs (the same network, no copy).

    Args:
        model: a pretrained model.
        targets: target names, or a query on the spec's target table (pandas
            ``DataFrame.query`` syntax; the column ``name`` holds the target names).

    Raises:
        PretrainedError: an unknown name, a query the table cannot answer or that keeps
            nothing.
    """
    import pandas as pd  # only here: loading a model needs no pandas

    spec = model.spec
    table = pd.DataFrame({**(spec.target_table or {}), "name": spec.targets})
    if isinstance(targets, str) and targets not in set(spec.targets):
        try:
            index = table.query(targets).index.to_numpy()
        except Exception as err:  # noqa: BLE001 - pandas raises many kinds for a bad query
            raise PretrainedError(
                f"targets={targets!r}: not a target name nor a query on the target table "
                f"(columns: {', '.join(table.columns)}): {err}"
            ) from None
    else:
        names = [targets] if isinstance(targets, str) else [str(t) for t in targets]
        position = {name: i for i, name in enumerate(spec.targets)}
        unknown = [n for n in names if n not in position]
        if unknown:
            raise PretrainedError(
                f"targets: unknown target(s) {unknown[:5]}: the model's targets are "
                f"{spec.targets[:5]}{' ...' if len(spec.targets) > 5 else ''}"
            )
        index = [position[n] for n in names]
    if len(index) == 0:
        raise PretrainedError(f"targets={targets!r}: selects no target")
    kept = table.iloc[index]
    narrowed = replace(
        spec,
        targets=kept["name"].tolist(),
        target_table={c: kept[c].tolist() for c in spec.target_table or {}} or None,
    )
    index = torch.tensor(np.asarray(index, dtype=np.int64))
    if model.track_index is not None:
        index = model.track_index[index]
    return PretrainedModel(model.net, narrowed, index).eval()


def _check_width(net: nn.Module, spec: ModelSpec, source: str) -> None:
    """A network that says how many outputs it has must have one target name each."""
    width = getattr(net, "n_targets", None)
    if isinstance(width, int) and not isinstance(width, bool) and width != len(spec.targets):
        raise PretrainedError(
            f"{source}: {len(spec.targets)} targets but the network has {width} outputs: the "
            "targets (and their table) belong to another model or head; write the package "
            "again with seqnn-convert (or save_pretrained targets=...)"
        )


def read_spec(path: str | Path) -> ModelSpec:
    """Read and check a ``seqnn.json``."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedError(
            f"{path}: no spec file: a pretrained folder holds {SPEC_FILE} and {WEIGHTS_FILE} "
            "(write them with seqnn.save_pretrained)"
        )
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PretrainedError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise PretrainedError(f"{path}: a spec is a JSON object")
    return ModelSpec.from_dict(data, str(path))


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; anything else as torch.device, checked.

    Raises:
        PretrainedError: a device name torch does not know, or a CUDA / MPS device that this
            machine does not have.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise PretrainedError(
            f"device={device}: not a device name: give auto, cpu, cuda, cuda:<n> or mps"
        ) from None
    have = {
        "cpu": 1,
        "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "mps": int(torch.backends.mps.is_available()),
    }
    index = resolved.index or 0
    if resolved.type not in have or index >= have[resolved.type]:
        raise PretrainedError(
            f"device={device}: this machine has no such device "
            f"({have.get('cuda', 0)} CUDA devices): give device=auto or cpu"
        )
    return resolved


def _resolve_source(source: str | Path, local_files_only: bool = False) -> Path:
    if isinstance(source, str) and source in SHIPPED_MODELS:
        return resource_path(f"models/{source}")
    if is_hub_source(source):
        return fetch_package(str(source), (SPEC_FILE, WEIGHTS_FILE), local_files_only)
    path = Path(source).expanduser()
    if not path.exists():
        raise PretrainedError(
            f"{path}: no such model folder or file (shipped models: {', '.join(SHIPPED_MODELS)}; "
            "a hub repo: hf://<owner>/<repo>)"
        )
    return path


def _spec_next_to(path: Path) -> Path:
    """The spec of a weights file: beside it, or ``<run>/model/seqnn.json`` for checkpoints."""
    for candidate in (path.parent / SPEC_FILE, path.parent.parent / "model" / SPEC_FILE):
        if candidate.is_file():
            return candidate
    raise PretrainedError(
        f"{path}: no {SPEC_FILE} beside it or in its run's model/ folder: pass spec=<seqnn.json> "
        "(a checkpoint holds weights, not how to build the network)"
    )


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise PretrainedError(
            f"{path}: no weights file: a pretrained folder holds {WEIGHTS_FILE} (weights only) "
            f"and {SPEC_FILE}; copy the weights in with the spec (seqnn.save_pretrained writes "
            "both)"
        )
    if path.suffix == ".safetensors":
        _check_header(path)
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as err:
            raise PretrainedError(f"{path}: not a readable safetensors file ({err})") from None
    return _read_checkpoint(path)


def _check_header(path: Path) -> None:
    """Refuse a safetensors file whose JSON header is larger than any real model's (parsing
    a huge one costs minutes and gigabytes before any error)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    size = int.from_bytes(head, "little") if len(head) == 8 else -1
    if not 0 < size <= min(MAX_HEADER, path.stat().st_size - 8):
        raise PretrainedError(
            f"{path}: not a readable safetensors file (its header claims {size:,} bytes; "
            f"a weights file's header is at most {MAX_HEADER:,}): write it with "
            "seqnn.save_pretrained"
        )


def load_checkpoint(path: str | Path | BinaryIO, name: str | None = None) -> Any:
    """A torch / Lightning checkpoint's contents, read with ``weights_only=True`` (torch's
    restricted unpickler, which never calls arbitrary code).

    Args:
        path: the file, or its bytes as a file object.
        name: what to call it in errors (default: ``path``).

    Raises:
        PretrainedError: the file would need full pickle (or is not a checkpoint).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure here means "refuse"
        raise PretrainedError(
            f"{name or path}: refused: loading it would need full pickle, which can run code "
            f"({type(err).__name__}). Load only files written by seqnn/Lightning; convert a "
            "trusted model with seqnn.save_pretrained"
        ) from None


def _read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A Lightning/torch checkpoint's network weights, read with ``weights_only=True``."""
    payload = load_checkpoint(path)
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedError(f"{path}: not a checkpoint of tensors (no state_dict)")
    if any(k.startswith("net.") for k in state):
        state = {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
    return {k.replace("_orig_mod.", ""): v for k, v in state.items()}


def _build(spec: ModelSpec, source: Path | None, weights_numel: int) -> nn.Module:
    """The spec's network, built first without memory (on torch's meta device) so that a
    spec asking for more values than its weights hold is refused before any allocation."""
    where = str(source or SPEC_FILE)
    try:
        with torch.device("meta"):
            numel = sum(
                t.numel() for t in unique_state(build_network(spec.network, where)).values()
            )
        if numel > weights_numel:
            raise PretrainedError(
                f"{where}: the spec's network holds {numel:,} values but the weights only "
                f"{weights_numel:,}: the spec and the weights come from different models"
            )
        return build_network(spec.network, where)
    except SpecError as err:
        raise PretrainedError(str(err)) from None
