"""DNA encodings: strings <-> uint8 codes <-> one-hot, and reverse complements.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T.

Codes are uint8: A=0, C=1, G=2, T=3, N=4, and the IUPAC ambiguity letters
R=5, Y=6, S=7, W=8, K=9, M=10, B=11, D=12, H=13, V=14 (kept distinct so one-hot can give
them their base fractions). Lowercase (soft-masked) letters are read as uppercase. Any other
byte is an error naming the sequence and the position.

How N and the ambiguity letters become one-hot columns is one :class:`EncodingPolicy`,
shared by training and prediction (it is stored in a pretrained model's spec).

All loops over bases run in compiled (numba) kernels over ``np.frombuffer`` views; a batch of
strings is converted to a (B, L) byte array in one call and encoded in one pass.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from seqnn.data.jit import njit
from seqnn.errors import SeqnnInputError

ALPHABET = "ACGT"
IUPAC = "ACGTNRYSWKMBDHV"  # index == code
N_CODE = 4
N_CODES = len(IUPAC)
INVALID = 255

# Base fractions of each code, rows in IUPAC order, columns A, C, G, T.
_IUPAC_BASES = {
    "A": "A", "C": "C", "G": "G", "T": "T", "N": "",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG",
}  # fmt: skip
_COMPLEMENT_LETTER = dict(zip("ACGTNRYSWKMBDHV", "TGCANYRSWMKVHDB", strict=True))


def _byte_to_code() -> np.ndarray:
    lut = np.full(256, INVALID, dtype=np.uint8)
    for code, letter in enumerate(IUPAC):
        lut[ord(letter)] = code
        lut[ord(letter.lower())] = code
    return lut


BYTE_TO_CODE = _byte_to_code()
CODE_TO_BYTE = np.frombuffer(IUPAC.encode("ascii"), dtype=np.uint8).copy()
COMPLEMENT_CODE = np.array([IUPAC.index(_COMPLEMENT_LETTER[c]) for c in IUPAC], dtype=np.uint8)


class EncodingError(SeqnnInputError):
    """A sequence holds a letter that is neither a base, N nor an IUPAC ambiguity code."""


@dataclass(frozen=True)
class EncodingPolicy:
    """How N and IUPAC ambiguity codes become one-hot columns.

    Args:
        n: ``"zeros"`` (N is all zeros, the default) or ``"quarter"`` (0.25 for each base).
        iupac: ``"fractions"`` (R = 0.5 A + 0.5 G, ...; the default) or ``"n"`` (as N).
    """

    n: Literal["zeros", "quarter"] = "zeros"
    iupac: Literal["fractions", "n"] = "fractions"

    def __post_init__(self) -> None:
        if self.n not in ("zeros", "quarter"):
            raise ValueError(f"EncodingPolicy.n must be 'zeros' or 'quarter', got {self.n!r}")
        if self.iupac not in ("fractions", "n"):
            raise ValueError(
                f"EncodingPolicy.iupac must be 'fractions' or 'n', got {self.iupac!r}"
            )

    def table(self) -> np.ndarray:
        """The (15, 4) float32 one-hot row of every code under this policy."""
        table = np.zeros((N_CODES, 4), dtype=np.float32)
        n_row = np.full(4, 0.25 if self.n == "quarter" else 0.0, dtype=np.float32)
        for code, letter in enumerate(IUPAC):
            bases = _IUPAC_BASES[letter]
            if letter == "N" or (code > N_CODE and self.iupac == "n"):
                table[code] = n_row
            else:
                for b in bases:
                    table[code, ALPHABET.index(b)] = 1.0 / len(bases)
        return table

    @property
    def is_integral(self) -> bool:
        """True when every one-hot value is 0 or 1 (so int8/uint8 one-hot is exact)."""
        table = self.table()
        return bool(np.all((table == 0) | (table == 1)))


DEFAULT_POLICY = EncodingPolicy()


# ----------------------------------------------------------------------------- kernels
@njit(cache=True, nogil=True)
def _codes_kernel(buf: np.ndarray, lut: np.ndarray, out: np.ndarray) -> int:
    """bytes (B, L) -> codes (B, L); returns the flat index of the first bad byte or -1."""
    n_rows, length = buf.shape
    for i in range(n_rows):
        for j in range(length):
            c = lut[buf[i, j]]
            if c == INVALID:
                return i * length + j
            out[i, j] = c
    return -1


@njit(cache=True, nogil=True, inline="always")
def _select_channel(codes: np.ndarray, table: np.ndarray, k: int, channel: np.ndarray) -> None:
    """A/C/G/T only: compare-and-select, which LLVM vectorises."""
    kk = np.uint8(k)
    one = table[k, k]
    zero = table[(k + 1) % 4, k]
    for j in range(codes.shape[0]):
        channel[j] = one if codes[j] == kk else zero


@njit(cache=True, nogil=True, inline="always")
def _gather_channel(codes: np.ndarray, table: np.ndarray, k: int, channel: np.ndarray) -> None:
    """Blocks with N or IUPAC codes: gather the channel from the policy table."""
    for j in range(codes.shape[0]):
        channel[j] = table[codes[j], k]


_BLOCK = 16384  # columns per block: a block's codes stay in L1/L2 cache


@njit(cache=True, nogil=True)
def _one_hot_kernel(buf: np.ndarray, lut: np.ndarray, table: np.ndarray, out: np.ndarray) -> int:
    """bytes or codes (B, L) -> one-hot (B, 4, L) through lut (256,) and table (15, 4).

    Block by block along each row: first the block's codes (a scalar lookup), then each
    channel in its own loop. Blocks of plain A/C/G/T (the usual case) take a
    compare-and-select loop that LLVM vectorises; blocks with N or IUPAC codes gather from
    the policy table. Returns the flat index of the first bad byte, or -1.
    """
    n_rows, length = buf.shape
    scratch = np.empty(min(length, _BLOCK), dtype=np.uint8)
    for i in range(n_rows):
        for start in range(0, length, _BLOCK):
            stop = min(start + _BLOCK, length)
            row_in = buf[i, start:stop]
            codes = scratch[: stop - start]
            seen = np.uint8(0)  # OR of the codes: >= 4 if N/IUPAC, >= 16 only if INVALID
            for j in range(stop - start):
                c = lut[row_in[j]]
                codes[j] = c
                seen |= c
            if seen >= 16:
                for j in range(stop - start):
                    if codes[j] == INVALID:
                        return i * length + start + j
            for k in range(4):
                # a 1-D slice of a C array stays contiguous, so these loops vectorise
                channel = out[i, k, start:stop]
                if seen < N_CODE:
                    _select_channel(codes, table, k, channel)
                else:
                    _gather_channel(codes, table, k, channel)
    return -1


# Codes go through the same kernel as bytes: an identity lookup over valid codes.
_CODE_LUT = np.full(256, INVALID, dtype=np.uint8)
_CODE_LUT[:N_CODES] = np.arange(N_CODES, dtype=np.uint8)


# ----------------------------------------------------------------------------- strings
def _as_bytes_2d(seqs: str | bytes | Sequence[str | bytes]) -> tuple[np.ndarray, bool]:
    """Strings -> a (B, L) uint8 view in one C call; also says whether the input was one string."""
    if isinstance(seqs, str) and not seqs.isascii():
        return _as_bytes_2d([seqs])[0], True
    if isinstance(seqs, str | bytes):
        raw = seqs.encode("ascii", "replace") if isinstance(seqs, str) else seqs
        return np.frombuffer(raw, dtype=np.uint8).reshape(1, -1), True
    if isinstance(seqs, np.ndarray) and seqs.dtype.kind == "S":
        return seqs.view(np.uint8).reshape(len(seqs), -1), False
    seqs = list(seqs)
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8), False
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    if np.any(lengths != lengths[0]):
        bad = int(np.argmax(lengths != lengths[0]))
        raise EncodingError(
            f"sequence {bad} has length {lengths[bad]} but sequence 0 has {lengths[0]}: a batch "
            "must hold sequences of one length (resize or pad them first)"
        )
    try:
        arr = np.array(seqs, dtype=f"S{max(int(lengths[0]), 1)}")
    except UnicodeEncodeError:
        for i, s in enumerate(seqs):
            if isinstance(s, str) and not s.isascii():
                pos = next(k for k, ch in enumerate(s) if not ch.isascii())
                raise EncodingError(
                    f"sequence {i}, position {pos}: {s[pos]!r} is not a DNA letter "
                    "(expected A, C, G, T, N or an IUPAC code)"
                ) from None
        raise
    return arr.view(np.uint8).reshape(len(seqs), -1)[:, : lengths[0]], False


def _raise_bad(
    buf: np.ndarray,
    flat: int,
    names: Sequence[str] | None = None,
    integral: bool = False,
    codes_input: bool = False,
) -> None:
    """Raise the EncodingError for the bad byte (or code) at flat index ``flat`` of ``buf``."""
    i, j = divmod(flat, buf.shape[1])
    value = int(buf[i, j])
    code = value if codes_input else int(BYTE_TO_CODE[value])
    where = f"sequence {names[i]!r}" if names is not None else f"sequence {i}"
    if integral and code < N_CODES:
        raise EncodingError(
            f"{where}, position {j}: the ambiguity code {IUPAC[code]!r} has fractional one-hot "
            "values that an integer dtype cannot hold: use a float dtype or "
            "EncodingPolicy(iupac='n')"
        )
    if codes_input:
        raise EncodingError(f"{where}, position {j}: {value} is not a DNA code (0-{N_CODES - 1})")
    letter = repr(chr(value)) if value < 128 else f"non-ASCII byte {value}"
    raise EncodingError(
        f"{where}, position {j}: {letter} is not a DNA letter "
        "(expected A, C, G, T, N or an IUPAC ambiguity code R Y S W K M B D H V)"
    )


def encode(seqs: str | bytes | Sequence[str | bytes], names: Sequence[str] | None = None):
    """Encode DNA letters to uint8 codes (A0 C1 G2 T3 N4, IUPAC 5-14).

    Args:
        seqs: one string (or bytes) or a batch of equal-length strings.
        names: optional names of the sequences, used in error messages.

    Returns:
        np.ndarray of uint8: (L,) for one string, (B, L) for a batch.

    Raises:
        EncodingError: naming the sequence and position of the first letter that is not DNA.
    """
    buf, single = _as_bytes_2d(seqs)
    out = np.empty(buf.shape, dtype=np.uint8)
    bad = _codes_kernel(buf, BYTE_TO_CODE, out)
    if bad >= 0:
        _raise_bad(buf, bad, names)
    return out[0] if single else out


def decode(x: np.ndarray | torch.Tensor) -> str | list[str]:
    """Codes (L,) / (B, L) or one-hot (4, L) / (B, 4, L) back to strings.

    One-hot columns decode to their arg-max base; all-zero or uniform columns decode to N.
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.dtype.kind == "f" or (arr.ndim >= 2 and arr.shape[-2] == 4 and arr.dtype != np.uint8):
        arr = _one_hot_to_codes(arr.astype(np.float32))
    arr = np.asarray(arr, dtype=np.uint8)
    if arr.max(initial=0) >= N_CODES:
        raise EncodingError(f"code {int(arr.max())} is not a DNA code (0-{N_CODES - 1})")
    letters = CODE_TO_BYTE[arr]
    if letters.ndim == 1:
        return letters.tobytes().decode("ascii")
    return [row.tobytes().decode("ascii") for row in letters]


