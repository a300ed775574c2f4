"""Rerun every real-data experiment the configs hold and write docs/results.md.

Rows (``--only NAME`` runs one; repeat it for several):

    default            seqnn-train                           embedded E. coli σ70 promoters
    cnnprom_ecoli      seqnn-train experiment=cnnprom_ecoli     CNNProm E. coli σ70
    cnnprom_bsubtilis  seqnn-train experiment=cnnprom_bsubtilis CNNProm B. subtilis
    cnnprom_ecoli_cv5, cnnprom_bsubtilis_cv5   the same, 5-fold stratified cross-validation:
                       seqnn-train -m experiment=cnnprom_<org> data.folds=5 data.fold=0,1,2,3,4
    ctcf_peaks         seqnn-train experiment=ctcf_peaks        CTCF peaks vs dinucleotide shuffles
    recipe_promoter_sigma70, recipe_promoter_ecoli, recipe_promoter_bsubtilis,
    recipe_tf_binding_ctcf   the default recipes (configs/recipe/) on each real set, no per-set
                       settings: seqnn-train recipe=<name> data=table data.table=<set> (the
                       sets under ../shared/data; a row whose file is absent is skipped)

Each run is composed from the packaged configs exactly as its command would be (same seed, same
split), with CSV logs and no progress bar, fitted and tested on its best checkpoint. A
cross-validation row runs one such run per fold and reports the mean of each test figure
over the folds (every row tested exactly once). A row whose
experiment config is not installed is skipped (and keeps its old line in the table).

Output: a table of ours vs the published figures, written atomically to ``--out`` (default
``docs/results.md``; rows not rerun keep their old lines; ``--out -`` writes no file), and one
JSON line per figure, ``{"bench": "cnnprom_ecoli_sn", "value": X, "unit": "", "published": Y}``,
plus ``<row>_wall_s`` (fit + test). The table also gives the process's CPU seconds and the
machine's load average over the run, since wall time on shared cores depends on the other jobs.
Runs go under ``--runs`` (default: a fresh temp folder).

``--seeds S1 S2 ...`` trains each row once per training seed (``seed=S``; the split's seed,
``data.seed``, stays the config's, so every seed sees the same folds) and reports the mean over
the seeds (for a CV row, over seeds x folds); each JSON line then also holds ``per_seed``, the
row's figure for each seed, and the table's seed column lists them. Single trainings of the
small CNNProm sets differ by seed by up to 0.03 in MCC, more than the gaps they are compared on.
``--ensemble`` (with ``--seeds``) reports instead the ensemble of the seeds' models on each test
set (``seqnn-ensemble``: their logits averaged), with the single models' mean as ``seed_mean``.

``--reuse`` reads runs already under ``--runs`` instead of training them again (each run
records what it measured in ``<run>/reproduce.json``; an older run without it gives its
``metrics.json`` and an unknown time), e.g. to add ``--ensemble`` figures to finished seeds.

Usage: python scripts/reproduce.py [--only NAME ...] [--out docs/results.md] [--runs DIR]
       [--overrides trainer=gpu ...] [--seeds 12345 1 2 [--ensemble]] [--reuse]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"  # the real sets beside a checkout (not shipped)
CNNPROM = "Umarov & Solovyev 2017, PLoS ONE 12(2): e0171410 (CNNProm), Table 2"


@dataclass(frozen=True)
class Figure:
    """One reported number: its JSON name, table label, logged metric and published value."""

    bench: str
    label: str
    metric: str
    published: float | None = None


@dataclass(frozen=True)
class Row:
    """One experiment: the Hydra overrides that select it and the figures it reports."""

    name: str
    overrides: tuple[str, ...]
    figures: tuple[Figure, ...]
    source: str = ""  # where the published figures come from
    folds: int | None = None  # k-fold cross-validation: one run per fold (data.folds / fold)
    needs: tuple[Path, ...] = ()  # files the row reads (skipped where one is absent)

    @property
    def experiment(self) -> str | None:
        """The ``experiment=`` option this row selects, if any."""
        found = [o.split("=", 1)[1] for o in self.overrides if o.startswith("experiment=")]
        return found[0] if found else None

    @property
    def bench(self) -> str:
        """Prefix of this row's JSON bench names."""
        return self.figures[0].bench.rsplit("_", 1)[0]


