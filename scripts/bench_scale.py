"""Human-genome scale: the cost of each data and inference path at 0.1, 1 and 3.1 Gb.

The workload (scripts/scale_workload.py, seeded, made once per ``--workdir`` and reused) is
shaped like hg38 + ENCODE: hg38's contigs scaled to ``--genome-gb``, N runs, half
soft-masked; ``--tracks`` narrowPeak files of 50,000 peaks and as many bigWigs; VCFs of 10k
and 1M SNVs; BEDs of 10k and 1M random 1-kb regions. JSON lines
``{"bench", "value", "unit", "genome_gb", "case", ...}``, medians of ``--repeats`` runs, each
measured in a fresh process (its imports untimed) so that every figure starts cold in memory:

- ``genome_first_open_s`` (no index, no code cache: both built) and
  ``genome_first_open_mbase_s``; ``genome_warm_open_s``; ``genome_cache_mb`` (disk);
- ``intervals_codes_per_s`` / ``intervals_float_per_s``: the 1M regions through
  ``IntervalDataset(...).loader`` (batch 256; uint8 codes / float32 one-hot), 0 and 4
  workers; ``intervals_main_rss_mb`` (VmHWM of the main process), ``intervals_workers_pss_mb``
  (the sum over the workers of /proc/PID/smaps_rollup ``Pss``: pages shared between them,
  the genome's mapped cache and the libraries, counted once) with ``per_worker_mb``;
- the coverage and labels sections: ``measure()`` of scripts/bench_coverage.py and
  scripts/bench_labels.py when they exist (else one ``skipped`` line each);
- ``predict_regions_per_s`` / ``predict_peak_rss_mb``: ``seqnn-predict`` on 10k and 1M
  regions, in a child process that runs the CLI entry point (``device=cpu``, batch 256);
  the time covers the command (model load, genome open, read, predict, write), not the
  Python start-up. The model is a tiny pretrained package (one conv of 4 filters of 5 bp
  pooled by 50, an 8-unit hidden layer, 1 kb input) so that the I/O path is measured rather
  than a CNN; torch runs ``--threads`` threads (default 1: on a loaded shared CPU two
  threads made even this network 3x slower);
- ``variants_per_s`` / ``variants_peak_rss_mb``: ``seqnn-variants`` on 10k and 1M SNVs;
- ``*_rss_growth_mb``: peak RSS at 1M minus at 10k (target < 200 MB: a stream).

Each run's lines are also stored in ``<workdir>/results/scale_<gb>.jsonl``. When two sizes
are stored, ``<bench>_cost_ratio`` lines give the per-unit cost at the largest (3.1 Gb once
run) over that at the smallest (0.1 Gb) (target <= 1.5): for a rate, the inverse ratio of
the rates; for a time or disk size with a ``work`` (Mbase), the ratio per Mbase; for memory,
the ratio of the peaks.
``--plot`` draws every figure against genome size (log axes) into docs/scale.png.

``--table`` prints the stored figures as a Markdown table (one column per size) and runs
nothing; ``--only none --plot`` redraws the plot from them.

Usage: python scripts/bench_scale.py --genome-gb 0.1 [--tracks 10] [--workdir DIR]
       [--repeats 3] [--only genome,intervals,coverage,labels,predict,variants] [--plot]
       [--threads 1] [--table]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_data import status_mb  # noqa: E402
from scale_workload import Workload, make_workload  # noqa: E402

SECTIONS = ("genome", "intervals", "coverage", "labels", "predict", "variants")
BATCH = 256
SMALL, LARGE = 10_000, 1_000_000
RESULTS: list[dict] = []
#: the fields of the other benches' lines that tell their cases apart (tracks, workers ...)
CASE_KEYS = ("tracks", "workers", "bin_size", "mode", "output", "peak_files", "window", "stride")


def emit(name: str, value, unit: str, genome_gb: float, case: str = "", **extra) -> None:
    """One JSON line (bench_data's form + genome_gb and case), kept for the results file."""
    value = round(value, 3) if isinstance(value, float) else value
    line = {"bench": name, "value": value, "unit": unit, "genome_gb": genome_gb, "case": case}
    line.update(extra)
    RESULTS.append(line)
    print(json.dumps(line), flush=True)


def child(kind: str, threads: int | None = None, **args) -> dict:
    """Run one measurement in a fresh process (``--child``); its JSON result. ``threads``:
    torch's CPU threads there (OMP_NUM_THREADS), None to leave the default."""
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(args)]
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- children
def pss_mb(pid: int) -> float:
    """A process's proportional set size (shared pages split between their users)."""
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        line = next(line for line in fh if line.startswith("Pss:"))
    return int(line.split()[1]) / 1024


def child_pids() -> list[int]:
    pids = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as fh:
            pids += [int(p) for p in fh.read().split()]
    return pids


