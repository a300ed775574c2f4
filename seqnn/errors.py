"""The errors that mean "bad input" (a file, a record, an argument), not a bug in seqnn.

Every input error of every layer subclasses :class:`SeqnnInputError`, and this module imports
nothing of seqnn, so that any layer can raise one. Command-line tools catch the base class
(:func:`exit_on_bad_input`), print the message (which names the file, the line or record and
the fix) and exit with status 2; anything else is a bug and keeps its traceback.
"""

import contextlib
import sys
from collections.abc import Iterator


class SeqnnInputError(ValueError):
    """Bad input: the message names the file, line or record (or the argument) and the fix."""


@contextlib.contextmanager
def exit_on_bad_input(prog: str, also: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Turn bad input into one ``<prog>: error: <message>`` line on stderr and exit status 2.

    Args:
        prog: the command's name, e.g. ``"seqnn-train"``.
        also: further exception types that mean bad input for this command.
    """
    try:
        yield
    except (SeqnnInputError, *also) as err:
        message = str(err).removeprefix(f"{prog}: ")  # library errors may name the tool too
        print(f"{prog}: error: {message}", file=sys.stderr)
        sys.exit(2)
