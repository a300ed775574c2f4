"""Hydra entry point: ``seqnn-train`` / ``python -m seqnn.cli.train``.

``train(cfg)`` seeds, instantiates data, task (with its network), callbacks, loggers and the
Trainer from ``configs/``, fits (resuming from ``ckpt_path`` if given), tests the best checkpoint,
exports the best network and returns the metrics. Examples::

    seqnn-train                                   # BassetCNN on the embedded E. coli promoters
    seqnn-train model=rnn trainer=gpu
    seqnn-train experiment=cnnprom_ecoli
    seqnn-train -m model=cnn,rnn model.n_filters=64,128
    seqnn-train ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt   # exact resume
    seqnn-train init_from=outputs/runs/<run>/model  # fine-tune from a pretrained package
    seqnn-train init_from=ctcf-peaks model=finetune callbacks=finetune   # new head, frozen trunk
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.errors import InstantiationException
from lightning.pytorch.callbacks import WeightAveraging
from omegaconf import DictConfig, OmegaConf

from seqnn.cli.config_targets import check_targets
from seqnn.cli.data_qc import card_figures, test_margins, train_qc
from seqnn.cli.run_dir import CheckedCheckpointIO, continue_logs, register_run_dir_resolver
from seqnn.cli.run_report import export_best, report_run
from seqnn.cli.search import cross_validated
from seqnn.errors import SeqnnInputError, exit_on_bad_input
from seqnn.inference.pretrained import PretrainedError, load_checkpoint, load_pretrained

log = logging.getLogger("seqnn.train")
# the loggers Lightning gives a console handler of its own when it is imported
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")
# where Lightning's rank_zero_info writes its advertisements ("💡 Tip: ... litlogger ...")
LIGHTNING_RANK_ZERO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)


# torch deprecated its pytree class LeafSpec, which Lightning still uses on every step
LEAF_SPEC_DEPRECATION = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


def _not_a_tip(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("💡 Tip")


def quiet_lightning_console() -> None:
    """Print each of Lightning's log lines once, none of its advertisements, and none of the
    deprecation warnings between Lightning and torch that a seqnn user cannot act on.

    Lightning gives its loggers a console handler of their own when imported, and also lets
    their records reach the root logger, whose handlers Hydra's job logging set up under
    ``seqnn-train`` (the console and ``train.log``): every line was printed twice. When the
    root logger has handlers, Lightning's own go. Lightning's "💡 Tip" lines (for its cloud
    products, which seqnn does not use) are dropped everywhere. Call it after importing
    Lightning; calling it again changes nothing.
    """
    if logging.getLogger().handlers:
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True
    for name in LIGHTNING_RANK_ZERO_LOGGERS:
        logging.getLogger(name).addFilter(_not_a_tip)
    warnings.filterwarnings("ignore", message=LEAF_SPEC_DEPRECATION, category=FutureWarning)


class MissingSettingError(SeqnnInputError):
    """A required (``???``) key of the composed config left unset; names the key(s)."""


def check_required(cfg: DictConfig) -> None:
    """Raise :class:`MissingSettingError` naming every required (``???``) key left unset,
    before anything runs, and how to set it (e.g. ``data=table`` needs ``data.table``,
    ``data.target_columns``)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        example = " ".join(f"{key}=..." for key in missing)
        raise MissingSettingError(
            f"missing setting(s) {', '.join(missing)}: add {example} to the command line "
            "(seqnn-train --help says what each means)"
        )


# Old override keys and their new names: a one-line error instead of Hydra's "not in struct".
RENAMED_KEYS = {
    "data.seq_len": "data.input_length=",
    "data.length": "data.input_length=",
    "model.seq_len": "model.input_length= (model.max_input_length= for model=transformer)",
}
# configs/hydra/default.yaml's run folder: known before @hydra.main composes the config
register_run_dir_resolver()


