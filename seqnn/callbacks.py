"""Lightning callbacks of seqnn.

:class:`RunCheckpoint` is Lightning's ModelCheckpoint (the best checkpoints) with a ``last.ckpt``
that always holds the run's latest state: after every epoch (its learning-rate schedulers
stepped) and every ``every_n_train_steps`` steps, so a killed run resumes where it was.

:class:`RNGStateCheckpoint` puts the torch / numpy / python random states into checkpoints, so
that resuming a run (``ckpt_path=.../last.ckpt``) continues the same dropout masks and VAE
noise as the uninterrupted run. Lightning itself restores weights, optimiser, schedulers and
loop counters, but not the global random generators: without this, a resumed run re-draws from
``seed_everything``'s fresh state and drifts from the original.

:class:`Throughput` logs training samples/s per epoch (and, on a CUDA device, the GPU's
utilisation), so a run's TensorBoard shows whether the data path keeps the device busy.

:class:`TuneThreshold` sets a binary / multilabel model's decision threshold from the
validation rows before testing (the best-MCC cut of the tested checkpoint's predictions, or
with ``rule="calibrated"`` Platt scaling's cut).

:class:`TrainingBudget` ends a run on its own: at most enough epochs to show the network a given
number of training rows (scaled to the data's size), at most a wall time, and says which ended it
(early stopping, the epoch count or the clock) in the run summary.

:class:`ModelSummary` is Lightning's rich model summary without the FLOPs column and total
when they are 0 (Lightning counts FLOPs only for a module with an ``example_input_array``).

:class:`TrunkFinetuning` freezes a fine-tuned network's trunk (everything outside its
``head_modules``, :mod:`seqnn.models.finetune`) and optionally unfreezes it at a given epoch
with a lower learning rate (``seqnn-train init_from=<package> model=finetune callbacks=finetune``).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BaseFinetuning, ModelCheckpoint, RichModelSummary
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.model_summary import (
    get_formatted_model_size,
    get_human_readable_count,
)
from rich import get_console
from rich.table import Table

from seqnn.errors import SeqnnInputError
from seqnn.models.finetune import trunk_modules
from seqnn.tasks.threshold import check_rule, tune_threshold

# TuneThreshold's rule that tunes nothing: the task's own threshold makes the calls
FIXED = "fixed"
# What the state dict holds; every value is a tensor, an int or a float, so checkpoints still
# load with ``torch.load(weights_only=True)``.
RNG_KEYS = ("torch", "numpy_key", "numpy_pos", "numpy_gauss", "python")


def get_rng_states() -> dict[str, Any]:
    """The global torch (CPU and, when initialised, CUDA), numpy and python random states."""
    np_kind, np_key, np_pos, np_has_gauss, np_gauss = np.random.get_state()  # noqa: NPY002
    assert np_kind == "MT19937"
    version, py_state, py_gauss = random.getstate()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_key": torch.from_numpy(np_key.astype(np.int64)),
        "numpy_pos": int(np_pos),
        "numpy_gauss": [int(np_has_gauss), float(np_gauss)],
        "python": [version, torch.tensor(py_state, dtype=torch.int64), py_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Set the global random states from :func:`get_rng_states`' output."""
    torch.set_rng_state(states["torch"])
    np_key = states["numpy_key"].numpy().astype(np.uint32)
    has_gauss, gauss = states["numpy_gauss"]
    np_state = ("MT19937", np_key, states["numpy_pos"], int(has_gauss), float(gauss))
    np.random.set_state(np_state)  # noqa: NPY002 (the global generator is what is restored)
    version, py_state, py_gauss = states["python"]
    random.setstate((version, tuple(int(v) for v in py_state.tolist()), py_gauss))
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        # a checkpoint from a machine with more GPUs: restore those that exist
        for device, state in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state, device)