def memory() -> dict:
    """Peak resident set (VmHWM) and, at the end, its anonymous and file-backed parts (the
    latter: libraries and mapped files such as the genome's code cache, shared and
    reclaimable by the kernel)."""
    return {
        "rss_mb": status_mb("VmHWM"),
        "anon_mb": round(status_mb("RssAnon"), 1),
        "file_mb": round(status_mb("RssFile"), 1),
    }


def run_child(kind: str, args: dict) -> dict:
    if kind == "open":
        fasta = Path(args["fasta"])
        if args["cold"]:
            for stale in fasta.parent.glob(fasta.name + ".*"):
                stale.unlink()
        from seqnn.data.genome import Genome

        t0 = time.perf_counter()
        Genome(fasta)
        return {"seconds": time.perf_counter() - t0, **memory()}
    if kind == "intervals":
        return intervals_child(args)
    return cli_child(kind, args)


def intervals_child(args: dict) -> dict:
    from seqnn.data.datasets import IntervalDataset
    from seqnn.data.genome import Genome

    t0 = time.perf_counter()
    dataset = IntervalDataset(Genome(args["fasta"]), args["bed"], output=args["output"])
    loader = dataset.loader(batch_size=BATCH, num_workers=args["workers"])
    n, workers = 0, {}
    for i, x in enumerate(loader):
        n += len(x)
        if args["workers"] and i % 200 == 100:  # sampled while they work
            for pid in child_pids():
                try:
                    workers[pid] = max(workers.get(pid, 0.0), pss_mb(pid))
                except (OSError, StopIteration):
                    pass
    seconds = time.perf_counter() - t0
    worker_pss = sorted(workers.values())
    return {"seconds": seconds, "n": n, **memory(), "workers_pss": worker_pss}


def cli_child(kind: str, args: dict) -> dict:
    """seqnn-predict / seqnn-variants' entry point, timed from the call (imports done)."""
    module = importlib.import_module(f"seqnn.cli.{kind}")
    t0 = time.perf_counter()
    try:
        module.main(args["argv"])
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    return {"seconds": time.perf_counter() - t0, **memory()}


def _split(runs: list[dict]) -> dict:
    """The anonymous / file-backed parts of the run with the highest peak."""
    top = max(runs, key=lambda r: r["rss_mb"])
    return {"anon_mb": top["anon_mb"], "file_mb": top["file_mb"]}


# ----------------------------------------------------------------------------- sections
def bench_genome(work: Workload, gb: float, repeats: int) -> None:
    mbase = sum(work.sizes.values()) / 1e6
    cold = [child("open", fasta=str(work.fasta), cold=True) for _ in range(repeats)]
    warm = [child("open", fasta=str(work.fasta), cold=False) for _ in range(repeats)]
    first = statistics.median(r["seconds"] for r in cold)
    emit("genome_first_open_s", first, "s", gb, work=mbase, passes_s=_passes(cold))
    emit("genome_first_open_mbase_s", mbase / first, "Mbase/s", gb)
    emit("genome_first_open_rss_mb", max(r["rss_mb"] for r in cold), "MB", gb, **_split(cold))
    emit("genome_warm_open_s", statistics.median(r["seconds"] for r in warm), "s", gb)
    cache = sum(p.stat().st_size for p in work.fasta.parent.glob(work.fasta.name + ".*"))
    emit("genome_cache_mb", cache / 1e6, "MB", gb, work=mbase)


def bench_intervals(work: Workload, gb: float, repeats: int) -> None:
    bed = work.regions[LARGE]
    for output, name in (("codes", "intervals_codes_per_s"), ("one_hot", "intervals_float_per_s")):
        for workers in (0, 4):
            case = f"workers={workers}"
            args = {"fasta": str(work.fasta), "bed": str(bed), "output": output}
            runs = [child("intervals", **args, workers=workers) for _ in range(repeats)]
            assert all(r["n"] == LARGE for r in runs), runs
            seconds = statistics.median(r["seconds"] for r in runs)
            emit(name, LARGE / seconds, "intervals/s", gb, case, passes_s=_passes(runs))
            rss = max(r["rss_mb"] for r in runs)
            emit(f"{name[:-6]}_main_rss_mb", rss, "MB", gb, case, **_split(runs))
            if workers:
                per = max((r["workers_pss"] for r in runs), key=sum)
                emit(
                    f"{name[:-6]}_workers_pss_mb", sum(per), "MB", gb, case,
                    per_worker_mb=[round(x, 1) for x in per],
                )  # fmt: skip


