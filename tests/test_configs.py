"""Every option of every config group composes and instantiates; bad configs fail clearly.

Composes ``train.yaml`` from the installed package (``pkg://seqnn.configs``) the way
``seqnn-train`` does, with ``hydra.runtime.output_dir`` set to a tmp folder so that
``${hydra:runtime.output_dir}`` resolves. Nothing here trains: see test_train.py.
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import hydra.core.utils
import lightning as L
import pytest
import torch
from genome_files import coverage_overrides, experiment_overrides, peaks_overrides
from hydra.errors import MissingConfigException
from hydra.utils import instantiate
from hydra_run import CONFIGS, compose_train, options, seqnn_cache  # noqa: F401
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import MissingMandatoryValue

from seqnn.callbacks import RNGStateCheckpoint
from seqnn.cli.run_dir import run_dir
from seqnn.cli.train import instantiate_dict, instantiate_task
from seqnn.tasks.profile import ProfileModule

GROUPS = ("data", "model", "task", "trainer", "callbacks", "logger", "paths", "hydra", "debug")
# groups with their own tests below; a new folder in configs/ fails test_every_group_is_tested
# (recipe: tests/test_recipes.py; hparams_search: tests/test_search.py)
TESTED_GROUPS = {*GROUPS, "experiment", "recipe", "hparams_search"}


def task_cfg(cfg: DictConfig) -> DictConfig:
    """The config without its hydra node (what ``train(cfg)`` gets)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def val_metric_names(module: L.LightningModule, n: int = 8, length: int | None = None) -> set[str]:
    """Names a validation epoch logs: run the module's val step on random codes."""
    x = torch.randint(0, 4, (n, length or module_input_length(module)), dtype=torch.uint8)
    if isinstance(module, ProfileModule):  # counts (N, T, L_out) shaped like the profile head
        with torch.no_grad():
            shape = module(x)[0].shape
        y = (torch.arange(shape.numel()) % 3).float().reshape(shape)
    elif hasattr(module, "val_metrics") and module.hparams.get("task") == "multiclass":
        y = torch.arange(n) % module.hparams.n_targets
    else:
        n_targets = module.hparams.get("n_targets") or 1
        y = (torch.arange(n * n_targets).reshape(n, n_targets) % 2).float()
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "You are trying to `self.log")  # no Trainer here
        module.validation_step((x, y), 0)
    return {"val/loss"} | set(module.val_metrics.compute())


def module_input_length(module: L.LightningModule) -> int:
    return getattr(module.net, "input_length", None) or 81


