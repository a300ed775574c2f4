"""Prediction on many devices through Lightning (DDP): per-rank shards merged in genome order.

Each rank predicts every ``world_size``-th batch of windows and saves its part as a shard
(``shard-<rank>.npz``: window indices + predictions) in a temporary folder; after a barrier,
rank 0 puts the shards back together in window (that is, region / genome) order. Other ranks
return ``None``. Lightning launches the processes (``strategy="ddp"``: the script is run again
per rank; torchrun and SLURM work too), so nothing here is home-made distribution.

    table = predict_regions_distributed(model, genome, "regions.bed", devices=4)
    scan_genome_distributed(model, genome, "track.bw", stride=10, devices=4)

A genome scan is shared out by chunks of bins (every ``world_size``-th chunk per rank), each
chunk predicted as :func:`seqnn.inference.scan.scan_genome` predicts it (the fully
convolutional pass when the network allows, bf16 autocast on a GPU for a bf16-trained model);
each rank streams its values to a raw float32 shard and rank 0 writes the tracks from the
memory-mapped shards in genome order, so no process holds the genome's values.
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

from seqnn.atomic import atomic_open, atomic_path, signals_raise
from seqnn.data.genome import Genome
from seqnn.data.intervals import contig_indices
from seqnn.inference.fullconv import CHUNK_BP
from seqnn.inference.predict import (
    RC,
    Aggregate,
    Tile,
    aggregate_windows,
    check_rc,
    check_tiling,
    plan_windows,
    predict_codes,
    prepare_regions,
    result_frame,
)
from seqnn.inference.pretrained import PretrainedModel
from seqnn.inference.scan import (
    Method,
    TrackWriter,
    choose_method,
    chunk_values,
    n_bins,
    scan_contigs,
    track_paths,
)


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
    tile_regions: Tile = "auto",
    stride: int | None = None,
    aggregate: Aggregate = "mean",
    use_strand: bool = True,
    on_invalid: str = "error",
    shard_dir: str | Path | None = None,
) -> pd.DataFrame | None:
    """:func:`seqnn.inference.predict.predict_regions` on ``devices`` devices: the same rows.

    The windows are planned as on one device (:func:`seqnn.inference.predict.plan_windows`:
    ``tile_regions="auto"`` tiles the regions longer than the input length), shared out over
    the ranks, and aggregated per region once merged. Arguments not listed here are as in
    ``predict_regions``.

    Args:
        devices, accelerator, strategy: as for ``lightning.Trainer`` (``accelerator="cpu"``
            with ``strategy="ddp"`` runs gloo processes on the CPU).
        shard_dir: where the ranks leave their shards (default: a temporary folder that
            every rank can see, e.g. on one machine).

    Returns:
        On rank 0 the table in region order; ``None`` on the other ranks.
    """
    check_rc(model, rc)
    check_tiling(tile_regions, stride, aggregate)
    genome, table = prepare_regions(genome, regions, on_invalid, use_strand)
    windows = plan_windows(table, model.input_length, tile_regions, stride)
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
    trainer = _trainer(accelerator, devices, strategy)
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
    return result_frame(table, aggregate_windows(values, windows, aggregate), model.targets)


# ----------------------------------------------------------------------------- scans
def scan_units(genome: Genome, names: list[str], stride: int, chunk_bins: int) -> np.ndarray:
    """The scan's work units in genome order: (K, 3) int64 rows (contig index in ``names``,
    first bin, number of bins), chunks of ``chunk_bins`` bins that never cross a contig."""
    sizes = np.array([n_bins(genome.sizes[name], stride) for name in names], dtype=np.int64)
    per_contig = -(-sizes // chunk_bins)
    contig = np.repeat(np.arange(len(names)), per_contig)
    # a ragged arange: 0, 1, ... per contig, times chunk_bins
    before = np.repeat(np.cumsum(per_contig) - per_contig, per_contig)
    first = (np.arange(per_contig.sum()) - before) * chunk_bins
    count = np.minimum(chunk_bins, sizes[contig] - first)
    return np.stack([contig, first, count], axis=1)


class _ScanModule(L.LightningModule):
    """Lightning's view of a scan: each rank predicts every ``world_size``-th unit and
    streams its values (float32, unit after unit) into its shard."""

    def __init__(self, model, genome, names, units, stride, plan, settings, shard_dir) -> None:
        super().__init__()
        self.model = model
        self.genome, self.names, self.units = genome, names, units
        self.stride, self.plan, self.settings = stride, plan, settings
        self.shard_dir = Path(shard_dir)
        self.stack = contextlib.ExitStack()

    def predict_dataloader(self) -> DataLoader:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        mine = list(range(rank, len(self.units), world)) or [-1]  # a batch per rank
        return DataLoader(mine, batch_size=None, collate_fn=lambda item: item)

    def on_predict_epoch_start(self) -> None:
        path = self.shard_dir / f"scan-{self.trainer.global_rank}.f32"
        # renamed when the epoch ends: rank 0 never reads a half-written shard
        self.shard = self.stack.enter_context(atomic_open(path, "wb"))

    def predict_step(self, unit: int, batch_idx: int) -> None:
        if unit < 0:
            return
        contig, first, count = (int(v) for v in self.units[unit])
        bins = np.arange(first, first + count, dtype=np.int64)
        chrom = self.names[contig]
        args = (self.model, self.genome, chrom, bins, self.stride, self.plan)
        values = chunk_values(*args, **self.settings)[2]  # (count, T)
        self.shard.write(np.ascontiguousarray(values, dtype=np.float32).tobytes())

    def on_predict_epoch_end(self) -> None:
        self.stack.close()

    def on_exception(self, exception: BaseException) -> None:
        self.stack.__exit__(type(exception), exception, exception.__traceback__)


def scan_genome_distributed(
    model: PretrainedModel,
    genome: Genome | str | Path,
    out: str | Path,
    stride: int,
    devices: int = 2,
    accelerator: str = "auto",
    strategy: str = "ddp",
    batch_size: int = 256,
    rc: RC = False,
    contigs: list[str] | None = None,
    chunk_bins: int = 65536,
    method: Method = "auto",
    chunk_bp: int = CHUNK_BP,
    shard_dir: str | Path | None = None,
) -> list[Path] | None:
    """:func:`seqnn.inference.scan.scan_genome` on ``devices`` devices: the same tracks.

    The method is chosen as ``scan_genome`` chooses it (``auto``: the fully convolutional
    pass when it is exact, else windows, with one log line); on a GPU a bf16-trained model's
    chunks run under bf16 autocast. Arguments not listed here are as in ``scan_genome``.

    Args:
        devices, accelerator, strategy: as for ``lightning.Trainer`` (``accelerator="cpu"``
            with ``strategy="ddp"`` runs gloo processes on the CPU).
        shard_dir: where the ranks leave their shards (default: a folder beside ``out``).

    Returns:
        On rank 0 the track files written; ``None`` on the other ranks.
    """
    plan = choose_method(model, method, stride, chunk_bp)
    check_rc(model, rc)
    genome, names = scan_contigs(genome, contigs)
    out = Path(out)
    paths = track_paths(out, model.targets)  # a clash of target names fails before any work
    units = scan_units(genome, names, int(stride), int(chunk_bins))
    shard_dir = Path(shard_dir) if shard_dir is not None else out.parent / f".{out.name}.shards"
    made = not shard_dir.exists()
    shard_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_owner(shard_dir)
    settings = {"batch_size": batch_size, "rc": rc, "chunk_bp": chunk_bp}
    module = _ScanModule(model, genome, names, units, int(stride), plan, settings, shard_dir)
    trainer = _trainer(accelerator, devices, strategy)
    trainer.predict(module, return_predictions=False)
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return None
    _write_tracks(paths, genome, names, units, int(stride), trainer.world_size, shard_dir)
    if made:
        with contextlib.suppress(OSError):
            shard_dir.rmdir()
    return paths


def _trainer(accelerator: str, devices: int, strategy: str) -> L.Trainer:
    return L.Trainer(
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,  # each rank already takes its own batches
    )


def _write_tracks(paths, genome, names, units, stride, world, shard_dir) -> None:
    """Rank 0: the tracks from the ranks' memory-mapped shards, unit by unit in genome order
    (memory does not grow with the genome); the shards are removed after."""
    n_targets = len(paths)
    shards = [shard_dir / f"scan-{rank}.f32" for rank in range(world)]
    values = [
        np.memmap(p, dtype=np.float32, mode="r").reshape(-1, n_targets)
        if p.stat().st_size
        else np.zeros((0, n_targets), np.float32)
        for p in shards
    ]
    # row offsets of each unit in its rank's shard: the rank's units in order, back to back
    rank = np.arange(len(units)) % world
    offset = np.zeros(len(units), dtype=np.int64)
    for r in range(world):
        mine = np.flatnonzero(rank == r)
        offset[mine] = np.cumsum(units[mine, 2]) - units[mine, 2]
        if int(units[mine, 2].sum()) != len(values[r]):
            raise RuntimeError(f"{shards[r]}: the shard misses bins ({len(values[r])} rows)")
    with contextlib.ExitStack() as stack:
        stack.enter_context(signals_raise())
        writers = [stack.enter_context(TrackWriter(p, genome, names)) for p in paths]
        for k, (contig, first, count) in enumerate(units.tolist()):
            chrom, size = names[contig], genome.sizes[names[contig]]
            starts = np.arange(first, first + count, dtype=np.int64) * stride
            ends = np.minimum(starts + stride, size)
            rows = values[rank[k]][offset[k] : offset[k] + count]
            for j, writer in enumerate(writers):
                writer.write(chrom, starts, ends, np.asarray(rows[:, j]))
    del values
    for p in shards:
        p.unlink()
