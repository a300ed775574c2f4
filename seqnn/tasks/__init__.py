"""LightningModules: the training policy (loss, metrics, optimiser), network injected.

Names are imported on first use: ``seqnn.models.outputs`` (used by pretrained models) must not
pull in Lightning.
"""

from seqnn.lazy import lazy_getattr

_LAZY = {
    "AutoencoderModule": "seqnn.tasks.autoencoder",
    "ProfileModule": "seqnn.tasks.profile",
    "SupervisedModule": "seqnn.tasks.supervised",
    "default_metrics": "seqnn.tasks.metrics",
    "embedding_frame": "seqnn.tasks.embedding",
    "kmeans": "seqnn.tasks.embedding",
    "linear_probe_auroc": "seqnn.tasks.embedding",
    "pca": "seqnn.tasks.embedding",
}

__getattr__ = lazy_getattr("seqnn.tasks", _LAZY)

__all__ = list(_LAZY)
