"""The errors that mean "bad input" (a file, a record, an argument), not a bug in seqnn.

Command-line tools catch exactly these, print the message (which names the file, the line
or record and the fix) and exit with status 2; anything else is a bug and keeps its traceback.
"""

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