# ----------------------------------------------------------------------------- groups
def test_every_group_is_tested():
    found = {p.name for p in CONFIGS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert found - {"__pycache__"} <= TESTED_GROUPS
    for group in GROUPS:
        assert options(group), f"configs/{group}/ has no options"


def test_defaults_compose_and_resolve(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQNN_LOG_DIR", str(tmp_path / "logs"))
    cfg = compose_train([], tmp_path / "run")
    assert cfg.paths.output_dir == str(tmp_path / "run")
    assert cfg.paths.log_dir == str(tmp_path / "logs")
    assert cfg.hydra.run.dir.startswith(str(tmp_path / "logs" / "runs"))
    assert cfg.trainer.default_root_dir == str(tmp_path / "run")
    OmegaConf.to_container(task_cfg(cfg), resolve=True, throw_on_missing=True)


# ----------------------------------------------------------------------------- data
def write_table(path: Path, n: int = 40, length: int = 20) -> Path:
    rng = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (n, length), generator=rng)
    rows = ["sequence,label"] + [
        "".join("ACGT"[c] for c in row) + f",{i % 2}" for i, row in enumerate(codes.tolist())
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_genome(folder: Path, n_chroms: int = 3, length: int = 600) -> tuple[Path, Path]:
    rng = torch.Generator().manual_seed(1)
    fasta, bed = folder / "tiny.fa", folder / "tiny.bed"
    records, intervals = [], ["# chrom\tstart\tend\tname\tscore\tstrand\tlabel"]
    for c in range(1, n_chroms + 1):
        seq = "".join("ACGT"[i] for i in torch.randint(0, 4, (length,), generator=rng).tolist())
        records.append(f">chr{c}\n" + "\n".join(seq[i : i + 60] for i in range(0, length, 60)))
        for k, start in enumerate(range(0, length - 100, 50)):
            intervals.append(f"chr{c}\t{start}\t{start + 100}\tr{c}_{k}\t0\t+\t{k % 2}")
    fasta.write_text("\n".join(records) + "\n")
    bed.write_text("\n".join(intervals) + "\n")
    return fasta, bed


def data_overrides(option: str, folder: Path) -> list[str]:
    """What an option needs from its user (paths, columns) to build on tiny tmp inputs."""
    if option == "table":
        table = write_table(folder / "tiny.csv")
        return [f"data.table={table}", "data.target_columns=[label]", "data.input_length=20"]
    if option == "fasta":  # positives only: each with one dinucleotide shuffle
        table = write_table(folder / "tiny.csv").read_text().splitlines()[1::2]
        records = "".join(f">p{i}\n{row.split(',')[0]}\n" for i, row in enumerate(table))
        (folder / "positives.fa").write_text(records)
        return [f"data.table.positives={folder / 'positives.fa'}", "data.input_length=20"]
    if option == "intervals":
        fasta, bed = write_genome(folder)
        return [
            f"data.genome={fasta}",
            f"data.intervals={bed}",
            "data.target_columns=[label]",
            "data.input_length=50",
            "data.val_chroms=[chr2]",
            "data.test_chroms=[chr3]",
            "data.num_workers=0",
            "data.pin_memory=false",
        ]
    if option == "coverage":
        return [*coverage_overrides(folder), "data.input_length=400"]
    if option == "peaks":
        return [*peaks_overrides(folder), "data.input_length=200"]
    if option == "personal":
        return personal_overrides(folder)
    return []


def personal_overrides(folder: Path) -> list[str]:
    """A cohort of 10 people: a VCF (bgzipped + indexed) with one SNV per 100 bp and a
    target per (sample, region)."""
    pysam = pytest.importorskip("pysam")
    fasta, bed = write_genome(folder)
    samples = [f"p{i}" for i in range(10)]
    bases = {r.split()[0]: "".join(r.split()[1:]) for r in fasta.read_text().split(">")[1:]}
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">']
    lines += [f"##contig=<ID={c},length=600>" for c in bases]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    for c, seq in bases.items():
        for p in range(50, 600, 100):
            alt = "A" if seq[p - 1] != "A" else "C"
            lines.append(f"{c}\t{p}\t.\t{seq[p - 1]}\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(
                ["0|1", "1|1", "0|0", "1|0", "0|0"] * 2
            ))  # fmt: skip
    (folder / "cohort.vcf").write_text("\n".join(lines) + "\n")
    vcf = pysam.tabix_index(str(folder / "cohort.vcf"), preset="vcf", force=True)
    regions = [r.split("\t")[3] for r in bed.read_text().splitlines() if not r.startswith("#")]
    rows = [f"{s}\t{r}\t{i + 0.5}" for i, s in enumerate(samples) for r in regions]
    (folder / "targets.tsv").write_text("\n".join(["sample\tregion\ty", *rows]) + "\n")
    return [
        f"data.fasta={fasta}",
        f"data.vcf={vcf}",
        f"data.regions={bed}",
        f"data.targets={folder / 'targets.tsv'}",
        "data.input_length=50",
    ]


@pytest.mark.parametrize("option", options("data"))
def test_data_option_instantiates(option, tmp_path):
    cfg = compose_train([f"data={option}", *data_overrides(option, tmp_path)], tmp_path / "run")
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")  # checks n_targets / input_length against the data
    x, y = next(iter(datamodule.train_dataloader()))
    assert x.dtype == torch.uint8 and x.shape[1] == cfg.data.input_length  # codes (B, L)
    assert y.shape[0] == x.shape[0]
    assert all(len(datamodule.datasets[s]) > 0 for s in ("train", "val", "test"))


@pytest.mark.parametrize("option", [o for o in options("data") if o != "personal"])
def test_data_option_takes_training_transforms(option, tmp_path):
    """``data.transforms=[...]`` works without ``+`` on every option (recipes and the recipe
    selection grid set it), and reaches the training split only."""
    rc = "data.transforms=[{_target_:seqnn.data.ReverseComplement,p:0.5}]"
    overrides = [f"data={option}", *data_overrides(option, tmp_path), rc]
    datamodule = instantiate(compose_train(overrides, tmp_path / "run").data, _convert_="all")
    datamodule.setup("fit")
    assert [type(t).__name__ for t in datamodule.datasets["train"].transforms] == [
        "ReverseComplement"
    ]
    assert datamodule.datasets["val"].transforms == []


def test_missing_data_path_names_the_key(tmp_path):
    cfg = compose_train(["data=table"], tmp_path / "run")
    with pytest.raises(MissingMandatoryValue, match=r"data\.table"):
        instantiate(cfg.data, _convert_="all")


# ----------------------------------------------------------------------------- models, tasks
@pytest.mark.parametrize("option", options("model"))
def test_model_option_instantiates(option, tmp_path):
    start = ["init_from=ecoli-sigma70"] if option == "finetune" else []  # a package's network
    cfg = compose_train([f"model={option}", *start], tmp_path / "run")
    module = instantiate(cfg.task, _convert_="all")
    assert isinstance(module.net, torch.nn.Module)
    x = torch.randint(0, 4, (2, cfg.data.input_length), dtype=torch.uint8)  # default data: codes
    module.eval()
    with torch.no_grad():
        out = module.net(module.one_hot(x))
    if cfg.task._target_.endswith("AutoencoderModule"):
        out = out[0] if isinstance(out, tuple) else out  # the VAE gives (logits, mu, logvar)
        assert out.shape == (2, 4, cfg.data.input_length)
        assert module(x).shape == (2, cfg.model.latent_dim)  # the module's forward embeds
    else:
        assert out.shape == (2, cfg.data.n_targets)
    assert cfg.monitor.metric in val_metric_names(module)


def test_unknown_model_lists_the_options(tmp_path):
    with pytest.raises(MissingConfigException, match="Could not find 'model/nope'") as err:
        compose_train(["model=nope"], tmp_path / "run")
    for option in ("cnn", "rnn", "transformer"):
        assert option in str(err.value)


TASK_OVERRIDES = {
    "autoencoder": ["model=autoencoder"],
    "multiclass": ["data.n_targets=3"],
    "multilabel": ["data.n_targets=3"],
    # profile tasks need a two-headed net; the default (binary) data only gives them a
    # config to instantiate, val_metric_names makes profile-shaped targets
    "profile": ["model=resnet", "model.head=both"],
    "profile_poisson": ["model=resnet", "model.head=both", "data.n_targets=2"],
}


@pytest.mark.parametrize("option", options("task"))
def test_task_option_instantiates(option, tmp_path):
    cfg = compose_train([*TASK_OVERRIDES.get(option, []), f"task={option}"], tmp_path / "run")
    module = instantiate(cfg.task, _convert_="all")
    assert isinstance(module, L.LightningModule)
    optimizers = module.configure_optimizers()
    assert optimizers
    # the metric that checkpoints, early stopping and sweeps optimise is one the task logs
    assert cfg.monitor.metric in val_metric_names(module)


def test_coverage_profile_with_the_poisson_task_as_the_readme_says(tmp_path):
    overrides = ["experiment=coverage_profile", "task=profile_poisson"]
    with pytest.raises(Exception, match="count_weight"):  # what the README warns of
        instantiate(compose_train(overrides, tmp_path / "run").task, _convert_="all")
    cfg = compose_train([*overrides, "~task.loss.count_weight"], tmp_path / "run")
    assert isinstance(instantiate(cfg.task, _convert_="all"), L.LightningModule)


def test_experiment_cross_validation_fold_from_the_command_line(tmp_path):
    tests = []
    for fold in (0, 4):
        overrides = ["experiment=cnnprom_bsubtilis", "data.folds=5", f"data.fold={fold}"]
        datamodule = instantiate(compose_train(overrides, tmp_path / "run").data, _convert_="all")
        datamodule.setup()
        test = datamodule.datasets["test"]
        assert len(test) in (274, 275) and int(test.targets.sum()) in (74, 75)  # 1/5 of each
        tests.append({bytes(row) for row in test.codes})
    assert not tests[0] & tests[1]


def test_task_threshold_reaches_the_call_metrics(tmp_path):
    cfg = compose_train(["task.threshold=0.3"], tmp_path / "run")
    module = instantiate(cfg.task, _convert_="all")
    for name in ("mcc", "sensitivity", "specificity", "accuracy", "f1"):
        assert module.test_metrics[name].threshold == pytest.approx(0.3), name


# ----------------------------------------------------------------------------- trainer
COMPOSE_ONLY = {  # need a GPU to instantiate: check the values instead
    "gpu": {"accelerator": "gpu", "devices": 1, "precision": "bf16-mixed"},
    "ddp": {"accelerator": "gpu", "devices": 2, "strategy": "ddp", "precision": "bf16-mixed"},
}


# ids "trainer-gpu": a bare "gpu" id would be the `gpu` marker's keyword (skipped without CUDA)
@pytest.mark.parametrize("option", options("trainer"), ids=lambda o: f"trainer-{o}")
def test_trainer_option(option, tmp_path):
    cfg = compose_train([f"trainer={option}"], tmp_path / "run")
    if option in COMPOSE_ONLY:
        for key, value in COMPOSE_ONLY[option].items():
            assert cfg.trainer[key] == value, f"trainer/{option}.yaml: {key}"
        if not torch.cuda.is_available():
            return
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[], enable_progress_bar=False)
    assert isinstance(trainer, L.Trainer)
    assert trainer.default_root_dir == str(tmp_path / "run")
    if option == "ddp_cpu":
        assert type(trainer.strategy).__name__ == "DDPStrategy"
        assert trainer.strategy.process_group_backend == "gloo"
        assert trainer.num_devices == 2
        # torch's SyncBatchNorm refuses CPU modules ("only work with GPU modules")
        assert not cfg.trainer.sync_batchnorm
    if option == "deterministic":
        assert cfg.trainer.deterministic is True and cfg.trainer.accelerator == "cpu"


