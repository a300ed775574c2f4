"""Publish a pretrained package on the Hugging Face Hub: :func:`push_to_hub`.

The repo gets exactly the package's ``seqnn.json`` and ``model.safetensors`` and a
``README.md`` model card rendered from the spec's card (data, split, test metrics, how to
reproduce), so that ``seqnn.load_pretrained("hf://<owner>/<repo>")`` reads it back (see
:mod:`seqnn.inference.hub`). Example::

    seqnn.push_to_hub("outputs/runs/<run>/model", "my-lab/ctcf-model")   # hf auth login first
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import huggingface_hub
from torch import nn

from seqnn.inference.hub import CARD_FILE, PREFIX, parse_source
from seqnn.inference.pretrained import (
    SPEC_FILE,
    WEIGHTS_FILE,
    ModelSpec,
    PretrainedModel,
    load_pretrained,
    save_pretrained,
)

# targets listed in the card (a 5,000-track model lists the first ones and a count)
CARD_TARGETS = 20


def push_to_hub(
    package: str | Path | nn.Module,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Upload a pretrained package (and its rendered model card) to a hub repo.

    Args:
        package: a package folder, a shipped model name, or a model (a
            :class:`~seqnn.inference.pretrained.PretrainedModel` or anything
            :func:`~seqnn.inference.pretrained.save_pretrained` writes).
        repo_id: ``owner/name`` (created if missing; ``hf://`` may lead).
        revision: the branch to commit to (default ``main``).
        private: create the repo private (an existing repo keeps its visibility).
        token: a hub token; default: the login (``hf auth login``) or ``HF_TOKEN``.
        commit_message: default ``"seqnn package <repo_id>"``.

    Returns:
        The source to load it back with: ``hf://<repo_id>``.

    Raises:
        PretrainedError: the package does not load (it is checked before any upload).
        HubError: a repo id that is not ``owner/name``.
    """
    repo_id, _ = parse_source(repo_id if repo_id.startswith(PREFIX) else PREFIX + repo_id)
    model = package if isinstance(package, PretrainedModel) else None
    if model is None and not isinstance(package, nn.Module):
        model = load_pretrained(package)  # a package that does not load is never published
    api = huggingface_hub.HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="seqnn-push-") as tmp:
        folder = save_pretrained(model if model is not None else package, Path(tmp) / "package")
        spec = ModelSpec.from_dict(json.loads((folder / SPEC_FILE).read_text()), str(folder))
        (folder / CARD_FILE).write_text(model_card(spec, repo_id))
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            revision=revision,
            commit_message=commit_message or f"seqnn package {repo_id}",
            allow_patterns=[SPEC_FILE, WEIGHTS_FILE, CARD_FILE],
        )
    return f"{PREFIX}{repo_id}"


def model_card(spec: ModelSpec, repo_id: str) -> str:
    """The hub's ``README.md`` for a package: front matter, how to load it, the spec's card.

    Args:
        spec: the package's spec (its ``card`` holds data, split, metrics, command...).
        repo_id: ``owner/name``.

    Returns:
        Markdown text.
    """
    more = len(spec.targets) - CARD_TARGETS
    targets = ", ".join(spec.targets[:CARD_TARGETS]) + (f" and {more:,} more" if more > 0 else "")
    lines = [
        "---",
        "library_name: seqnn",
        "tags: [seqnn, genomics, dna]",
        "---",
        f"# {repo_id.split('/')[-1]}",
        "",
        "A [seqnn](https://pypi.org/project/seqnn/) package: `seqnn.json` (the network's spec) "
        "and `model.safetensors` (weights only); loading it runs no code from this repo.",
        "",
        "```python",
        "import seqnn",
        f'model = seqnn.load_pretrained("{PREFIX}{repo_id}")',
        'seqnn.predict_sequences(model, ["ACGT..."])',
        "```",
        f"or `seqnn-predict model={PREFIX}{repo_id} fasta=... regions=...`.",
        "",
        "## Model",
        f"- network: `{spec.network.get('_target_')}`",
        f"- input: {spec.input_length:,} bp, one-hot {spec.layout}",
        f"- task: {spec.task}; output transform: {spec.output_transform}",
        f"- targets ({len(spec.targets):,}): {targets}",
        f"- N / IUPAC encoding: {spec.policy.n} / {spec.policy.iupac}",
        f"- strand specific: {spec.strand_specific}; threshold: {spec.threshold}",
        f"- seqnn version: {spec.seqnn_version}",
        "",
        *_card_sections(spec.card),
    ]
    return "\n".join(lines) + "\n"


def _card_sections(card: dict[str, Any]) -> list[str]:
    """Scalars as a list; mappings of numbers (metrics) as tables; the rest as JSON blocks."""
    scalars = [f"- {k}: {v}" for k, v in card.items() if not isinstance(v, dict | list)]
    lines = ["## Model card", *scalars, ""] if scalars else []
    for key, value in card.items():
        if not isinstance(value, dict | list):
            continue
        lines += [f"### {key.replace('_', ' ')}", ""]
        if isinstance(value, dict) and value and all(_number(v) for v in value.values()):
            lines += ["| name | value |", "|---|---|"]
            lines += [f"| {k} | {v:.4g} |" for k, v in value.items()]
        else:
            lines += ["```json", json.dumps(value, indent=2, default=str), "```"]
        lines.append("")
    return lines


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
