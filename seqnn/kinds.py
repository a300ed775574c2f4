"""Task kinds: what ``binary``, ``multilabel``, ``multiclass``, ``regression``, ``profile`` and
``autoencoder`` mean, stated once.

Every layer asks this module instead of comparing kind names: the data layer how target values
look and whether splits keep class proportions, the training modules the loss target and the
metrics, pretrained models the output transform, whether outputs are yes/no calls at a threshold
and whether ensemble members can be averaged. Layout of the tensors each kind trains on: inputs
(batch, 4, length), channels A, C, G, T; targets as in :attr:`TaskKind.targets`.

This module imports nothing of seqnn (it sits at the bottom, beside ``errors``): what lives in a
higher layer is named, not imported, and resolved there (the output transform by
:data:`seqnn.models.outputs.OUTPUT_TRANSFORMS`, the metrics by :mod:`seqnn.tasks.metrics`), so
looking a kind up never loads torchmetrics or Lightning. ``tests/test_kinds.py`` checks that
every name resolves. A variant's log-ratio column (log-odds, log2 fold change) follows the
model's output transform rather than its kind (a regression on counts predicts ``exp`` rates):
see :func:`seqnn.inference.variants.effect_table`. Example::

    kind = task_kind("multilabel")
    kind.calls, kind.output_transform       # (True, "sigmoid")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from seqnn.errors import SeqnnInputError

#: how a kind's training targets (and ``seqnn-evaluate``'s truth columns) look:
#: ``labels`` 0/1 per target (soft labels count as positive above 0.5), float like the logits;
#: ``classes`` one int64 class index per row, (N,); ``values`` real numbers (N, T);
#: ``profiles`` counts per position (N, T, L_out), NaN where masked; ``sequences`` the input.
Targets = Literal["labels", "classes", "values", "profiles", "sequences"]


class UnknownTaskKind(SeqnnInputError):
    """A task kind that is not defined here (the message lists the known ones)."""


@dataclass(frozen=True)
class TaskKind:
    """Everything that differs between task kinds.

    Args:
        name: the kind's name, as in ``task.task`` / the exported spec's ``task``.
        summary: one line for docs and errors.
        trained_by: the LightningModule class (in :mod:`seqnn.tasks`) that trains it.
        targets: how targets look (see :data:`Targets`).
        output_transform: the default logits -> predictions transform, a name of
            :data:`seqnn.models.outputs.OUTPUT_TRANSFORMS`.
        metrics: the function of :mod:`seqnn.tasks.metrics` that builds its default metrics
            (``seqnn-train``'s and ``seqnn-evaluate``'s); None: the kind's module brings its
            own and ``seqnn-evaluate`` does not score it.
        one_target: it takes exactly one target.
        min_targets: the fewest targets (classes for multiclass) it takes.
        single_target_as_vector: with one target, torchmetrics wants (N,) predictions and
            targets (binary, single-output regression) rather than (N, 1) (multilabel).
        calls: its predictions are probabilities of yes/no labels: the call metrics, the
            decision threshold (tuned, exported, ``seqnn-predict calls=true``) apply.
        stratify: one class per row: random splits keep the class proportions.
        averaged: ensemble members' outputs can be averaged (``seqnn-ensemble``).
        profile_head: the network returns ``(profile_logits, log(1 + total))``; predictions
            are the totals, :func:`seqnn.inference.predict.predict_profiles` the profiles.
    """

    name: str
    summary: str
    trained_by: str
    targets: Targets
    output_transform: str
    metrics: str | None = None
    one_target: bool = False
    min_targets: int = 1
    single_target_as_vector: bool = False
    calls: bool = False
    stratify: bool = False
    averaged: bool = True
    profile_head: bool = False

    def check_n_targets(self, n_targets: int) -> None:
        """Raise ValueError unless the kind takes ``n_targets`` targets."""
        if self.one_target and n_targets != 1:
            raise ValueError(f"a {self.name} task has one target, got n_targets={n_targets}")
        if n_targets < self.min_targets:
            raise ValueError(
                f"a {self.name} task needs n_targets >= {self.min_targets} "
                f"{'classes' if self.targets == 'classes' else 'targets'}, got {n_targets}"
            )


BINARY = TaskKind(
    name="binary",
    summary="one yes/no label per sequence",
    trained_by="SupervisedModule",
    targets="labels",
    output_transform="sigmoid",
    metrics="binary_metrics",
    one_target=True,
    single_target_as_vector=True,
    calls=True,
    stratify=True,
)
MULTILABEL = TaskKind(
    name="multilabel",
    summary="several independent yes/no labels per sequence",
    trained_by="SupervisedModule",
    targets="labels",
    output_transform="sigmoid",
    metrics="multilabel_metrics",
    min_targets=2,  # torchmetrics' multilabel metrics take two labels or more; one is binary
    calls=True,
)
MULTICLASS = TaskKind(
    name="multiclass",
    summary="one of n_targets classes per sequence",
    trained_by="SupervisedModule",
    targets="classes",
    output_transform="softmax",
    metrics="multiclass_metrics",
    min_targets=2,
    stratify=True,
)
REGRESSION = TaskKind(
    name="regression",
    summary="real-valued targets (counts too: output_transform=exp with a Poisson loss)",
    trained_by="SupervisedModule",
    targets="values",
    output_transform="identity",
    metrics="regression_metrics",
    single_target_as_vector=True,
)
PROFILE = TaskKind(
    name="profile",
    summary="base-resolution count profiles, BPNet-style (shape + total)",
    trained_by="ProfileModule",
    targets="profiles",
    output_transform="expm1",  # predictions: the count head's log(1 + total) -> total
    profile_head=True,
)
AUTOENCODER = TaskKind(
    name="autoencoder",
    summary="reconstruct the input sequence (embeddings)",
    trained_by="AutoencoderModule",
    targets="sequences",
    output_transform="identity",
    averaged=False,  # outputs are reconstructions, not logits to average
)

#: every kind, by name
TASK_KINDS: dict[str, TaskKind] = {
    k.name: k for k in (BINARY, MULTILABEL, MULTICLASS, REGRESSION, PROFILE, AUTOENCODER)
}


def task_kind(name: str, among: Iterable[TaskKind] | None = None) -> TaskKind:
    """The kind called ``name``.

    Args:
        name: a kind's name.
        among: the kinds the caller accepts (default: all).

    Raises:
        UnknownTaskKind: ``task must be one of <names>, got <name>`` (for a kind outside
            ``among``: which module trains it).
    """
    allowed = {k.name: k for k in among} if among is not None else TASK_KINDS
    if not isinstance(name, str) or name not in allowed:
        known = kind_names(allowed.values(), "or")
        other = TASK_KINDS.get(name) if isinstance(name, str) else None
        hint = f" (a {name} model, trained by {other.trained_by})" if other else ""
        raise UnknownTaskKind(f"task must be one of {known}, got {name!r}{hint}")
    return allowed[name]


def kinds_where(**facts: object) -> tuple[TaskKind, ...]:
    """The kinds whose fields equal ``facts``, e.g. ``kinds_where(calls=True)``."""
    return tuple(
        k for k in TASK_KINDS.values() if all(getattr(k, f) == v for f, v in facts.items())
    )


def kind_names(kinds: Iterable[TaskKind], last: str = "and") -> str:
    """``"binary, multilabel and multiclass"``: kind names for messages."""
    listed = [k.name for k in kinds]
    return f" {last} ".join([", ".join(listed[:-1]), listed[-1]] if len(listed) > 1 else listed)
