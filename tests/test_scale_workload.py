"""scripts/scale_workload.py: the hg38-shaped workload of bench_scale is what it says (REF
alleles match the FASTA, peaks sorted and off the N runs, signal at the peaks) and is made once."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from seqnn.data.genome import Genome
from seqnn.data.intervals import read_intervals, validate_intervals
from seqnn.data.vcf import read_vcf
from seqnn.inference.variants import ref_mismatches

SCRIPT = Path(__file__).parents[1] / "scripts" / "scale_workload.py"


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("scale_workload", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_workload"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    folder = tmp_path_factory.mktemp("scale")
    args = {"variants": (100, 2_000), "regions": (500,), "log": lambda line: None}
    work = module.make_workload(folder, 0.003, tracks=2, n_peaks=300, **args)
    return module, work, folder, args


def test_the_genome_has_hg38s_contigs_n_runs_and_soft_masking(workload):
    module, work, _, _ = workload
    genome = Genome(work.fasta)
    assert genome.sizes == module.contig_sizes(0.003) == work.sizes
    assert list(genome.sizes)[:2] == ["chr1", "chr2"] and genome.sizes["chrM"] == 16_569
    chr1 = genome.fetch("chr1", 0, genome.sizes["chr1"])
    assert chr1[:1000] == "N" * 1000 and chr1[-1000:] == "N" * 1000
    middle = genome.sizes["chr1"] // 2
    assert set(genome.fetch("chr1", middle - 100, middle + 100)) == {"N"}
    raw = "".join(work.fasta.read_text().split("\n")[1:200])  # chr1's first lines
    letters = [c for c in raw if c not in "Nn"]
    assert 0.3 < np.mean([c.islower() for c in letters]) < 0.7


def test_variants_match_the_fasta_and_peaks_are_sorted_off_n(workload):
    _, work, _, _ = workload
    genome = Genome(work.fasta)
    for n, path in work.vcf.items():
        variants = read_vcf(path)
        assert len(variants) == n and not ref_mismatches(variants, genome).any()
        assert (variants["ref"] != variants["alt"]).all()
    for path in work.peaks:
        peaks = validate_intervals(read_intervals(path), genome)
        assert len(peaks) == 300
        order = peaks["chrom"].map(genome.names.index) * 10**12 + peaks["start"]
        assert order.is_monotonic_increasing
        seqs = genome.fetch_codes(peaks["chrom"], peaks["start"], peaks["start"] + 1)
        assert (seqs != 4).all()  # not in an N run
    regions = read_intervals(work.regions[500])
    assert len(validate_intervals(regions, genome)) == 500
    assert ((regions["end"] - regions["start"]) == 1000).all()


def test_the_bigwigs_have_signal_at_the_summits(workload):
    pybigwig = pytest.importorskip("pyBigWig")
    _, work, _, _ = workload
    peaks = read_intervals(work.peaks[0])
    with pybigwig.open(str(work.bigwigs[0])) as bw:
        assert bw.chroms() == work.sizes
        summit = peaks["start"] + peaks["peak"]
        values = [bw.values(c, s, s + 1)[0] for c, s in zip(peaks.chrom, summit, strict=True)]
        assert np.nanmin(values) > 0
        assert np.isnan(bw.values("chr1", 0, 1)[0])  # no data far from peaks


def test_a_second_call_reuses_the_files(workload):
    module, work, folder, args = workload
    stamps = {p: p.stat().st_mtime_ns for p in work.folder.iterdir()}
    again = module.make_workload(folder, 0.003, tracks=2, n_peaks=300, **args)
    assert again.fasta == work.fasta
    assert {p: p.stat().st_mtime_ns for p in work.folder.iterdir()} == stamps