# ----------------------------------------------------------------------------- callbacks, loggers
@pytest.mark.parametrize("option", options("callbacks"))
def test_callbacks_option_instantiates(option, tmp_path):
    cfg = compose_train([f"callbacks={option}"], tmp_path / "run")
    callbacks = instantiate_dict(cfg.get("callbacks"))
    assert all(isinstance(c, L.Callback) for c in callbacks)
    if option == "default":
        kinds = {type(c).__name__ for c in callbacks}
        assert {"RunCheckpoint", "EarlyStopping", "RNGStateCheckpoint"} <= kinds
        checkpoint = next(c for c in callbacks if isinstance(c, ModelCheckpoint))
        assert checkpoint.dirpath == str(tmp_path / "run" / "checkpoints")
        assert checkpoint.monitor == cfg.monitor.metric
        assert any(isinstance(c, RNGStateCheckpoint) for c in callbacks)


@pytest.mark.parametrize("option", options("logger"))
def test_logger_option_instantiates(option, tmp_path):
    cfg = compose_train([f"logger={option}"], tmp_path / "run")
    loggers = instantiate_dict(cfg.logger)
    assert loggers
    for lg in loggers:
        assert Path(lg.log_dir).is_relative_to(tmp_path / "run")
    if option == "many":
        assert len(loggers) == 2


