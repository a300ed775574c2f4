"""A simulated diploid cohort whose trait follows a known sequence rule: ground truth for models
trained on personal genomes.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; here
sequences are uint8 codes (A0 C1 G2 T3 N4), genotypes int8 (n_variants, n_samples, 2) with
0 = REF and 1 = ALT, phased.

How :func:`simulate_cohort` makes a cohort:

1. **Reference**: a piece of a real genome (a stretch of the shipped E. coli K-12 genome by
   default) stands in for a chromosome. ``n_regions`` windows of ``region_length`` bp,
   ``spacing`` bp apart, each receive planted copies of the motif consensus (``copies``:
   a (min, max) range, each region's number drawn from it) and near-copies (the consensus with
   one base changed; ``near_copies``), either strand, in separate slots of the window.
2. **Ancestry**: msprime's coalescent with recombination (Hudson, diploid, constant
   ``population_size``) gives the genealogy of the ``2 n_samples`` haplotypes along the piece.
3. **Mutations**: msprime places mutations on that genealogy (a two-state model, then REF is
   the reference base) with a rate map: the background rate gives about one variant every
   ``variant_spacing`` bp; the bases of each planted copy get a rate that gives about
   ``break_variants`` variants per copy, and the changed base of each near-copy one that gives
   about ``create_variants``. A variant's ALT is a random other base, except at a near-copy's
   changed base, where it is the consensus base: its carriers gain a copy, while variants in a
   planted copy break it in their carriers. People therefore differ in their copies through
   mutations that sit on the cohort's genealogy (with its allele frequencies and linkage), not
   through independent coin flips.
4. **Trait**: per (sample, region), the intact copies (exact matches of the consensus on either
   strand, wholly inside the region: :func:`count_motif_copies`) on haplotype 1 plus haplotype
   2, plus Gaussian noise of sd ``noise``.

The variants are SNVs only (msprime's model), so a haplotype's region has the region's length.
Everything is drawn from ``seed``: a seed gives the same cohort on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from seqnn.atomic import atomic_folder, atomic_indexed
from seqnn.data.embedded import ecoli_fasta
from seqnn.data.encoding import BYTE_TO_CODE, CODE_TO_BYTE, COMPLEMENT_CODE
from seqnn.data.genome import Genome, write_fasta
from seqnn.errors import SeqnnInputError

#: what :func:`write_cohort` writes in its folder
COHORT_FILES = {
    "fasta": "reference.fa",
    "vcf": "cohort.vcf.gz",
    "regions": "regions.bed",
    "traits": "traits.tsv",
}


class CohortSimulationError(SeqnnInputError):
    """Settings a cohort cannot be simulated with (says which and what fits)."""


@dataclass
class CohortSimulation:
    """A simulated cohort and its ground truth.

    Attributes:
        contig: the reference piece's contig name.
        reference: the reference piece (upper-case letters, motifs planted).
        samples: the ``n_samples`` sample names.
        regions: one row per region: ``chrom``, ``start``, ``end`` (0-based), ``name``.
        variants: one row per variant: ``chrom``, ``pos`` (1-based), ``ref``, ``alt``.
        genotypes: (n_variants, n_samples, 2) int8 phased genotypes, 1 = carries ALT.
        copies: (n_samples, 2, n_regions) intact motif copies per haplotype.
        traits: one row per (sample, region): ``sample``, ``region``, ``trait`` (copies of both
            haplotypes plus noise), ``copies`` (of both haplotypes, no noise).
        planted: one row per planted site: ``region``, ``start`` (0-based), ``strand``,
            ``kind`` (``copy`` or ``near``).
        motif: the consensus counted.
    """

    contig: str
    reference: str
    samples: list[str]
    regions: pd.DataFrame
    variants: pd.DataFrame
    genotypes: np.ndarray
    copies: np.ndarray
    traits: pd.DataFrame
    planted: pd.DataFrame
    motif: str


def _codes(seq: str) -> np.ndarray:
    codes = BYTE_TO_CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    if (codes > 3).any():
        bad = seq[int(np.flatnonzero(codes > 3)[0])]
        raise CohortSimulationError(f"motif {seq!r}: {bad!r} is not A, C, G or T")
    return codes


def _letters(codes: np.ndarray) -> str:
    return CODE_TO_BYTE[codes].tobytes().decode("ascii")


def count_motif_copies(
    reference: np.ndarray,
    positions: np.ndarray,
    alts: np.ndarray,
    carriers: np.ndarray,
    motif: str,
    starts: np.ndarray,
    ends: np.ndarray,
) -> np.ndarray:
    """Exact copies of a motif (either strand) wholly inside each region, on each haplotype.

    A haplotype is the reference with the ALT base of each SNV it carries. Only motif starts
    whose window holds at least as many variants as reference mismatches can match on some
    haplotype; those are counted per haplotype through a sparse (starts x variants) matrix, so
    the work grows with the variants, not with the sequence times the haplotypes.

    Args:
        reference: (L,) uint8 codes of the reference.
        positions: (V,) 0-based positions of SNVs, sorted, distinct.
        alts: (V,) uint8 codes of their ALT bases.
        carriers: (V, H) bool, True where haplotype h carries the ALT.
        motif: the consensus, letters A, C, G, T.
        starts, ends: (R,) 0-based half-open regions.

    Returns:
        (R, H) int64 copies.
    """
    pattern = _codes(motif.upper())
    patterns = [pattern, COMPLEMENT_CODE[pattern[::-1]]]
    if np.array_equal(*patterns):  # a palindrome is one site, not two
        patterns = patterns[:1]
    positions = np.asarray(positions, dtype=np.int64)
    carriers = np.asarray(carriers, dtype=bool)
    out = np.zeros((len(starts), carriers.shape[1]), dtype=np.int64)
    for pat in patterns:  # one pass per strand
        site, match = _matches(reference, positions, np.asarray(alts), carriers, pat)
        # copies in a region = matches at starts s with start <= s and s + W <= end
        cum = np.vstack([np.zeros((1, match.shape[1]), np.int64), np.cumsum(match, axis=0)])
        lo = np.searchsorted(site, starts)
        hi = np.searchsorted(site, np.asarray(ends) - len(pat) + 1)
        out += cum[np.maximum(hi, lo)] - cum[lo]
    return out


def _matches(
    reference: np.ndarray,
    positions: np.ndarray,
    alts: np.ndarray,
    carriers: np.ndarray,
    pattern: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(candidate motif starts, (n_candidates, H) bool: matches on each haplotype)."""
    width = len(pattern)
    n = len(reference) - width + 1
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros((0, carriers.shape[1]), bool)
    mismatches = np.zeros(n, dtype=np.int16)
    for j in range(width):  # W passes over the sequence: memory O(L), not O(L x W)
        mismatches += reference[j : j + n] != pattern[j]
    idx = np.arange(n)
    lo = np.searchsorted(positions, idx)
    hi = np.searchsorted(positions, idx + width)
    site = np.flatnonzero(mismatches <= hi - lo)  # only these can match on a haplotype
    k = (hi - lo)[site]
    row = np.repeat(np.arange(len(site)), k)  # one (candidate, variant) pair per variant inside
    col = np.repeat(lo[site], k) + np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    offset = positions[col] - site[row]
    change = (alts[col] != pattern[offset]).astype(np.int16) - (
        reference[positions[col]] != pattern[offset]
    )
    delta = sparse.csr_matrix((change, (row, col)), shape=(len(site), len(positions)))
    total = mismatches[site][:, None] + delta @ carriers.astype(np.int16)  # (n_cand, H)
    return site, np.asarray(total) == 0


