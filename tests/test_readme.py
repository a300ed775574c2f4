"""Every command and API name the README shows is exercised, so the README cannot rot.

The commands are read from the README itself (```bash blocks and `inline` commands):

* ``seqnn-train ...``: composed and resolved with Hydra as written (``a|b`` and ``-m`` sweeps
  expanded, the placeholder ``<run>`` filled in; files need not exist for composition);
* ``seqnn-predict`` / ``seqnn-variants`` / ``seqnn-export`` / ``seqnn-ensemble`` /
  ``seqnn-evaluate``: run for real in a folder holding small files with the README's names
  (``genome.fa``, ``regions.bed``, ``calls.vcf.gz``, ``labelled.csv`` …);
  ``devices=N`` (GPUs) runs as ``devices=2 accelerator=cpu``, the same DDP path over gloo;
* ``python scripts/x.py --flag`` / ``bash scripts/x.sh``: the script exists and declares each
  flag; ``make x``: the Makefile has the target;
* ```python blocks: valid Python, and every ``seqnn`` name they import or use exists.
"""

from __future__ import annotations

import ast
import gzip
import importlib
import itertools
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra_run import compose_train, seqnn_cache  # noqa: F401
from omegaconf import OmegaConf, open_dict

from seqnn.data import write_fasta

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
PROGRAMS = ("seqnn-", "python scripts/", "bash scripts/", "make ")


def readme_commands() -> list[str]:
    """Shell commands of the README: bash-block lines (continuations joined, comments cut)
    and inline code spans that start with a program."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s+)#.*$", "", line).strip()
            if line:
                commands.append(" ".join(line.split()))
    inline = re.findall(r"`([^`\n]+)`", README)
    commands += [
        c
        for c in inline
        if c.startswith(PROGRAMS) and " " in c and ":" not in c.split()[0] and c not in commands
    ]
    return commands


COMMANDS = readme_commands()


def of(program: str) -> list[str]:
    return [c for c in COMMANDS if c.startswith(program)]


def test_the_readme_shows_every_entry_point():
    for program in ("make train", "make test", "seqnn-train", "seqnn-predict", "seqnn-variants",
                    "seqnn-export", "seqnn-ensemble", "seqnn-evaluate",
                    "python scripts/"):  # fmt: skip
        assert of(program), f"the README shows no {program!r} command"


# ----------------------------------------------------------------------------- seqnn-train
def train_overrides(command: str) -> list[list[str]]:
    """The override lists one README ``seqnn-train`` line composes (alternatives expanded)."""
    words = [w for w in shlex.split(command.replace("<run>", "RUN"))[1:] if w != "-m"]
    sweep = command.split()[1:2] == ["-m"]
    choices = []
    for word in words:
        key, _, value = word.partition("=")
        values = value.split("|") if "|" in value else [value]
        if sweep and "," in value and not value.startswith("["):
            values = value.split(",")
        choices.append([f"{key}={v}" if _ else key for v in values])
    return [list(c) for c in itertools.product(*choices)]


@pytest.mark.parametrize("command", of("seqnn-train"))
def test_train_command_composes(command, tmp_path):
    for overrides in train_overrides(command):
        if any(o.startswith("hydra/launcher=slurm") for o in overrides):
            pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
        cfg = compose_train(overrides, tmp_path / "run")
        with open_dict(cfg):
            del cfg["hydra"]
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


# ----------------------------------------------------------------------------- other CLIs
@pytest.fixture(scope="module")
def readme_files(tmp_path_factory) -> Path:
    """A folder with small files under the names the README's commands use."""
    folder = tmp_path_factory.mktemp("readme")
    rng = np.random.default_rng(0)
    genome = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 3000), ("chr2", 2000))}
    write_fasta(folder / "genome.fa", genome)
    (folder / "regions.bed").write_text("chr1\t100\t181\tr1\t0\t+\nchr2\t500\t581\tr2\t0\t-\n")
    (folder / "peaks.bed").write_text("chr1\t200\t600\nchr2\t0\t150\n")
    ref = genome["chr1"][999]
    alt = "A" if ref != "A" else "C"
    vcf = f"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t1000\tv1\t{ref}\t{alt}\n"
    with gzip.open(folder / "calls.vcf.gz", "wt") as fh:
        fh.write(vcf)
    labelled = ["".join(rng.choice(list("ACGT"), 81)) for _ in range(20)]
    (folder / "labelled.csv").write_text(
        "sequence,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(labelled))
    )
    shipped = importlib.resources.files("seqnn.resources") / "models" / "ecoli-sigma70"
    shutil.copytree(str(shipped), folder / "outputs" / "runs" / "RUN" / "model")
    for fold in range(2):  # a <sweep>'s per-job model folders
        job = folder / "outputs" / "multiruns" / "SWEEP" / str(fold)
        shutil.copytree(str(shipped), job / "model")
    return folder


