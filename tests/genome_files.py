"""Tiny genome-scale inputs written by the tests: a FASTA, windows, a bigWig, peak files, and
the overrides that point the coverage / peaks configs and experiments at them."""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import seqnn.data.genome as genome_mod
from seqnn.data import write_fasta

CHROMS = {"chr1": 3000, "chr2": 2000, "chr3": 2000}
# held-out chromosomes: windows are longer than the genome's default held-out blocks
SPLIT = ["data.val_chroms=[chr2]", "data.test_chroms=[chr3]", "data.batch_size=8"]


def write_fasta_and_windows(folder: Path, window: int = 400) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    fasta = write_fasta(
        folder / "tiny.fa", {c: "".join(rng.choice(list("ACGT"), n)) for c, n in CHROMS.items()}
    )
    rows = [
        f"{c}\t{s}\t{s + window}" for c, n in CHROMS.items() for s in range(0, n - window, 100)
    ]
    bed = folder / "windows.bed"
    bed.write_text("\n".join(rows) + "\n")
    return fasta, bed


def pipe_path(data: bytes) -> str:
    """``/dev/fd/N`` of a pipe holding ``data`` (written and closed, so a reader never blocks),
    as the shell's ``<(cat file)`` gives it; close its read end with ``os.close(N)``."""
    read, write = os.pipe()
    os.write(write, data)  # a few kB: within a pipe's buffer
    os.close(write)
    return f"/dev/fd/{read}"


@contextlib.contextmanager
def piped(data: bytes) -> Iterator[str]:
    """:func:`pipe_path`, its read end closed on exit."""
    path = pipe_path(data)
    try:
        yield path
    finally:
        os.close(int(path.rsplit("/", 1)[1]))


BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def bgzf_blocks(raw: bytes, block_size: int = 1024) -> list[bytes]:
    """``raw`` as BGZF blocks (what ``bgzip`` writes, less the end-of-file block): gzip
    members with a 'BC' extra field holding the block's size (SAM spec, section 4.1)."""
    blocks = []
    for i in range(0, len(raw), block_size):
        part = raw[i : i + block_size]
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = deflate.compress(part) + deflate.flush()
        header = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"
        size = struct.pack("<H", len(header) + 2 + len(body) + 8 - 1)
        blocks.append(header + size + body + struct.pack("<II", zlib.crc32(part), len(part)))
    return blocks


def write_bgzf(path: Path, raw: bytes, eof: bool = True) -> Path:
    """Write ``raw`` bgzip-compressed (with the end-of-file block unless ``eof=False``)."""
    path.write_bytes(b"".join(bgzf_blocks(raw)) + (BGZF_EOF if eof else b""))
    return path


def write_bigwig(path: Path, seed: int = 0) -> Path:
    import pyBigWig

    rng = np.random.default_rng(seed)
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(CHROMS.items()))
    for chrom, n in CHROMS.items():
        values = rng.poisson(2.0, n).astype(np.float64)
        bw.addEntries(chrom, 0, values=values, span=1, step=1)
    bw.close()
    return path


def write_peaks(folder: Path, n_files: int = 2) -> list[Path]:
    rng = np.random.default_rng(1)
    paths = []
    for k in range(n_files):
        starts = {c: sorted(rng.integers(0, n - 150, 6)) for c, n in CHROMS.items()}
        rows = [f"{c}\t{s}\t{s + 150}" for c, ss in starts.items() for s in ss]
        paths.append(folder / f"exp{k}.bed")
        paths[-1].write_text("\n".join(rows) + "\n")
    return paths


def coverage_overrides(folder: Path) -> list[str]:
    fasta, bed = write_fasta_and_windows(folder)
    bigwig = write_bigwig(folder / "cov.bw")
    paths = [f"data.genome={fasta}", f"data.intervals={bed}", f"data.targets.paths=[{bigwig}]"]
    return [*paths, *SPLIT]


def peaks_overrides(folder: Path) -> list[str]:
    fasta, _ = write_fasta_and_windows(folder)
    peaks = ",".join(str(p) for p in write_peaks(folder))
    paths = [f"data.genome={fasta}", f"data.targets.peaks=[{peaks}]"]
    return [*paths, "data.n_targets=2", *SPLIT]


def bpnet_overrides(folder: Path) -> list[str]:
    """experiment=bpnet_coverage on the tiny genome: peaks + 2 bigWigs, shapes cut down."""
    fasta, _ = write_fasta_and_windows(folder)
    tracks = ",".join(str(write_bigwig(folder / f"cov{k}.bw", seed=k)) for k in range(2))
    paths = [f"data.genome={fasta}", f"data.intervals={write_peaks(folder, 1)[0]}"]
    shapes = ["data.input_length=400", "data.targets.target_length=200", "model.crop=100"]
    small = ["model.n_layers=2", "model.n_filters=8", "data.num_workers=0"]
    return [*paths, f"data.targets.paths=[{tracks}]", "data.n_targets=2", *shapes, *small, *SPLIT]


def experiment_overrides(name: str, folder: Path) -> list[str]:
    """Paths for the experiments that read genome-scale files (none for the others)."""
    if name == "coverage_profile":
        return coverage_overrides(folder)
    if name == "bpnet_coverage":
        return bpnet_overrides(folder)
    if name == "peaks_multilabel":
        return peaks_overrides(folder)
    if name == "basset_genome":  # 1-kb windows at stride 200 on the tiny genome
        return [*peaks_overrides(folder), "data.num_workers=0"]
    return []


def mapped_kb(path: Path) -> int:
    """Resident kB of this process's maps of ``path``: its maps' address ranges
    (/proc/self/maps) and their pages present in the page table (bit 63 of each
    /proc/self/pagemap entry), as smaps' ``Rss`` counts them, in a few ms (smaps: ~50)."""
    page, total = os.sysconf("SC_PAGE_SIZE"), 0
    with open("/proc/self/pagemap", "rb") as pagemap:
        for line in Path("/proc/self/maps").read_text().splitlines():
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5] == str(path):
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                pagemap.seek(lo // page * 8)
                entries = np.frombuffer(pagemap.read((hi - lo) // page * 8), dtype=np.uint64)
                total += int((entries >> np.uint64(63)).sum())
    return total * page // 1024


def spy_mapped_kb(monkeypatch, path: Path) -> list[int]:
    """After each window read of the genome module (its ``_fetch_codes``), the resident kB
    of this process's maps of ``path`` (the code cache): a list that fills as reads run, so
    its max is the peak that a read left mapped before any drop."""
    seen: list[int] = []
    kernel = genome_mod._fetch_codes

    def spy(*args):
        out = kernel(*args)
        seen.append(mapped_kb(path))
        return out

    monkeypatch.setattr(genome_mod, "_fetch_codes", spy)
    return seen
