"""A pretrained package's network with a new head, for fine-tuning: :func:`finetune_network`.

``seqnn-train init_from=<package> model=finetune`` builds the package's network (its spec)
with ``n_targets`` set to the new data's, starts the trunk from the package's weights and the
head fresh (:mod:`seqnn.models.finetune` says which modules are the head);
``callbacks=finetune`` then trains with the trunk frozen, and optionally unfreezes it later at a
lower learning rate (:class:`seqnn.callbacks.TrunkFinetuning`). Example::

    net = finetune_network("ctcf-peaks", n_targets=3)     # trunk: the CTCF model's
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from seqnn.inference.pretrained import load_pretrained
from seqnn.models.finetune import FinetuneError, head_modules, is_head
from seqnn.models.spec import build_network


def finetune_network(
    source: str | Path | None, n_targets: int, local_files_only: bool = False
) -> nn.Module:
    """The network of package ``source`` with a fresh head for ``n_targets`` outputs.

    Args:
        source: a package folder, a shipped model name or ``hf://<owner>/<repo>[@revision]``
            (``init_from`` of ``seqnn-train``).
        n_targets: the new task's number of outputs.
        local_files_only: a hub package from the cache only.

    Returns:
        The network (in train mode); ``pretrained_source`` names the package, so that
        ``seqnn-train`` does not load ``init_from`` a second time.

    Raises:
        FinetuneError: no source, a network without a trunk / head split, or a package whose
            trunk does not fit the rebuilt network.
        PretrainedError: the package does not load.
    """
    if not source:
        raise FinetuneError(
            "model=finetune starts from a pretrained package: add init_from=<package> (a "
            "folder, a shipped name such as ctcf-peaks, or hf://<owner>/<repo>)"
        )
    package = load_pretrained(source, local_files_only=local_files_only)
    heads = head_modules(package.net)
    net = build_network({**package.spec.network, "n_targets": int(n_targets)}, str(source))
    trunk = {k: v for k, v in package.net.state_dict().items() if not is_head(k, heads)}
    try:  # shapes that differ are a RuntimeError even with strict=False
        missing, unexpected = net.load_state_dict(trunk, strict=False)
        unfit = [k for k in missing if not is_head(k, heads)] + list(unexpected)
    except RuntimeError as err:
        unfit = [str(err).split("\n\t", 1)[-1].split("\n")[0]]
    if unfit:
        raise FinetuneError(
            f"{source}: the package's trunk does not fit its rebuilt network "
            f"({', '.join(unfit[:5])}): n_targets must size only the head (seqnn.models.finetune)"
        )
    net.pretrained_source = str(source)
    return net.train()
