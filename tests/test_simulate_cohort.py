"""The simulated cohort (seqnn.data.simulate_cohort, scripts/simulate_cohort.py): the motif
count is exact on hand-built haplotypes, and the written cohort reads back through Cohort /
PersonalDataset as the haplotypes and trait the simulation says."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqnn.data.encoding import BYTE_TO_CODE, CODE_TO_BYTE, reverse_complement
from seqnn.data.simulate_cohort import (
    CohortSimulationError,
    across_people_r,
    count_motif_copies,
    simulate_cohort,
    write_cohort,
    write_vcf,
)

MOTIF = "CCACCAGGGGGC"  # JASPAR MA0139.2 (CTCF), trimmed to its 12 bp core
SCRIPTS = Path(__file__).parents[1] / "scripts"


def codes(seq: str) -> np.ndarray:
    return BYTE_TO_CODE[np.frombuffer(seq.encode(), dtype=np.uint8)]


def regex_count(seq: str, motif: str) -> int:
    """Copies on either strand, overlaps included: the rule, written the slow obvious way."""
    return len(re.findall(f"(?=({motif}|{reverse_complement(motif)}))", seq))


def test_count_motif_copies_on_hand_built_haplotypes():
    # region 0 holds a + copy and a - copy; region 1 a near-copy (one base off)
    rc = reverse_complement(MOTIF)
    near = MOTIF[:5] + "T" + MOTIF[6:]
    ref = "A" * 10 + MOTIF + "A" * 10 + rc + "A" * 8 + "TT" + near + "A" * 20
    starts, ends = np.array([0, 52]), np.array([52, len(ref)])
    positions = np.array([12, 40, 59])  # in the + copy, in the - copy, the near-copy's T
    alts = codes("GTA")  # breaks, breaks, restores the consensus
    carriers = np.array([[0, 1, 0, 1], [0, 0, 1, 1], [0, 1, 1, 0]], dtype=bool)  # (V, H)
    got = count_motif_copies(codes(ref), positions, alts, carriers, MOTIF, starts, ends)
    assert got.tolist() == [[2, 1, 1, 0], [0, 1, 1, 0]]
    for h in range(4):  # the same as applying the SNVs and counting by regex
        hap = np.frombuffer(ref.encode(), dtype="S1").copy()
        hap[positions[carriers[:, h]]] = np.array(list("GTA"), dtype="S1")[carriers[:, h]]
        text = hap.tobytes().decode()
        expected = [regex_count(text[a:b], MOTIF) for a, b in zip(starts, ends, strict=True)]
        assert expected == got[:, h].tolist()


def test_a_copy_that_crosses_the_region_edge_is_not_counted():
    ref = "A" * 5 + MOTIF + "A" * 5
    none = np.zeros(0, np.int64)
    args = (codes(ref), none, codes(""), np.zeros((0, 1), bool), MOTIF)
    assert count_motif_copies(*args, np.array([0, 6]), np.array([22, 22]))[:, 0].tolist() == [1, 0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("msprime")
    pytest.importorskip("pysam")
    sim = simulate_cohort(MOTIF, n_samples=12, n_regions=6, region_length=160, seed=3)
    return sim, write_cohort(sim, tmp_path_factory.mktemp("cohort") / "out")


def test_the_simulation_is_seeded_and_people_differ(tiny):
    sim, _ = tiny
    again = simulate_cohort(MOTIF, n_samples=12, n_regions=6, region_length=160, seed=3)
    assert np.array_equal(again.genotypes, sim.genotypes)
    assert again.reference == sim.reference and again.traits.equals(sim.traits)
    assert sim.genotypes.shape == (len(sim.variants), 12, 2)
    assert (sim.copies.sum(axis=1).std(axis=0) > 0).any()  # some region differs between people
    noise = sim.traits["trait"] - sim.traits["copies"]
    assert 0.05 < noise.std() < 1.0


def test_the_planted_copies_are_in_the_reference(tiny):
    sim, _ = tiny
    copies = sim.planted[sim.planted["kind"] == "copy"]
    seqs = [sim.reference[s : s + len(MOTIF)] for s in copies["start"]]
    assert set(seqs) <= {MOTIF, reverse_complement(MOTIF)}
    planted = copies.groupby("region").size().reindex(range(len(sim.regions)), fill_value=0)
    assert planted.between(1, 5).all() and planted.nunique() > 1  # (1, 5) per region
    for i, region in sim.regions.iterrows():  # the reference's own count: at least the planted
        assert regex_count(sim.reference[region.start : region.end], MOTIF) >= planted[i]


def test_the_written_cohort_reads_back_as_the_simulated_haplotypes(tiny):
    personal = pytest.importorskip("seqnn.data.personal")
    pytest.importorskip("cyvcf2")
    from seqnn.data.cohort_vcf import Cohort

    sim, files = tiny
    cohort = Cohort(files["fasta"], files["vcf"])  # REF checked against the FASTA
    data = personal.PersonalDataset(cohort, files["regions"], seq_len=160, targets=files["traits"])
    index = np.arange(len(data))
    items = data.items(index)
    windows = [CODE_TO_BYTE[c].tobytes().decode() for c in data._codes(index)]
    sample = items["sample"].map({s: i for i, s in enumerate(sim.samples)})
    region = items["region"].map({r: i for i, r in enumerate(sim.regions["name"])})
    truth = sim.copies[sample, items["haplotype"], region]
    assert [regex_count(w, MOTIF) for w in windows] == truth.tolist()
    traits = sim.traits.set_index(["sample", "region"])["trait"]
    expected = traits.loc[list(zip(items["sample"], items["region"], strict=True))]
    assert np.allclose(data.targets_of(index).numpy()[:, 0], expected.to_numpy())


def test_pair_items_hold_a_persons_copies_and_a_diploid_fit_runs_and_saves(tiny, tmp_path):
    """haplotypes="pair": an item's two windows hold the person's copies (the trait's noise-
    free part); a HaplotypeMean counter trains on the pairs for a few steps, and the package
    saved from it predicts people one haplotype at a time through predict_personal."""
    pytest.importorskip("cyvcf2")
    import lightning as L
    from torch import nn

    from seqnn.data.personal_datamodule import PersonalDataModule
    from seqnn.inference.personal import predict_personal
    from seqnn.inference.pretrained import load_pretrained, save_pretrained
    from seqnn.models import HaplotypeMean, KmerCNN
    from seqnn.tasks.supervised import SupervisedModule

    sim, files = tiny
    data = PersonalDataModule(
        files["fasta"], files["vcf"], files["regions"], files["traits"], haplotypes="pair",
        target_columns=["trait"], input_length=160, batch_size=8, output="codes",
    )  # fmt: skip
    data.setup()
    full, index = data._full, np.arange(len(data._full))
    pairs = full.codes_of(index)  # (items, 2, L)
    items = full.items(index)
    counts = [[regex_count(CODE_TO_BYTE[h].tobytes().decode(), MOTIF) for h in p] for p in pairs]
    copies = sim.traits.set_index(["sample", "region"])["copies"]
    expected = copies.loc[list(zip(items["sample"], items["region"], strict=True))]
    assert np.sum(counts, axis=1).tolist() == expected.tolist()
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = KmerCNN(n_targets=1, n_filters=4, kernel_size=len(MOTIF), n_bins=0, n_hidden=(8,))
    module = SupervisedModule(
        net=HaplotypeMean(net),
        loss=nn.MSELoss(),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-2),
        task="regression",
    )
    trainer = L.Trainer(
        max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, datamodule=data)
    assert np.isfinite(trainer.callback_metrics["val/loss"].item())
    folder = save_pretrained(module, tmp_path / "pkg", input_length=160, targets=["trait"])
    model = load_pretrained(folder)
    assert isinstance(model.net, HaplotypeMean)
    test = sorted(data.split_frame("test")["sample"].unique())
    out = predict_personal(model, files["fasta"], files["vcf"], files["regions"], test)
    module.eval()
    x = torch.from_numpy(full.codes_of(data._rows["test"]))
    with torch.inference_mode():  # the person's prediction = the module's on the pair
        direct = module(x).numpy()[:, 0]
    by_pair = pd.Series(
        direct, index=pd.MultiIndex.from_frame(data.split_frame("test")[["sample", "region"]])
    )
    summary = out.summary.set_index(["sample", "region"])["trait_mean"]
    np.testing.assert_allclose(summary.loc[by_pair.index], by_pair, rtol=1e-4, atol=1e-5)


def test_write_cohort_refuses_an_existing_folder(tiny, tmp_path):
    sim, _ = tiny
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        write_cohort(sim, tmp_path / "out")


def test_regions_too_short_for_the_motifs_are_refused():
    with pytest.raises(CohortSimulationError, match="do not fit a region of 40 bp"):
        simulate_cohort(MOTIF, n_samples=2, n_regions=2, region_length=40)


def test_across_people_r_is_per_region_and_zero_for_a_constant_prediction():
    table = pd.DataFrame(
        {
            "sample": ["a", "b", "c"] * 2,
            "region": ["r1"] * 3 + ["r2"] * 3,
            "trait": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
            "good": [0.1, 0.2, 0.3, 5.0, 4.0, 3.0],  # r = 1 at r1, -1 at r2
            "reference": [7.0] * 3 + [9.0] * 3,
        }
    )
    assert across_people_r(table, "good") == pytest.approx(0.0)
    assert across_people_r(table[table.region == "r1"], "good") == pytest.approx(1.0)
    assert across_people_r(table, "reference") == 0.0


@pytest.mark.slow
def test_the_script_simulates_the_full_cohort(tmp_path):
    pytest.importorskip("msprime")
    out = subprocess.run(
        [sys.executable, SCRIPTS / "simulate_cohort.py", tmp_path / "full"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figure = json.loads(out.splitlines()[-1])
    assert figure["samples"] == 500 and figure["regions"] == 200
    assert figure["value"] > 0.85  # the noise leaves room for the >= 0.8 goal
    traits = pd.read_csv(tmp_path / "full" / "traits.tsv", sep="\t")
    assert len(traits) == 500 * 200
    assert (tmp_path / "full" / "cohort.vcf.gz.tbi").stat().st_size > 0


def test_an_interrupted_rewrite_leaves_no_stale_index_beside_the_new_vcf(tmp_path, monkeypatch):
    """Rewriting a cohort VCF, interrupted between the two renames: the new .vcf.gz is never
    left beside the old file's .tbi (a reader would fetch wrong records through it)."""
    pytest.importorskip("pysam")

    def write(path, positions):
        n = len(positions)
        alleles = (np.zeros(n, np.uint8), np.ones(n, np.uint8))  # A>C
        gts = np.ones((n, 2, 2), np.int8)
        return write_vcf(path, ("chr1", 5000), np.asarray(positions), alleles, gts, ["a", "b"])

    new = write(tmp_path / "new" / "c.vcf.gz", range(100, 4000, 7))  # the bytes a rewrite writes
    new_bytes = (new.read_bytes(), Path(f"{new}.tbi").read_bytes())
    path = write(tmp_path / "c.vcf.gz", [10, 20])
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # between the renames
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write(path, range(100, 4000, 7))
    index = Path(f"{path}.tbi")
    state = (
        "new" if path.read_bytes() == new_bytes[0] else "old",
        "none" if not index.exists() else "new" if index.read_bytes() == new_bytes[1] else "old",
    )
    # a new VCF without its index is refused by readers (saying how to index it)
    assert state in {("old", "old"), ("new", "none"), ("new", "new")}
