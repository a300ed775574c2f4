"""The errors that mean "bad input" (a file, a record, an argument), not a bug in seqnn.

Command-line tools catch exactly these (:func:`exit_on_bad_input`), print the message (which
names the file, the line or record and the fix) and exit with status 2; anything else is a bug
and keeps its traceback.
"""

import contextlib
import sys
from collections.abc import Iterator

from seqnn.data.coverage import TargetError
from seqnn.data.datasets import DatasetError
from seqnn.data.encoding import EncodingError
from seqnn.data.genome import GenomeError
from seqnn.data.intervals import IntervalError
from seqnn.data.vcf import VCFError
from seqnn.interpret.motifs import MotifError
from seqnn.models.spec import SpecError
from seqnn.predict import PredictError
from seqnn.pretrained import PretrainedError
from seqnn.variants import VariantError

USER_ERRORS = (
    DatasetError,
    EncodingError,
    GenomeError,
    IntervalError,
    MotifError,
    PredictError,
    PretrainedError,
    SpecError,
    TargetError,
    VariantError,
    VCFError,
)


@contextlib.contextmanager
def exit_on_bad_input(prog: str, also: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Turn bad input into one ``<prog>: error: <message>`` line on stderr and exit status 2.

    Args:
        prog: the command's name, e.g. ``"seqnn-train"``.
        also: further exception types that mean bad input for this command.
    """
    try:
        yield
    except (*USER_ERRORS, *also) as err:
        message = str(err).removeprefix(f"{prog}: ")  # library errors may name the tool too
        print(f"{prog}: error: {message}", file=sys.stderr)
        sys.exit(2)
