"""Motif files (JASPAR, MEME), the shipped JASPAR CORE, and motif similarity.

Matrices are (4, W), rows A, C, G, T, as seqnn's one-hot layout (batch, 4, length).
"""

import gzip
import io

import numpy as np
import pytest

from seqnn.interpret.motifs import (
    Motif,
    MotifError,
    benjamini_hochberg,
    jaspar_core,
    match_motifs,
    motif_similarity,
    read_jaspar,
    read_meme,
    sigma70_boxes,
    write_meme,
)

TINY_JASPAR = """\
>MA9999.1\tTOY\tcollection=CORE
T [ 0 1 2 ]
A [ 10 8 0 ]
C [ 0 1 3 ]
G [ 0 0 5 ]

>MA9998.1
A 1 0 0 0.5
C 0 1 0 0.5
G 0 0 1 0
T 0 0 0 0
"""


def random_motif(rng: np.random.Generator, width: int, name: str = "r") -> Motif:
    return Motif(name, name, rng.dirichlet(np.full(4, 0.5), size=width).T * 50)


@pytest.fixture(scope="module")
def ctcf() -> Motif:
    return next(m for m in jaspar_core() if m.id == "MA0139.2")


# ----------------------------------------------------------------------------- Motif
def test_information_content_one_hot_and_uniform():
    motif = Motif("m", "m", [[1, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0]])  # A, uniform, empty
    np.testing.assert_allclose(motif.information_content(), [2.0, 0.0, 0.0])
    np.testing.assert_allclose(motif.probabilities().sum(axis=0), 1.0)
    np.testing.assert_allclose(motif.probabilities(pseudocount=4)[:, 0], [0.4, 0.2, 0.2, 0.2])


def test_consensus_reverse_complement_and_trim():
    motif = Motif("m", "m", [[1, 9, 0, 1], [1, 0, 0, 1], [1, 1, 10, 1], [1, 0, 0, 1]])
    assert motif.consensus() == "AAGA"
    assert motif.reverse_complement().consensus() == "ACTA"  # uniform columns tie -> A
    np.testing.assert_array_equal(
        motif.reverse_complement().reverse_complement().counts, motif.counts
    )
    assert motif.trim(min_ic=0.5).consensus() == "AG"
    with pytest.raises(MotifError, match="lower min_ic"):
        motif.trim(min_ic=2.5)


def test_motif_is_a_read_only_copy_and_checks_its_shape():
    counts = np.ones((4, 3))
    motif = Motif("m", "m", counts)
    counts[0, 0] = 99
    assert motif.counts[0, 0] == 1 and not motif.counts.flags.writeable
    with pytest.raises(MotifError, match=r"expected \(4, W\)"):
        Motif("m", "m", np.ones((3, 4)))
    with pytest.raises(MotifError, match="without whitespace"):
        Motif("my motif", "m", counts)


# ----------------------------------------------------------------------------- JASPAR
def test_read_jaspar_values_order_brackets_and_gzip(tmp_path):
    plain = tmp_path / "toy.jaspar"
    plain.write_text(TINY_JASPAR)
    packed = tmp_path / "toy.jaspar.gz"
    packed.write_bytes(gzip.compress(TINY_JASPAR.encode()))
    for source in (plain, packed, io.StringIO(TINY_JASPAR)):
        first, second = read_jaspar(source)
        assert (first.id, first.name, second.id, second.name) == (
            "MA9999.1",
            "TOY",
            "MA9998.1",
            "MA9998.1",
        )
        np.testing.assert_array_equal(first.counts, [[10, 8, 0], [0, 1, 3], [0, 0, 5], [0, 1, 2]])
        np.testing.assert_array_equal(second.counts[:, 3], [0.5, 0.5, 0, 0])


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (">M1 X\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 ]\nT [ 1 2 ]\n", 4, "has 1 values"),
        (">M1 X\nA [ 1 2 ]\nC [ 1 2 ]\nT [ 1 2 ]\n>M2 Y\n", 1, "no G row"),
        (">M1 X\nA [ 1 2 ]\nC [ 1 two ]\nG [ 1 2 ]\nT [ 1 2 ]\n", 3, "'two' in the C row"),
        ("A [ 1 2 ]\n", 1, "before any"),
        (">M1 X\nA [ 1 2 ]\nA [ 1 2 ]\n", 3, "a second A row"),
        (">M1 X\nN [ 1 2 ]\n", 2, "expected a base row"),
        (">M1 X\nA [ 1 -2 ]\nC [ 1 2 ]\nG [ 1 2 ]\nT [ 1 2 ]\n", 1, ">= 0"),
    ],
)
def test_read_jaspar_errors_name_file_and_line(tmp_path, text, where, message):
    path = tmp_path / "bad.jaspar"
    path.write_text(text)
    with pytest.raises(MotifError, match=rf"bad\.jaspar:{where}: .*{message}"):
        read_jaspar(path)


def test_jaspar_core_is_shipped():
    motifs = jaspar_core()
    assert len(motifs) == 4279
    assert len({m.id for m in motifs}) == 4279
    assert {m.name for m in motifs if m.id.startswith("MA0139.")} == {"CTCF"}
    assert jaspar_core() is not jaspar_core()  # a fresh list over the cached motifs


