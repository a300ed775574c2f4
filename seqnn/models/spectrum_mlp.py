"""SpectrumMLP: a dense network over the exact k-mer spectrum of the sequence.
Input one-hot (N, 4, L), channels A, C, G, T; output (N, n_targets) logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seqnn.models.kmer_spectrum import KmerSpectrum
from seqnn.models.layers import MLP, Activation
from seqnn.models.spec import records_config


@records_config
class SpectrumMLP(nn.Module):
    """The k-mer spectrum (every k-mer's frequency, k in ``ks``; optionally the codon
    periodicity of the short k-mers' tracks), standardised by BatchNorm, then a dense head.

    The learned networks see k-mers through a few hundred soft detectors; this one sees every
    k-mer up to length 5 exactly, as k-mer SVMs do (Ghandi et al. 2014). It suits short windows
    whose classes differ in composition. On the CNNProm E. coli set (train + val rows,
    5-fold CV) it reached AUROC 0.974 alone, and averaged with KmerCNN (seqnn.models.Ensemble)
    0.981, where KmerCNN alone reached 0.976 (figures in configs/experiment/cnnprom_ecoli.yaml).
    Gapped base pairs in position windows (``pair_distance``, ``pair_windows``; on in
    ``model=spectrum_mlp``) add where the short motifs sit: alone 0.977 on that CV.

    Shapes: (N, 4, L) -> (N, n_features) -> (N, n_targets); any L >= the largest k (and
    >= pair_distance + pair_windows).

    Args:
        n_targets: Number of outputs (logits).
        ks: The k-mer lengths of the spectrum (1..8; 4**k features each).
        periods: Periods (bp) of the periodic features; () for none.
        periodic_ks: The k-mer lengths whose tracks get periodic features.
        pair_distance: If >= 2, the spectrum adds gapped base pairs up to this distance
            (:func:`~seqnn.models.kmer_spectrum.gapped_pair_frequencies`); 0 for none.
        pair_windows: The position windows of the gapped pairs.
        n_hidden: Width of each hidden dense layer.
        dropout: Dropout probability after each hidden layer.
        input_dropout: Dropout probability on the standardised spectrum.
        activation: Factory of the activation module.
    """

    def __init__(
        self,
        n_targets: int = 1,
        ks: Sequence[int] = (1, 2, 3, 4, 5),
        periods: Sequence[int] = (3,),
        periodic_ks: Sequence[int] = (1, 2, 3),
        pair_distance: int = 0,
        pair_windows: int = 1,
        n_hidden: Sequence[int] = (256,),
        dropout: float = 0.5,
        input_dropout: float = 0.2,
        activation: Activation = nn.ReLU,
    ) -> None:
        super().__init__()
        self.n_targets = n_targets
        self.spectrum = KmerSpectrum(ks, periods, periodic_ks, pair_distance, pair_windows)
        n_features = self.spectrum.n_features
        self.norm = nn.BatchNorm1d(n_features)
        self.head = nn.Sequential(
            nn.Dropout(input_dropout), MLP(n_features, n_hidden, n_targets, dropout, activation)
        )

    @property
    def receptive_field(self) -> int:
        """Span (bp) of one feature: its largest k, or the largest gapped-pair distance + 1; as
        KmerCNN's, that of one detector position; the output pools them over the sequence."""
        spectrum = self.spectrum
        return max(spectrum.ks + spectrum.periodic_ks + (spectrum.pair_distance + 1,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict logits.

        Args:
            x: One-hot sequences (N, 4, L), L >= the largest k (and >= pair_distance +
                pair_windows).

        Returns:
            Logits (N, n_targets).
        """
        if x.shape[-1] < self.spectrum.min_length:
            raise ValueError(
                f"SpectrumMLP: input length {x.shape[-1]} is shorter than its spectrum needs "
                f"({self.spectrum.min_length}: the largest k, or pair_distance + pair_windows)"
            )
        # the spectrum in float32, also under bf16/fp16 autocast: 5-mer frequencies are ~1e-3
        with torch.autocast(x.device.type, enabled=False):
            features = self.spectrum(x.float())
        norm = self.norm
        if self.training and features.shape[0] == 1:
            # the last batch of an epoch can hold one sequence, on which BatchNorm1d (or the
            # SyncBatchNorm that trainer=ddp makes of it) raises: standardise it with the
            # running statistics, leaving them as they are
            stats = norm.running_mean, norm.running_var
            features = F.batch_norm(features, *stats, norm.weight, norm.bias, False, 0.0, norm.eps)
        else:
            features = norm(features)
        return self.head(features)