# ----------------------------------------------------------------------------- debug, experiments
@pytest.mark.parametrize("option", options("debug"))
def test_debug_option_composes(option, tmp_path):
    cfg = compose_train([f"debug={option}"], tmp_path / "run")
    callbacks = instantiate_dict(cfg.get("callbacks"))  # overfit sets early_stopping: null
    trainer = instantiate(cfg.trainer, logger=False, callbacks=callbacks)
    assert trainer.fast_dev_run or trainer.overfit_batches


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_composes_and_instantiates(option, tmp_path):
    overrides = experiment_overrides(option, tmp_path)
    cfg = compose_train([f"experiment={option}", *overrides], tmp_path / "run")
    OmegaConf.to_container(task_cfg(cfg), resolve=True, throw_on_missing=True)
    datamodule = instantiate(cfg.data, _convert_="all")
    assert isinstance(datamodule, L.LightningDataModule)
    module = instantiate_task(cfg, datamodule)  # as seqnn-train builds it
    assert cfg.monitor.metric in val_metric_names(module, length=cfg.data.input_length)
    callbacks = instantiate_dict(cfg.get("callbacks"))
    instantiate(cfg.trainer, logger=False, callbacks=callbacks)


def test_bpnet_experiment_reads_coverage_stores(tmp_path):
    """experiment=bpnet_coverage: a per-base store of both tracks built once, in the cache
    folder, at setup."""
    overrides = experiment_overrides("bpnet_coverage", tmp_path)
    cfg = compose_train(["experiment=bpnet_coverage", *overrides], tmp_path / "run")
    assert cfg.data.input_length - 2 * cfg.model.crop == cfg.data.targets.target_length
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup()
    targets = datamodule.datasets["train"].target_fn
    assert targets.cache and targets.store_bin_size == 1
    assert targets._store is not None  # built at setup, before any worker starts
    store = targets.store()
    assert store.path.is_file() and [p.name for p in store.bigwigs] == ["cov0.bw", "cov1.bw"]
    assert store.path.parent == Path(os.environ["SEQNN_CACHE_DIR"])  # hydra_run's folder
    assert store.path.name.startswith("cov0.bw.") and ".2tracks-" in store.path.name
    assert ".bin1." in store.path.name
    _, y = next(iter(datamodule.train_dataloader()))
    assert y.shape[1:] == (2, 200)