def bench_other(
    section: str,
    work: Workload,
    gb: float,
    workdir: Path,
    tracks: int,
    coverage_tracks: tuple[int, ...] = (1, 10, 100),
) -> None:
    """The coverage / labels sections: the other benches' measure(), if they exist."""
    module_name = f"bench_{section}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        emit(section, None, "skipped", gb, note=f"scripts/{module_name}.py: {err}")
        return
    try:  # a failing section is one line of the report, not the end of the run
        if section == "coverage":
            counts = coverage_tracks  # T > len(bigwigs): hard links, cycled
            bigwigs = work.bigwigs[:tracks]
            lines = module.measure(work.fasta, bigwigs, workdir, n_windows=100_000, tracks=counts)
        else:
            lines = module.measure(work.fasta, work.peaks[:tracks], window=1000, stride=200)
    except Exception as err:  # noqa: BLE001 - reported, and the other sections still run
        emit(section, None, "failed", gb, note=f"{module_name}.measure: {err!r}"[:500])
        return
    for line in lines:
        line = dict(line)
        name, value, unit = line.pop("bench"), line.pop("value"), line.pop("unit")
        line.pop("genome_gb", None)
        shape = [f"{k}={line[k]}" for k in sorted(line) if k in CASE_KEYS]
        case = line.pop("case", ",".join(shape))
        emit(name, value, unit, gb, str(case), **line)


def store_results(path: Path, lines: list[dict]) -> None:
    """Write this run's lines into the size's results file, keeping the stored lines of
    figures this run did not measure (a run with ``--only`` adds to the others)."""
    fresh = {(x["bench"], x.get("case", "")) for x in lines}
    old = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    kept = [x for x in old if (x["bench"], x.get("case", "")) not in fresh]
    path.write_text("".join(json.dumps(x) + "\n" for x in kept + lines))


def tiny_model(workdir: Path) -> Path:
    """A tiny pretrained package (1 kb input): one conv of 4 filters (5 bp), pooled by 50,
    8 hidden units: ~10x cheaper than reading and writing a region on this CPU."""
    folder = workdir / "tiny_model_f4"
    if not (folder / "seqnn.json").exists():
        import torch

        from seqnn.inference.pretrained import save_pretrained
        from seqnn.models import BassetCNN

        torch.manual_seed(0)
        net = BassetCNN(
            input_length=1000, n_filters=(4,), kernel_sizes=(5,), pool_sizes=(50,),
            n_hidden=(8,),
        )  # fmt: skip
        save_pretrained(net, folder, input_length=1000)
    return folder


def bench_cli(
    kind: str, work: Workload, gb: float, workdir: Path, repeats: int, threads: int
) -> None:
    """seqnn-predict on the regions BEDs or seqnn-variants on the VCFs: rate + peak RSS."""
    model = tiny_model(workdir)
    out = workdir / f"{kind}_out.tsv"
    name = "predict_regions" if kind == "predict" else "variants"
    unit = "regions/s" if kind == "predict" else "variants/s"
    rss = {}
    for n in (SMALL, LARGE):
        data = f"regions={work.regions[n]}" if kind == "predict" else f"vcf={work.vcf[n]}"
        argv = [f"model={model}", f"fasta={work.fasta}", data, f"out={out}"]
        argv += ["device=cpu", "progress=false", f"batch_size={BATCH}"]
        runs = [child(kind, threads, argv=argv) for _ in range(repeats if n == SMALL else 1)]
        out.unlink()
        seconds = statistics.median(r["seconds"] for r in runs)
        case = f"n={n}"
        passes = _passes(runs)
        emit(f"{name}_per_s", n / seconds, unit, gb, case, threads=threads, passes_s=passes)
        rss[n] = max(r["rss_mb"] for r in runs)
        emit(f"{kind}_peak_rss_mb", rss[n], "MB", gb, case, **_split(runs))
    emit(f"{kind}_rss_growth_mb", rss[LARGE] - rss[SMALL], "MB", gb, target=200)


def _passes(runs: list[dict]) -> list[float]:
    return [round(r["seconds"], 3) for r in runs]


# ----------------------------------------------------------------------------- ratios, plot
def load_results(folder: Path) -> dict[float, list[dict]]:
    out = {}
    for path in sorted(folder.glob("scale_*.jsonl")):
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        if lines:
            out[lines[0]["genome_gb"]] = lines
    return out


def per_unit(line: dict) -> float | None:
    """A figure's cost per unit of work (None: not a number)."""
    value = line.get("value")
    if not isinstance(value, int | float) or value <= 0:
        return None
    if line["unit"].endswith("/s"):
        return 1 / value
    if "per_window" in line:  # a size stated per unit already (label storage)
        return line["per_window"]
    # the work a size or a time grows with: Mbase (genome, stores) or windows (tile + label)
    return value / (line.get("work") or line.get("genome_mbase") or line.get("windows") or 1)


def figure_key(line: dict) -> tuple[str, str, str]:
    """What tells a figure apart across sizes: its name, case and path (direct / store)."""
    return line["bench"], line["case"], line.get("path", "")