def instantiate(config: Any, *args: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, with bad input raised as itself: Hydra wraps what a
    constructor raises in its own exception, which would hide the one-line message (the file,
    the setting and the fix) behind a traceback."""
    try:
        return hydra.utils.instantiate(config, *args, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        while isinstance(cause, InstantiationException):  # nested objects wrap it again
            cause = cause.__cause__
        if isinstance(cause, SeqnnInputError):
            raise cause from None
        raise


def instantiate_dict(cfg: DictConfig | None) -> list[Any]:
    """Instantiate every ``_target_`` entry of a callbacks/logger group (None entries skipped)."""
    if not cfg:
        return []
    return [instantiate(c) for c in cfg.values() if c and "_target_" in c]


def data_target_names(cfg: DictConfig, datamodule: Any) -> dict[str, list[str]]:
    """``target_names=`` from the data (table columns, peak-file or bigWig names) for a task
    whose config leaves ``target_names: null``, when there is one name per output; so that
    metrics read ``val/auroc/ctcf`` rather than ``val/auroc/0`` and the exported model
    names its columns."""
    if "target_names" not in cfg.task or cfg.task.target_names is not None:
        return {}
    names = [str(n) for n in getattr(datamodule, "target_names", None) or []]
    n_targets = cfg.task.get("n_targets")
    return {"target_names": names} if names and len(names) == n_targets else {}


def measured_input_length(cfg: DictConfig, datamodule: Any) -> None:
    """Set ``data.input_length: null`` to the length the data module measured, so that the
    model's ``${data.input_length}`` and the model card hold the length trained on."""
    if cfg.data.get("input_length", 0) is None and hasattr(datamodule, "input_length"):
        cfg.data.input_length = int(datamodule.input_length)
        log.info("data.input_length=null: %d bp, measured from the data", cfg.data.input_length)


def refuse_renamed_keys(overrides: Sequence[str], prog: str = "seqnn-train") -> None:
    """Exit with one ``<prog>: error:`` line (status 2) for an override of a renamed key
    (``data.seq_len=200``), naming the new key."""
    with exit_on_bad_input(prog):
        for override in overrides:
            key = override.split("=", 1)[0].lstrip("+~")
            if "=" in override and key in RENAMED_KEYS:
                raise SeqnnInputError(
                    f"{key}= is now {RENAMED_KEYS[key]}: rename it in the command line (the "
                    "input length in bp has one name)"
                )


def balanced_loss(cfg: DictConfig, datamodule: Any) -> dict[str, Any]:
    """``loss.pos_weight`` from the training rows (``datamodule.positive_weight()``) for a
    task whose config says ``pos_weight: balanced``; each fold of a CV sweep gets its own."""
    loss = cfg.task.get("loss")
    if not loss or loss.get("pos_weight") != "balanced":
        return {}
    weights = datamodule.positive_weight()
    log.info("task.loss.pos_weight=balanced: %s (negatives / positives, training rows)", weights)
    return {"loss": {"pos_weight": weights}}


def instantiate_task(cfg: DictConfig, datamodule: Any) -> Any:
    """The task module of ``cfg`` (its network inside) with what only the data knows filled
    in: target names, and ``loss.pos_weight: balanced`` resolved from the training rows. Use
    it (not ``instantiate(cfg.task)``) to build a module from a composed config."""
    return instantiate(
        cfg.task,
        _convert_="all",
        **data_target_names(cfg, datamodule),
        **balanced_loss(cfg, datamodule),
    )


def init_from_pretrained(module: Any, source: str, strict: bool = True) -> list[str]:
    """Start ``module.net`` from the weights of a pretrained package (fine-tuning):
    ``seqnn-train init_from=<package>``. Every tensor must match one of the package's by name
    and shape; with ``strict=False`` the ones that do not (a new output head for other
    targets) keep their fresh initial values and are returned by name, and the package's
    tensors that this network lacks are left out.

    Raises:
        PretrainedError: naming the package and the tensors that differ (strict), or when no
            parameter at all matches (another network).
    """
    theirs = load_pretrained(source).net.state_dict()
    own = module.net.state_dict()
    fits = {k: v for k, v in theirs.items() if k in own and v.shape == own[k].shape}
    fresh = sorted(own.keys() - fits.keys())
    unused = sorted(theirs.keys() - fits.keys())
    differences = _differences(own, theirs, fresh, unused)
    if not any(name in fits for name, _ in module.net.named_parameters()) or (
        strict and differences
    ):
        raise PretrainedError(
            f"{source}: init_from: {len(fresh)} of this network's tensors and {len(unused)} of "
            f"the package's do not match by name and shape: {differences}. Train the same model "
            "(model=...) as the package, or pass init_strict=false to "
            "start only the tensors that match from it"
        )
    module.net.load_state_dict(fits, strict=False)
    log.info(
        "init_from=%s: %d tensors from the package, %d fresh, %d of the package's unused%s",
        source,
        len(fits),
        len(fresh),
        len(unused),
        f": {differences}" if differences else "",
    )
    return fresh


def _differences(own: dict, theirs: dict, fresh: list[str], unused: list[str]) -> str:
    """The first few names that differ, with both shapes (``package 8x8 vs ours 16x8``)."""

    def shape(state: dict, name: str) -> str:
        if name not in state:
            return "none"
        return "x".join(map(str, state[name].shape)) or "scalar"

    names = sorted({*fresh, *unused})
    shown = ", ".join(
        f"{n} (package {shape(theirs, n)} vs ours {shape(own, n)})" for n in names[:5]
    )
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def check_optimizer(module: L.LightningModule) -> None:
    """Build the task's optimiser and scheduler once before fitting, so that a bad setting
    (``task.optimizer.lr=abc``) is an error naming the settings, not a traceback after the
    data is loaded and the sanity check has run.

    Raises:
        SeqnnInputError: naming ``task.optimizer`` / ``task.scheduler`` and torch's reason.
    """
    try:
        module.configure_optimizers()
    except (TypeError, ValueError) as err:
        raise SeqnnInputError(
            f"task.optimizer / task.scheduler: {err}: check their settings "
            "(e.g. task.optimizer.lr=0.001)"
        ) from None


@dataclass
class Resume:
    """What a resume needs from its checkpoint, read once by :func:`resume_checkpoint`.

    Attributes:
        path: ``ckpt_path`` for ``Trainer.fit`` (a file's absolute path, or Lightning's name
            ``last`` / ``best`` / ``hpc``); None: no resume.
        step: the checkpoint file's ``global_step``, where the run's logs go on from.
        checkpoint: the checked contents, until :meth:`hand_to` gives them to the trainer.
    """

    path: str | None = None
    step: int | None = None
    checkpoint: dict[str, Any] | None = field(default=None, repr=False)

    def hand_to(self, trainer: L.Trainer) -> None:
        """``trainer.fit(ckpt_path=self.path)`` restores from the checked contents instead of
        reading the file again (:class:`~seqnn.cli.run_dir.CheckedCheckpointIO`); they are
        no longer held here."""
        if self.checkpoint is None:
            return
        strategy = trainer.strategy
        strategy.checkpoint_io = CheckedCheckpointIO(
            strategy.checkpoint_io, str(self.path), self.checkpoint
        )
        self.checkpoint = None


def resume_checkpoint(ckpt_path: Any) -> Resume:
    """``ckpt_path``, checked and read once. Lightning's names (``last``, ``best``, ``hpc``)
    pass. A path must be a local file that loads with ``weights_only=True``; its contents
    then go to Lightning as they were checked (:meth:`Resume.hand_to`), so a file swapped in
    after the check (or an environment that turns off torch's safe load) never reaches its
    unpickler, and a local name that starts with ``http`` or ``registry`` is never fetched as
    a URL (Lightning gets the absolute path).

    Raises:
        PretrainedError: a URL or registry name, a missing file, or a checkpoint that would
            need full pickle.
    """
    if not ckpt_path:
        return Resume()
    text = str(ckpt_path)
    if text in ("last", "best", "hpc"):
        return Resume(text)  # Lightning's own names: checkpoints of this run's folder
    if "://" in text or text.lower().startswith("registry:"):
        raise PretrainedError(
            f"ckpt_path={text}: give a local checkpoint file (download it first)"
        )
    path = Path(text)
    if not path.is_file():
        raise PretrainedError(f"ckpt_path={text}: no such checkpoint file (check the path)")
    checkpoint = load_checkpoint(path, name=text)
    if not isinstance(checkpoint, dict):
        raise PretrainedError(f"ckpt_path={text}: not a Lightning checkpoint (no dict inside)")
    step = checkpoint.get("global_step")
    return Resume(str(path.resolve()), None if step is None else int(step), checkpoint)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test one configuration; returns the logged metrics (val and test)."""
    quiet_lightning_console()
    check_targets(cfg)  # before anything is built
    resume = resume_checkpoint(cfg.get("ckpt_path"))  # before any data is read
    return _train(cfg, resume)


def _train(cfg: DictConfig, resume: Resume) -> dict[str, float]:
    """:func:`train` after the checks: instantiate, fit, test, export."""
    L.seed_everything(cfg.seed, workers=True)
    # _convert_="all": plain lists/dicts, so checkpoints hold no omegaconf objects
    datamodule: L.LightningDataModule = instantiate(cfg.data, _convert_="all")
    measured_input_length(cfg, datamodule)
    qc_dir = Path(cfg.paths.output_dir) / "qc"
    smoke = cfg.get("trainer", {}).get("fast_dev_run", False)
    qc_settings = instantiate(cfg.get("qc_settings"))
    qc = train_qc(cfg.get("qc", "off"), qc_settings, datamodule, qc_dir, smoke)
    module: L.LightningModule = instantiate_task(cfg, datamodule)
    check_optimizer(module)
    # a resume holds its own weights; model=finetune started its trunk from init_from already
    started = getattr(module.net, "pretrained_source", None)
    if cfg.get("init_from") and not cfg.get("ckpt_path") and not started:
        init_from_pretrained(module, cfg.init_from, strict=cfg.get("init_strict", True))
    if cfg.get("compile"):
        module.net = torch.compile(module.net)
    callbacks = instantiate_dict(cfg.get("callbacks"))
    loggers = instantiate_dict(cfg.get("logger"))
    continue_logs(loggers, resume.step)  # a resume goes on with its run's logs
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    resume.hand_to(trainer)  # fit restores from the checkpoint read once, above
    if loggers:
        for lg in loggers:
            lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    trainer.fit(module, datamodule=datamodule, ckpt_path=resume.path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if cfg.get("test") and not trainer.fast_dev_run:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if best and any(isinstance(c, WeightAveraging) for c in trainer.callbacks):
            # the checkpoint's state_dict holds the averaged weights (what was validated and is
            # exported), but WeightAveraging.on_load_checkpoint would put the raw ones back
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state)
            best = ""
        tested = trainer.test(module, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({k: float(v) for k, v in tested[0].items()} if tested else {})
        metrics.update(test_margins(qc, metrics))
    if trainer.is_global_zero:
        export_best(trainer, module, cfg, metrics, datamodule, card_figures(qc, qc_dir))
        report_run(trainer, cfg, metrics)
    return metrics


def main() -> float | None:
    """Console entry point: renamed keys (``data.seq_len=``) get a one-line error naming the
    new key, before Hydra composes the config."""
    refuse_renamed_keys(sys.argv[1:])
    return hydra_main()


@hydra.main(version_base="1.3", config_path="pkg://seqnn.configs", config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    """Hydra's entry point; returns the optimised metric so sweeps (``-m``) can use it.

    Bad input (a required setting left out, a missing or malformed data file) prints one
    ``seqnn-train: error: ...`` line and exits with status 2, like seqnn's other tools,
    instead of Hydra's traceback.
    """
    with exit_on_bad_input("seqnn-train"):
        check_required(cfg)
        if cfg.get("search_folds"):
            return cross_validated(cfg, train)
        metrics = train(cfg)
    value = metrics.get(cfg.monitor.metric)
    return None if value is None else float(value)


if __name__ == "__main__":
    main()