# level of the bootstrap intervals of --ensemble figures
# (seqnn.inference.evaluate.bootstrap_interval)
CI_LEVEL = 0.95

# promoters and non-promoters of the CNNProm sets (seqnn.data.embedded.cnnprom_table)
CNNPROM_CLASSES = {"ecoli": (839, 3000), "bsubtilis": (373, 1000)}
CNNPROM_FILES = {"ecoli": "ecoli_sigma70.csv.gz", "bsubtilis": "bsubtilis.csv.gz"}
LABEL = ("data.target_columns=[label]",)
# all 39,184 CTCF peaks of the demo, each with one dinucleotide shuffle
CTCF_ALL = SHARED / "tf_peaks" / "ctcf_positives.csv.gz"
CTCF_DEMO = "const-ae/Neural_Network_DNA_Demo (CTCF peaks vs dinucleotide shuffles), test AUROC"


def mcc_of_rates(sn: float, sp: float, n_pos: int, n_neg: int) -> float:
    """The Matthews correlation that sensitivity ``sn`` and specificity ``sp`` give on a set
    of ``n_pos`` positives and ``n_neg`` negatives (MCC depends on the class ratio; Sn and Sp
    do not)."""
    tp, fn, tn, fp = sn * n_pos, (1 - sn) * n_pos, sp * n_neg, (1 - sp) * n_neg
    return (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))


def _cnnprom(
    organism: str,
    sn: float,
    sp: float,
    mcc: float,
    folds: int | None = None,
    recipe: str | None = None,
) -> Row:
    """A CNNProm row: its experiment, or with ``recipe`` that recipe on the set's CSV."""
    experiment = f"cnnprom_{organism}"
    overrides: tuple[str, ...] = (f"experiment={experiment}",)
    needs: tuple[Path, ...] = ()
    if recipe is not None:
        table = SHARED / "promoters" / CNNPROM_FILES[organism]
        experiment, needs = f"recipe_{recipe}_{organism}", (table,)
        overrides = (f"recipe={recipe}", "data=table", f"data.table={table}", *LABEL)
    n_pos, n_neg = CNNPROM_CLASSES[organism]
    # Sn and Sp are printed to 2 decimals: the MCC they allow at this set's class ratio
    low, high = (mcc_of_rates(sn + d, sp + d, n_pos, n_neg) for d in (-0.005, 0.005))
    source = (
        f"{CNNPROM}; on this set's {n_pos:,} promoters and {n_neg:,} non-promoters its Sn "
        f"{sn:.2f} and Sp {sp:.2f} give MCC {mcc_of_rates(sn, sp, n_pos, n_neg):.3f} "
        f"({low:.3f}-{high:.3f} over their rounding; printed: {mcc:.2f})"
    )
    name = experiment if folds is None else f"{experiment}_cv{folds}"
    return Row(
        name,
        overrides,
        (
            Figure(f"{name}_sn", "Sn", "test/sensitivity", sn),
            Figure(f"{name}_sp", "Sp", "test/specificity", sp),
            Figure(f"{name}_mcc", "MCC", "test/mcc", mcc),
            Figure(f"{name}_auroc", "AUROC", "test/auroc"),
        ),
        source,
        folds,
        needs,
    )