def _one_hot_to_codes(x: np.ndarray) -> np.ndarray:
    """(…, 4, L) -> (…, L) codes: arg-max base, N where a column has no single maximum."""
    codes = x.argmax(axis=-2).astype(np.uint8)
    top = x.max(axis=-2)
    ties = (x == top[..., None, :]).sum(axis=-2) > 1
    codes[(top <= 0) | ties] = N_CODE
    return codes


# ----------------------------------------------------------------------------- one-hot
def one_hot(
    seqs: str | bytes | Sequence[str | bytes] | np.ndarray | torch.Tensor,
    dtype: np.dtype | torch.dtype | type = np.float32,
    policy: EncodingPolicy = DEFAULT_POLICY,
    out: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> np.ndarray | torch.Tensor:
    """One-hot encode strings or codes.

    Args:
        seqs: a string, a batch of equal-length strings, a uint8 code array (L,) / (B, L),
            or a torch tensor of codes (then the result is a tensor on the same device).
        dtype: numpy float32/float16/int8/uint8, or a torch dtype (float32, float16,
            bfloat16, int8, uint8) to get a torch tensor. Integer dtypes need an
            integral policy (N as zeros; IUPAC as N).
        policy: how N and IUPAC codes are encoded.
        out: optional reusable numpy output buffer of shape (B, 4, L) (or (4, L)).
        names: optional sequence names for error messages.

    Returns:
        (4, L) for one sequence, (B, 4, L) for a batch.
    """
    if isinstance(seqs, torch.Tensor):
        return _one_hot_torch(seqs, dtype if isinstance(dtype, torch.dtype) else None, policy)
    torch_dtype = dtype if isinstance(dtype, torch.dtype) else None
    np_dtype = _numpy_kernel_dtype(dtype)
    if isinstance(seqs, np.ndarray) and seqs.dtype == np.uint8:
        buf, single, lut = np.atleast_2d(seqs), seqs.ndim == 1, _CODE_LUT
        codes_input = True
    else:
        codes_input = False
        (buf, single), lut = _as_bytes_2d(seqs), BYTE_TO_CODE
    integral = np_dtype.kind != "f"
    if integral and not policy.is_integral:
        lut = _integral_lut(lut, policy)
    shape = (buf.shape[0], 4, buf.shape[1])
    bad = -1
    if codes_input and np_dtype == np.float32 and out is None:  # numpy: no numba to load
        invalid = buf >= N_CODES
        bad = int(np.argmax(invalid)) if invalid.any() else -1
        result = codes_to_one_hot(buf, policy) if bad < 0 else None
    else:
        if out is not None and out.dtype == np_dtype and out.size == np.prod(shape):
            result = out.reshape(shape)
        else:
            result = np.empty(shape, dtype=np_dtype)
        bad = _one_hot_kernel(buf, lut, policy.table().astype(np_dtype), result)
    if bad >= 0:
        _raise_bad(buf, bad, names, integral, codes_input)
    result = result[0] if single else result
    if torch_dtype is not None:
        return torch.from_numpy(result).to(torch_dtype)
    return result if np.dtype(dtype) == np_dtype else result.astype(dtype)


@functools.lru_cache(maxsize=8)
def _policy_table(policy: EncodingPolicy) -> np.ndarray:
    """The policy's (15, 4) float32 table, built once per policy (it is frozen)."""
    table = policy.table()
    table.flags.writeable = False
    return table


def codes_to_one_hot(codes: np.ndarray, policy: EncodingPolicy = DEFAULT_POLICY) -> np.ndarray:
    """(B, L) valid codes -> (B, 4, L) float32 one-hot under ``policy``, in numpy (the batch
    path of the datasets, which loads no numba).

    A/C/G/T (and N when the policy makes it zeros) are four compares written straight into
    the channels; rows holding a code the compares cannot express (IUPAC letters, or N as
    0.25) are then gathered from the table."""
    table = _policy_table(policy)
    out = np.empty((codes.shape[0], 4, codes.shape[1]), dtype=np.float32)
    for k in range(4):
        np.equal(codes, k, out=out[:, k, :], casting="unsafe")
    simple = N_CODE + 1 if not table[N_CODE].any() else N_CODE  # codes below this are exact
    if codes.size and codes.max() >= simple:
        rows = np.flatnonzero((codes >= simple).any(axis=1))
        out[rows] = table[codes[rows]].transpose(0, 2, 1)
    return out


def _numpy_kernel_dtype(dtype) -> np.dtype:
    """The dtype the kernel writes: integers as asked, every float type via float32."""
    if isinstance(dtype, torch.dtype):
        if dtype.is_floating_point:
            return np.dtype(np.float32)
        return np.dtype(str(dtype).removeprefix("torch."))
    kernel = np.dtype(dtype)
    return np.dtype(np.float32) if kernel.kind == "f" else kernel


def _integral_lut(lut: np.ndarray, policy: EncodingPolicy) -> np.ndarray:
    """An integer one-hot cannot hold fractions: such codes become errors, not silent zeros."""
    table = policy.table()
    fractional = np.flatnonzero(~np.all((table == 0) | (table == 1), axis=1))
    lut = lut.copy()
    lut[np.isin(lut, fractional)] = INVALID
    return lut


def _one_hot_torch(
    codes: torch.Tensor, dtype: torch.dtype | None, policy: EncodingPolicy
) -> torch.Tensor:
    table = torch.from_numpy(policy.table()).to(codes.device, dtype or torch.float32)
    if codes.numel() and int(codes.max()) >= N_CODES:
        raise EncodingError(f"code {int(codes.max())} is not a DNA code (0-{N_CODES - 1})")
    return table[codes.long()].transpose(-1, -2)  # (…, L, 4) -> (…, 4, L)


class OneHot(nn.Module):
    """uint8 codes (N, L) -> one-hot (N, 4, L) on the codes' device (e.g. the GPU); leading
    axes carry through: codes (N, H, L) (both haplotypes of a person) -> (N, H, 4, L).

    Moving codes instead of float32 one-hot cuts host->device traffic 16-fold.
    Float input that is already one-hot (N, 4, L) passes through unchanged.

    Args:
        policy: the N / IUPAC policy (the same one the data used).
    """

    def __init__(self, policy: EncodingPolicy = DEFAULT_POLICY) -> None:
        super().__init__()
        self.policy = policy
        self.register_buffer("table", torch.from_numpy(policy.table()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():
            return x
        return self.table[x.long()].transpose(-1, -2)  # (..., L, 4) -> (..., 4, L)


# ----------------------------------------------------------------------------- complements
def reverse_complement(seq: str | Sequence[str]) -> str | list[str]:
    """Reverse complement of a string (IUPAC aware, case kept) or of a list of strings."""
    if isinstance(seq, str):
        return seq.translate(_RC_TRANS)[::-1]
    return [s.translate(_RC_TRANS)[::-1] for s in seq]


_RC_TRANS = str.maketrans(
    "".join(_COMPLEMENT_LETTER) + "".join(_COMPLEMENT_LETTER).lower(),
    "".join(_COMPLEMENT_LETTER.values()) + "".join(_COMPLEMENT_LETTER.values()).lower(),
)


def reverse_complement_codes(codes: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Reverse complement of codes (…, L), numpy or torch."""
    if isinstance(codes, torch.Tensor):
        comp = torch.from_numpy(COMPLEMENT_CODE).to(codes.device)
        return comp[codes.long()].to(codes.dtype).flip(-1)
    return COMPLEMENT_CODE[codes][..., ::-1].copy()


def reverse_complement_one_hot(x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Reverse complement of one-hot (…, 4, L): with channels A, C, G, T the complement is the
    channel axis reversed, so both the channel and the length axes flip."""
    if isinstance(x, torch.Tensor):
        return x.flip(-1, -2)
    return x[..., ::-1, ::-1].copy()
