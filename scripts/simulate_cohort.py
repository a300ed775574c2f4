"""Simulate a diploid cohort with a known sequence rule (ground truth for personal-genome models).

msprime's coalescent with recombination on a piece of the shipped E. coli genome; the trait of
each (sample, region) is the number of intact copies of a JASPAR 2024 CORE motif's consensus
(CTCF MA0139.2, trimmed to its 12 bp core, by default) on both haplotypes plus noise. How the
motifs are planted and how variants break or create them: :mod:`seqnn.data.simulate_cohort`.

Writes a new folder: ``reference.fa``, ``cohort.vcf.gz`` + ``.tbi`` (phased GT),
``regions.bed`` and ``traits.tsv`` (sample, region, trait, copies), and prints one JSON line
with the cohort's size and the ceiling that the noise leaves for ``personal_across_people_r``
(the same figure with the noise-free copies as the prediction).

    python scripts/simulate_cohort.py OUT [--small] [--samples 500] [--regions 200] [--seed 0]

Needs the ``cohort`` extra (``pip install seqnn[cohort]``: msprime, pysam).
"""

from __future__ import annotations

import argparse
import json
import time

from seqnn.data.simulate_cohort import (
    CohortSimulation,
    across_people_r,
    simulate_cohort,
    write_cohort,
)
from seqnn.interpret.motifs import jaspar_core

#: --small: a cohort that simulates, trains and validates in a few minutes on 2 cores
SMALL = {"samples": 150, "regions": 40, "region_length": 200}
FULL = {"samples": 500, "regions": 200, "region_length": 300}


def motif_consensus(motif_id: str, min_ic: float = 1.0) -> str:
    """The consensus of a shipped JASPAR 2024 CORE motif, trimmed to its informative core."""
    found = [m for m in jaspar_core() if m.id == motif_id]
    if not found:
        raise SystemExit(f"{motif_id}: not a JASPAR 2024 CORE id (e.g. MA0139.2 for CTCF)")
    return found[0].trim(min_ic).consensus()


def simulate(args: argparse.Namespace) -> CohortSimulation:
    size = SMALL if args.small else FULL
    return simulate_cohort(
        motif_consensus(args.motif),
        n_samples=args.samples or size["samples"],
        n_regions=args.regions or size["regions"],
        region_length=args.region_length or size["region_length"],
        noise=args.noise,
        seed=args.seed,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="a folder that does not exist yet")
    p.add_argument("--small", action="store_true", help=f"a small cohort: {SMALL}")
    p.add_argument("--samples", type=int, help=f"diploid people (default {FULL['samples']})")
    p.add_argument("--regions", type=int, help=f"regions (default {FULL['regions']})")
    p.add_argument("--region-length", type=int, help="bp per region")
    p.add_argument("--motif", default="MA0139.2", help="JASPAR id whose consensus is counted")
    p.add_argument("--noise", type=float, default=0.3, help="sd of the trait's noise")
    p.add_argument("--seed", type=int, default=0)
    return p


def main() -> None:
    args = parser().parse_args()
    t0 = time.perf_counter()
    sim = simulate(args)
    paths = write_cohort(sim, args.out)
    print(
        json.dumps(
            {
                "bench": "cohort_copies_across_people_r",
                "value": round(across_people_r(sim.traits, "copies"), 4),
                "unit": "r",
                "meaning": "ceiling left by the noise: the noise-free copies as the prediction",
                "samples": len(sim.samples),
                "regions": len(sim.regions),
                "variants": len(sim.variants),
                "motif": sim.motif,
                "seconds": round(time.perf_counter() - t0, 2),
                "files": {key: str(path) for key, path in paths.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