ROWS: dict[str, Row] = {
    row.name: row
    for row in (
        Row(
            "default",
            (),
            (
                Figure("default_auroc", "AUROC", "test/auroc"),
                Figure("default_auprc", "AUPRC", "test/auprc"),
                Figure("default_mcc", "MCC", "test/mcc"),
            ),
        ),
        _cnnprom("ecoli", 0.90, 0.96, 0.84),
        _cnnprom("bsubtilis", 0.91, 0.95, 0.86),
        _cnnprom("ecoli", 0.90, 0.96, 0.84, folds=5),
        _cnnprom("bsubtilis", 0.91, 0.95, 0.86, folds=5),
        Row(
            "ctcf_peaks",
            ("experiment=ctcf_peaks",),
            (
                Figure("ctcf_auroc", "AUROC", "test/auroc", 0.98),
                Figure("ctcf_auprc", "AUPRC", "test/auprc"),
            ),
            CTCF_DEMO,
        ),
        Row(
            "recipe_promoter_sigma70",
            ("recipe=promoter",),
            (
                Figure("recipe_promoter_sigma70_auroc", "AUROC", "test/auroc"),
                Figure("recipe_promoter_sigma70_mcc", "MCC", "test/mcc"),
                Figure("recipe_promoter_sigma70_sn", "Sn", "test/sensitivity"),
                Figure("recipe_promoter_sigma70_sp", "Sp", "test/specificity"),
            ),
        ),
        _cnnprom("ecoli", 0.90, 0.96, 0.84, recipe="promoter"),
        _cnnprom("bsubtilis", 0.91, 0.95, 0.86, recipe="promoter"),
        Row(
            "recipe_tf_binding_ctcf",
            (
                "recipe=tf_binding",
                "data=table",
                f"data.table={{_target_:seqnn.data.embedded.ctcf_table,peaks:'{CTCF_ALL}'}}",
                *LABEL,
            ),
            (
                Figure("recipe_tf_binding_ctcf_auroc", "AUROC", "test/auroc", 0.98),
                Figure("recipe_tf_binding_ctcf_auprc", "AUPRC", "test/auprc"),
                Figure("recipe_tf_binding_ctcf_mcc", "MCC", "test/mcc"),
            ),
            CTCF_DEMO + " (all 39,184 peaks)",
            needs=(CTCF_ALL,),
        ),
    )
}


@dataclass
class Result:
    """What one run measured, and how it was set up."""

    metrics: dict[str, float]
    wall_s: float
    cpu_s: float  # user + system seconds of this process, all threads
    load: float  # the machine's 1-minute load average, mean of the start and the end
    seed: int | str  # str: several seeds ("12345, 1, 2 (mean)")
    split: str
    command: str
    date: str
    per_seed: list[dict[str, float]] | None = None  # --seeds: each seed's metrics
    seed_mean: dict[str, float] | None = None  # --ensemble: the single models' mean metrics


def available(row: Row) -> bool:
    """Whether this seqnn installs the row's experiment config and its files exist."""
    if not all(Path(path).is_file() for path in row.needs):
        return False
    if row.experiment is None:
        return True
    return (resources.files("seqnn.configs") / "experiment" / f"{row.experiment}.yaml").is_file()


def describe_split(data: dict[str, Any]) -> str:
    """The split a data config makes, in words (see SequenceDataModule)."""
    val, test = data.get("val_fraction"), data.get("test_fraction")
    if data.get("folds"):
        return f"stratified {data['folds']}-fold CV, val {val:.0%} (seed {data.get('seed')})"
    if data.get("val_chroms") or data.get("test_chroms"):
        return f"held-out contigs: val {data.get('val_chroms')}, test {data.get('test_chroms')}"
    fractions = f"val {val:.0%} / test {test:.0%}"
    if data.get("table") is not None:
        return f"stratified random, {fractions} (seed {data.get('seed')})"
    n_blocks = data.get("n_blocks")
    return f"held-out genome blocks ({n_blocks}), {fractions} (seed {data.get('seed')})"


def run_seeds(
    row: Row, runs: Path, overrides: list[str], seeds: list[int], reuse: bool = False
) -> Result:
    """The row once per training seed (runs under ``<runs>/seed_<S>``); the mean of each metric
    over the seeds, each seed's metrics in ``per_seed``, summed wall and CPU time."""
    results = [run_row(row, runs / f"seed_{s}", [*overrides, f"seed={s}"], reuse) for s in seeds]
    mean = _mean_result(results)
    mean.seed = ", ".join(map(str, seeds)) + " (mean)"
    mean.per_seed = [r.metrics for r in results]
    # the seed override is the last one of each run's command; a sweep over seeds needs -m
    command = mean.command.removesuffix(f" seed={seeds[0]}")
    command = command if " -m " in command else command.replace("seqnn-train", "seqnn-train -m", 1)
    mean.command = f"{command} seed={','.join(map(str, seeds))}"
    return mean


