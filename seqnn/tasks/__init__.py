"""LightningModules: the training policy (loss, metrics, optimiser), network injected."""

from seqnn.tasks.autoencoder import AutoencoderModule
from seqnn.tasks.embedding import embedding_frame, kmeans, linear_probe_auroc, pca
from seqnn.tasks.metrics import default_metrics
from seqnn.tasks.supervised import SupervisedModule

__all__ = [
    "AutoencoderModule",
    "SupervisedModule",
    "default_metrics",
    "embedding_frame",
    "kmeans",
    "linear_probe_auroc",
    "pca",
]
