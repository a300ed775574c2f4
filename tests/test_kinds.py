"""Task kinds (seqnn.kinds): every kind is complete, every name it holds resolves in the layer
that uses it, an unknown kind is refused with the list of known ones, and no module outside
seqnn/kinds.py decides behaviour by comparing kind names."""

import ast
import typing
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

import seqnn
import seqnn.tasks
from seqnn.data.datasets import TARGET_KINDS, encode_targets
from seqnn.inference.pretrained import ModelSpec, PretrainedError
from seqnn.kinds import TASK_KINDS, Targets, TaskKind, UnknownTaskKind, kinds_where, task_kind
from seqnn.models.outputs import OUTPUT_TRANSFORMS
from seqnn.tasks import SupervisedModule
from seqnn.tasks.metrics import METRIC_FACTORIES, default_metrics

KIND_NAMES = sorted(TASK_KINDS)
PACKAGE = Path(seqnn.__file__).parent


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_kind_is_complete(name):
    kind = TASK_KINDS[name]
    assert kind.name == name and kind.summary
    assert kind.targets in typing.get_args(Targets)
    assert kind.output_transform in OUTPUT_TRANSFORMS
    assert hasattr(seqnn.tasks, kind.trained_by), f"{name}: no seqnn.tasks.{kind.trained_by}"
    if kind.metrics is not None:
        n = max(kind.min_targets, 1)
        built = default_metrics(name, n)
        assert len(built) > 0 and METRIC_FACTORIES[kind.metrics]
    if kind.calls:  # a call is a yes/no label at a threshold
        assert kind.targets == "labels" and kind.metrics is not None
    if kind.stratify:  # one class per row
        assert kind.targets == "classes" or kind.one_target


def test_each_training_module_trains_the_kinds_that_name_it():
    modules = {k.trained_by for k in TASK_KINDS.values()}
    for module in modules - {"SupervisedModule"}:
        (kind,) = kinds_where(trained_by=module)
        assert getattr(seqnn.tasks, module).task_kind == kind.name  # what save_pretrained records
    supervised = {k.name for k in kinds_where(trained_by="SupervisedModule")}
    assert supervised == {k.name for k in TASK_KINDS.values() if k.metrics is not None}


def test_the_data_layer_takes_the_kinds_with_column_targets():
    assert set(TARGET_KINDS) == {"binary", "multilabel", "multiclass", "regression"}


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_kind_is_a_valid_exported_task(name):
    spec = ModelSpec.from_dict(
        {"format_version": 1, "network": {}, "input_length": 10, "task": name}
    )
    assert spec.task == name


def test_an_unknown_kind_is_refused_with_the_list():
    with pytest.raises(UnknownTaskKind) as caught:
        task_kind("ranking")
    message = str(caught.value)
    assert "'ranking'" in message and all(name in message for name in KIND_NAMES)
    assert isinstance(caught.value, seqnn.errors.SeqnnInputError)


def test_each_layer_refuses_an_unknown_kind_naming_what_it_takes():
    spec = {"format_version": 1, "network": {}, "input_length": 10, "task": "ranking"}
    with pytest.raises(PretrainedError, match=r"seqnn.json: task must be one of binary, .*"):
        ModelSpec.from_dict(spec)
    with pytest.raises(ValueError, match=r"one of binary, multilabel, multiclass or regression"):
        encode_targets(pd.DataFrame({"a": [0.0, 1.0]}), "profile")
    with pytest.raises(ValueError, match="got 'profile' .*trained by ProfileModule"):
        SupervisedModule(nn.Linear(1, 1), nn.MSELoss(), partial(torch.optim.SGD), task="profile")
    with pytest.raises(ValueError, match="got 'autoencoder'"):
        default_metrics("autoencoder", 1)


def test_task_kinds_are_frozen():
    with pytest.raises(AttributeError):
        task_kind("binary").calls = False  # type: ignore[misc]
    assert isinstance(task_kind("binary"), TaskKind)


def _kind_name_comparisons(tree: ast.AST) -> list[int]:
    """Lines comparing a task or kind with a kind name: ``task == "binary"``,
    ``spec.task in ("binary", ...)`` (not ``head == "profile"``, another meaning of the word)."""

    def holds_kind(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in TASK_KINDS
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(holds_kind(e) for e in node.elts)
        return False

    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(map(holds_kind, [node.left, *node.comparators]))
        and ("task" in ast.unparse(node) or "kind" in ast.unparse(node))
    ]


def test_no_module_dispatches_on_kind_names():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "kinds.py" and path.parent == PACKAGE:
            continue
        lines = _kind_name_comparisons(ast.parse(path.read_text(), str(path)))
        found += [f"{path.relative_to(PACKAGE.parent)}:{line}" for line in lines]
    assert not found, f"look the kind up in seqnn.kinds instead: {found}"


def test_the_dispatch_check_sees_a_comparison():
    tree = ast.parse('task in ("binary", "regression")\nkind == "profile"\nhead == "profile"\n')
    assert _kind_name_comparisons(tree) == [1, 2]