def _mean_result(results: list[Result]) -> Result:
    """The mean of each metric over runs (NaN where one lacks it), summed wall and CPU time,
    the first run's setup."""
    first = results[0]
    return Result(
        metrics={
            k: statistics.fmean(r.metrics.get(k, math.nan) for r in results) for k in first.metrics
        },
        wall_s=sum(r.wall_s for r in results),
        cpu_s=sum(r.cpu_s for r in results),
        load=statistics.fmean(r.load for r in results),
        seed=first.seed,
        split=first.split,
        command=first.command,
        date=first.date,
    )


def run_row(row: Row, runs: Path, overrides: list[str], reuse: bool = False) -> Result:
    """Train and test the row (each fold of a cross-validation row); returns what it measured:
    for folds, the mean of each metric, and the summed wall and CPU time. ``reuse``: a run
    folder that already holds a tested run is read instead (:func:`reused_run`)."""

    def one(run_dir: Path, run_overrides: list[str]) -> Result:
        done = reuse and (run_dir / "metrics.json").is_file()
        return (reused_run if done else run_one)(row, run_dir, run_overrides)

    if row.folds is None:
        return one(runs / row.name, overrides)
    results = [
        one(runs / row.name / f"fold_{k}", [*fold_overrides(row.folds, k), *overrides])
        for k in range(row.folds)
    ]
    folds = ",".join(map(str, range(row.folds)))
    mean = _mean_result(results)
    mean.command = " ".join(
        ("seqnn-train -m", *row.overrides, f"data.folds={row.folds} data.fold={folds}", *overrides)
    )
    return mean


def fold_overrides(folds: int, fold: int) -> list[str]:
    """The Hydra overrides of one fold's run."""
    return [f"data.folds={folds}", f"data.fold={fold}"]


def compose_run(row: Row, run_dir: Path, overrides: list[str]):
    """The run's config, composed from the packaged configs as its command would be."""
    from hydra import compose, initialize_config_module

    with initialize_config_module("seqnn.configs", version_base="1.3"):
        return compose(
            config_name="train",
            overrides=[
                *row.overrides,
                "logger=csv",
                "~callbacks.progress_bar",
                f"hydra.run.dir={run_dir}",
                f"hydra.runtime.output_dir={run_dir}",
                "hydra.job.num=0",
                *overrides,
            ],
            return_hydra_config=True,
        )


def run_one(row: Row, run_dir: Path, overrides: list[str]) -> Result:
    """Compose the row's config as its command would, train, test; returns what it measured
    (also written to ``<run_dir>/reproduce.json`` for ``--reuse``)."""
    from hydra.core.hydra_config import HydraConfig

    from seqnn.atomic import atomic_open
    from seqnn.cli.train import train

    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = compose_run(row, run_dir, overrides)
    HydraConfig().set_config(cfg)
    load, start, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
    metrics = train(cfg)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    result = Result(
        metrics={k: float(v) for k, v in metrics.items()},
        wall_s=wall,
        cpu_s=cpu,
        load=(load + os.getloadavg()[0]) / 2,
        **_setup(row, cfg, overrides),
        date=datetime.date.today().isoformat(),
    )
    with atomic_open(run_dir / "reproduce.json") as fh:
        json.dump(dataclasses.asdict(result), fh)
    return result


def _setup(row: Row, cfg, overrides: list[str]) -> dict[str, Any]:
    from omegaconf import OmegaConf

    return {
        "seed": int(cfg.seed),
        "split": describe_split(OmegaConf.to_container(cfg.data, resolve=True)),
        "command": _command(row, overrides),
    }


def _command(row: Row, overrides: list[str]) -> str:
    """The seqnn-train command line of one run."""
    return " ".join(("seqnn-train", *row.overrides, *overrides))


def reused_run(row: Row, run_dir: Path, overrides: list[str]) -> Result:
    """What an earlier run in ``run_dir`` measured (``--reuse``): its ``reproduce.json``, or
    for a run without one its ``metrics.json``, with the time figures unknown (NaN) and the
    date of the file."""
    record = run_dir / "reproduce.json"
    if record.is_file():
        result = Result(**json.loads(record.read_text()))
        command = _command(row, overrides)
        if result.command != command:
            raise SystemExit(
                f"{run_dir}: made by `{result.command}`, not `{command}`: give another --runs "
                "folder, or the same --overrides, or drop --reuse"
            )
        return result
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    return Result(
        metrics={k: float(v) for k, v in metrics.items()},
        wall_s=math.nan,
        cpu_s=math.nan,
        load=math.nan,
        **_setup(row, compose_run(row, run_dir, overrides), overrides),
        date=datetime.date.fromtimestamp(metrics_file.stat().st_mtime).isoformat(),
    )


