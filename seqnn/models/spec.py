"""A network's constructor call as plain JSON, and a safe way to build it again.

Every seqnn network records how it was built (``@records_config``): ``network_spec(net)``
gives ``{"_target_": "seqnn.models.bassetcnn.BassetCNN", "n_targets": 1, ...}``, the same shape
as a Hydra model config. ``build_network(spec)`` builds it again **without running arbitrary
code**: a ``_target_`` must be a network class under ``seqnn.models``, a module class of
``torch.nn`` (activation factories such as ``torch.nn.ReLU``) or one of the published
architectures named one by one in :data:`TRUSTED_CLASSES` (classes of installed ports, never a
whole foreign package); anything else (``os.system``, ``builtins.eval``...) is refused. That is
what lets a pretrained package be loaded from an untrusted folder: the folder brings weights and
JSON, the code comes from installed packages only.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from torch import nn

from seqnn.errors import SeqnnInputError

ALLOWED_PREFIXES = ("seqnn.models.", "torch.nn.")
#: classes of installed ports of published networks that a spec may name, one by one (a
#: package prefix would trust every class, and so every side effect, of a foreign package).
#: Their constructors take plain numbers and nested networks; the ports whose constructors
#: need their own config objects (Enformer, Borzoi) are wrapped in seqnn.models instead.
TRUSTED_CLASSES = (
    "bpnetlite.bpnet.BPNet",  # pip install seqnn[chrombpnet]
    "bpnetlite.chrombpnet.ChromBPNet",
)
#: the import name of each port -> the seqnn extra that installs it
_PORTS = {"bpnetlite": "chrombpnet", "enformer_pytorch": "enformer", "borzoi_pytorch": "borzoi"}
T = TypeVar("T", bound=type)


class SpecError(SeqnnInputError):
    """A network spec that cannot be written or built (names the argument and the fix)."""


def records_config(cls: T) -> T:
    """Class decorator: after ``__init__``, keep the call's arguments in ``net._config``."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        # a subclass's wrapper runs last and overwrites its parent's record
        self._config = {"_target_": f"{cls.__module__}.{cls.__qualname__}", **arguments}

    cls.__init__ = __init__
    return cls


def network_spec(net: nn.Module) -> dict[str, Any]:
    """The JSON-able constructor call of a seqnn network (nested networks included).

    Raises:
        SpecError: the network was not built by a seqnn class (pass ``network=`` to
            ``save_pretrained`` with its ``_target_`` and arguments instead), or an argument
            cannot be written as JSON.
    """
    net = getattr(net, "_orig_mod", net)  # torch.compile wrapper
    config = getattr(net, "_config", None)
    if config is None:
        raise SpecError(
            f"{type(net).__name__} does not record its constructor arguments (only seqnn.models "
            "networks do): pass network={'_target_': 'pkg.Class', ...} to save_pretrained"
        )
    return {key: _to_json(value, f"{config['_target_']}.{key}") for key, value in config.items()}


def _to_json(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):  # also ListConfig
        return [_to_json(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_json(v, where) for k, v in value.items()}
    if isinstance(value, nn.Module):
        return network_spec(value)
    if isinstance(value, type) and issubclass(value, nn.Module):
        return {"_target_": f"{value.__module__}.{value.__qualname__}", "_partial_": True}
    if isinstance(value, functools.partial) and isinstance(value.func, type):
        return {**_to_json(value.func, where), **_to_json(value.keywords, where)}
    raise SpecError(f"{where}: {type(value).__name__} {value!r} cannot be written as JSON")


def build_network(spec: Mapping[str, Any], source: str = "network spec") -> nn.Module:
    """Build a network from :func:`network_spec` output (or a Hydra model config).

    Only classes under ``seqnn.models`` and ``torch.nn`` and those in
    :data:`TRUSTED_CLASSES` are imported and called.

    Raises:
        SpecError: naming ``source`` for a refused or unknown ``_target_`` or bad arguments.
    """
    built = _build(spec, source)
    if not isinstance(built, nn.Module):
        raise SpecError(f"{source}: {spec.get('_target_')!r} did not build an nn.Module")
    return built


def _build(value: Any, source: str) -> Any:
    if isinstance(value, list):
        return [_build(v, source) for v in value]
    if not isinstance(value, Mapping):
        return value
    if "_target_" not in value:
        return {k: _build(v, source) for k, v in value.items()}
    cls = _resolve(str(value["_target_"]), source)
    kwargs = {k: _build(v, source) for k, v in value.items() if k not in ("_target_", "_partial_")}
    if value.get("_partial_"):
        return functools.partial(cls, **kwargs) if kwargs else cls
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise SpecError(f"{source}: cannot build {value['_target_']}: {err}") from None


def _resolve(target: str, source: str) -> type:
    """``"seqnn.models.bassetcnn.BassetCNN"`` -> the class, if it is an allowed nn.Module."""
    if not (target.startswith(ALLOWED_PREFIXES) or target in TRUSTED_CLASSES):
        raise SpecError(
            f"{source}: refusing _target_ {target!r}: a pretrained network may only name "
            f"classes under {' or '.join(p.rstrip('.') for p in ALLOWED_PREFIXES)} or one of "
            f"the trusted published architectures {', '.join(TRUSTED_CLASSES)}"
        )
    module_name, _, name = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), name)
    except ModuleNotFoundError as err:
        if target in TRUSTED_CLASSES or err.name in _PORTS:
            raise SpecError(
                f"{source}: {target!r} needs the port {err.name!r}: pip install "
                f"'seqnn[{_PORTS.get(str(err.name).split('.')[0], 'zoo')}]'"
            ) from None
        raise SpecError(f"{source}: unknown _target_ {target!r} (is seqnn up to date?)") from None
    except (ImportError, AttributeError):
        raise SpecError(f"{source}: unknown _target_ {target!r} (is seqnn up to date?)") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise SpecError(f"{source}: refusing _target_ {target!r}: not an nn.Module class")
    return obj
