"""Prediction on many devices through Lightning (DDP): per-rank shards merged in genome order.

Each rank predicts every ``world_size``-th batch of windows and saves its part as a shard
(``shard-<rank>.npz``: window indices + predictions) in a temporary folder; after a barrier,
rank 0 puts the shards back together in window (that is, region / genome) order. Other ranks
return ``None``. Lightning launches the processes (``strategy="ddp"``: the script is run again
per rank; torchrun and SLURM work too), so nothing here is home-made distribution.

    table = predict_regions_distributed(model, genome, "regions.bed", devices=4)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
from torch.utils.data import DataLoader, Dataset

from seqnn.atomic import atomic_path
from seqnn.data.genome import Genome
from seqnn.data.intervals import contig_indices
from seqnn.inference.predict import (
    RC,
    check_rc,
    predict_codes,
    prepare_regions,
    region_windows,
    result_frame,
)
from seqnn.inference.pretrained import PretrainedModel


class _RankBatches(Dataset):
    """This rank's batches of windows: item k -> (window indices, (B, L) codes)."""

    def __init__(self, genome, windows, batch_size, use_strand, rank, world_size) -> None:
        self.genome = genome
        self.contig = contig_indices(windows["chrom"], genome.names)
        self.starts = windows["start"].to_numpy(np.int64)
        self.length = int(windows["end"].iloc[0] - windows["start"].iloc[0])
        strand = windows["strand"].to_numpy() if "strand" in windows.columns else None
        self.reverse = (strand == "-") if use_strand and strand is not None else None
        n = len(windows)
        # fewer windows than batch_size x ranks: smaller batches, so that every rank has work
        batch_size = max(1, min(batch_size, -(-n // world_size)))
        self.batches = [
            np.arange(b * batch_size, min((b + 1) * batch_size, n))
            for b in range(rank, -(-n // batch_size), world_size)
        ]
        if not self.batches:  # fewer windows than ranks: Lightning needs a batch per rank
            self.batches = [np.zeros(0, dtype=np.int64)]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.batches[k]
        if not len(idx):
            return idx, np.zeros((0, self.length), dtype=np.uint8)
        reverse = None if self.reverse is None else self.reverse[idx]
        codes = self.genome.fetch_batch(self.contig[idx], self.starts[idx], self.length, reverse)
        return idx, codes


class _PredictModule(L.LightningModule):
    """Lightning's view of a PretrainedModel: each rank predicts its batches into a shard."""

    def __init__(self, model, genome, windows, batch_size, use_strand, rc, shard_dir) -> None:
        super().__init__()
        self.model = model
        self.genome, self.windows = genome, windows
        self.batch_size, self.use_strand, self.rc = batch_size, use_strand, rc
        self.shard_dir = Path(shard_dir)
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def predict_dataloader(self) -> DataLoader:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        data = _RankBatches(
            self.genome, self.windows, self.batch_size, self.use_strand, rank, world
        )
        return DataLoader(data, batch_size=None, collate_fn=lambda item: item)

    def predict_step(self, batch, batch_idx: int) -> None:
        idx, codes = batch
        if len(idx):
            self.parts.append((idx, predict_codes(self.model, codes, self.rc)))

    def on_predict_epoch_end(self) -> None:
        n_targets = len(self.model.targets)
        idx = np.concatenate([p[0] for p in self.parts]) if self.parts else np.zeros(0, int)
        values = (
            np.concatenate([p[1] for p in self.parts])
            if self.parts
            else np.zeros((0, n_targets), np.float32)
        )
        # written whole or not at all: rank 0 must never merge a half-written shard
        with atomic_path(self.shard_dir / f"shard-{self.trainer.global_rank}.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, idx=idx, values=values)


def _check_owner(folder: Path) -> None:
    """A shard folder must be the user's own: under a shared temp folder another user could
    have made it first, and would then see (or plant) the shards."""
    if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
        raise PermissionError(
            f"{folder}: the shard folder belongs to another user (uid {folder.stat().st_uid}): "
            "pass shard_dir= a folder of your own"
        )


def predict_regions_distributed(
    model: PretrainedModel,
    genome: Genome | str | Path,
    regions: pd.DataFrame | str | Path,
    devices: int = 2,
    accelerator: str = "auto",
    strategy: str = "ddp",
    batch_size: int = 256,
    rc: RC = False,
    use_strand: bool = True,
    on_invalid: str = "error",
    shard_dir: str | Path | None = None,
) -> pd.DataFrame | None:
    """:func:`seqnn.inference.predict.predict_regions` (centre-resized windows) on ``devices``
    devices.

    Arguments not listed here are as in ``predict_regions``.

    Args:
        devices, accelerator, strategy: as for ``lightning.Trainer`` (``accelerator="cpu"``
            with ``strategy="ddp"`` runs gloo processes on the CPU).
        shard_dir: where the ranks leave their shards (default: a temporary folder that
            every rank can see, e.g. on one machine).

    Returns:
        On rank 0 the table in region order; ``None`` on the other ranks.
    """
    check_rc(model, rc)
    genome, table = prepare_regions(genome, regions, on_invalid, use_strand)
    windows = region_windows(table, model.input_length, False, None)
    if shard_dir is None:  # the same name in every rank's process: a digest of the request
        digest = hashlib.sha1(pd.util.hash_pandas_object(windows).to_numpy().tobytes())
        digest.update(json.dumps(model.spec.network, sort_keys=True).encode())
        user = os.getuid() if hasattr(os, "getuid") else "user"  # Windows: a per-user temp
        name = f"seqnn-shards-{user}-{digest.hexdigest()[:16]}"
        shard_dir = Path(tempfile.gettempdir()) / name
    shard_dir = Path(shard_dir)
    made = not shard_dir.exists()  # removed after the merge only if made here
    shard_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_owner(shard_dir)
    module = _PredictModule(model, genome, windows, batch_size, use_strand, rc, shard_dir)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,  # each rank already takes its own batches
    )
    trainer.predict(module, return_predictions=False)
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return None
    values = np.empty((len(windows), len(model.targets)), dtype=np.float32)
    seen = np.zeros(len(windows), dtype=bool)
    for rank in range(trainer.world_size):
        path = shard_dir / f"shard-{rank}.npz"
        with np.load(path) as shard:
            values[shard["idx"]] = shard["values"]
            seen[shard["idx"]] = True
        path.unlink()
    if made:
        with contextlib.suppress(OSError):  # empty now, unless another run shares it
            shard_dir.rmdir()
    if not seen.all():
        raise RuntimeError(f"{shard_dir}: shards miss {int((~seen).sum())} windows")
    return result_frame(table, values, model.targets)
