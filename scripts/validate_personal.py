"""Across-people check: does a model trained on personal sequences tell held-out people apart?

Simulates a cohort (``scripts/simulate_cohort.py``: msprime on a piece of E. coli, the trait of
each (sample, region) = intact copies of a JASPAR motif on both haplotypes + noise), then:

- **personal model**: ``PersonalDataModule(split="individual")`` deals the people to train
  (70%), val (10%) and test (20%); a KmerCNN (filters as wide as the motif, mean-pooled over
  the window and averaged over both strands: a counter) learns the person's trait from
  personal sequences; ``predict_personal`` then predicts the test people, whose prediction
  at a region is the mean over their two haplotypes.

  ``--haplotypes pair`` (the default): one example is one (person, region) with both
  haplotypes (``haplotypes="pair"``, batches (B, 2, L)), the counter wrapped in
  :class:`~seqnn.models.HaplotypeMean`, so the loss compares the mean of the two
  haplotypes' outputs with the person's trait (which the simulation makes from both
  haplotypes). ``--haplotypes single``: every haplotype window is an example whose target is
  its person's trait (the other haplotype's share of the trait is noise to it).
- **reference-only model**: the same network trained on the reference window of each region
  (target: the mean trait of the training people there). It predicts one value per region,
  the same for every person.

Prints JSON lines: ``personal_across_people_r`` (per region, the Pearson r over the held-out
test people of predicted vs true trait, then the mean over regions; goal >= 0.8), the same
over the validation people (``personal_across_people_r_val``: what tuning may look at),
``reference_across_people_r`` (the same definition: a prediction that is equal for every
person has r = 0 there, so the figure is 0 by construction), the ceiling that the trait's
noise leaves (``oracle_across_people_r``: the noise-free copies as the prediction) and, for
context, both models' r across regions of the held-out people's mean trait.

    python scripts/validate_personal.py [--small] [--haplotypes pair|single] [--epochs 60]
        [--activation relu|exp] [--hidden 16]

Protocol, fixed before the pair figure was first measured (2026-12-07): the same simulation,
split (seed 0), KmerCNN counter, loss, optimiser, one-cycle schedule and lr 2e-2 for both
options; the same haplotype windows per optimiser step (single: batches of 64 haplotypes;
pair: batches of 32 people = 64 haplotypes), so both take the same steps per epoch. Nothing is
tuned on the test people. The first run (30 epochs, the counter's head with KmerCNN's default
dropout 0.3) gave 0.7405 (pair) and 0.7523 (single) on the test people. Then two settings
were tuned on the validation people alone (``personal_across_people_r_val``, 12 people, same
seed; the counter underfits: its r against the noise-free copies on the training people was
0.82): dropout 0.3 -> 0 and 30 -> 60 epochs, for both options (val r, pair / single: 0.727 /
0.760 at 30 epochs with dropout, 0.812 / 0.837 at 60 epochs without; pair at 100 epochs 0.818,
pair with 64 people a batch 0.791; 16 filters 0.817 / 0.838, not kept). Those are the
defaults below; with them the test people gave 0.7626 (pair) and 0.7843 (single): the goal
is not reached, and diploid examples did not beat one haplotype per example (docs/data.md).

Counter trials, written down before any was measured (2026-12-07; helper "counter"). The
counter underfits because a ReLU after batch norm scores a planted near-copy (one SNV in the
consensus) almost as high as an intact copy; an exponential first-layer activation
(:class:`~seqnn.models.layers.Exponential`, Koo & Ploenzke 2021) makes the detectors sharp.
KmerCNN uses one activation for its detectors and its dense head, so the exponential
variants drop the hidden layer (``--hidden 0``: a linear read-out of the mean exponentials,
which is what a count of exact matches is) except where stated. At most these three, pair
option (the fixed default), same simulation, split and seed 0, everything else as today:

- A: ``--activation exp --hidden 0`` (lr 2e-2, 60 epochs);
- B: ``--activation exp --hidden 0 --lr 5e-3`` (in case the exponential is unstable at 2e-2);
- C: ``--activation exp --hidden 0 --epochs 120`` (in case it still underfits).

The variant is chosen by ``personal_across_people_r_val`` (validation people only) with
``--haplotypes pair`` and the same split/seed; then ONE run on the test people with the
chosen variant; the test figure is reported whatever it is. (Each run prints both figures;
for the trials only the validation line is read, the test line of the chosen variant's own
run is its one test run.) It replaces today's default only if its validation figure beats
0.812.

Result (2026-12-07, ``--small``, pair, seed 0; loadavg 5.4 / 1.7 at the starts): validation
people A 0.884, B 0.883; C was not run (a run took 8-16 min on the shared cores and C trains
twice as long: it would have passed the helper's deadline). A is chosen and is now the
default (``--activation exp --hidden 0``); its own run's test figure, the one test run, is
0.830 (goal 0.8; noise ceiling 0.880; reference-only 0.0), where the ReLU counter gave 0.763.
At the default size (400 people x 100 regions of 300 bp, nothing changed): 0.824 on the 80
test people (val 0.815; noise ceiling 0.846; 725 s on 2 cores).

``--small`` (120 people x 30 regions of 200 bp) runs in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch import nn

import seqnn
from seqnn.data.encoding import DEFAULT_POLICY
from seqnn.data.genome import Genome
from seqnn.data.personal_datamodule import PersonalDataModule
from seqnn.data.simulate_cohort import across_people_r, simulate_cohort, write_cohort
from seqnn.inference.personal import predict_personal
from seqnn.interpret.motifs import jaspar_core
from seqnn.models.haplotype_mean import HaplotypeMean
from seqnn.models.kmer_cnn import KmerCNN
from seqnn.models.layers import Exponential
from seqnn.models.reverse_complement import ReverseComplementAverage
from seqnn.tasks.supervised import SupervisedModule

SMALL = {"samples": 120, "regions": 30, "region_length": 200}
FULL = {"samples": 400, "regions": 100, "region_length": 300}


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(float(value), 4), "unit": unit, **extra}))


ACTIVATIONS = {"relu": nn.ReLU, "exp": Exponential}


def counter_module(
    width: int, args: argparse.Namespace, steps: int, pair: bool = False
) -> SupervisedModule:
    """A motif counter: KmerCNN filters as wide as the motif, mean-pooled, both strands
    (with ``pair``: averaged over a person's two haplotypes too); ``args.activation`` and
    ``args.hidden`` (0: a linear read-out) pick the variant."""
    lr = args.lr
    # no dropout: tuned on the validation people (the module docstring)
    net = KmerCNN(
        n_targets=1,
        n_filters=8,
        kernel_size=width,
        n_bins=0,
        n_hidden=(args.hidden,) if args.hidden else (),
        dropout=0.0,
        activation=ACTIVATIONS[args.activation],
    )
    net = ReverseComplementAverage(net)
    return SupervisedModule(
        net=HaplotypeMean(net) if pair else net,
        loss=nn.MSELoss(),
        optimizer=partial(torch.optim.Adam, lr=lr),
        scheduler=partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=lr, total_steps=steps),
        scheduler_interval="step",
        task="regression",
    )


def fit(module: SupervisedModule, train, val, epochs: int) -> None:
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=train, val_dataloaders=val)


def personal_model(files: dict, length: int, width: int, args, folder: Path) -> pd.DataFrame:
    """Train on the training people's haplotypes; per-person predictions of the test people
    (``predict_personal``'s summary: the mean over the two haplotypes). The package saved
    from pair training holds the HaplotypeMean wrapper, which predicts one haplotype
    (N, 4, L) as its inner network does."""
    pair = args.haplotypes == "pair"
    data = PersonalDataModule(
        fasta=files["fasta"],
        vcf=files["vcf"],
        regions=files["regions"],
        targets=files["traits"],
        target_columns=["trait"],
        target_kind="regression",
        split="individual",
        input_length=length,
        val_fraction=0.1,
        test_fraction=0.2,
        haplotypes="pair" if pair else "both",
        batch_size=32 if pair else 64,  # 64 haplotype windows a step either way
        output="codes",
        seed=args.seed,
    )
    data.setup()
    steps = args.epochs * len(data.train_dataloader())
    module = counter_module(width, args, steps, pair)
    fit(module, data.train_dataloader(), data.val_dataloader(), args.epochs)
    saved = seqnn.save_pretrained(module, folder, input_length=length, targets=["trait"])
    model = seqnn.load_pretrained(saved)
    people = {s: sorted(data.split_frame(s)["sample"].unique()) for s in ("val", "test")}
    out = predict_personal(
        model, files["fasta"], files["vcf"], files["regions"], sum(people.values(), [])
    )
    split = {p: s for s, group in people.items() for p in group}
    summary = out.summary.rename(columns={"trait_mean": "predicted"})
    return summary.assign(split=summary["sample"].map(split))


def reference_model(files: dict, traits: pd.DataFrame, test: pd.DataFrame, width, args):
    """Train on reference windows (target: the training people's mean trait per region)."""
    regions = pd.read_csv(files["regions"], sep="\t", names=["chrom", "start", "end", "name"])
    genome = Genome(files["fasta"])
    codes = torch.from_numpy(genome.fetch_codes(regions.chrom, regions.start, regions.end))
    train = traits[~traits["sample"].isin(test["sample"])]
    y = train.groupby("region")["trait"].mean().reindex(regions.name).to_numpy(np.float32)
    dataset = torch.utils.data.TensorDataset(codes, torch.from_numpy(y)[:, None])
    loader = torch.utils.data.DataLoader(dataset, batch_size=len(dataset), shuffle=True)
    epochs = args.epochs * 5  # one batch (every region) per epoch: more epochs
    module = counter_module(width, args, epochs)
    module.use_policy(DEFAULT_POLICY)
    fit(module, loader, None, epochs)
    module.eval()
    with torch.inference_mode():
        value = module.predict_step(codes, 0).numpy().ravel()
    return test.assign(predicted=test["region"].map(dict(zip(regions.name, value, strict=True))))


def across_regions_r(table: pd.DataFrame, predicted: str) -> float:
    means = table.groupby("region")[[predicted, "trait"]].mean()
    return float(np.corrcoef(means[predicted], means["trait"])[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help=f"a small cohort: {SMALL}")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=2e-2)
    parser.add_argument("--motif", default="MA0139.2", help="JASPAR id whose consensus counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--activation",
        choices=sorted(ACTIVATIONS),
        default="exp",  # chosen on the validation people (the module docstring)
        help="the counter's activation (KmerCNN uses it in its dense head too)",
    )
    parser.add_argument(
        "--hidden", type=int, default=0, help="the counter's hidden layer width; 0: none"
    )
    parser.add_argument(
        "--haplotypes",
        choices=["pair", "single"],
        default="pair",
        help="pair: one example per person and region with both haplotypes; single: one per "
        "haplotype",
    )
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    size = SMALL if args.small else FULL
    motif = next(m for m in jaspar_core() if m.id == args.motif).trim(1.0).consensus()
    t0 = time.perf_counter()
    sim = simulate_cohort(
        motif,
        n_samples=size["samples"],
        n_regions=size["regions"],
        region_length=size["region_length"],
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        files = write_cohort(sim, Path(tmp) / "cohort")
        length = size["region_length"]
        held = personal_model(files, length, len(motif), args, Path(tmp) / "model")
        held = held[["sample", "region", "split", "predicted"]].merge(sim.traits)
        test, val = held[held["split"] == "test"], held[held["split"] == "val"]
        ref = reference_model(files, sim.traits, test[["sample", "region"]], len(motif), args)
        ref = ref.merge(sim.traits, on=["sample", "region"])
    about = {"people": len(sim.samples), "test_people": test["sample"].nunique()}
    about |= {"regions": len(sim.regions), "variants": len(sim.variants), "motif": motif}
    emit(
        "personal_across_people_r",
        across_people_r(test, "predicted"),
        "r",
        goal=0.8,
        haplotypes=args.haplotypes,
        activation=args.activation,
        hidden=args.hidden,
        epochs=args.epochs,
        lr=args.lr,
        seconds=round(time.perf_counter() - t0, 1),
        **about,
    )
    emit(
        "personal_across_people_r_val",
        across_people_r(val, "predicted"),
        "r",
        meaning="the validation people's figure: the one any tuning may look at",
        val_people=val["sample"].nunique(),
    )
    emit(
        "reference_across_people_r",
        across_people_r(ref, "predicted"),
        "r",
        definition="one prediction per region, equal for every person: r = 0 by construction",
    )
    emit("oracle_across_people_r", across_people_r(test, "copies"), "r", meaning="noise ceiling")
    emit("personal_across_regions_r", across_regions_r(test, "predicted"), "r")
    emit("reference_across_regions_r", across_regions_r(ref, "predicted"), "r")


if __name__ == "__main__":
    main()
