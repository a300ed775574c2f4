"""Random augmentations over batches: ReverseComplement and RandomShift.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T;
code tensors are (batch, length) uint8 (A0 C1 G2 T3 N4, see :mod:`seqnn.data.encoding`).

A transform is a callable ``transform(x, y, index, epoch) -> (x, y)`` over a whole batch:
``x`` is codes (B, L) or one-hot (B, 4, L), numpy or torch; ``y`` the targets (or None);
``index`` the (B,) dataset indices of the rows; ``epoch`` the training epoch. The datasets
call them on uint8 codes, before one-hot encoding, so they cost next to nothing.

Randomness is counter-based: each row's draw is a hash (SplitMix64) of (seed, epoch, index).
So a run repeats exactly, and a row's augmentation does not depend on the batch it lands
in, on the number of DataLoader workers, nor on the order the workers run in.

Targets: scalar targets (B, T) or (B,) pass through; profile targets (B, T, L) whose last
axis is the sequence length are flipped / shifted along with the sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from seqnn.data.encoding import COMPLEMENT_CODE, N_CODE

Array = np.ndarray | torch.Tensor

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, element-wise over uint64 (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(seed: int, epoch: int, index: np.ndarray, stream: int = 0) -> np.ndarray:
    """Counter-based uniform draws in [0, 1), one per index.

    Args:
        seed: the transform's base seed.
        epoch: the epoch; a new epoch gives new draws.
        index: (B,) integer dataset indices.
        stream: separates the draws of different transforms sharing a seed.

    Returns:
        (B,) float64 values that depend only on (seed, epoch, index, stream).
    """
    index = np.asarray(index, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        key = np.array([seed, stream, epoch], dtype=np.int64).astype(np.uint64)
        h = _splitmix64(key[0] * _GOLDEN + key[1])
        h = _splitmix64((h + key[2]) * _GOLDEN)
        bits = _splitmix64((h + index) * _GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _batch_index(x: Array, index: np.ndarray | Sequence[int] | None) -> np.ndarray:
    if index is None:
        return np.arange(len(x), dtype=np.int64)
    return np.asarray(index, dtype=np.int64)


def _is_codes(x: Array) -> bool:
    """Codes are (B, L) integers; one-hot is (B, 4, L)."""
    return x.ndim == 2


def _is_profile(y: Array | None, length: int) -> bool:
    return y is not None and y.ndim == 3 and y.shape[-1] == length


class ReverseComplement:
    """Reverse-complement each row with probability ``p``.

    Args:
        p: probability that a row is reverse-complemented.
        seed: base seed of the counter-based draws.
    """

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"ReverseComplement: p must be in [0, 1], got {p}")
        self.p = p
        self.seed = seed

    def __repr__(self) -> str:
        return f"ReverseComplement(p={self.p}, seed={self.seed})"

    def flips(self, index: np.ndarray, epoch: int = 0) -> np.ndarray:
        """(B,) bool: which rows are reverse-complemented in this epoch."""
        return uniform(self.seed, epoch, index, stream=1) < self.p

    def __call__(
        self,
        x: Array,
        y: Array | None = None,
        index: np.ndarray | Sequence[int] | None = None,
        epoch: int = 0,
    ) -> tuple[Array, Array | None]:
        """Args: x codes (B, L) or one-hot (B, 4, L); y None, (B,), (B, T) or (B, T, L).

        Returns:
            (x, y) of the same shapes, new arrays (the inputs are not modified).
        """
        rows = np.flatnonzero(self.flips(_batch_index(x, index), epoch))
        x = x.clone() if isinstance(x, torch.Tensor) else x.copy()
        if len(rows) == 0:
            return x, y
        if _is_codes(x):
            comp = _complement(x[rows])
            x[rows] = comp.flip(-1) if _is_torch(x) else comp[:, ::-1]
        else:  # channels A, C, G, T: the complement is the channel axis reversed
            x[rows] = x[rows].flip(-1, -2) if _is_torch(x) else x[rows][:, ::-1, ::-1]
        # profiles (B, T, L_out) flip whatever their bin size or centre crop (exact when
        # L - L_out is even: the crop is then symmetric)
        if y is not None and y.ndim == 3:
            y = y.clone() if _is_torch(y) else y.copy()
            y[rows] = y[rows].flip(-1) if _is_torch(y) else y[rows][..., ::-1]
        return x, y


def _is_torch(x: Array) -> bool:
    return isinstance(x, torch.Tensor)


def _complement(codes: Array) -> Array:
    if isinstance(codes, torch.Tensor):
        return torch.from_numpy(COMPLEMENT_CODE).to(codes.device)[codes.long()].to(codes.dtype)
    return COMPLEMENT_CODE[codes]


class RandomShift:
    """Move each row's window by a random offset in [-max_shift, max_shift] bases.

    An offset ``s`` means the window ``[start + s, end + s)``: the output's base ``j`` is the
    input's base ``j + s``. On in-memory sequences the bases that enter from outside are N
    (all-zero one-hot columns for one-hot input). :class:`~seqnn.data.datasets.IntervalDataset`
    instead asks :meth:`offsets` for the offsets and fetches the moved windows from the
    genome, so the bases that enter are the genome's real neighbours.

    Args:
        max_shift: the largest shift in bases, either way.
        seed: base seed of the counter-based draws.
    """

    def __init__(self, max_shift: int, seed: int = 0) -> None:
        if max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be >= 0, got {max_shift}")
        self.max_shift = int(max_shift)
        self.seed = seed

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, seed={self.seed})"

    def offsets(self, index: np.ndarray | Sequence[int], epoch: int = 0) -> np.ndarray:
        """(B,) int64 offsets in [-max_shift, max_shift] for the given dataset indices."""
        u = uniform(self.seed, epoch, np.asarray(index, dtype=np.int64), stream=2)
        return np.floor(u * (2 * self.max_shift + 1)).astype(np.int64) - self.max_shift

    def __call__(
        self,
        x: Array,
        y: Array | None = None,
        index: np.ndarray | Sequence[int] | None = None,
        epoch: int = 0,
    ) -> tuple[Array, Array | None]:
        """Args: x codes (B, L) or one-hot (B, 4, L); y None, (B,), (B, T) or (B, T, L).

        Returns:
            (x, y) of the same shapes; profile targets shift with x (zeros enter).
        """
        shifts = self.offsets(_batch_index(x, index), epoch)
        fill = N_CODE if _is_codes(x) else 0
        x = _shift(x, shifts, fill)
        if _is_profile(y, x.shape[-1]):
            y = _shift(y, shifts, 0)
        return x, y


def _shift(x: Array, shifts: np.ndarray, fill: int) -> Array:
    """out[b, ..., j] = x[b, ..., j + shifts[b]], ``fill`` where j + shift is outside."""
    length = x.shape[-1]
    pos = np.arange(length)[None, :] + shifts[:, None]  # (B, L)
    outside = (pos < 0) | (pos >= length)
    pos = np.clip(pos, 0, length - 1).reshape(len(x), *([1] * (x.ndim - 2)), length)
    outside = outside.reshape(pos.shape)
    if isinstance(x, torch.Tensor):
        pos_t = torch.from_numpy(pos).to(x.device).expand_as(x)
        out = torch.gather(x, -1, pos_t)
        return out.masked_fill(torch.from_numpy(outside).to(x.device), fill)
    out = np.take_along_axis(x, np.broadcast_to(pos, x.shape), axis=-1)
    np.putmask(out, np.broadcast_to(outside, x.shape), fill)
    return out


def offsets_of(transforms: Sequence, index: np.ndarray, epoch: int) -> np.ndarray | None:
    """The summed window offsets of the transforms that move windows (have ``offsets``)."""
    moving = [t for t in transforms if hasattr(t, "offsets")]
    if not moving:
        return None
    return np.sum([t.offsets(index, epoch) for t in moving], axis=0)
