"""seqnn: deep learning for DNA sequences.

Layout everywhere: one-hot tensors are (batch, 4, length), channels A, C, G, T.

``seqnn.load_pretrained`` / ``seqnn.save_pretrained`` and the sub-packages (``seqnn.data``,
``seqnn.models``, ``seqnn.tasks``, ``seqnn.interpret``, ``seqnn.inference``, ``seqnn.design``,
``seqnn.plot``) are imported on first use, so that ``import seqnn`` stays cheap and
``import seqnn; seqnn.data.one_hot("ACGT")`` works as written.
"""

from seqnn import moved
from seqnn.lazy import lazy_getattr
from seqnn.version import __version__

_LAZY = {
    "load_pretrained": "seqnn.inference.pretrained",
    "save_pretrained": "seqnn.inference.pretrained",
    "PretrainedModel": "seqnn.inference.pretrained",
    "ensemble_pretrained": "seqnn.inference.ensemble",
    "evaluate_table": "seqnn.inference.evaluate",
    "evaluate_regions": "seqnn.inference.evaluate",
    "predict_regions": "seqnn.inference.predict",
    "predict_profiles": "seqnn.inference.predict",
    "predict_sequences": "seqnn.inference.predict",
    "scan_genome": "seqnn.inference.scan",
    "variant_effects": "seqnn.inference.variants",
    "predict_personal": "seqnn.inference.personal",
    "push_to_hub": "seqnn.inference.push",
}

# old import paths (seqnn.predict, seqnn.train, ...) answer for one more release
moved.install()

SUBPACKAGES = ("data", "models", "tasks", "interpret", "inference", "design", "plot")

__getattr__ = lazy_getattr("seqnn", _LAZY, SUBPACKAGES)

__all__ = ["__version__", *_LAZY, *SUBPACKAGES]
