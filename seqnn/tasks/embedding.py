"""Analysis of sequence embeddings (n, d), e.g. from :meth:`AutoencoderModule.embed`.

PCA and k-means for plots, and a linear probe: how well a logistic regression on the embedding
separates known labels (cross-validated AUROC).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


class PCAResult(NamedTuple):
    """Principal-component scores (n, k) and the fraction of variance each explains (k,)."""

    scores: np.ndarray
    explained_variance_ratio: np.ndarray


def _check_embeddings(embeddings: np.ndarray) -> np.ndarray:
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n, d), got shape {emb.shape}")
    return emb


def pca(embeddings: np.ndarray, n_components: int = 2, seed: int = 0) -> PCAResult:
    """Project embeddings on their first principal components.

    Args:
        embeddings: (n, d).
        n_components: k <= min(n, d).
        seed: for the randomised solver sklearn picks on large inputs.

    Returns:
        PCAResult(scores (n, k), explained_variance_ratio (k,)).
    """
    emb = _check_embeddings(embeddings)
    if not 1 <= n_components <= min(emb.shape):
        raise ValueError(
            f"n_components={n_components} must be between 1 and min(n, d) = {min(emb.shape)} "
            f"for embeddings of shape {emb.shape}"
        )
    model = PCA(n_components=n_components, random_state=seed)
    scores = model.fit_transform(emb)
    return PCAResult(scores, model.explained_variance_ratio_)


def kmeans(embeddings: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Cluster embeddings with k-means.

    Args:
        embeddings: (n, d).
        n_clusters: k <= n.
        seed: k-means initialisation seed.

    Returns:
        int array (n,): the cluster of each embedding, 0 .. k-1.
    """
    emb = _check_embeddings(embeddings)
    if not 1 <= n_clusters <= emb.shape[0]:
        raise ValueError(f"n_clusters={n_clusters} must be between 1 and n = {emb.shape[0]}")
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(emb)


def embedding_frame(
    embeddings: np.ndarray,
    labels: np.ndarray | list | pd.Series | None = None,
    n_components: int = 2,
    n_clusters: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """A plot-ready table of embeddings: principal components, clusters and labels.

    Args:
        embeddings: (n, d).
        labels: optional (n,) labels, kept as given (e.g. class names).
        n_components: number of principal components, columns ``pc1`` .. ``pc<k>``.
        n_clusters: if given, a ``cluster`` column from k-means on the full embeddings.
        seed: seed of PCA and k-means.

    Returns:
        DataFrame with n rows and columns ``pc1``..``pc<k>``, then ``cluster`` and ``label``
        when asked for; ``df.attrs["explained_variance_ratio"]`` lists each component's
        fraction of the variance.
    """
    emb = _check_embeddings(embeddings)
    scores, ratio = pca(emb, n_components, seed)
    df = pd.DataFrame(scores, columns=[f"pc{i + 1}" for i in range(n_components)])
    if n_clusters is not None:
        df["cluster"] = kmeans(emb, n_clusters, seed)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (emb.shape[0],):
            raise ValueError(f"labels has shape {labels.shape}, expected ({emb.shape[0]},)")
        df["label"] = labels
    df.attrs["explained_variance_ratio"] = [float(r) for r in ratio]
    return df


def linear_probe_auroc(
    embeddings: np.ndarray, labels: np.ndarray | list, seed: int = 0, cv: int = 5
) -> float:
    """Cross-validated AUROC of a logistic regression predicting ``labels`` from embeddings.

    Features are standardised inside each fold. With more than two classes the AUROC is
    one-vs-rest, macro-averaged.

    Args:
        embeddings: (n, d).
        labels: (n,) class labels; each class needs at least ``cv`` members.
        seed: seed of the stratified fold shuffle.
        cv: number of stratified folds.

    Returns:
        The mean AUROC over the folds.
    """
    emb = _check_embeddings(embeddings)
    labels = np.asarray(labels)
    if labels.shape != (emb.shape[0],):
        raise ValueError(f"labels has shape {labels.shape}, expected ({emb.shape[0]},)")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"linear_probe_auroc needs two classes or more, got {list(classes)}")
    if counts.min() < cv:
        raise ValueError(
            f"class {classes[counts.argmin()]!r} has {counts.min()} members, fewer than cv={cv} "
            "folds: lower cv or add examples"
        )
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    scoring = "roc_auc" if len(classes) == 2 else "roc_auc_ovr"
    return float(cross_val_score(probe, emb, labels, cv=folds, scoring=scoring).mean())