def test_sigma70_boxes_are_shipped_and_tell_the_boxes_apart():
    boxes = {m.id: m for m in sigma70_boxes()}
    assert set(boxes) == {"sigma70_minus10", "sigma70_minus35"}
    assert boxes["sigma70_minus10"].consensus() == "TATAAT"
    assert boxes["sigma70_minus35"].consensus() == "TTGACA"
    assert np.allclose(boxes["sigma70_minus10"].counts.sum(axis=0), 839)  # one site a promoter
    for word, box in (("TATAAT", "sigma70_minus10"), ("TTGACA", "sigma70_minus35")):
        counts = np.eye(4)[:, ["ACGT".index(b) for b in word]] * 16 + 1  # (4, 6)
        # with JASPAR beside them (Tomtom's null needs a large database), as validate_design
        table = match_motifs(Motif(word, word, counts), [*jaspar_core(), *boxes.values()], 4281)
        found = table[table.target_id.str.startswith("sigma70")]
        assert found.target_id.iloc[0] == box


# ----------------------------------------------------------------------------- MEME
def test_meme_round_trip(tmp_path, ctcf):
    motifs = [*read_jaspar(io.StringIO(TINY_JASPAR)), ctcf]
    path = write_meme(motifs, tmp_path / "out" / "motifs.meme")
    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n")
    assert (
        "MOTIF MA9999.1 TOY\nletter-probability matrix: alength= 4 w= 3 nsites= 10 E= 0\n" in text
    )
    back = read_meme(path)
    assert [(m.id, m.name) for m in back] == [(m.id, m.name) for m in motifs]
    for before, after in zip(motifs, back, strict=True):
        np.testing.assert_allclose(after.probabilities(), before.probabilities(), atol=1e-6)
    np.testing.assert_allclose(back[0].counts, motifs[0].counts, atol=1e-4)  # equal column totals


def test_read_meme_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.meme"
    path.write_text(
        "MEME version 4\n\nMOTIF m1\nletter-probability matrix: w= 3\n0.1 0.2 0.3 0.4\n"
    )
    with pytest.raises(MotifError, match=r"bad\.meme:3: motif m1 says w= 3 but has 1 rows"):
        read_meme(path)
    path.write_text("MEME version 4\n\nMOTIF m1\nletter-probability matrix: w= 1\n0.5 0.5\n")
    with pytest.raises(MotifError, match=r"bad\.meme:5: expected 4 probabilities"):
        read_meme(path)


# ----------------------------------------------------------------------------- similarity
def test_a_motif_matches_itself_and_its_reverse_complement(ctcf):
    assert motif_similarity(ctcf, ctcf) == (pytest.approx(1.0), 0, "+")
    assert motif_similarity(ctcf.reverse_complement(), ctcf) == (pytest.approx(1.0), 0, "-")


@pytest.mark.parametrize("strand", ["+", "-"])
def test_an_embedded_copy_is_found_at_its_offset(rng, ctcf, strand):
    flanks = rng.dirichlet(np.ones(4), size=5).T  # (4, 5) random columns
    counts = np.concatenate([flanks[:, :3], ctcf.probabilities(), flanks[:, 3:]], axis=1)
    query = Motif("embedded", "embedded", counts)
    target = ctcf if strand == "+" else ctcf.reverse_complement()
    score, offset, found = motif_similarity(query, target)
    assert (offset, found) == (3, strand)
    assert score == pytest.approx(15 / 20)  # 15 perfect columns over the longer width, 20


def test_match_motifs_recovers_a_sampled_jaspar_motif(ctcf):
    rng = np.random.default_rng(7)
    sites = np.stack([rng.choice(4, size=30, p=col) for col in ctcf.probabilities().T], axis=1)
    counts = np.stack([(sites == base).sum(axis=0) for base in range(4)])  # (30, W) -> (4, W)
    table = match_motifs([Motif("noisy", "noisy", counts)], top_k=3)
    assert list(table.columns) == [
        "query", "rank", "target_id", "target_name", "p_value", "q_value", "score", "offset",
        "strand",
    ]  # fmt: skip
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["target_id"].iloc[0].startswith("MA0139")  # CTCF, the sampled motif
    assert table["q_value"].iloc[0] < 1e-6 and (table["p_value"].diff().dropna() >= 0).all()


@pytest.mark.parametrize("strand", ["+", "-"])
def test_tomtom_finds_an_embedded_copy_at_its_offset(rng, ctcf, strand):
    flanks = rng.dirichlet(np.ones(4), size=5).T  # (4, 5) random columns
    counts = np.concatenate([flanks[:, :3], ctcf.probabilities(), flanks[:, 3:]], axis=1)
    query = Motif("embedded", "embedded", counts)
    if strand == "-":
        query = query.reverse_complement()
    best = match_motifs(query, top_k=1).iloc[0]
    assert best.target_id.startswith("MA0139")  # CTCF (.1 or .2)
    assert (best.offset, best.strand) == ((3, "+") if strand == "+" else (2, "-"))
    assert best.q_value < 1e-6


def test_unrelated_random_motifs_are_not_significant(rng):
    queries = [random_motif(rng, 8, f"q{k}") for k in range(3)]
    table = match_motifs(queries, top_k=1)
    assert (table["q_value"] > 0.05).all()  # noise matches nothing at FDR 5%


def test_benjamini_hochberg_golden_values():
    p = np.array([[0.01, 0.04, 0.03, 0.5], [0.2, 0.2, 0.2, 0.2]])
    expected = [[0.04, 0.16 / 3, 0.16 / 3, 0.5], [0.2, 0.2, 0.2, 0.2]]
    np.testing.assert_allclose(benjamini_hochberg(p), expected)
