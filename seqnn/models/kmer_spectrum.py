"""The k-mer spectrum of one-hot sequences: the frequency of every k-mer, as a network layer.

The spectrum is the feature map of the spectrum kernel (Leslie, Eskin & Noble 2002) and of
k-mer SVMs (gkm-SVM: Ghandi et al. 2014). Here it is computed from the one-hot input by
products of shifted channels, so it is exact on one-hot DNA, the expected count under
fractional (N = 0.25, IUPAC) encodings, zero for every window that holds an all-zero N, and
differentiable: gradients reach the input. (Its products are multiplicative interactions, so
DeepLIFT's summation-to-delta holds only approximately through it; ISM is exact.)

Optionally it adds gapped pairs (:func:`gapped_pair_frequencies`): the frequency of every base
pair (a, b) at distance d, a gapped 2-mer in gkm-SVM's terms, in a few position windows, so
that spaced elements at roughly fixed places (a promoter's -35 and -10 boxes, 15-19 bp apart)
count, as well as what the sequence is made of.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqnn.models.layers import periodic_power


def kmer_tracks(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indicator track of every k-mer at every window start.

    Args:
        x: One-hot sequences (N, 4, L), channels A, C, G, T.
        k: The k-mer length (1 <= k <= L).

    Returns:
        (N, 4**k, L - k + 1): entry [n, w, p] is prod_j x[n, w_j, p + j], where w_0..w_{k-1}
        are the base-4 digits of w, first base most significant (AA..A = 0, ..., TT..T =
        4**k - 1): 1 where sequence n reads k-mer w at p, 0 elsewhere (for one-hot input).
    """
    _check(x, k)
    tracks = x
    for j in range(1, k):
        tracks = _extend(tracks, x, j)
    return tracks


def _check(x: torch.Tensor, k: int) -> None:
    if x.ndim != 3 or x.shape[1] != 4 or not 1 <= k <= x.shape[-1]:
        raise ValueError(
            f"k-mer spectrum: need one-hot (N, 4, L) with 1 <= k <= L, got {tuple(x.shape)} "
            f"and k={k}"
        )


def _extend(tracks: torch.Tensor, x: torch.Tensor, j: int) -> torch.Tensor:
    """Tracks of the j-mers (N, 4**j, L - j + 1) -> of the (j + 1)-mers (N, 4**(j+1), L - j):
    each track at p times each base at p + j (with ``tracks = x``: the base pairs j apart)."""
    width = x.shape[-1] - j
    return (tracks[:, :, None, :width] * x[:, None, :, j:]).reshape(x.shape[0], -1, width)


def kmer_frequencies(x: torch.Tensor, ks: Sequence[int]) -> list[torch.Tensor]:
    """The frequency (count / number of windows) of every k-mer, for each k in ``ks``.

    Returns:
        One (N, 4**k) tensor per k, in x's dtype, k-mers ordered as in :func:`kmer_tracks`.
    """
    return _spectrum(x, ks)[0]


def gapped_pair_frequencies(x: torch.Tensor, max_distance: int, windows: int = 1) -> torch.Tensor:
    """The frequency of every ordered base pair (a at i, b at i + d), for d = 2..max_distance,
    in each of ``windows`` position windows.

    Args:
        x: One-hot sequences (N, 4, L), L >= max_distance + windows.
        max_distance: The largest distance d (bp, >= 2); d = 1 is the 2-mer spectrum.
        windows: The first positions i = 0..L-d-1 of each distance are cut into this many
            equal consecutive parts (``torch.tensor_split``); each part gives its own 16 mean
            pair indicators.

    Returns:
        (N, (max_distance - 1) * windows * 16), in x's dtype: distance-major, then window, then
        pair a * 4 + b (A, C, G, T).
    """
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"gapped pairs: need one-hot (N, 4, L), got {tuple(x.shape)}")
    if max_distance < 2 or windows < 1 or x.shape[-1] < max_distance + windows:
        raise ValueError(
            f"gapped pairs: need max_distance >= 2, windows >= 1 and length L >= max_distance "
            f"+ windows, got max_distance={max_distance}, windows={windows}, L={x.shape[-1]}"
        )
    features = []
    for d in range(2, max_distance + 1):
        pairs = _extend(x, x, d)  # (N, 16, L - d): a at i and b at i + d
        features += [part.mean(-1) for part in torch.tensor_split(pairs, windows, dim=-1)]
    return torch.cat(features, 1)


