"""The one-hot sequence data layer: encodings, genomes, intervals, datasets, transforms."""

from seqnn.data.encoding import (
    DEFAULT_POLICY,
    EncodingError,
    EncodingPolicy,
    OneHot,
    decode,
    encode,
    one_hot,
    reverse_complement,
    reverse_complement_codes,
    reverse_complement_one_hot,
)

__all__ = [
    "DEFAULT_POLICY",
    "EncodingError",
    "EncodingPolicy",
    "OneHot",
    "decode",
    "encode",
    "one_hot",
    "reverse_complement",
    "reverse_complement_codes",
    "reverse_complement_one_hot",
]
