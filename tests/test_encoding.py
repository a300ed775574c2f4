"""Encodings: golden values for every letter under both policies, round trips, RC involutions."""

import numpy as np
import pytest
import torch

from seqnn.data.encoding import (
    IUPAC,
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

H = 0.5
T = 1 / 3
Q = 0.25
# Golden one-hot columns (A, C, G, T) of every letter with the default policy.
GOLDEN_FRACTIONS = {
    "A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1],
    "N": [0, 0, 0, 0],
    "R": [H, 0, H, 0], "Y": [0, H, 0, H], "S": [0, H, H, 0], "W": [H, 0, 0, H],
    "K": [0, 0, H, H], "M": [H, H, 0, 0],
    "B": [0, T, T, T], "D": [T, 0, T, T], "H": [T, T, 0, T], "V": [T, T, T, 0],
}  # fmt: skip


def random_dna(rng: np.random.Generator, n: int, length: int, letters: str = "ACGT") -> list[str]:
    idx = rng.integers(0, len(letters), size=(n, length))
    table = np.frombuffer(letters.encode(), dtype=np.uint8)
    return [row.tobytes().decode() for row in table[idx]]


def test_codes_of_every_letter_upper_and_lower():
    assert encode(IUPAC).tolist() == list(range(15))
    assert encode(IUPAC.lower()).tolist() == list(range(15))


@pytest.mark.parametrize("letter", list(GOLDEN_FRACTIONS))
@pytest.mark.parametrize("case", [str.upper, str.lower])
def test_golden_one_hot_default_policy(letter, case):
    got = one_hot(case(letter))
    np.testing.assert_allclose(got[:, 0], GOLDEN_FRACTIONS[letter], rtol=1e-6)


@pytest.mark.parametrize("letter", list(GOLDEN_FRACTIONS))
def test_golden_one_hot_quarter_n_and_iupac_as_n(letter):
    policy = EncodingPolicy(n="quarter", iupac="n")
    got = one_hot(letter, policy=policy)[:, 0]
    expected = GOLDEN_FRACTIONS[letter] if letter in "ACGT" else [Q, Q, Q, Q]
    np.testing.assert_allclose(got, expected)


def test_zeros_n_and_iupac_as_n_gives_zero_columns():
    got = one_hot("NRYK", policy=EncodingPolicy(n="zeros", iupac="n"))
    assert not got.any()


def test_invalid_letter_names_sequence_and_position():
    with pytest.raises(EncodingError, match=r"sequence 1, position 2: 'X' is not a DNA letter"):
        encode(["ACGT", "ACXT"])
    with pytest.raises(EncodingError, match=r"sequence 'chr9', position 3: '-'"):
        one_hot(["ACG-"], names=["chr9"])
    with pytest.raises(EncodingError, match=r"position 3: 'é'"):
        encode("ACGé")


def test_unequal_lengths_are_an_error():
    with pytest.raises(EncodingError, match="sequence 1 has length 3"):
        one_hot(["ACGT", "ACG"])


def test_integer_one_hot_refuses_fractions_but_allows_n():
    assert one_hot("ACGTN", dtype=np.int8).dtype == np.int8
    with pytest.raises(EncodingError, match="'R' has fractional"):
        one_hot("ACGR", dtype=np.uint8)
    ok = one_hot("ACGR", dtype=np.uint8, policy=EncodingPolicy(iupac="n"))
    assert ok[:, 3].sum() == 0


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float16, np.int8, np.uint8, torch.float32, torch.bfloat16]
)
def test_dtypes_agree(dtype, rng):
    seqs = random_dna(rng, 5, 37, "ACGTN")
    ref = one_hot(seqs)
    got = one_hot(seqs, dtype=dtype)
    got = got.float().numpy() if isinstance(got, torch.Tensor) else got.astype(np.float32)
    np.testing.assert_array_equal(got, ref)


def test_batch_equals_one_at_a_time(rng):
    seqs = random_dna(rng, 20, 101, IUPAC + "acgtn")
    batch = one_hot(seqs)
    assert batch.shape == (20, 4, 101)
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(batch[i], one_hot(s))


def test_codes_input_and_reused_buffer(rng):
    seqs = random_dna(rng, 8, 50)
    codes = encode(seqs)
    out = np.empty((8, 4, 50), dtype=np.float32)
    got = one_hot(codes, out=out)
    assert got.base is out or got is out
    np.testing.assert_array_equal(got, one_hot(seqs))


def test_long_string_spans_kernel_blocks(rng):
    (seq,) = random_dna(rng, 1, 40_003, "ACGTN")
    got = one_hot(seq)
    assert got.shape == (4, 40_003)
    assert decode(encode(seq)) == seq
    np.testing.assert_array_equal(got.argmax(0)[got.sum(0) > 0], encode(seq)[encode(seq) < 4])


def test_decode_round_trip(rng):
    seqs = random_dna(rng, 6, 33, IUPAC)
    assert decode(encode(seqs)) == seqs
    plain = random_dna(rng, 6, 33, "ACGTN")
    assert decode(one_hot(plain)) == plain
    assert decode(torch.from_numpy(one_hot(plain))) == plain


def test_reverse_complement_golden():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgRYKMBDHVSW") == "WSBDHVKMRYcgt"


def test_rc_is_an_involution_on_strings_codes_and_one_hot(rng):
    seqs = random_dna(rng, 4, 25, IUPAC)
    assert reverse_complement(reverse_complement(seqs)) == seqs
    codes = encode(seqs)
    np.testing.assert_array_equal(reverse_complement_codes(reverse_complement_codes(codes)), codes)
    x = one_hot(seqs)
    np.testing.assert_array_equal(reverse_complement_one_hot(reverse_complement_one_hot(x)), x)
    xt = torch.from_numpy(x)
    assert torch.equal(reverse_complement_one_hot(reverse_complement_one_hot(xt)), xt)


def test_rc_agrees_across_representations(rng):
    seqs = random_dna(rng, 4, 25, IUPAC)
    rc_strings = reverse_complement(seqs)
    np.testing.assert_array_equal(reverse_complement_codes(encode(seqs)), encode(rc_strings))
    np.testing.assert_allclose(reverse_complement_one_hot(one_hot(seqs)), one_hot(rc_strings))
    ct = torch.from_numpy(encode(seqs))
    assert torch.equal(reverse_complement_codes(ct), torch.from_numpy(encode(rc_strings)))


def test_one_hot_module_matches_numpy(device, rng):
    seqs = random_dna(rng, 3, 40, IUPAC)
    policy = EncodingPolicy(n="quarter")
    codes = torch.from_numpy(encode(seqs)).to(device)
    got = OneHot(policy).to(device)(codes)
    assert got.shape == (3, 4, 40) and got.device.type == device.type
    np.testing.assert_allclose(got.cpu().numpy(), one_hot(seqs, policy=policy))
    x = torch.randn(2, 4, 5)
    assert OneHot()(x) is x


def test_torch_codes_give_a_tensor(rng):
    codes = torch.from_numpy(encode(random_dna(rng, 2, 9)))
    got = one_hot(codes, dtype=torch.bfloat16)
    assert got.dtype == torch.bfloat16 and got.shape == (2, 4, 9)


def test_bad_policy_values():
    with pytest.raises(ValueError, match="'zeros' or 'quarter'"):
        EncodingPolicy(n="half")
