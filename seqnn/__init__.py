"""seqnn: deep learning for DNA sequences.

Layout everywhere: one-hot tensors are (batch, 4, length), channels A, C, G, T.

``seqnn.load_pretrained`` / ``seqnn.save_pretrained`` and the sub-packages (``seqnn.data``,
``seqnn.models``, ``seqnn.tasks``, ``seqnn.interpret``) are imported on first use, so that
``import seqnn`` stays cheap and ``import seqnn; seqnn.data.one_hot("ACGT")`` works as written.
"""

__version__ = "0.1.0"

from seqnn.lazy import lazy_getattr

_LAZY = {
    "load_pretrained": "seqnn.pretrained",
    "save_pretrained": "seqnn.pretrained",
    "PretrainedModel": "seqnn.pretrained",
    "ensemble_pretrained": "seqnn.ensemble",
    "evaluate_table": "seqnn.evaluate",
    "evaluate_regions": "seqnn.evaluate",
    "predict_regions": "seqnn.predict",
    "predict_profiles": "seqnn.predict",
    "predict_sequences": "seqnn.predict",
    "scan_genome": "seqnn.scan",
    "variant_effects": "seqnn.variants",
}


SUBPACKAGES = ("data", "models", "tasks", "interpret")

__getattr__ = lazy_getattr("seqnn", _LAZY, SUBPACKAGES)

__all__ = ["__version__", *_LAZY, *SUBPACKAGES]
