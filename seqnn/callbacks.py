"""Lightning callbacks of seqnn.

:class:`RNGStateCheckpoint` puts the torch / numpy / python random states into checkpoints, so
that resuming a run (``ckpt_path=.../last.ckpt``) continues the same dropout masks and VAE
noise as the uninterrupted run. Lightning itself restores weights, optimiser, schedulers and
loop counters, but not the global random generators: without this, a resumed run re-draws from
``seed_everything``'s fresh state and drifts from the original.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch

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