def _plant(
    codes: np.ndarray,
    region_starts: np.ndarray,
    region_length: int,
    pattern: np.ndarray,
    n_sites: tuple[tuple[int, int], tuple[int, int]],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Write motif copies and near-copies into ``codes`` (in place), in separate slots; each
    region's numbers drawn uniformly from the (min, max) ranges in ``n_sites``."""
    width = len(pattern)
    (lo_copy, hi_copy), (lo_near, hi_near) = n_sites
    slot = width + 8  # sites start 2..6 bp into their slot: at least 4 bp between two sites
    n_slots = region_length // slot
    if not 0 <= lo_copy <= hi_copy or not 0 <= lo_near <= hi_near:
        raise CohortSimulationError(
            f"copies={n_sites[0]}, near_copies={n_sites[1]}: give (min, max) with 0 <= min <= max"
        )
    if hi_copy + hi_near > n_slots:
        raise CohortSimulationError(
            f"up to {hi_copy} + {hi_near} (near-)copies of {width} bp do not fit a region of "
            f"{region_length} bp ({n_slots} slots of {slot} bp): use fewer or longer regions"
        )
    n_regions, k = len(region_starts), hi_copy + hi_near
    choice = rng.permuted(np.tile(np.arange(n_slots), (n_regions, 1)), axis=1)[:, :k]
    into = rng.integers(2, slot - width - 1, choice.shape)
    start = region_starts[:, None] + choice * slot + into  # (R, k)
    reverse = rng.random(choice.shape) < 0.5
    sites = np.where(reverse[..., None], COMPLEMENT_CODE[pattern[::-1]], pattern)  # (R, k, W)
    changed = rng.integers(0, width, choice.shape)  # near-copies: this base changed
    restore = np.take_along_axis(sites, changed[..., None], axis=2)[..., 0]  # consensus base
    is_near = np.arange(k) >= hi_copy  # slots 0..hi_copy-1 hold copies, the rest near-copies
    shifted = (restore + rng.integers(1, 4, restore.shape)) % 4
    np.put_along_axis(sites, changed[..., None], np.where(is_near, shifted, restore)[..., None], 2)
    n_copy = rng.integers(lo_copy, hi_copy + 1, n_regions)[:, None]
    n_near = rng.integers(lo_near, hi_near + 1, n_regions)[:, None]
    j = np.arange(k)
    used = np.where(is_near, j - hi_copy < n_near, j < n_copy)  # (R, k)
    codes[start[used][:, None] + np.arange(width)] = sites[used]
    return pd.DataFrame(
        {
            "region": np.broadcast_to(np.arange(n_regions)[:, None], used.shape)[used],
            "start": start[used],
            "strand": np.where(reverse, "-", "+")[used],
            "kind": np.where(is_near, "near", "copy")[None].repeat(n_regions, 0)[used],
            "changed": np.where(is_near, start + changed, -1)[used].astype(np.int64),
            "restore": np.where(is_near, restore, -1)[used].astype(np.int64),
        }
    )


def _rate_map(length: int, planted: pd.DataFrame, width: int, rates: tuple[float, float, float]):
    """msprime RateMap: ``background`` everywhere, ``copy`` over each planted copy's bases,
    ``create`` at each near-copy's changed base (the sites never touch: see :func:`_plant`)."""
    import msprime  # an optional extra (seqnn[cohort]): only simulations need it

    background, copy, create = rates
    is_copy = (planted["kind"] == "copy").to_numpy()
    left = np.where(is_copy, planted["start"], planted["changed"])
    right = left + np.where(is_copy, width, 1)
    order = np.argsort(left)
    bounds = np.column_stack([left[order], right[order]]).ravel()  # a1 b1 a2 b2 ...
    site_rate = np.where(is_copy, copy, create)[order]
    rate = np.column_stack([np.full(len(order), background), site_rate]).ravel()
    return msprime.RateMap(
        position=np.r_[0, bounds, length], rate=np.r_[rate, background].astype(float)
    )


def _coalescent_carriers(
    n_samples: int, length: int, rate_map, settings: dict, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(positions (V,) 0-based, carriers (V, 2 n_samples) int8) from msprime."""
    import msprime  # an optional extra (seqnn[cohort]): only simulations need it

    ts = msprime.sim_ancestry(
        samples=n_samples,
        ploidy=2,
        sequence_length=length,
        population_size=settings["population_size"],
        recombination_rate=settings["recombination_rate"],
        random_seed=seed + 1,  # msprime's seeds are 1 .. 2**32 - 1
    )
    # two states, "0" ancestral (= REF) and "1": the bases are set from the reference after
    ts = msprime.sim_mutations(
        ts, rate=rate_map, model=msprime.BinaryMutationModel(), random_seed=seed + 2
    )
    carriers = ts.genotype_matrix()  # (V, 2n): column 2i, 2i+1 = individual i's haplotypes
    positions = ts.tables.sites.position.astype(np.int64)
    keep = carriers.any(axis=1)  # a mutation undone by a back-mutation leaves no carrier
    return positions[keep], carriers[keep].astype(np.int8)


def ecoli_piece(length: int, offset: int = 1_000_000) -> str:
    """A stretch of the shipped E. coli K-12 genome, to stand in for a chromosome."""
    genome = Genome(ecoli_fasta())
    size = genome.sizes["K-12-MG1655"]
    if offset + length > size:
        raise CohortSimulationError(
            f"a reference piece of {length:,} bp from {offset:,} runs past the end of the "
            f"E. coli genome ({size:,} bp): use fewer regions or a smaller spacing"
        )
    return genome.fetch("K-12-MG1655", offset, offset + length)


def simulate_cohort(
    motif: str,
    reference: str | None = None,
    n_samples: int = 100,
    n_regions: int = 50,
    region_length: int = 300,
    spacing: int | None = None,
    copies: tuple[int, int] = (1, 5),
    near_copies: tuple[int, int] = (1, 2),
    variant_spacing: float = 100.0,
    break_variants: float = 2.0,
    create_variants: float = 1.0,
    noise: float = 0.3,
    population_size: int = 10_000,
    recombination_rate: float = 1e-8,
    contig: str = "sim",
    seed: int = 0,
) -> CohortSimulation:
    """Simulate a diploid cohort and its trait (the steps: this module's docstring).

    Args:
        motif: the consensus whose intact copies drive the trait (A, C, G, T).
        reference: the sequence to plant motifs in and place variants on (its first bases
            are used); None: a piece of the shipped E. coli genome (:func:`ecoli_piece`).
        n_samples: diploid individuals.
        n_regions, region_length: the regions the trait is measured over.
        spacing: bp from one region's start to the next (>= ``region_length``); None: twice
            ``region_length``. Half of it flanks the first and last region.
        copies, near_copies: (min, max) planted copies and near-copies per region, each
            region's number drawn uniformly: regions that differ in copies teach a model
            what a copy is, the variants in them what breaks one.
        variant_spacing: mean bp between background variants.
        break_variants: mean variants per planted copy (each breaks the copy in its carriers).
        create_variants: mean variants at each near-copy's changed base (each restores the
            consensus in its carriers).
        noise: sd of the Gaussian noise added to the trait.
        population_size: msprime's diploid effective population size.
        recombination_rate: per bp per generation.
        contig: the reference piece's contig name.
        seed: seeds the planting, msprime and the noise.

    Returns:
        A :class:`CohortSimulation`.

    Raises:
        CohortSimulationError: settings that do not fit (the message says which).
    """
    spacing = 2 * region_length if spacing is None else spacing
    if n_samples < 1 or n_regions < 1 or spacing < region_length:
        raise CohortSimulationError(
            f"n_samples={n_samples}, n_regions={n_regions}, spacing={spacing}: need at least "
            f"one sample and one region, and spacing >= region_length ({region_length})"
        )
    flank = spacing // 2
    length = 2 * flank + (n_regions - 1) * spacing + region_length
    reference = ecoli_piece(length) if reference is None else reference
    if len(reference) < length:
        raise CohortSimulationError(
            f"the reference has {len(reference):,} bp; {n_regions} regions {spacing} bp apart "
            f"need {length:,}: give a longer one or fewer regions"
        )
    codes = BYTE_TO_CODE[np.frombuffer(reference[:length].upper().encode("ascii"), np.uint8)]
    pattern = _codes(motif.upper())
    rng = np.random.default_rng(seed)
    starts = flank + spacing * np.arange(n_regions, dtype=np.int64)
    planted = _plant(
        codes, starts, region_length, pattern, (tuple(copies), tuple(near_copies)), rng
    )
    branch = 4 * population_size * np.sum(1 / np.arange(1, 2 * n_samples))  # E[tree length]
    rates = (1 / (variant_spacing * branch), break_variants / (len(pattern) * branch))
    rate_map = _rate_map(length, planted, len(pattern), (*rates, create_variants / branch))
    settings = {"population_size": population_size, "recombination_rate": recombination_rate}
    positions, carriers = _coalescent_carriers(n_samples, length, rate_map, settings, seed)
    positions, carriers, alts = _alleles(codes, positions, carriers, planted, rng)
    per_hap = count_motif_copies(
        codes, positions, alts, carriers.astype(bool), motif, starts, starts + region_length
    )  # (R, 2S)
    copies_of = per_hap.reshape(n_regions, n_samples, 2).transpose(1, 2, 0)  # -> (S, 2, R)
    samples = [f"ind{i:0{len(str(n_samples - 1))}d}" for i in range(n_samples)]
    regions = pd.DataFrame(
        {
            "chrom": contig,
            "start": starts,
            "end": starts + region_length,
            "name": [f"r{i:0{len(str(n_regions - 1))}d}" for i in range(n_regions)],
        }
    )
    return CohortSimulation(
        contig=contig,
        reference=_letters(codes),
        samples=samples,
        regions=regions,
        variants=pd.DataFrame(
            {
                "chrom": contig,
                "pos": positions + 1,
                "ref": list(_letters(codes[positions])),
                "alt": list(_letters(alts)),
            }
        ),
        genotypes=carriers.reshape(len(positions), n_samples, 2),
        copies=copies_of,
        traits=_traits(copies_of.sum(axis=1), samples, regions["name"], noise, rng),
        planted=planted,
        motif=motif.upper(),
    )


def _alleles(
    codes: np.ndarray,
    positions: np.ndarray,
    carriers: np.ndarray,
    planted: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """REF = the reference base (sites on an N are dropped); ALT a random other base, or the
    consensus base at a near-copy's changed base."""
    keep = codes[positions] < 4
    positions, carriers = positions[keep], carriers[keep]
    alts = ((codes[positions] + rng.integers(1, 4, len(positions))) % 4).astype(np.uint8)
    near = planted[planted["kind"] == "near"].sort_values("changed")
    changed = near["changed"].to_numpy()
    at = np.clip(np.searchsorted(changed, positions), 0, max(len(changed) - 1, 0))
    hit = (changed[at] == positions) if len(changed) else np.zeros(len(positions), bool)
    alts[hit] = near["restore"].to_numpy()[at[hit]]
    return positions, carriers, alts


def _traits(
    copies: np.ndarray, samples: list[str], regions: pd.Series, noise: float, rng
) -> pd.DataFrame:
    """The long (sample, region) table of the trait: copies (S, R) plus N(0, noise) noise."""
    n_samples, n_regions = copies.shape
    return pd.DataFrame(
        {
            "sample": np.repeat(samples, n_regions),
            "region": np.tile(regions.to_numpy(), n_samples),
            "trait": (copies + rng.normal(0.0, noise, copies.shape)).ravel(),
            "copies": copies.ravel(),
        }
    )


def write_vcf(
    path: str | Path,
    contig: tuple[str, int],
    positions: np.ndarray,
    alleles: tuple[np.ndarray, np.ndarray],
    genotypes: np.ndarray,
    samples: list[str],
    chunk_bytes: int = 1 << 26,
) -> Path:
    """Write phased diploid SNVs as a bgzipped VCF with a tabix index (``path`` + ``.tbi``).

    The text is built per chunk of records with numpy (no loop over records or samples),
    then compressed and indexed by htslib through pysam; both files are written under temp
    names and put in place as one unit (:func:`seqnn.atomic.atomic_indexed`: the old index
    removed, the data renamed, the index last).

    Args:
        path: the ``.vcf.gz`` to write.
        contig: (name, length) of the one contig.
        positions: (V,) 1-based positions, sorted.
        alleles: (REF, ALT) as (V,) uint8 codes.
        genotypes: (V, S, 2) int8, 0 REF, 1 ALT, -1 missing (``.``).
        samples: the S sample names.
        chunk_bytes: text built at once.

    Returns:
        The path written.
    """
    import pysam  # an optional extra (seqnn[cohort]): htslib's bgzip and tabix

    path = Path(path)
    name, size = contig
    header = (
        "##fileformat=VCFv4.2\n"
        f"##contig=<ID={name},length={size}>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n"
    )
    step = max(1, chunk_bytes // (4 * max(len(samples), 1) + 40))
    indexes = [path.with_name(path.name + suffix) for suffix in (".tbi", ".csi")]
    # one unit: a new .vcf.gz never sits beside the old file's index
    with atomic_indexed(path, indexes[0], stale=(indexes[1],)) as (vcf, index):
        text = Path(vcf + ".txt")  # the plain text, beside the temp file and gone after it
        try:
            with open(text, "wb") as fh:
                fh.write(header.encode())
                for lo in range(0, len(positions), step):  # chunks of records, not records
                    hi = lo + step
                    fh.write(_vcf_text(name, positions[lo:hi], alleles, lo, genotypes[lo:hi]))
            pysam.tabix_compress(str(text), vcf, force=True)
            pysam.tabix_index(vcf, preset="vcf", index=index, force=True)
        finally:
            text.unlink(missing_ok=True)
    return path


def _vcf_text(
    contig: str,
    positions: np.ndarray,
    alleles: tuple[np.ndarray, np.ndarray],
    first: int,
    genotypes: np.ndarray,
) -> bytes:
    """VCF lines of a chunk of records, assembled in one uint8 buffer."""
    ref, alt = (CODE_TO_BYTE[a[first : first + len(positions)]].view("S1") for a in alleles)
    fixed = (
        f"{contig}\t"
        + pd.Series(positions).astype(str)
        + "\t.\t"
        + pd.Series(ref).str.decode("ascii")
        + "\t"
        + pd.Series(alt).str.decode("ascii")
        + "\t.\tPASS\t.\tGT"
    )
    fixed_bytes = np.frombuffer("".join(fixed).encode("ascii"), dtype=np.uint8)
    n_fixed = fixed.str.len().to_numpy()
    n, n_samples = genotypes.shape[:2]
    digit = np.frombuffer(b".01", dtype=np.uint8)[genotypes.astype(np.int64) + 1]  # -1 -> "."
    calls = np.empty((n, n_samples, 4), dtype=np.uint8)  # "\t0|1" per sample
    calls[..., 0], calls[..., 1], calls[..., 2], calls[..., 3] = (
        9,
        digit[..., 0],
        124,
        digit[..., 1],
    )
    width = n_fixed + 4 * n_samples + 1
    start = np.cumsum(width) - width
    buf = np.empty(int(width.sum()), dtype=np.uint8)
    within = np.arange(n_fixed.sum()) - np.repeat(np.cumsum(n_fixed) - n_fixed, n_fixed)
    buf[np.repeat(start, n_fixed) + within] = fixed_bytes
    buf[(start + n_fixed)[:, None] + np.arange(4 * n_samples)] = calls.reshape(n, -1)
    buf[start + width - 1] = 10  # "\n"
    return buf.tobytes()


def write_cohort(sim: CohortSimulation, folder: str | Path) -> dict[str, Path]:
    """Write a simulated cohort to a new folder, whole or not at all.

    Files (:data:`COHORT_FILES`): ``reference.fa`` (the piece, one contig),
    ``cohort.vcf.gz`` + ``.tbi`` (phased GT), ``regions.bed`` (chrom, start, end, name) and
    ``traits.tsv`` (sample, region, trait, copies).

    Args:
        sim: the cohort (:func:`simulate_cohort`).
        folder: a folder that does not exist yet.

    Returns:
        ``{"fasta" | "vcf" | "regions" | "traits": path}``.
    """
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        write_fasta(tmp / COHORT_FILES["fasta"], {sim.contig: sim.reference})
        variants = sim.variants
        write_vcf(
            tmp / COHORT_FILES["vcf"],
            (sim.contig, len(sim.reference)),
            variants["pos"].to_numpy(),
            (_codes_of(variants["ref"]), _codes_of(variants["alt"])),
            sim.genotypes,
            sim.samples,
        )
        sim.regions.to_csv(tmp / COHORT_FILES["regions"], sep="\t", header=False, index=False)
        sim.traits.to_csv(tmp / COHORT_FILES["traits"], sep="\t", index=False)
    return {key: folder / name for key, name in COHORT_FILES.items()}


def _codes_of(letters: pd.Series) -> np.ndarray:
    return BYTE_TO_CODE[np.frombuffer("".join(letters).encode("ascii"), dtype=np.uint8)]


def across_people_r(table: pd.DataFrame, predicted: str, observed: str = "trait") -> float:
    """Mean over regions of the Pearson r across people of ``predicted`` vs ``observed``.

    The figure that says whether a model tells people apart: each region's r is computed
    over the people alone, so what differs between regions does not count.

    Args:
        table: long table with ``sample``, ``region`` and both columns.
        predicted, observed: column names.

    Returns:
        The mean over regions; a region whose prediction (or observation) is the same for
        every person has r = 0 (a reference-only model's prediction is: its r is 0).
    """
    pred = table.pivot(index="sample", columns="region", values=predicted).to_numpy(float)
    obs = table.pivot(index="sample", columns="region", values=observed).to_numpy(float)
    pred, obs = pred - pred.mean(0), obs - obs.mean(0)  # (people, regions), centred
    norm = np.sqrt((pred**2).sum(0) * (obs**2).sum(0))
    spread = np.abs(pred).max(0) > 1e-9 * (1 + np.abs(pred).max())  # rounding is not signal
    r = np.divide(
        (pred * obs).sum(0), norm, out=np.zeros(pred.shape[1]), where=spread & (norm > 0)
    )
    return float(r.mean())
