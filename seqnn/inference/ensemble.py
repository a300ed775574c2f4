"""Average independently trained pretrained packages into one (``seqnn-ensemble``).

The models of a k-fold cross-validation (``seqnn-train -m ... data.folds=5
data.fold=0,1,2,3,4``) or of several seeds (``-m seed=1,2,3``) each make their own errors; one
package whose network is a :class:`seqnn.models.Ensemble` of them (logits averaged) predicts,
interprets, scores variants and exports like any single model. Profile models (BPNet-style,
``(profile_logits, log_counts)``) average each output: the ensemble's profile is the
renormalised geometric mean of the members' profiles, its log(1 + total) the mean of
theirs. Example::

    seqnn-ensemble models='outputs/multiruns/<sweep>/*/model' out=cv_ensemble   # every fold
    seqnn-ensemble models=runs/seed_1/model,runs/seed_2/model out=seed_ensemble
    seqnn-predict model=cv_ensemble fasta=genome.fa regions=regions.bed out=pred.tsv

The members must agree on what a prediction means: input length, task, target names, output
transform, N/IUPAC policy and decision threshold; a difference is an error that names both
packages (``threshold=`` sets the ensemble's own, for members tuned apart). Each package weighs
the same (an ensemble package given as a member counts once, its own members averaged inside
it); a model given twice is an error. The model card lists each member's source and test
metrics. ``out`` must be a new folder; it is written beside itself
under a temporary name and renamed when complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from seqnn.inference.pretrained import (
    PretrainedError,
    PretrainedModel,
    load_pretrained,
)
from seqnn.kinds import kind_names, kinds_where
from seqnn.models.ensemble import Ensemble
from seqnn.models.spec import network_spec

# what every member must share, so that the averaged logits mean one thing
AGREED_FIELDS = (
    "input_length",
    "task",
    "targets",
    "output_transform",
    "policy",
    "threshold",
    "strand_specific",
)
# tasks whose networks return logits that can be averaged (profile: a tuple, element by element)
AVERAGED_TASKS = tuple(k.name for k in kinds_where(averaged=True))


def ensemble_pretrained(
    models: Sequence[str | Path | PretrainedModel], threshold: float | None = None
) -> PretrainedModel:
    """One pretrained model whose network averages the logits of ``models``.

    Args:
        models: at least two package folders, shipped model names or loaded
            :class:`PretrainedModel` objects (whose networks the ensemble then shares, moved
            to the CPU).
        threshold: binary / multilabel: the ensemble's decision threshold, for members whose
            own thresholds differ (each tuned on its validation rows by
            :class:`seqnn.callbacks.TuneThreshold`); None: the members' common one.

    Returns:
        The ensemble, in eval mode on the CPU; :func:`seqnn.save_pretrained` writes it.

    Raises:
        PretrainedError: fewer than two models, an autoencoder model (its network returns
            reconstructions, not logits to average), members that disagree on a field of
            :data:`AGREED_FIELDS` (naming the field and both models) or, for profile models, on
            the output length, or a model given twice.
    """
    if len(models) < 2:
        raise PretrainedError(f"seqnn-ensemble: give at least two models, got {len(models)}")
    sources = [
        str(m) if not isinstance(m, PretrainedModel) else f"model {i}"
        for i, m in enumerate(models)
    ]
    seen: dict[object, str] = {}
    for source, m in zip(sources, models, strict=True):
        key = m if isinstance(m, PretrainedModel) else _identity(m)
        if key in seen:
            raise PretrainedError(
                f"seqnn-ensemble: {source} is the same model as {seen[key]}: give each model once "
                "(a pattern and a listed folder can both name it)"
            )
        seen[key] = source
    loaded = [m if isinstance(m, PretrainedModel) else load_pretrained(m) for m in models]
    first = loaded[0].spec
    for source, model in zip(sources, loaded, strict=True):
        if not model.kind.averaged:
            raise PretrainedError(
                f"{source}: task {model.spec.task!r}: only {', '.join(AVERAGED_TASKS)} models "
                "can be averaged"
            )
        for name in AGREED_FIELDS:
            if name == "threshold" and threshold is not None:
                continue
            mine, theirs = _field(model, name), _field(loaded[0], name)
            if mine != theirs:
                own = "; or give the ensemble its own: threshold=<probability>"
                raise PretrainedError(
                    f"{source}: {name} {mine!r} differs from {sources[0]}'s {theirs!r}: the "
                    "members of an ensemble must agree on it (retrain or pick matching models"
                    f"{own if name == 'threshold' else ''})"
                )
    if threshold is not None:
        if not loaded[0].kind.calls or not 0 < threshold < 1:
            raise PretrainedError(
                f"seqnn-ensemble: threshold={threshold!r}: a probability in (0, 1), for "
                f"{kind_names(kinds_where(calls=True), 'or')} models (these are {first.task})"
            )
        first = replace(first, threshold=float(threshold))
    if loaded[0].kind.profile_head:
        _check_profile_lengths(sources, loaded)
    net = Ensemble([model.net.cpu() for model in loaded]).eval()
    members = [
        {"source": source, "test_metrics": model.spec.card.get("test_metrics", {})}
        for source, model in zip(sources, loaded, strict=True)
    ]
    card = {"ensemble_of": members, "trained_with": "seqnn-ensemble (logits averaged)"}
    spec = replace(first, network=network_spec(net), card=card)
    return PretrainedModel(net, spec).eval()


def _check_profile_lengths(sources: list[str], models: list[PretrainedModel]) -> None:
    """Profile members must predict profiles of one length (their crops and bins agree)."""
    import torch

    shapes = []
    for model in models:
        x = torch.zeros(1, 4, model.spec.input_length, device=model.device)
        with torch.no_grad():
            logits, _ = model._profile_outputs(model.net.eval()(x))
        shapes.append(tuple(logits.shape[1:]))
    for source, shape in zip(sources, shapes, strict=True):
        if shape != shapes[0]:
            raise PretrainedError(
                f"{source}: profile output (targets, length) {shape} differs from {sources[0]}'s "
                f"{shapes[0]}: the members of a profile ensemble must predict the same bins "
                "(retrain with the same output crop / bin size)"
            )


def _identity(source: str | Path) -> object:
    """What tells two sources apart: the resolved folder, or a shipped model's name."""
    path = Path(source)
    return path.resolve() if path.exists() else str(source)


def _field(model: PretrainedModel, name: str):
    """A spec field as it acts: no threshold is 0.5 (what older packages hold)."""
    return model.threshold if name == "threshold" else getattr(model.spec, name)