def ensemble_seeds(
    row: Row, runs: Path, overrides: list[str], seeds: list[int], trained: Result
) -> Result:
    """The seeds' models of each test set averaged into one (``seqnn-ensemble``: their logits
    averaged) and scored on that test set, the split's rows as the runs' data config dealt
    them (checked: each seed's own model scores its logged test AUROC on those rows); for a CV
    row the mean over the folds, with each figure's 95% bootstrap interval
    (``test/<metric>/ci_low`` / ``ci_high``: every test set's rows resampled). ``trained``
    (:func:`run_seeds`' result) gives the time (the ensemble costs all its seeds' training),
    ``per_seed`` and ``seed_mean``."""
    from hydra.utils import instantiate

    from seqnn import load_pretrained
    from seqnn.inference.ensemble import ensemble_pretrained
    from seqnn.inference.evaluate import bootstrap_interval, evaluate_table, score, truth_of
    from seqnn.inference.predict import predict_sequences

    fold_parts = (
        [[]] if row.folds is None else [fold_overrides(row.folds, k) for k in range(row.folds)]
    )
    folders = (
        [row.name] if row.folds is None else [f"{row.name}/fold_{k}" for k in range(row.folds)]
    )
    scored, parts, ensembles = [], [], []  # parts: each test set's predictions and truth
    for part, folder in zip(fold_parts, folders, strict=True):
        run_dirs = [runs / f"seed_{s}" / folder for s in seeds]
        cfg = compose_run(row, run_dirs[0], [*part, *overrides, f"seed={seeds[0]}"])
        data = instantiate(cfg.data)
        test = data.split_frame("test")
        models = [load_pretrained(d / "model") for d in run_dirs]
        for run_dir, model in zip(run_dirs, models, strict=True):
            # each seed's model on these rows gives its logged figures
            logged = json.loads((run_dir / "metrics.json").read_text())["test/auroc"]
            again = evaluate_table(model, test)["auroc"]
            if abs(again - logged) > 1e-4:
                raise SystemExit(
                    f"{run_dir}: its model scores AUROC {again:.4f} on the test rows of "
                    f"{row.name} {' '.join(part)}, its run logged {logged:.4f}: not the run's "
                    "test set (were the runs made with other --overrides?)"
                )
        ensemble = ensemble_pretrained(models, tuned_threshold(cfg, data, models))
        predicted = predict_sequences(ensemble, test["sequence"].tolist()).to_numpy()
        parts.append((predicted, truth_of(test, ensemble, None, f"{row.name} {folder}")))
        scored.append({f"test/{k}": v for k, v in score(ensemble, *parts[-1]).items()})
        scored[-1]["test/threshold"] = ensemble.threshold
        ensembles.append(ensemble)
    # the 95% bootstrap interval of the (fold-mean) figures: each test set resampled
    interval = bootstrap_interval(ensembles, parts, level=CI_LEVEL)
    result = dataclasses.replace(
        trained,
        metrics={k: statistics.fmean(m[k] for m in scored) for k in scored[0]}
        | {f"test/{k}": v for k, v in interval.items()},
        seed=", ".join(map(str, seeds)) + " (ensemble)",
        seed_mean=trained.metrics,
    )
    result.command = f"{trained.command}; seqnn-ensemble of the seeds' models"
    return result


def tuned_threshold(cfg, data, models) -> float | None:
    """For runs whose config tunes the decision threshold (a ``TuneThreshold`` callback),
    the ensemble's own: its threshold by the callback's rule on the split's validation rows,
    as each member chose its own; None (the members' common threshold) otherwise."""
    from seqnn.callbacks import threshold_rule
    from seqnn.inference.ensemble import ensemble_pretrained
    from seqnn.inference.evaluate import best_threshold

    rule = threshold_rule(cfg)
    if rule is None:
        return None
    ensemble = ensemble_pretrained(models, threshold=0.5)
    return best_threshold(ensemble, data.split_frame("val"), rule=rule)


