"""Old keyword names kept for one release: ``renamed_keywords(seq_len="input_length")``.

Bottom layer: imports nothing of seqnn, so that data, models and tasks can all use it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def renamed_keywords(**renamed: str) -> Callable[[T], T]:
    """Class or function decorator: accept each old keyword (``seq_len=``) as its new name
    (``input_length=``) with a DeprecationWarning, so old calls and Hydra configs keep working
    for one release. Put it above ``@records_config``, so that a network records the new name.

    Args:
        **renamed: old name -> new name.

    Raises:
        TypeError: a call that gives the old and the new name different values (None
            counts as not given).
    """

    def decorate(target: T) -> T:
        function = target.__init__ if isinstance(target, type) else target
        owner = getattr(target, "__qualname__", str(target))

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renamed.items():
                if old not in kwargs:
                    continue
                value = kwargs.pop(old)
                if kwargs.get(new) is None:  # None: not given
                    kwargs[new] = value
                elif value is not None and kwargs[new] != value:
                    raise TypeError(
                        f"{owner}: {old}={value!r} and {new}={kwargs[new]!r} disagree: pass "
                        f"{new}= only ({old}= is its old name)"
                    )
                warnings.warn(
                    f"{owner}: {old}= is now {new}= (the old name goes in the next release)",
                    DeprecationWarning,
                    stacklevel=2,
                )
            return function(*args, **kwargs)

        if isinstance(target, type):
            target.__init__ = wrapper
            return target
        return wrapper  # type: ignore[return-value]

    return decorate