SUPERVISED_MODELS = ["cnn", "resnet", "rnn", "transformer", "kmer_cnn", "spectrum_mlp"]


@pytest.mark.parametrize("model", [*SUPERVISED_MODELS, "ensemble", "ensemble_cnn", "ensemble5"])
@pytest.mark.parametrize("option", ["cnnprom_ecoli", "cnnprom_bsubtilis"])
def test_experiment_takes_any_supervised_model(option, model, tmp_path):
    # an experiment's own model settings must not leak into another model=...
    cfg = compose_train([f"experiment={option}", f"model={model}"], tmp_path / "run")
    module = instantiate_task(cfg, instantiate(cfg.data, _convert_="all"))
    with torch.no_grad():
        out = module.eval().net(torch.rand(2, 4, cfg.data.input_length))
    assert out.shape == (2, 1)
    # pos_weight: balanced, from the training rows (~3.6 E. coli, ~2.7 B. subtilis)
    assert 2.5 < float(module.loss.pos_weight) < 3.8


@pytest.mark.parametrize(
    "overrides",
    [
        ["model@model.members.learned=cnn"],  # the README's swap
        ["+model@model.members.rnn=rnn"],  # add
        ["model.members.learned_wide=null"],  # drop
        ["model.members.learned.frame_features=64"],  # change
    ],
)
def test_ensemble_members_swap_add_drop_change(overrides, tmp_path):
    cfg = compose_train(["model=ensemble", *overrides], tmp_path / "run")
    net = instantiate(cfg.task, _convert_="all").net
    with torch.no_grad():
        assert net.eval()(torch.rand(2, 4, cfg.data.input_length)).shape == (2, 1)
    names = {n: type(m).__name__ for n, m in net.members.items()}
    if "learned=cnn" in overrides[0]:
        assert names["learned"] == "BassetCNN"
    if "rnn" in overrides[0]:
        assert names["rnn"] == "ConvRNN" and len(names) == 4
    if "null" in overrides[0]:
        assert "learned_wide" not in names
    if "frame_features" in overrides[0]:
        assert net.members["learned"].frames is not None
        assert net.members["learned_wide"].frames is None