def _value(metrics: dict[str, float], figure: Figure) -> float:
    return float(metrics.get(figure.metric, math.nan))


def _join(pairs: list[tuple[str, float | None]], digits: int) -> str:
    """``Sn 0.714 / Sp 0.963``: the figures that exist (NaN: not logged -> n/a)."""
    shown = [
        f"{label} {'n/a' if math.isnan(value) else f'{value:.{digits}f}'}"
        for label, value in pairs
        if value is not None
    ]
    return " / ".join(shown) if shown else "—"


def _interval(metrics: dict[str, float], figure: Figure) -> tuple[float, float] | None:
    """A figure's bootstrap interval, where the result has one (``--ensemble``)."""
    low, high = (metrics.get(f"{figure.metric}/ci_{end}") for end in ("low", "high"))
    return None if low is None or high is None else (low, high)


def _intervals(row: Row, result: Result) -> str:
    """`` (95% CI: Sn 0.89-0.95 / ...)`` for a result with intervals, else nothing."""
    shown = []
    for figure in row.figures:
        found = _interval(result.metrics, figure)
        if found is not None:
            shown.append(f"{figure.label} {found[0]:.3f}-{found[1]:.3f}")
    return f" ({CI_LEVEL:.0%} CI: {' / '.join(shown)})" if shown else ""


def format_row(row: Row, result: Result) -> str:
    """The row's line of the markdown results table."""
    cells = [
        row.name,
        f"`{result.command}`",
        _join([(f.label, _value(result.metrics, f)) for f in row.figures], 3)
        + _intervals(row, result),
        _join([(f.label, f.published) for f in row.figures], 2),
        str(result.seed),
        result.split,
        (
            "n/a (earlier runs, reused)"
            if math.isnan(result.wall_s)
            else f"{result.wall_s:.0f} s (CPU {result.cpu_s:.0f} s, load {result.load:.1f})"
        ),
        result.date,
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| row | command | ours (test set) | published | seed | split | wall on 2 CPU cores | run |",
    "|---|---|---|---|---|---|---|---|",
)


def results_markdown(lines: dict[str, str], sections: str = "") -> str:
    """docs/results.md: the intro, the table (rows in ROWS order), the sources, then
    ``sections`` (the hand-written ``## `` sections of the earlier file, kept as they are)."""
    sources = sorted({f"- {r.name}: {r.source}" for r in ROWS.values() if r.source})
    generated = "\n".join(
        [
            "# Results",
            "",
            "Measured by `python scripts/reproduce.py` (`--only NAME` reruns one row). Each row",
            "trains the configuration its command selects (same configs, seed and split), tests",
            "the best checkpoint by the experiment's monitored validation metric on the held-out",
            "test set, and reports the test figures; Sn, Sp and MCC at the model's decision",
            "threshold: the cut its `TuneThreshold` rule chose on the validation rows (an",
            "ensemble's own, by the same rule; seqnn-train's default since 2026-12-07: rows",
            "measured before were called at 0.5 unless their experiment tuned, as",
            "cnnprom_bsubtilis did), or `task.threshold` (0.5) where the config says",
            "`rule: fixed` (cnnprom_ecoli). A `_cv5` row runs the 5-fold stratified",
            "cross-validation, one run per fold, and reports the mean over the 5 test folds.",
            "A row whose seed column lists several seeds (`--seeds`) was trained once per",
            "training seed on the same split and reports the mean over the seeds; one whose",
            "seed column says (ensemble) scores each test set with the seeds' models averaged",
            "into one (`seqnn-ensemble`, logits averaged; `--seeds ... --ensemble`), with each",
            "figure's 95% percentile bootstrap interval (1,000 resamples of every test fold's",
            "rows, within the fold: `seqnn.inference.evaluate.bootstrap_interval`). Wall time",
            "n/a: the runs were made by an earlier invocation and read back (`--reuse`).",
            "Wall time is fit + test (summed over folds) in one process on 2 CPU cores of a",
            "machine shared with other jobs; the CPU seconds of the process and the machine's",
            "load average (mean of the 1-minute figure at the start and the end; 2.0 = both",
            "cores busy) say how crowded it was.",
            "",
            *HEADER,
            *(lines[name] for name in ROWS if name in lines),
            "",
            "Published figures:",
            "",
            *sources,
            "",
        ]
    )
    return generated + sections


