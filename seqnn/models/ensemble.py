"""Ensemble: several networks over the same input, their logits averaged.
Input one-hot (N, 4, L); output the members' common output shape, e.g. (N, n_targets), or
their common tuple of outputs (a profile model's ``(profile_logits, log_counts)``), averaged
element by element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from seqnn.models.spec import records_config


@records_config
class Ensemble(nn.Module):
    """Average the logits of member networks (a deep ensemble, Lakshminarayanan et al. 2017).

    Networks of different kinds make different errors: on the CNNProm E. coli set KmerCNN
    (learned k-mer detectors) and SpectrumMLP (the exact k-mer spectrum) reach AUROC 0.976 and
    0.974 alone and 0.981 averaged. Prediction, export and interpretation see one network
    whose output is the mean of the members' logits.

    Training: :class:`~seqnn.tasks.supervised.SupervisedModule` trains each member on its own
    loss (the mean of the members' losses) through ``forward(x, members=True)``; a loss on the
    averaged output instead lets the members lean on each other and lose most of the gain
    (Jeffares et al. 2023, "Joint training of deep ensembles fails due to learner collusion").
    Validation metrics and early stopping see the averaged output.

    Profile members (``(profile_logits (N, T, L'), log_counts (N, T))``) are averaged element
    by element: the mean profile logits give the renormalised geometric mean of the members'
    profile shapes (softmax of a mean of logits); the count outputs (log(1 + total)) are
    averaged as they are.

    Args:
        members: The networks (at least one), each (N, 4, L) -> the same output shape: a
            mapping of names to networks (the config's form, ``members.<name>``) or a list;
            members that are None are left out (``model.members.<name>=null``).
    """

    def __init__(self, members: Mapping[str, nn.Module] | Sequence[nn.Module]) -> None:
        super().__init__()
        named = dict(members) if isinstance(members, Mapping) else dict(enumerate(members))
        named = {str(k): m for k, m in named.items() if m is not None}  # null: left out
        if not named:
            raise ValueError("Ensemble: members must hold at least one network")
        for name, member in named.items():
            if not isinstance(member, nn.Module):
                raise ValueError(
                    f"Ensemble: member {name!r} is a {type(member).__name__}, not a network "
                    "(a config without _target_? set it to null to leave it out)"
                )
        self.members = nn.ModuleDict(named)
        targets = {getattr(m, "n_targets", None) for m in self.members.values()}
        if len(targets) > 1:
            raise ValueError(
                f"Ensemble: the members have different n_targets {sorted(targets, key=str)}"
            )
        self.n_targets = targets.pop()

    @property
    def receptive_field(self) -> int:
        """The largest receptive field (bp) of the members."""
        return max(member.receptive_field for member in self.members.values())

    has_members = True
    """Says that ``forward(x, members=True)`` gives the members' own outputs."""

    def member_outputs(self, x: torch.Tensor) -> list[Output]:
        """Each member's logits, in member order."""
        return self(x, members=True)

    def forward(self, x: torch.Tensor, members: bool = False) -> Output | list[Output]:
        """One-hot (N, 4, L) -> the mean of the members' logits (a tuple of means for tuple
        outputs), or with ``members=True`` the list of each member's logits (through
        ``forward``, so a ``torch.compile`` wrapper of the ensemble compiles that call too)."""
        outputs = [member(x) for member in self.members.values()]
        return outputs if members else average_outputs(outputs)


Output = torch.Tensor | tuple[torch.Tensor, ...]


def average_outputs(outputs: Sequence[Output]) -> Output:
    """The element-wise mean of networks' outputs: tensors of one shape, or tuples of them.

    Raises:
        ValueError: the outputs differ in kind (tensor vs tuple) or tuple length.
        RuntimeError: (torch.stack) tensors of different shapes.
    """
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        if not all(isinstance(out, torch.Tensor) for out in outputs):
            raise ValueError("Ensemble: some members return a tensor and others a tuple")
        return _mean(outputs)
    lengths = {len(out) if isinstance(out, tuple | list) else None for out in outputs}
    if len(lengths) > 1 or None in lengths:
        raise ValueError(
            "Ensemble: the members' outputs differ in kind (tensor / tuple) or tuple length: "
            f"{sorted(map(str, lengths))}"
        )
    return tuple(_mean(parts) for parts in zip(*outputs, strict=True))


def _mean(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    # no Python-side shape check: it would break TorchScript / ONNX tracing (torch.stack itself
    # refuses outputs of different shapes; seqnn-ensemble checks profile lengths up front)
    return torch.stack(list(tensors)).mean(0)
