"""Default torchmetrics for each supervised task kind, averaged and per target.

Every metric takes predictions (probabilities for classification, values for regression) and
targets in torchmetrics' layout:

- binary: preds (N,) probabilities, target (N,) int 0/1
- multilabel: preds (N, T) probabilities, target (N, T) int 0/1
- multiclass: preds (N, C) probabilities (rows sum to 1), target (N,) int class index
- regression: preds (N, T) values, target (N, T) values ((N,) each when T == 1)

With T > 1 targets a metric computes one value per target (``average=None``) and returns a dict:
``{"auroc": mean over targets, "auroc/<name>": value of target <name>, ...}``. The mean ignores
NaN targets (e.g. a label with no positives), as torchmetrics' own macro average does. A
:class:`~torchmetrics.MetricCollection` flattens these dicts into its output and prefixes them,
so ``metrics.clone(prefix="val/")`` gives ``val/auroc`` and ``val/auroc/<name>``.

Per-target metrics are subclasses of the torchmetrics classes (not wrappers) so that the
collection's compute groups can share state between them (AUROC and average precision keep one
copy of the predictions).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryF1Score,
    BinaryMatthewsCorrCoef,
    BinaryRecall,
    BinarySpecificity,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassAveragePrecision,
    MulticlassF1Score,
    MulticlassMatthewsCorrCoef,
    MultilabelAccuracy,
    MultilabelAUROC,
    MultilabelAveragePrecision,
    MultilabelConfusionMatrix,
    MultilabelF1Score,
)
from torchmetrics.functional.classification.matthews_corrcoef import _matthews_corrcoef_reduce
from torchmetrics.regression import PearsonCorrCoef, R2Score, SpearmanCorrCoef

from seqnn.kinds import TASK_KINDS, kind_names, kinds_where, task_kind

#: a task kind's name (:mod:`seqnn.kinds`)
Task = str
#: the kinds these metrics score (those with a metrics factory)
SCORED_KINDS = tuple(k for k in TASK_KINDS.values() if k.metrics is not None)
TASKS: tuple[str, ...] = tuple(k.name for k in SCORED_KINDS)


class _Targetwise:
    """Mixin for a metric whose compute() gives a (T,) vector: returns its mean and each value.

    Args:
        name: the key of the mean (``"auroc"``); per-target keys are ``"<name>/<target>"``.
        target_names: one name per target, or None to return the mean only.
    """

    def __init__(
        self, *args, name: str, target_names: Sequence[str] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.metric_name = name
        self.target_names = None if target_names is None else list(target_names)

    def compute(self) -> dict[str, Tensor]:
        values = super().compute().reshape(-1)  # (T,)
        out = {self.metric_name: torch.nanmean(values.float())}
        if self.target_names is not None:
            if len(self.target_names) != values.numel():
                raise ValueError(
                    f"{self.metric_name}: {len(self.target_names)} target names for "
                    f"{values.numel()} targets"
                )
            for target, value in zip(self.target_names, values, strict=True):
                out[f"{self.metric_name}/{target}"] = value
        return out


class MultilabelMatthewsCorrCoefPerLabel(MultilabelConfusionMatrix):
    """Matthews correlation of each label, (T,) (torchmetrics' multilabel MCC pools labels)."""

    def compute(self) -> Tensor:
        confmat = super().compute()  # (T, 2, 2)
        return torch.stack([_matthews_corrcoef_reduce(c) for c in confmat])


# Module-level classes, not made by type(), so that modules holding them can be pickled.
class TargetwiseMultilabelAUROC(_Targetwise, MultilabelAUROC):
    pass


class TargetwiseMultilabelAveragePrecision(_Targetwise, MultilabelAveragePrecision):
    pass


class TargetwiseMultilabelAccuracy(_Targetwise, MultilabelAccuracy):
    pass


class TargetwiseMultilabelF1Score(_Targetwise, MultilabelF1Score):
    pass


class TargetwiseMultilabelMatthewsCorrCoef(_Targetwise, MultilabelMatthewsCorrCoefPerLabel):
    pass


class TargetwiseMulticlassAUROC(_Targetwise, MulticlassAUROC):
    pass


class TargetwiseMulticlassAveragePrecision(_Targetwise, MulticlassAveragePrecision):
    pass


class TargetwiseMulticlassF1Score(_Targetwise, MulticlassF1Score):
    pass


class TargetwisePearsonCorrCoef(_Targetwise, PearsonCorrCoef):
    pass


class TargetwiseSpearmanCorrCoef(_Targetwise, SpearmanCorrCoef):
    pass


class TargetwiseR2Score(_Targetwise, R2Score):
    pass


def default_metrics(
    task: Task,
    n_targets: int,
    target_names: Sequence[str] | None = None,
    threshold: float = 0.5,
) -> MetricCollection:
    """The default metrics of a task, before the per-stage clone.

    Classification: ``auroc``, ``auprc`` (average precision), ``accuracy`` (at ``threshold``,
    or the arg-max class), ``mcc``, ``f1``; binary adds ``sensitivity`` and ``specificity``.
    Regression: ``pearson``, ``spearman``, ``r2``.
    With several targets each is the mean over targets plus ``<metric>/<target name>``; for
    multiclass, ``accuracy`` (fraction correct) and ``mcc`` are single values over all classes.

    AUROC and average precision are exact: they keep every prediction of the epoch.

    Args:
        task: a kind of :mod:`seqnn.kinds` with metrics: ``"binary"``, ``"multilabel"``,
            ``"multiclass"`` or ``"regression"``.
        n_targets: targets (labels, classes or outputs); 1 for binary.
        target_names: names for the per-target keys; default ``"0"``, ``"1"``, ...
        threshold: binary / multilabel: a probability above it is called positive by
            the metrics that need calls (accuracy, mcc, f1, sensitivity, specificity); the
            ranking metrics (auroc, auprc) do not use it.

    Returns:
        A MetricCollection; clone it per stage with ``.clone(prefix="val/")``.
    """
    kind = task_kind(task, SCORED_KINDS)
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold!r}")
    if threshold != 0.5 and not kind.calls:
        raise ValueError(
            f"threshold applies to {kind_names(kinds_where(calls=True))} tasks, not {task!r}"
        )
    if target_names is not None and len(target_names) != n_targets:
        raise ValueError(f"{len(target_names)} target_names given for n_targets={n_targets}")
    kind.check_n_targets(n_targets)
    names = (
        [str(t) for t in target_names]
        if target_names is not None
        else [str(i) for i in range(n_targets)]
    )
    return MetricCollection(METRIC_FACTORIES[kind.metrics](n_targets, names, threshold))


