"""Training and inference speed of the seqnn networks, and the cost of the interval data path.

Prints one JSON line per figure, ``{"bench": NAME, "value": X, "unit": U, ...}``, each the
median of ``--repeats`` timed repeats after a warm-up; extra keys say the device (the GPU's
name on cuda), precision, batch size, length and steps per repeat. Rates are samples/s, so
figures with different step counts compare directly.

- ``params_<Net>``, ``train_samples_s_<Net>``, ``infer_samples_s_<Net>`` for BassetCNN,
  DilatedResNet, ConvRNN, ConvTransformer and ConvAutoencoder (constructor defaults) at
  L = 600. Training: batch 64, forward + backward + AdamW step, BCE-with-logits on random 0/1
  targets (the autoencoder: cross-entropy reconstruction of the input bases). Inference:
  batch 256, eval mode, ``torch.inference_mode()``.
- ``train_samples_s_BassetCNN_1kb`` and ``train_samples_s_BassetCNN_with_loader``: the same
  BassetCNN step at 1 kb fed from device-resident random codes, and fed by
  ``IntervalDataset(..., output="codes").loader(batch_size=64, shuffle=True)`` over a seeded
  synthetic 20 Mb FASTA; their repeats alternate, so load on a shared machine hits both alike.
  ``loader_overhead_pct`` = (bare - with_loader) / bare * 100, and ``loader_keeps_up_ratio`` =
  with_loader / bare (the target of issue 28 with ``--workers 4`` on CPU: >= 0.95).

Every step takes uint8 codes (N, L) and one-hot encodes them on the device with
``seqnn.data.OneHot`` into the (N, 4, L) layout (channels A, C, G, T), as SupervisedModule does.
``--precision bf16`` runs the networks under ``torch.autocast(device, torch.bfloat16)`` (the loss
stays float32); it is meant for GPUs: CPUs without bf16 units emulate it, tens of times slower.
The default steps per repeat keep a CPU run (two busy cores) to a few minutes; on cuda they
are 50 training steps and 20 inference batches.

Usage: python scripts/bench_train.py [--device cpu|cuda] [--precision 32|bf16] [--repeats 3]
       [--steps N] [--nets BassetCNN ConvRNN ... | --nets loader] [--workers 0]
       [--loader-output codes|one_hot] [--loader-data table|tiled]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from seqnn.data import Genome, IntervalDataset, OneHot, PeakLabels, tile_windows, write_fasta
from seqnn.models import BassetCNN, ConvAutoencoder, ConvRNN, ConvTransformer, DilatedResNet
from seqnn.tasks.autoencoder import reconstruction_target

LENGTH = 600
LOADER_LENGTH = 1_000
TRAIN_BATCH = 64
INFER_BATCH = 256
WARMUP = 2
GENOME_MB = 20
N_INTERVALS = 20_000
NETS: dict[str, Callable[[int], nn.Module]] = {
    "BassetCNN": lambda length: BassetCNN(),
    "DilatedResNet": lambda length: DilatedResNet(),
    "ConvRNN": lambda length: ConvRNN(),
    "ConvTransformer": lambda length: ConvTransformer(max_input_length=length),
    "ConvAutoencoder": lambda length: ConvAutoencoder(input_length=length),
}
# (train steps, inference batches) per timed repeat when --steps is not given: enough for a
# stable CPU figure while the whole CPU run stays within a few minutes on two busy cores.
CPU_STEPS = {
    "BassetCNN": (3, 2),
    "DilatedResNet": (4, 2),
    "ConvRNN": (10, 5),
    "ConvTransformer": (10, 5),
    "ConvAutoencoder": (3, 2),
    "loader": (6, 0),
}
GPU_STEPS = (50, 20)


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def random_codes(n: int, length: int, device: torch.device) -> torch.Tensor:
    """Random A/C/G/T codes (n, L) uint8, made on the device."""
    return torch.randint(0, 4, (n, length), dtype=torch.uint8, device=device)


def seconds(step: Callable[[], None], n_steps: int, device: torch.device) -> float:
    """Wall time of ``n_steps`` calls, with the device's queue drained on both sides."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n_steps):
        step()
    sync(device)
    return time.perf_counter() - t0