def outputs_of(command: str) -> list[str]:
    return [w.split("=", 1)[1] for w in shlex.split(command) if w.startswith("out=")]


CLI_MODULES = {"seqnn-predict": "seqnn.cli.predict", "seqnn-variants": "seqnn.cli.variants",
               "seqnn-export": "seqnn.cli.export", "seqnn-ensemble": "seqnn.cli.ensemble",
               "seqnn-evaluate": "seqnn.cli.evaluate"}  # fmt: skip


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c.split()[0] in CLI_MODULES], ids=lambda c: c[:60]
)
def test_cli_command_runs(command, readme_files, seqnn_cache):  # noqa: F811 (a fixture)
    if "format=onnx" in command:
        pytest.importorskip("onnx")
    words = shlex.split(command.replace("<run>", "RUN").replace("<sweep>", "SWEEP"))
    if any(w.startswith("devices=") for w in words):  # GPUs in the README: the same DDP
        words = [w for w in words if not w.startswith("devices=")]  # path on 2 CPU processes
        words += ["devices=2", "accelerator=cpu"]
    for out in outputs_of(command):
        path = readme_files / out
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", CLI_MODULES[words[0]], *words[1:]],
        cwd=readme_files,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for out in outputs_of(command):
        path = readme_files / out  # a file, or a model folder (seqnn-ensemble)
        written = [path / "seqnn.json", path / "model.safetensors"] if path.is_dir() else [path]
        assert all(p.stat().st_size > 0 for p in written), out


# ----------------------------------------------------------------------------- scripts, make
def script_flags(path: Path) -> set[str]:
    """The ``--flags`` a script's argparse parser declares (read, not run)."""
    flags = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flags |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return flags


@pytest.mark.parametrize("command", of("python scripts/") + of("bash scripts/"))
def test_script_command_exists(command):
    words = shlex.split(command)
    path = ROOT / words[1]
    assert path.is_file(), f"README runs {words[1]}, which does not exist"
    if path.suffix == ".py":
        used = {w.split("=")[0] for w in words[2:] if w.startswith("--")}
        assert used <= script_flags(path), (
            f"{words[1]} does not declare {used - script_flags(path)}"
        )


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    for command in of("make "):
        assert command.split()[1] in targets, command


# ----------------------------------------------------------------------------- python blocks
def seqnn_names(tree: ast.Module) -> list[tuple[str, str]]:
    """(module, name) pairs a snippet takes from seqnn: ``from seqnn.x import n`` and
    ``alias.n`` where ``alias`` is ``import seqnn`` / ``import seqnn.x as alias``."""
    aliases, names = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "seqnn":
                    aliases[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "seqnn":
            names += [(node.module, a.name) for a in node.names]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                names.append((aliases[node.value.id], node.attr))
    return names


PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize(
    "block", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))]
)
def test_python_block_names_exist(block):
    tree = ast.parse(block)
    for module, name in seqnn_names(tree):
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