def binary_metrics(n_targets: int, names: list[str], threshold: float) -> dict[str, Metric]:
    """:func:`default_metrics` of a binary task (one target)."""
    at = {"threshold": threshold}
    return {
        "auroc": BinaryAUROC(),
        "auprc": BinaryAveragePrecision(),
        "accuracy": BinaryAccuracy(**at),
        "mcc": BinaryMatthewsCorrCoef(**at),
        "f1": BinaryF1Score(**at),
        # sensitivity / specificity: the figures promoter papers (CNNProm) report
        "sensitivity": BinaryRecall(**at),
        "specificity": BinarySpecificity(**at),
    }


def multilabel_metrics(n_targets: int, names: list[str], threshold: float) -> dict[str, Metric]:
    """:func:`default_metrics` of a multilabel task: per label, and their mean."""
    kw = {"num_labels": n_targets, "target_names": names if n_targets > 1 else None}
    at = {**kw, "threshold": threshold}
    return {
        "auroc": TargetwiseMultilabelAUROC(name="auroc", average=None, **kw),
        "auprc": TargetwiseMultilabelAveragePrecision(name="auprc", average=None, **kw),
        "accuracy": TargetwiseMultilabelAccuracy(name="accuracy", average=None, **at),
        "mcc": TargetwiseMultilabelMatthewsCorrCoef(name="mcc", **at),
        "f1": TargetwiseMultilabelF1Score(name="f1", average=None, **at),
    }