def median_rate(step: Callable[[], None], n_steps: int, batch: int, args) -> float:
    """Samples/s: the median over ``args.repeats`` timed repeats, after ``WARMUP`` steps."""
    seconds(step, WARMUP, args.device)
    times = [seconds(step, n_steps, args.device) for _ in range(args.repeats)]
    return n_steps * batch / statistics.median(times)


def make_train_step(
    net: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], args
) -> Callable[[], None]:
    """One training step per call on the next (codes (N, L), targets (N, 1)) batch."""
    one_hot = OneHot().to(args.device)
    optimizer = torch.optim.AdamW(net.parameters())
    net.train()

    def step() -> None:
        codes, y = next(batches)
        x = one_hot(codes.to(args.device, non_blocking=True))  # (N, L) -> (N, 4, L)
        with autocast(args.device, args.precision):
            out = net(x)
        out = out.float()  # the loss in float32, as SupervisedModule does under bf16 autocast
        if isinstance(net, ConvAutoencoder):  # (N, 4, L) logits vs the input bases (N, L)
            loss = F.cross_entropy(out, reconstruction_target(x))
        else:
            loss = F.binary_cross_entropy_with_logits(out, y.to(args.device, non_blocking=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def make_infer_step(net: nn.Module, args) -> Callable[[], None]:
    """One inference batch of ``INFER_BATCH`` sequences per call, eval mode."""
    one_hot = OneHot().to(args.device)
    codes = random_codes(INFER_BATCH, LENGTH, args.device)
    net.eval()

    def step() -> None:
        with torch.inference_mode(), autocast(args.device, args.precision):
            net(one_hot(codes))

    return step


def fixed_batches(length: int, args) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The same device-resident random batch forever: the model's cost alone."""
    codes = random_codes(TRAIN_BATCH, length, args.device)
    y = torch.randint(0, 2, (TRAIN_BATCH, 1), device=args.device).float()
    while True:
        yield codes, y


def bench_net(name: str, args) -> None:
    n_train, n_infer = steps_for(name, args)
    torch.manual_seed(0)
    net = NETS[name](LENGTH).to(args.device)
    extra = {**args.extra, "length": LENGTH}
    emit(f"params_{name}", sum(p.numel() for p in net.parameters()), "params")
    train = make_train_step(net, fixed_batches(LENGTH, args), args)
    rate = median_rate(train, n_train, TRAIN_BATCH, args)
    emit(f"train_samples_s_{name}", rate, "samples/s", batch=TRAIN_BATCH, steps=n_train, **extra)
    rate = median_rate(make_infer_step(net, args), n_infer, INFER_BATCH, args)
    emit(f"infer_samples_s_{name}", rate, "samples/s", batch=INFER_BATCH, steps=n_infer, **extra)


def interval_dataset(folder: Path, output: str = "codes", tiled: bool = False) -> IntervalDataset:
    """A seeded synthetic genome (two contigs, ``GENOME_MB`` Mb) and random 1 kb windows, or
    (``tiled``) the genome tiled at stride 200 (``tile_windows``) labelled per batch by a file
    of 20,000 random peaks (``PeakLabels``), as ``experiment=basset_genome`` trains."""
    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    sizes = {"chr1": GENOME_MB * 600_000, "chr2": GENOME_MB * 400_000}
    records = {c: letters[rng.integers(0, 4, n)].tobytes().decode() for c, n in sizes.items()}
    genome = Genome(write_fasta(folder / "bench.fa", records))
    chrom = rng.choice(list(sizes), N_INTERVALS, p=[0.6, 0.4])
    start = (rng.random(N_INTERVALS) * (pd.Series(chrom).map(sizes) - LOADER_LENGTH)).astype(int)
    label = rng.integers(0, 2, N_INTERVALS)
    frame = pd.DataFrame(
        {"chrom": chrom, "start": start, "end": start + LOADER_LENGTH, "label": label}
    )
    if tiled:
        peaks = frame.iloc[:20_000].assign(end=start[:20_000] + 300)
        windows = tile_windows(genome, LOADER_LENGTH, 200)
        return IntervalDataset(genome, windows, targets=PeakLabels([peaks]), output=output)
    return IntervalDataset(genome, frame, target_columns=["label"], output=output)


def endless(loader: torch.utils.data.DataLoader) -> Iterator:
    """Batches over epochs, the epoch passed to the sampler as Lightning does."""
    epoch = 0
    while True:
        loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def bench_loader(args) -> None:
    """BassetCNN at 1 kb: device-resident batches vs the IntervalDataset loader, interleaved."""
    n_steps = steps_for("loader", args)[0]
    with tempfile.TemporaryDirectory() as tmp:
        dataset = interval_dataset(Path(tmp), args.loader_output, args.loader_data == "tiled")
        loader = dataset.loader(
            TRAIN_BATCH,
            shuffle=True,
            num_workers=args.workers,
            pin_memory=args.device.type == "cuda",
        )
        steps = {}
        for key, batches in (
            ("bare", fixed_batches(LOADER_LENGTH, args)),
            ("loader", endless(loader)),
        ):
            torch.manual_seed(0)
            steps[key] = make_train_step(BassetCNN().to(args.device), batches, args)
            seconds(steps[key], WARMUP, args.device)
        times = {key: [] for key in steps}
        for _ in range(args.repeats):
            for key, step in steps.items():
                times[key].append(seconds(step, n_steps, args.device))
    bare, fed = (n_steps * TRAIN_BATCH / statistics.median(times[k]) for k in ("bare", "loader"))
    extra = {**args.extra, "length": LOADER_LENGTH, "batch": TRAIN_BATCH, "steps": n_steps}
    emit("train_samples_s_BassetCNN_1kb", bare, "samples/s", **extra)
    emit(
        "train_samples_s_BassetCNN_with_loader",
        fed,
        "samples/s",
        workers=args.workers,
        loader_output=args.loader_output,
        loader_data=args.loader_data,
        **extra,
    )
    emit("loader_overhead_pct", (bare - fed) / bare * 100, "%", **extra)
    # issue 28, section 4: the loader keeps up when this is >= 0.95
    emit(
        "loader_keeps_up_ratio",
        fed / bare,
        "ratio",
        workers=args.workers,
        loader_data=args.loader_data,
        target=0.95,
        **extra,
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=("32", "bf16"), default="32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="steps per timed repeat")
    parser.add_argument("--nets", nargs="+", choices=(*NETS, "loader"), default=(*NETS, "loader"))
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (loader)")
    parser.add_argument(
        "--loader-output",
        choices=("codes", "one_hot"),
        default="codes",
        help="loader batches: uint8 codes (one-hot on the device) or float32 one-hot (CPU)",
    )
    parser.add_argument(
        "--loader-data",
        choices=("table", "tiled"),
        default="table",
        help="loader windows: a table of random intervals with a label column, or the genome "
        "tiled at stride 200 with per-batch peak labels",
    )
    args = parser.parse_args()
    args.device = torch.device(args.device)
    name = torch.cuda.get_device_name(args.device) if args.device.type == "cuda" else "cpu"
    args.extra = {"device": name, "precision": args.precision}
    if args.device.type == "cpu":
        args.extra["threads"] = torch.get_num_threads()
    return args


def steps_for(key: str, args) -> tuple[int, int]:
    """(train steps, inference batches) per timed repeat: ``--steps`` or the defaults."""
    if args.steps:
        return args.steps, args.steps
    return CPU_STEPS[key] if args.device.type == "cpu" else GPU_STEPS


def main() -> None:
    args = parse_args()
    for name in args.nets:
        if name == "loader":
            bench_loader(args)
        else:
            bench_net(name, args)


if __name__ == "__main__":
    main()
