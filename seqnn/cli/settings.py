"""The ``key=value`` command lines of seqnn's tools (``seqnn-predict``, ``seqnn-variants``,
``seqnn-evaluate``, ``seqnn-ensemble``, ``seqnn-export``).

Each tool has one commented YAML file of settings in ``configs/`` (shipped as
``seqnn.configs``): ``--help`` prints it, and the arguments are an OmegaConf dotlist merged
over it (no Hydra: no run folder, no log file). Unknown keys, missing ``???`` keys and values
of the wrong type are errors that name the key, and so is a key given twice. A value
``embedded:<name>`` is the shipped file of that name (``fasta=embedded:ecoli``; see
:data:`seqnn.data.embedded.EMBEDDED_FILES`). Example::

    def main(argv=None):
        run_cli("seqnn-variants", argv, "variants.yaml", run, VariantError)
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seqnn.data.embedded import EMBEDDED_PREFIX, embedded_file
from seqnn.errors import exit_on_bad_input


def config_text(config_file: str) -> str:
    """The text of ``configs/<config_file>`` (the tool's commented defaults)."""
    return (resources.files("seqnn.configs") / config_file).read_text(encoding="utf-8")


def read_settings(
    argv: Sequence[str], config_file: str, error_cls: type[Exception] = ValueError
) -> DictConfig:
    """``key=value`` arguments merged over ``configs/<config_file>``.

    Args:
        argv: the arguments, e.g. ``["model=ecoli-sigma70", "rc=true"]`` (a leading ``+`` is
            ignored, as in Hydra overrides).
        config_file: the YAML file of defaults in ``seqnn.configs``.
        error_cls: the tool's error class (one of :data:`seqnn.errors.USER_ERRORS`).

    Returns:
        The settings, with each ``embedded:<name>`` value replaced by the shipped file's path.

    Raises:
        error_cls: for an argument without ``=``, an unknown key, a key given twice, a value
            of the wrong type, a required (``???``) key left out, or an unknown
            ``embedded:<name>``; the message names the key.
    """
    defaults = OmegaConf.create(config_text(config_file))
    known = set(defaults.keys())  # `in` would skip the ??? (missing) keys
    seen = set()
    for arg in argv:
        key = arg.split("=", 1)[0].lstrip("+")
        if "=" not in arg or key.split(".")[0] not in known:  # a.b=: a key of the mapping a
            raise error_cls(
                f"unknown setting {arg!r}: give key=value with key one of {', '.join(defaults)}"
            )
        if key in seen:  # OmegaConf would keep the last one silently
            raise error_cls(f"setting {key} given more than once: give it once")
        seen.add(key)
    try:
        cfg = OmegaConf.merge(defaults, OmegaConf.from_dotlist([a.lstrip("+") for a in argv]))
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        detail = str(err).splitlines()[0]
        raise error_cls(f"setting {key}: {detail} (see --help for the expected values)") from None
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise error_cls(f"missing setting(s): {', '.join(f'{k}=...' for k in missing)}")
    _check_numbers(cfg, defaults, error_cls)
    _resolve_embedded(cfg, error_cls)
    return cfg


def _resolve_embedded(cfg: DictConfig, error_cls: type[Exception]) -> None:
    """``key=embedded:<name>`` -> the shipped file's path (the one place that reads them)."""
    for key, value in cfg.items():
        if isinstance(value, str) and value.startswith(EMBEDDED_PREFIX):
            try:
                cfg[key] = str(embedded_file(value))
            except ValueError as err:
                raise error_cls(f"setting {key}: {err}") from None


def split_names(value: object) -> list[str]:
    """A setting that lists names: ``a,b`` (a string) or ``[a,b]`` (a list, as OmegaConf reads
    it) -> the names, stripped (an empty name stays, for the caller to judge)."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        items = [value]
    return [str(item).strip() for item in items]


def _check_numbers(cfg: DictConfig, defaults: DictConfig, error_cls: type[Exception]) -> None:
    """A setting whose default is a number takes a number (the YAML is untyped, so OmegaConf
    would pass ``batch_size=many`` through)."""
    for key, default in OmegaConf.to_container(defaults).items():  # ??? stays a string
        if isinstance(default, bool) or not isinstance(default, int | float):
            continue
        value = cfg[key]
        wanted = int if isinstance(default, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            kind = "a whole number" if wanted is int else "a number"
            raise error_cls(f"setting {key}={value!r}: give {kind} (default {default})")


def run_cli(
    prog: str,
    argv: Sequence[str] | None,
    config_file: str,
    run: Callable[[DictConfig], Iterable[Path]],
    error_cls: type[Exception],
    also: tuple[type[Exception], ...] = (),
) -> None:
    """A console entry point: ``--help``, the settings, ``run(cfg)``, one line per file written.

    Bad input (:data:`seqnn.errors.USER_ERRORS`) prints one ``<prog>: error: ...`` line to
    stderr and exits with status 2; any other exception is a bug and keeps its traceback.
    ``UserWarning`` s (skipped records and the like) print as ``<prog>: warning: ...``.

    Args:
        prog: the command's name, e.g. ``"seqnn-predict"``.
        argv: the arguments; None reads ``sys.argv[1:]``.
        config_file: the YAML file of defaults in ``seqnn.configs``.
        run: the tool's work: settings -> the paths it wrote.
        error_cls: the tool's error class, raised for bad settings.
        also: further exception types that mean bad input for this tool (e.g. ``OSError``).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if {"-h", "--help"} & set(argv):
        print(config_text(config_file))
        return
    with exit_on_bad_input(prog, also), _one_line_warnings(prog):
        for path in run(read_settings(argv, config_file, error_cls)):
            print(f"{prog}: wrote {path}")


@contextlib.contextmanager
def _one_line_warnings(prog: str) -> Iterator[None]:
    """Show UserWarnings as ``<prog>: warning: ...`` (no source line, which means nothing to
    a command-line user); other warnings as usual."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def showwarning(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, UserWarning):
                print(f"{prog}: warning: {message}", file=sys.stderr)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = showwarning
        yield
