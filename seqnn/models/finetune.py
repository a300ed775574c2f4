"""The trunk / head split that fine-tuning relies on (``seqnn-train model=finetune``).

The contract, for any network (seqnn's own, or a wrapped published family):

* its constructor takes ``n_targets``, and ``n_targets`` sizes only the head;
* the class attribute ``head_modules`` names the child modules that make the head (the part
  a new task replaces); every other parameter is the trunk (kept from the pretrained
  package, frozen during the frozen phase).

``BassetCNN.head_modules = ("head",)``; ``DilatedResNet``'s are its profile and scalar heads.
A network without ``head_modules`` cannot be fine-tuned with a new head (an error says so).
Layout: networks take one-hot (batch, 4, length), channels A, C, G, T.
"""

from __future__ import annotations

from torch import nn

from seqnn.errors import SeqnnInputError


class FinetuneError(SeqnnInputError):
    """A network that has no trunk / head split, or a split that names no module."""


def head_modules(net: nn.Module) -> tuple[str, ...]:
    """The names of ``net``'s head modules (its class's ``head_modules``), checked.

    Raises:
        FinetuneError: the class declares none, or names a child it does not have.
    """
    net = getattr(net, "_orig_mod", net)  # torch.compile wrapper
    names = tuple(getattr(net, "head_modules", ()) or ())
    children = dict(net.named_children())
    if not names or any(name not in children for name in names):
        raise FinetuneError(
            f"{type(net).__name__} has no trunk / head split (head_modules "
            f"{names or 'missing'}; children: {', '.join(children) or 'none'}): fine-tune a "
            "network that declares head_modules (BassetCNN, DilatedResNet, ConvRNN, "
            "ConvTransformer, KmerCNN), or train it whole with init_from= and init_strict=false"
        )
    return names


def is_head(name: str, heads: tuple[str, ...]) -> bool:
    """True for a parameter or buffer name (``head.1.weight``) under one of ``heads``."""
    return name.split(".", 1)[0] in heads


def trunk_modules(net: nn.Module) -> list[nn.Module]:
    """The child modules of ``net`` outside its head: what the frozen phase freezes."""
    net = getattr(net, "_orig_mod", net)
    heads = head_modules(net)
    return [child for name, child in net.named_children() if name not in heads]
