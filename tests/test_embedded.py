"""The shipped E. coli genome: its copy in the cache folder is checked against the shipped
checksum, and written again when it differs."""

import gzip
import os
from pathlib import Path

import pytest

import seqnn.data.embedded as embedded
from seqnn.data.embedded import EmbeddedDataError, ecoli_fasta
from seqnn.data.genome import Genome


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEQNN_CACHE_DIR", str(tmp_path))
    return tmp_path


def tamper(path: Path, change) -> None:
    """Rewrite the copy, newer than the shipped file (a date check would keep it)."""
    path.write_bytes(change(path.read_bytes()))
    shipped = embedded.resource_path(embedded.ECOLI_FASTA).stat().st_mtime
    os.utime(path, (shipped + 3600, shipped + 3600))


def test_a_copy_replaced_by_a_genome_of_the_same_length_is_written_again(cache):
    path = ecoli_fasta()
    original = path.read_bytes()
    middle = len(original) // 2  # a base, not a newline or the header

    def other_genome(data: bytes) -> bytes:
        base = b"A" if data[middle : middle + 1] != b"A" else b"C"
        return data[:middle] + base + data[middle + 1 :]

    tamper(path, other_genome)
    assert ecoli_fasta().read_bytes() == original


def test_a_truncated_copy_is_written_again_not_blamed_on_the_intervals(cache):
    path = ecoli_fasta()
    tamper(path, lambda data: data[: len(data) // 2])
    assert Genome(ecoli_fasta()).sizes == {"K-12-MG1655": 4_639_675}
    assert len(embedded.ecoli_promoters()) == 839


def test_a_damaged_shipped_genome_says_reinstall(cache, monkeypatch):
    shipped = embedded.resource_path(embedded.ECOLI_FASTA).read_bytes()
    damaged = cache / "damaged.fa.gz"
    damaged.write_bytes(shipped[: len(shipped) // 2])
    monkeypatch.setattr(embedded, "resource_path", lambda name: damaged)
    with pytest.raises(EmbeddedDataError, match="damaged.fa.gz: seqnn's shipped E. coli genome"):
        ecoli_fasta()
    damaged.write_bytes(gzip.compress(b">K-12-MG1655\nACGT\n"))  # complete, but not it
    with pytest.raises(EmbeddedDataError, match=r"does not match its checksum\): reinstall seqnn"):
        ecoli_fasta()