def multiclass_metrics(n_targets: int, names: list[str], threshold: float) -> dict[str, Metric]:
    """:func:`default_metrics` of a multiclass task (``n_targets`` classes; no threshold)."""
    kw = {"num_classes": n_targets, "target_names": names, "average": None}
    return {
        "auroc": TargetwiseMulticlassAUROC(name="auroc", **kw),
        "auprc": TargetwiseMulticlassAveragePrecision(name="auprc", **kw),
        "accuracy": MulticlassAccuracy(num_classes=n_targets, average="micro"),
        "mcc": MulticlassMatthewsCorrCoef(num_classes=n_targets),
        "f1": TargetwiseMulticlassF1Score(name="f1", **kw),
    }


def regression_metrics(n_targets: int, names: list[str], threshold: float) -> dict[str, Metric]:
    """:func:`default_metrics` of a regression task (no threshold)."""
    with warnings.catch_warnings():
        # torchmetrics' notice that Spearman keeps every value of the epoch: a rank needs them
        warnings.filterwarnings("ignore", message="Metric `SpearmanCorrcoef` will save")
        if n_targets == 1:
            return {"pearson": PearsonCorrCoef(), "spearman": SpearmanCorrCoef(), "r2": R2Score()}
        kw = {"target_names": names}
        return {
            "pearson": TargetwisePearsonCorrCoef(name="pearson", num_outputs=n_targets, **kw),
            "spearman": TargetwiseSpearmanCorrCoef(name="spearman", num_outputs=n_targets, **kw),
            "r2": TargetwiseR2Score(name="r2", multioutput="raw_values", **kw),
        }


#: the builders that :attr:`seqnn.kinds.TaskKind.metrics` names
METRIC_FACTORIES: dict[str, Callable[[int, list[str], float], dict[str, Metric]]] = {
    f.__name__: f
    for f in (binary_metrics, multilabel_metrics, multiclass_metrics, regression_metrics)
}


def _positions_as_rows(t: Tensor) -> Tensor:
    """Profile outputs count every position as a sample for the metrics."""
    if t.ndim == 3:
        return t.transpose(1, 2).reshape(-1, t.shape[1])  # (N, T, L) -> (N * L, T)
    return t


def metric_inputs(task: Task, n_targets: int, preds: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Predictions (probabilities or values, (N, T) or per position (N, T, L)) and targets
    (as in the batches) in the layout above.

    Binary / multilabel soft labels count as positive above 0.5; multiclass targets are class
    indices; a single regression target becomes (N,).
    """
    kind = task_kind(task, SCORED_KINDS)
    preds = _positions_as_rows(preds)
    if kind.targets == "classes":
        return preds, y.reshape(-1).long()
    if kind.targets == "labels":
        target = (_positions_as_rows(y) > 0.5).long().reshape(preds.shape)
    else:
        target = _positions_as_rows(y.float()).reshape(preds.shape)
    if kind.single_target_as_vector and n_targets == 1:
        return preds.reshape(-1), target.reshape(-1)  # single-output metrics want (N,)
    return preds, target


def compute_and_reset(metrics: MetricCollection) -> dict[str, Tensor]:
    """The collection's epoch values (an empty dict if it saw no batch), then reset it.

    Call from ``on_<stage>_epoch_end`` as ``self.log_dict(compute_and_reset(...))``:
    ``compute()`` syncs across processes itself, so the values need no ``sync_dist``.
    """
    updated = any(m.update_count > 0 for m in metrics.values(copy_state=False))
    values = metrics.compute() if updated else {}
    metrics.reset()
    # an undefined MCC comes back as an integer 0, which Lightning converts with a warning
    return {name: value.float() for name, value in values.items()}