def existing_sections(path: Path) -> str:
    """The hand-written part of an earlier results file: from its first ``## `` heading on
    (how the recipes were found), which a rerun keeps."""
    text = path.read_text() if path.is_file() else ""
    start = text.find("\n## ")
    return text[start:] if start >= 0 else ""


def existing_lines(path: Path) -> dict[str, str]:
    """Table lines of an earlier results file, by row name (kept for rows not rerun)."""
    if not path.is_file():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        name = line.split("|")[1].strip() if line.startswith("|") else ""
        if name in ROWS:
            found[name] = line
    return found


def _rounded(value: float, digits: int = 4) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def bench_lines(row: Row, result: Result) -> list[str]:
    """One JSON line per figure (with the published value where there is one) + wall time."""
    lines = []
    for figure in row.figures:
        value = _value(result.metrics, figure)
        line = {
            "bench": figure.bench,
            "value": _rounded(value),
            "unit": "",
        }
        if figure.published is not None:
            line["published"] = figure.published
        if result.seed_mean is not None:
            line["seed_mean"] = _rounded(_value(result.seed_mean, figure))
        if result.per_seed is not None:
            line["per_seed"] = [_rounded(_value(m, figure)) for m in result.per_seed]
        if (interval := _interval(result.metrics, figure)) is not None:
            line["ci95"] = [_rounded(v) for v in interval]
        lines.append(json.dumps(line))
    wall = {"bench": f"{row.bench}_wall_s", "value": _rounded(result.wall_s, 1), "unit": "s"}
    return [*lines, json.dumps(wall)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", action="append", choices=list(ROWS), help="run this row")
    parser.add_argument(
        "--out", default=str(REPO / "docs" / "results.md"), help="results table; '-': none"
    )
    parser.add_argument("--runs", type=Path, default=None, help="run folders (default: temp)")
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=None, help="training seeds: report their mean"
    )
    parser.add_argument(
        "--ensemble",
        action="store_true",
        help="with --seeds: report the ensemble of the seeds' models on each test set (and "
        "their single-model mean as seed_mean)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="read runs already in --runs (their reproduce.json, else metrics.json) instead "
        "of training them again",
    )
    args = parser.parse_args(argv)
    if args.ensemble and len(args.seeds or []) < 2:
        parser.error("--ensemble needs --seeds with two seeds or more")
    return args


def write_results(path: Path, lines: dict[str, str]) -> None:
    """Rewrite the results file with these rows, keeping its other rows (temp file + rename)."""
    from seqnn.atomic import atomic_open

    merged = {**existing_lines(path), **lines}
    with atomic_open(path) as fh:
        fh.write(results_markdown(merged, existing_sections(path)))


def main(argv: list[str] | None = None) -> dict[str, Result]:
    """Run the rows one after another (skipping those without their config); after each,
    print its JSON lines and update the results file, so a failed row loses only itself."""
    args = parse_args(argv)
    runs = (args.runs or Path(tempfile.mkdtemp(prefix="seqnn_reproduce_"))).resolve()
    results, lines = {}, {}
    for name in args.only or list(ROWS):
        row = ROWS[name]
        if not available(row):
            print(f"skipping {name}: no configs/experiment/{row.experiment}.yaml", file=sys.stderr)
            continue
        if args.seeds:
            results[name] = run_seeds(row, runs, args.overrides, args.seeds, args.reuse)
            if args.ensemble:
                results[name] = ensemble_seeds(
                    row, runs, args.overrides, args.seeds, results[name]
                )
        else:
            results[name] = run_row(row, runs, args.overrides, args.reuse)
        lines[name] = format_row(row, results[name])
        print("\n".join(bench_lines(row, results[name])), flush=True)
        if args.out != "-":
            write_results(Path(args.out), lines)
    print("\n".join([*HEADER, *lines.values()]))
    if args.out != "-" and lines:
        print(f"wrote {args.out}")
    print(f"runs under {runs}")
    return results


if __name__ == "__main__":
    main()