class RNGStateCheckpoint(L.Callback):
    """Saves the global random states in each checkpoint and restores them on resume.

    The states are taken when the checkpoint is written. On resume they are set when the
    checkpoint is loaded and again at the points that line the resumed run up with the
    uninterrupted one: after the sanity check (its val DataLoader iterator draws from torch's
    generator; the uninterrupted run drew nothing there) and, for a checkpoint written
    mid-epoch, at ``on_train_start`` (after Lightning built the train iterator, which the
    uninterrupted run did not rebuild mid-epoch).

    Under DDP the checkpoint holds rank 0's states and every rank restores them; with
    ``seed_everything`` all ranks start from the same seed, so they are the same states.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return get_rng_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict
        set_rng_states(state_dict)

    def on_sanity_check_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            set_rng_states(self._pending)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            # the restored loop counters, before the epoch loop resets them: ``ready`` batches
            # of this epoch had been fetched when the checkpoint was written
            ready = trainer.fit_loop.epoch_loop.batch_progress.current.ready
            if 0 < ready < trainer.num_training_batches:
                set_rng_states(self._pending)  # resumed mid-epoch
            self._pending = None


class RunCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose ``last.ckpt`` is the run's latest state, for an exact resume.

    The best (top-k) checkpoints are Lightning's, written when validation ends. Lightning
    rewrites ``last.ckpt`` only with a best one, so after an epoch that did not improve it
    holds an older epoch, and it writes it before the epoch's ``ReduceLROnPlateau`` step
    (which a resume then skips). Here ``last.ckpt`` is written instead:

    - when the next epoch starts: the epoch's end with every scheduler stepped and no batch
      of the next epoch drawn; saved as the state fitting has when it ends after that epoch
      (the next epoch not begun), which Lightning resumes from as from a finished run;
    - every ``last_every_n_train_steps`` (and ModelCheckpoint's ``every_n_train_steps``)
      training steps inside an epoch, the epoch's last batch excepted (its end follows);
    - when fitting ends after a whole epoch (``max_epochs``, early stopping). An epoch cut
      short by ``max_steps`` is not written: Lightning counts it as finished, so resuming
      from it would skip its remaining batches; ``last.ckpt`` keeps the step before.

    On a resume in the middle of an epoch it also steps ``ReduceLROnPlateau`` at that
    epoch's end, which Lightning skips for the epoch it restarted in.

    Args:
        *args: ModelCheckpoint's (``save_last=False``: no ``last.ckpt``).
        last_every_n_train_steps: also write ``last.ckpt`` every this many training steps
            (0: at epoch ends only); unlike ``every_n_train_steps`` it leaves the best
            checkpoints to validation.
        **kwargs: ModelCheckpoint's.
    """

    def __init__(self, *args: Any, last_every_n_train_steps: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_every_n_train_steps = last_every_n_train_steps
        self._writing_last = False
        self._at_epoch_start = False
        self._last_written: tuple[int, int] | None = None

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict) -> None:
        if self._writing_last:  # Lightning's own calls (with a best checkpoint) are dropped
            super()._save_last_checkpoint(trainer, monitor_candidates)

    def _write_last(self, trainer: L.Trainer, epoch_start: bool = False) -> None:
        """Write ``last.ckpt`` now, once per (epoch progress, step)."""
        if trainer.fast_dev_run or trainer.sanity_checking:
            return
        progress = trainer.fit_loop.epoch_progress.current.ready
        if self._last_written == (progress, trainer.global_step):
            return
        self._writing_last, self._at_epoch_start = True, epoch_start
        try:
            super()._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        finally:
            self._writing_last = self._at_epoch_start = False
        self._last_written = (progress, trainer.global_step)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self._at_epoch_start:
            # Lightning counted the new epoch as ready before on_train_epoch_start; resuming
            # from that count it would find the epoch's batches done and run an empty epoch
            progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]
            for counts in (progress["total"], progress["current"]):
                counts["ready"] = counts["started"]

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # on a resume the first epoch start is the checkpoint's own state: nothing new to write
        if trainer.current_epoch > 0 and not trainer.fit_loop.restarting:
            self._write_last(trainer, epoch_start=True)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        due = [n for n in (self._every_n_train_steps, self.last_every_n_train_steps) if n >= 1]
        if any(trainer.global_step % n == 0 for n in due):
            if not trainer.fit_loop.epoch_loop._num_ready_batches_reached():
                self._write_last(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        fit_loop = trainer.fit_loop
        if fit_loop.restarting and fit_loop.epoch_loop._num_ready_batches_reached():
            # the end of an epoch resumed in its middle: Lightning skips its ReduceLROnPlateau
            # step there (the loop is still "restarting"), and the schedule would run late
            fit_loop.epoch_loop.update_lr_schedulers("epoch", update_plateau_schedulers=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.fit_loop.epoch_loop._num_ready_batches_reached():  # a whole epoch ran
            self._write_last(trainer)


def _batch_size(batch: Any) -> int:
    """Rows in a batch: a tensor, or the first tensor of a tuple / list / dict batch."""
    while not isinstance(batch, torch.Tensor):
        if isinstance(batch, dict):
            batch = next(iter(batch.values()))
        elif isinstance(batch, (list, tuple)) and batch:
            batch = batch[0]
        else:
            raise TypeError(f"Throughput: cannot count the rows of a {type(batch).__name__} batch")
    return int(batch.shape[0])


class Throughput(L.Callback):
    """Logs ``train/samples_per_s`` each epoch and, on CUDA, ``train/gpu_util_pct``.

    The rate is the epoch's training samples over its training time: from the epoch's start to
    its end, less the time spent in validation inside it, with the device synchronised at each
    of those points so queued GPU work is counted where it ran. Data loading is included: the
    figure says how fast the run trains, not how fast the network alone could. Under DDP each
    rank counts its own samples and the logged rate is their sum.

    The utilisation is the mean of ``torch.cuda.utilization()`` (NVML's share of the last
    sample period in which a kernel ran) read at most every ``util_every`` seconds during the
    training batches; it is left out where NVML (nvidia-ml-py) is missing.
    """

    def __init__(self, util_every: float = 0.5) -> None:
        self.util_every = util_every
        self._start = self._val_start = self._last_util = 0.0
        self._val_time = 0.0
        self._samples = 0
        self._utils: list[float] = []

    @staticmethod
    def _now(pl_module: L.LightningModule) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        return time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._samples, self._val_time, self._utils = 0, 0.0, []
        self._start = self._last_util = self._now(pl_module)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        self._samples += _batch_size(batch)
        if pl_module.device.type != "cuda":
            return
        now = time.perf_counter()
        if now - self._last_util >= self.util_every:
            self._last_util = now
            try:
                self._utils.append(float(torch.cuda.utilization(pl_module.device)))
            except Exception as err:  # noqa: BLE001 (NVML missing or refusing: the rate alone)
                rank_zero_warn(f"Throughput: no GPU utilisation ({err}); logging samples/s only")
                self.util_every = float("inf")

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val_start = self._now(pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val_time += self._now(pl_module) - self._val_start

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seconds = self._now(pl_module) - self._start - self._val_time
        if self._samples == 0 or seconds <= 0:
            return
        log = dict(on_epoch=True, sync_dist=True, logger=True)
        pl_module.log("train/samples_per_s", self._samples / seconds, reduce_fx="sum", **log)
        if self._utils:
            util = sum(self._utils) / len(self._utils)
            pl_module.log("train/gpu_util_pct", util, reduce_fx="mean", **log)


class TrainingBudget(L.Callback):
    """A training budget that scales with the data: ``ceil(samples / n_train)`` epochs,
    kept within ``[min_epochs, trainer.max_epochs]``, and at most ``max_minutes`` of wall
    time, whichever ends first (early stopping may end it sooner). A 400-row table then gets
    many epochs and a 15-million-window genome one or two, without a setting per set.

    The epoch count is set on the trainer when fitting starts (from the datamodule's training
    rows); the clock is read every :attr:`check_every` training batches and at each epoch's
    last, and the limit stops the run there, inside an epoch, even before
    ``trainer.min_epochs`` (a genome's first epoch can be longer than the budget; Lightning
    would otherwise finish it). Under DDP the ranks stop together (one decision, reduced over
    them). :attr:`summary` says what the budget was
    and what ended the run (``seqnn-train`` prints it in the run summary).

    Args:
        samples: training rows to show the network in all (None: no scaling; the trainer's
            ``max_epochs``).
        min_epochs: the fewest epochs the scaling gives (early stopping may still stop sooner).
        max_minutes: wall-time limit of fitting in minutes (None: none).
    """

    #: training batches between two readings of the clock (a collective under DDP)
    check_every = 8
    #: the clock (seconds); a test gives a fake one
    clock = staticmethod(time.monotonic)

    def __init__(
        self, samples: int | None = None, min_epochs: int = 1, max_minutes: float | None = None
    ) -> None:
        for name, value in (("samples", samples), ("max_minutes", max_minutes)):
            if value is not None and not value > 0:
                raise SeqnnInputError(
                    f"callbacks.budget: {name}={value}: give a number > 0, or null for none"
                )
        if min_epochs < 1:
            raise SeqnnInputError(f"callbacks.budget: min_epochs={min_epochs}: give 1 or more")
        self.samples, self.min_epochs, self.max_minutes = samples, min_epochs, max_minutes
        self.max_epochs: int | None = None
        self.n_train: int | None = None
        self.stopped_by: str | None = None
        self._start = 0.0
        self._batches = 0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start, self.stopped_by, self._batches = self.clock(), None, 0
        datasets = getattr(trainer.datamodule, "datasets", None) or {}
        self.n_train = len(datasets["train"]) if "train" in datasets else None
        cap = trainer.fit_loop.max_epochs
        epochs = cap
        if self.samples is not None and self.n_train:
            epochs = max(self.min_epochs, math.ceil(self.samples / self.n_train))
            epochs = epochs if cap is None or cap < 0 else min(epochs, cap)
            trainer.fit_loop.max_epochs = epochs
        self.max_epochs = epochs

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if self.max_minutes is None or self.stopped_by is not None:
            return
        self._batches += 1
        last = batch_idx + 1 == trainer.num_training_batches  # every rank has as many
        if self._batches % self.check_every and not last:
            return
        over = self.clock() - self._start > 60 * self.max_minutes
        if not trainer.strategy.reduce_boolean_decision(over, all=False):  # any rank's clock
            return
        trainer.should_stop = True
        # the limit outranks trainer.min_epochs / min_steps, which make Lightning go on
        trainer.fit_loop.min_epochs = 0
        trainer.fit_loop.epoch_loop.min_steps = None
        n_batches = trainer.num_training_batches
        of = f" of {n_batches}" if isinstance(n_batches, int) else ""
        self.stopped_by = (
            f"the wall-time limit ({self.max_minutes:g} min) in epoch {trainer.current_epoch + 1}"
            f", at batch {batch_idx + 1}{of}"
        )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stopped_by is None:
            stopper = trainer.early_stopping_callback
            if stopper is not None and stopper.stopped_epoch > 0:
                patience = stopper.patience
                self.stopped_by = f"early stopping on {stopper.monitor} (patience {patience})"
            else:
                self.stopped_by = f"the epoch count ({self.max_epochs})"
        self._minutes = (self.clock() - self._start) / 60

    @property
    def summary(self) -> str:
        """One line: the budget and what ended the run (after fitting)."""
        scaled = (
            f"{self.max_epochs} epochs (ceil({self.samples} samples / {self.n_train} training "
            f"rows), at least {self.min_epochs})"
            if self.samples is not None and self.n_train
            else f"{self.max_epochs} epochs (trainer.max_epochs)"
        )
        clock = f", {self.max_minutes:g} min" if self.max_minutes is not None else ""
        ran = getattr(self, "_minutes", None)
        ended = f"; ended by {self.stopped_by} after {ran:.1f} min" if ran is not None else ""
        return f"budget {scaled}{clock}{ended}"


class TuneThreshold(L.Callback):
    """Before testing, sets the module's decision threshold to the one a rule chooses on the
    validation rows, scored by the weights being tested (:mod:`seqnn.tasks.threshold`):
    ``rule="calibrated"`` (seqnn-train's default) Platt scaling's cut (a logistic fit to the
    rows, the score whose calibrated probability is 0.5; the best-MCC cut, with a warning,
    where the scores cannot be calibrated), ``rule="best_mcc"`` the cut with the best MCC
    there, ``rule="fixed"`` none: ``task.threshold`` stays. The test calls (mcc, sensitivity,
    specificity ...) use it, it is logged as ``test/threshold`` and the exported model's spec
    keeps it (``seqnn-predict calls=true``).

    A model trained with a positive weight, or on rows of another class balance than the
    ones it will call (``data.extra_train``, a user's own imbalanced table), gives
    probabilities shifted as a whole: ranking them is right, calling them at 0.5 is not. So
    ``seqnn-train`` tunes by default (``callbacks.tune_threshold`` in callbacks/default.yaml);
    ``callbacks.tune_threshold.rule=fixed task.threshold=0.5`` calls at a fixed cut. Tasks
    that make no thresholded calls (regression, profiles, autoencoders) are left as they are.
    Under DDP every rank scores all the validation rows (the datamodule's own loader, not
    Lightning's sharded one), so every rank sets the same threshold.

    Args:
        rule: ``calibrated``, ``best_mcc`` or ``fixed``.
        max_rows: score at most the first this many validation rows (in the loader's order),
            so that a genome-scale validation split (hundreds of thousands of windows, each
            with many targets) is not held in memory whole; None: all of them.
    """

    def __init__(self, rule: str = "best_mcc", max_rows: int | None = 1_000_000) -> None:
        self.rule = rule if rule == FIXED else check_rule(rule)
        self.max_rows = max_rows
        self.threshold: float | None = None

    @torch.no_grad()
    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        kind = getattr(pl_module, "kind", None)
        calls = hasattr(pl_module, "set_threshold") and (kind is None or kind.calls)
        if self.rule == FIXED or not calls:  # regression, profiles, autoencoders: no cut
            return
        datamodule = trainer.datamodule
        if datamodule is None:
            raise ValueError("TuneThreshold: needs a datamodule with validation rows")
        was_training = pl_module.training
        pl_module.eval()
        probs, targets = [], []
        n = 0
        for x, y in datamodule.val_dataloader():
            probs.append(pl_module.predict_step(x.to(pl_module.device), 0).reshape(len(y), -1))
            targets.append(y.to(pl_module.device).float().reshape(len(y), -1))
            n += len(y)
            if self.max_rows is not None and n >= self.max_rows:
                break  # a genome's validation windows: the first max_rows set the cut
        pl_module.train(was_training)
        if not probs:
            raise ValueError(
                "TuneThreshold: the datamodule has no validation rows to tune the threshold on: "
                "give data.val_fraction > 0, or callbacks.tune_threshold.rule=fixed"
            )
        p, y = torch.cat(probs), torch.cat(targets)
        threshold = tune_threshold(y.cpu().numpy(), p.cpu().numpy(), self.rule)
        pl_module.set_threshold(threshold)
        self.threshold = threshold

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.threshold is not None:
            pl_module.log("test/threshold", self.threshold, logger=True)


class TrunkFinetuning(BaseFinetuning):
    """Train the head with the trunk frozen, then (optionally) the whole network with the
    trunk at a lower learning rate: the two phases of fine-tuning a pretrained network.

    The trunk is every child module of ``pl_module.net`` outside its ``head_modules``
    (:mod:`seqnn.models.finetune`); its parameters get ``requires_grad=False`` before the
    optimiser is built (which takes only trainable parameters), and its batch-norm layers
    stop updating their running statistics, so the frozen phase changes none of its values.

    Args:
        unfreeze_at_epoch: the epoch (0-based) at which the trunk joins the optimiser; None
            keeps it frozen for the whole run.
        lr_factor: the trunk's learning rate once unfrozen, as a fraction of the head's
            learning rate at that epoch.
    """

    def __init__(self, unfreeze_at_epoch: int | None = None, lr_factor: float = 0.1) -> None:
        super().__init__()
        if unfreeze_at_epoch is not None and unfreeze_at_epoch < 1:
            raise SeqnnInputError(
                f"callbacks.trunk_finetuning: unfreeze_at_epoch={unfreeze_at_epoch}: give an "
                "epoch >= 1, or drop callbacks=finetune to train the whole network from the start"
            )
        if not 0 < lr_factor <= 1:
            raise SeqnnInputError(
                f"callbacks.trunk_finetuning: lr_factor={lr_factor}: give a value in (0, 1]"
            )
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.lr_factor = lr_factor

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        self.freeze(trunk_modules(pl_module.net), train_bn=False)

    def finetune_function(
        self, pl_module: L.LightningModule, epoch: int, optimizer: torch.optim.Optimizer
    ) -> None:
        if epoch == self.unfreeze_at_epoch:
            lr = optimizer.param_groups[0]["lr"] * self.lr_factor
            self.unfreeze_and_add_param_group(trunk_modules(pl_module.net), optimizer, lr=lr)


def threshold_rule(cfg) -> str | None:
    """The rule of a run config's :class:`TuneThreshold` callback (``cfg.callbacks``), None if
    the run does not tune its threshold: how to tune an ensemble of such runs' models."""
    for callback in (cfg.get("callbacks") or {}).values():
        if str((callback or {}).get("_target_", "")).endswith("TuneThreshold"):
            rule = callback.get("rule", "best_mcc")
            return None if rule == FIXED else rule
    return None


class ModelSummary(RichModelSummary):
    """Lightning's :class:`RichModelSummary`, minus the FLOPs column and "Total FLOPs" line
    when nothing was counted: Lightning counts FLOPs with a forward pass over the module's
    ``example_input_array``, which seqnn's task modules do not set (the input length belongs
    to the data), so the column would read 0 for every layer."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        if total_flops:
            RichModelSummary.summarize(
                summary_data,
                total_parameters,
                trainable_parameters,
                model_size,
                total_training_modes,
                total_flops,
                **summarize_kwargs,
            )
            return
        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        for name, _ in columns:
            table.add_column(name, justify="right" if name.startswith("Params") else "left")
        for row in zip(*(values for _, values in columns), strict=True):
            table.add_row(*row)
        totals = Table.grid(expand=True)
        for label, value in (
            ("Trainable params", get_human_readable_count(int(trainable_parameters))),
            (
                "Non-trainable params",
                get_human_readable_count(int(total_parameters - trainable_parameters)),
            ),
            ("Total params", get_human_readable_count(int(total_parameters))),
            ("Total estimated model params size (MB)", get_formatted_model_size(model_size)),
            ("Modules in train mode", total_training_modes["train"]),
            ("Modules in eval mode", total_training_modes["eval"]),
        ):
            totals.add_row(f"[bold]{label}[/]: {value}")
        get_console().print(table)
        get_console().print(totals)