def _spectrum(
    x: torch.Tensor, ks: Sequence[int], periodic_ks: Sequence[int] = (), periods=()
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Frequencies for ``ks`` and periodic powers (N, 4**k, n_periods) for ``periodic_ks``,
    in one walk up the k-mer tracks: each track is built once, and the largest k's sums come
    from the (k-1)-mer tracks by one batched matrix product with the shifted input, so its
    tracks (N, 4**k, L) are not built unless it has periodic features."""
    for k in (*ks, *periodic_ks):
        _check(x, k)
    deepest = max([k - 1 for k in ks] + list(periodic_ks) + [1])
    frequencies: dict[int, torch.Tensor] = {}
    powers: dict[int, torch.Tensor] = {}
    tracks = x  # of the j-mers
    for j in range(1, deepest + 1):
        if j > 1:
            tracks = _extend(tracks, x, j - 1)
        if j in ks:
            frequencies[j] = tracks.mean(-1)
        if j in periodic_ks:
            powers[j] = periodic_power(tracks, periods)
    top = deepest + 1
    if top in ks:  # (N, 4**(top-1), 4): the top-mer sums, straight from the j-mer tracks
        windows = x.shape[-1] - top + 1
        sums = tracks[:, :, :windows] @ x[:, :, top - 1 :].transpose(1, 2)
        frequencies[top] = sums.flatten(1) / windows
    return [frequencies[k] for k in ks], [powers[k] for k in periodic_ks]


class KmerSpectrum(nn.Module):
    """(N, 4, L) one-hot -> (N, n_features): each k-mer's frequency for every k in ``ks``,
    then, per period P in ``periods``, the magnitude of the period-P Fourier component of every
    k-mer's indicator track for k in ``periodic_ks`` (:func:`~seqnn.models.layers.periodic_power`;
    P = 3 is the codon periodicity of coding sequence). No parameters.

    Args:
        ks: The k-mer lengths, e.g. (1, 2, 3, 4, 5): 4 + 16 + 64 + 256 + 1024 = 1,364 features.
        periods: Periods (bp, each >= 2) of the periodic features; () for none.
        periodic_ks: The k-mer lengths whose tracks get periodic features (4**k features per
            k and period).
        pair_distance: If >= 2, add the gapped pairs up to this distance
            (:func:`gapped_pair_frequencies`, 16 * (pair_distance - 1) * pair_windows
            features); 0 for none.
        pair_windows: The position windows of the gapped pairs.
    """

    def __init__(
        self,
        ks: Sequence[int],
        periods: Sequence[int] = (),
        periodic_ks: Sequence[int] = (),
        pair_distance: int = 0,
        pair_windows: int = 1,
    ) -> None:
        super().__init__()
        self.ks = tuple(int(k) for k in ks)
        self.periods = tuple(int(p) for p in periods)
        self.periodic_ks = tuple(int(k) for k in periodic_ks) if self.periods else ()
        self.pair_distance, self.pair_windows = int(pair_distance), int(pair_windows)
        if self.pair_distance != 0 and self.pair_distance < 2 or self.pair_windows < 1:
            raise ValueError(
                f"KmerSpectrum: pair_distance {pair_distance} must be 0 (no gapped pairs) or "
                f">= 2, and pair_windows {pair_windows} >= 1"
            )
        if not self.ks or any(not 1 <= k <= 8 for k in self.ks + self.periodic_ks):
            raise ValueError(
                f"KmerSpectrum: ks {list(ks)} must be a non-empty list of 1..8, and so must "
                f"periodic_ks {list(periodic_ks)} (or empty)"
            )
        if any(p < 2 for p in self.periods):
            raise ValueError(f"KmerSpectrum: periods {list(periods)} must each be >= 2 (bp)")

    @property
    def n_features(self) -> int:
        """Length of the feature vector."""
        pairs = 16 * (self.pair_distance - 1) * self.pair_windows if self.pair_distance else 0
        periodic = len(self.periods) * sum(4**k for k in self.periodic_ks)
        return sum(4**k for k in self.ks) + periodic + pairs

    @property
    def min_length(self) -> int:
        """The shortest input length it accepts: its largest k (and the gapped pairs'
        largest distance + their windows)."""
        pairs = self.pair_distance + self.pair_windows if self.pair_distance else 0
        return max(self.ks + self.periodic_ks + (pairs,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, L) -> (N, n_features), in x's dtype."""
        features, powers = _spectrum(x, self.ks, self.periodic_ks, self.periods)
        # (N, 4**k, n_periods) -> period-major (N, n_periods * 4**k)
        features += [power.transpose(1, 2).flatten(1) for power in powers]
        if self.pair_distance:
            features.append(gapped_pair_frequencies(x, self.pair_distance, self.pair_windows))
        return torch.cat(features, 1)

    def extra_repr(self) -> str:
        ks, periodic = list(self.ks), list(self.periodic_ks)
        text = f"ks={ks}, periods={list(self.periods)}, periodic_ks={periodic}"
        if self.pair_distance:
            text += f", pair_distance={self.pair_distance}, pair_windows={self.pair_windows}"
        return text