def print_ratios(results: dict[float, list[dict]]) -> None:
    """Per-unit cost at the largest stored size over the smallest (3.1 vs 0.1 Gb once both
    have run; until then e.g. 1 vs 0.1)."""
    if len(results) < 2:
        return
    small, big = min(results), max(results)
    base = {figure_key(x): x for x in results[small]}
    for line in results[big]:
        key = figure_key(line)
        if key not in base or line["bench"].endswith("growth_mb") or key[0] == "bench_scale_s":
            continue
        a, b = per_unit(base[key]), per_unit(line)
        if a is None or b is None:
            continue
        row = {"bench": f"{line['bench']}_cost_ratio", "value": round(b / a, 3), "unit": "ratio"}
        row.update(case=line["case"], path=key[2], sizes=[small, big], target=1.5)
        print(json.dumps(row), flush=True)


def table(results: dict[float, list[dict]]) -> str:
    """The stored figures as a Markdown table: one row per figure, one column per size."""
    sizes = sorted(results)
    rows: dict[tuple[str, str, str], dict[float, object]] = {}
    for gb in sizes:
        for x in results[gb]:
            if x["unit"] not in ("skipped", "failed") and x["bench"] != "bench_scale_s":
                case = ",".join(c for c in (x["case"], x.get("path", "")) if c)
                rows.setdefault((x["bench"], case, x["unit"]), {})[gb] = x["value"]
    head = "| figure | case | unit | " + " | ".join(f"{gb:g} Gb" for gb in sizes) + " |"
    lines = [head, "|" + "---|" * (3 + len(sizes))]
    for (bench, case, unit), values in rows.items():
        cells = [_fmt(values.get(gb)) for gb in sizes]
        lines.append(f"| {bench} | {case} | {unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def plot(results: dict[float, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for gb, lines in sorted(results.items()):
        for x in lines:
            if x["bench"] == "bench_scale_s" or not isinstance(x.get("value"), int | float):
                continue
            if x["value"] > 0:  # one line per case and path (direct / store reads)
                case = ",".join(filter(None, [x["case"], x.get("path", "")]))
                series.setdefault((f"{x['bench']} ({x['unit']})", case), []).append(
                    (gb, x["value"])
                )
    names = sorted({name for name, _ in series})
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for (bench, case), points in series.items():
            if bench == name:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, "o-", label=case or "-")
        ax.set(xscale="log", yscale="log", title=name, xlabel="genome (Gb)")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome-gb", type=float, default=0.1)
    parser.add_argument("--tracks", type=int, default=10)
    parser.add_argument(
        "--coverage-tracks",
        default="1,10,100",
        help="tracks per coverage case (beyond --tracks: hard links to the bigWigs, cycled)",
    )
    default_workdir = Path(tempfile.gettempdir()) / "seqnn_scale"
    parser.add_argument("--workdir", type=Path, default=default_workdir)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--plot", action="store_true", help="write docs/scale.png")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of seqnn-predict/-variants"
    )
    parser.add_argument(
        "--table", action="store_true", help="print the stored figures as Markdown; run nothing"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], json.loads(args.child[1]))))
        return
    if args.table or (args.plot and args.only == "none"):
        results = load_results(args.workdir / "results")
        if args.table:
            print(table(results))
        print_ratios(results)
        if args.plot:
            plot(results, Path(__file__).resolve().parents[1] / "docs" / "scale.png")
        return
    gb, workdir = args.genome_gb, args.workdir
    only = set(args.only.split(","))
    n_peaks = max(args.tracks, 100 if "labels" in only else 0)  # labels: 100 peak files
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    work = make_workload(workdir, gb, n_peaks, log=log, n_bigwigs=args.tracks)
    t0 = time.perf_counter()
    if "genome" in only:
        bench_genome(work, gb, args.repeats)
    if "intervals" in only:
        bench_intervals(work, gb, args.repeats)
    for section in ("coverage", "labels"):
        if section in only:
            n = args.tracks if section == "coverage" else 100
            counts = tuple(int(t) for t in args.coverage_tracks.split(","))
            bench_other(section, work, gb, work.folder, n, counts)
    for kind in ("predict", "variants"):
        if kind in only:
            bench_cli(kind, work, gb, work.folder, args.repeats, args.threads)
    emit("bench_scale_s", time.perf_counter() - t0, "s", gb, load=os.getloadavg()[0])
    results_dir = workdir / "results"
    results_dir.mkdir(exist_ok=True)
    store_results(results_dir / f"scale_{gb:g}.jsonl", RESULTS)
    results = load_results(results_dir)
    print_ratios(results)
    if args.plot:
        plot(results, Path(__file__).resolve().parents[1] / "docs" / "scale.png")


if __name__ == "__main__":
    main()
