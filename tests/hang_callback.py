"""A callback that stops a ``seqnn-train`` subprocess at a chosen batch, for a test to kill it
there (``+callbacks.hang._target_=hang_callback.HangAt``, with ``tests/`` on PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L


class HangAt(L.Callback):
    """Before batch ``batch`` of epoch ``epoch``: write ``marker``, then wait to be killed."""

    def __init__(self, epoch: int, batch: int, marker: str) -> None:
        self.epoch, self.batch, self.marker = epoch, batch, Path(marker)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            self.marker.write_text(str(trainer.global_step))
            time.sleep(3600)
