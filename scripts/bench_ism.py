"""Saturation mutagenesis speed: fast ISM (receptive-field slices) vs plain ISM (full passes).

Prints one JSON line per figure, ``{"bench": NAME, "value": X, "unit": U, ...}``. For each
network (BassetCNN and DilatedResNet with their defaults, random weights and batch-norm
statistics, eval mode), ISM of ``--n`` seeded random sequences of ``--length`` bp (all
3 x L substitutions, every output), ``ism(..., method="fast")`` and ``method="plain"`` in the
same process, ``--repeats`` passes each:

* ``ism_fast_<network>`` / ``ism_plain_<network>``: sequences per second, the median of the
  passes (``passes_s`` lists them);
* ``ism_speedup_<network>``: the ratio of the two medians (fast over plain);
* ``max_abs_diff`` beside the speedup: the largest difference of the two paths' effects on
  the sequences both scored.

Plain ISM of 100 sequences of 1 kb is ~300,000 full passes per network (minutes on a CPU):
``--plain-n`` scores only the first sequences with it, and the rate is per sequence either
way.

Usage: python scripts/bench_ism.py [--n 100] [--plain-n N] [--length 1000] [--repeats 3]
       [--device cpu] [--threads T] [--networks BassetCNN DilatedResNet]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from torch import nn

from seqnn.interpret import ism
from seqnn.models import BassetCNN, DilatedResNet

NETWORKS = {"BassetCNN": BassetCNN, "DilatedResNet": DilatedResNet}


def network(name: str, device: str) -> nn.Module:
    """The network with default settings, seeded weights and non-trivial batch-norm stats."""
    torch.manual_seed(0)
    net = NETWORKS[name]()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net.to(device).eval()


def timed(net: nn.Module, x: torch.Tensor, method: str, repeats: int) -> tuple[list, np.ndarray]:
    """Seconds of each pass, and the effects of the last."""
    passes = []
    for _ in range(repeats):
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        effects = ism(net, x, method=method)
        passes.append(time.perf_counter() - start)
    return passes, effects


def bench(name: str, args: argparse.Namespace) -> None:
    net = network(name, args.device)
    codes = np.random.default_rng(0).integers(0, 4, (args.n, args.length))
    x = nn.functional.one_hot(torch.from_numpy(codes), 4).permute(0, 2, 1).float()
    x = x.to(args.device)  # (N, L, 4) -> (N, 4, L)
    plain_n = min(args.plain_n or args.n, args.n)
    ism(net, x[:1, :, :50], method="fast")  # warm-up (allocator, kernels)
    rates, effects = {}, {}
    for method, n in (("fast", args.n), ("plain", plain_n)):
        passes, effects[method] = timed(net, x[:n], method, args.repeats)
        rates[method] = n / statistics.median(passes)
        line = {
            "bench": f"ism_{method}_{name}",
            "value": round(rates[method], 3),
            "unit": "sequences/s",
            "n": n,
            "length": args.length,
            "device": args.device,
            "threads": torch.get_num_threads(),
            "passes_s": [round(p, 3) for p in passes],
        }
        print(json.dumps(line), flush=True)
    diff = float(np.abs(effects["fast"][:plain_n] - effects["plain"]).max())
    speedup = round(rates["fast"] / rates["plain"], 2)
    line = {"bench": f"ism_speedup_{name}", "value": speedup, "unit": "x", "max_abs_diff": diff}
    print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="sequences (fast ISM)")
    parser.add_argument("--plain-n", type=int, default=None, help="sequences for plain ISM")
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.networks:
        bench(name, args)


if __name__ == "__main__":
    main()