# ----------------------------------------------------------------------------- hydra, launcher
@pytest.mark.parametrize("option", options("hydra"))
def test_hydra_option_composes(option, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQNN_LOG_DIR", str(tmp_path))
    cfg = compose_train([f"hydra={option}"], tmp_path / "run")
    assert Path(cfg.hydra.run.dir).parent == tmp_path / "runs"
    assert Path(cfg.hydra.sweep.dir).parent == tmp_path / "multiruns"


class FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None) -> datetime:
        return cls(2026, 12, 7, 5, 0, 0)


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQNN_LOG_DIR", str(tmp_path))
    monkeypatch.setattr(hydra.core.utils, "datetime", FrozenClock)  # Hydra's ${now:...}
    first, second = (compose_train([], tmp_path / "run").hydra for _ in range(2))
    for kind in ("run", "sweep"):  # single runs and multiruns (-m)
        folders = [Path(first[kind].dir), Path(second[kind].dir)]
        stem = tmp_path / f"{kind.replace('sweep', 'multirun')}s" / "2026-12-07_05-00-00"
        assert folders == [stem, stem.with_name(f"{stem.name}_1")]
        assert all(folder.is_dir() for folder in folders)


def test_run_folders_made_at_once_are_distinct(tmp_path):
    """mkdir is the claim: 8 threads asking for one name at the same moment get 8 folders."""
    name = str(tmp_path / "runs" / "2026-12-07_05-00-00")
    start = threading.Barrier(8)

    def claim(_: int) -> str:
        start.wait()
        return run_dir(name)

    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(claim, range(8)))
    assert len(set(folders)) == 8 and all(Path(f).is_dir() for f in folders)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(
        Path(f).name for f in folders
    )


def test_resume_runs_in_the_checkpoints_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQNN_LOG_DIR", str(tmp_path / "logs"))
    run = tmp_path / "logs" / "runs" / "2026-12-07_05-00-00"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    cfg = compose_train([f"ckpt_path={run}/checkpoints/last.ckpt"], tmp_path / "out")
    assert Path(cfg.hydra.run.dir) == run
    # a checkpoint that is not in a seqnn-train run: a new run folder
    (tmp_path / "elsewhere.ckpt").write_bytes(b"")
    cfg = compose_train([f"ckpt_path={tmp_path}/elsewhere.ckpt"], tmp_path / "out")
    assert Path(cfg.hydra.run.dir).parent == run.parent and Path(cfg.hydra.run.dir) != run


def test_slurm_launcher_composes(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    overrides = ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4"]
    cfg = compose_train(overrides, tmp_path / "run")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    # SLURM starts one task per GPU; Lightning reads the ranks from its environment
    assert launcher.tasks_per_node == launcher.gpus_per_node == 4
    assert launcher.nodes == cfg.trainer.num_nodes


def _set_values(node: dict, prefix: str = ""):
    """(dotted key, value) of every value an experiment file sets (an object as a whole)."""
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and "_target_" not in value:
            yield from _set_values(value, path)
        elif key != "defaults":
            yield path, value


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_lists_only_what_changes(option, tmp_path):
    # as the template's experiment/example.yaml: a key equal to what the experiment's own
    # data / model / task options give is noise (and hides which values make the recipe)
    raw = OmegaConf.to_container(OmegaConf.load(CONFIGS / "experiment" / f"{option}.yaml"))
    picked = [f"{k.removeprefix('override /')}={v}" for d in raw["defaults"] for k, v in d.items()]
    base = compose_train(picked, tmp_path / "run")
    for key, value in _set_values(raw):
        given = OmegaConf.select(base, key, default="<unset>")
        given = OmegaConf.to_container(given) if OmegaConf.is_config(given) else given
        assert given != value, f"experiment/{option}.yaml: {key}: {value!r} is the default"
