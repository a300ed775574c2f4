"""Every command and API name the README and the docs pages show is exercised, so they cannot rot.

The commands are read from README.md and each ``docs/*.md`` page (```bash blocks and `inline`
commands):

* ``seqnn-train ...``: composed and resolved with Hydra as written (``a|b`` and ``-m`` sweeps
  expanded, the placeholder ``<run>`` filled in; files need not exist for composition);
  ``seqnn-train --help`` is run and must print the help;
* ``seqnn-predict`` / ``seqnn-variants`` / ``seqnn-export`` / ``seqnn-ensemble`` /
  ``seqnn-evaluate``: run for real in a folder holding small files with the pages' names
  (``genome.fa``, ``regions.bed``, ``calls.vcf.gz``, ``labelled.csv`` …);
  ``devices=N`` (GPUs) runs as ``devices=2 accelerator=cpu``, the same DDP path over gloo;
* ``python scripts/x.py --flag`` / ``bash scripts/x.sh``: the script exists and declares each
  flag; ``make x``: the Makefile has the target;
* ```python blocks: valid Python, every ``seqnn`` name they import or use exists, and so does
  every attribute they read of a model they load (``seqnn.load_pretrained``).

A ```bash block that the tests cannot run (it installs from PyPI, needs a GPU, trains for hours)
says so on the line above it, with the reason: ``<!-- docs-test: not run (needs a GPU) -->``.
Its commands are still checked as far as they can be (scripts and their flags, make targets);
every other block holds only commands that the tests run.
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

import seqnn
from seqnn.data import write_fasta

ROOT = Path(__file__).parents[1]
PAGES = {
    p.relative_to(ROOT).as_posix(): p.read_text()
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
}
PROGRAMS = ("seqnn-", "python scripts/", "bash scripts/", "make ")
NOT_RUN = re.compile(r"<!-- docs-test: not run \((?P<reason>[^)]+)\) -->\n\Z")
README_MAX_LINES = 150  # a page a newcomer reads in ten minutes; the detail lives in docs/


def bash_blocks(text: str) -> list[tuple[str, str | None]]:
    """(block text, reason it is not run or None) of each ```bash block of a page."""
    blocks = []
    for match in re.finditer(r"```bash\n(.*?)```", text, re.S):
        marker = NOT_RUN.search(text[: match.start()])
        blocks.append((match.group(1), marker.group("reason") if marker else None))
    return blocks


def block_commands(block: str) -> list[str]:
    """The command lines of a block: continuations joined, comments cut."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s+)#.*$", "", line).strip()
        if line:
            commands.append(" ".join(line.split()))
    return commands


def inline_commands(text: str) -> list[str]:
    """Inline code spans of a page that are commands: a program and its arguments, spans
    holding several (``a; b``) split; prose after a program name (``seqnn-ensemble of the
    seeds' models``) is not a command."""
    pieces = [p.strip() for span in re.findall(r"`([^`\n]+)`", text) for p in span.split(";")]
    return [p for p in pieces if p.startswith(PROGRAMS) and " " in p and is_command(p)]


def is_command(text: str) -> bool:
    """Whether ``text`` parses as a shell command whose ``seqnn-*`` arguments are settings
    (``key=value``, ``+key=value``, ``~key``) or flags."""
    try:
        words = shlex.split(text)
    except ValueError:
        return False
    if ":" in words[0]:  # seqnn-predict: error: ... (a message, not a command)
        return False
    settings = [w for w in words[1:] if w.startswith(("-", "~")) or "=" in w]
    return not words[0].startswith("seqnn-") or len(settings) == len(words) - 1


def page_commands(run: bool) -> dict[str, str]:
    """Command -> the first page that shows it: those the tests run (``run``: blocks not marked
    and inline commands) or those of the blocks marked as not run."""
    found = {}
    for page, text in PAGES.items():
        commands = [c for b, reason in bash_blocks(text) if (reason is None) == run
                    for c in block_commands(b)]  # fmt: skip
        for command in commands + (inline_commands(text) if run else []):
            found.setdefault(command, page)
    return found


COMMANDS = list(page_commands(run=True))
SHOWN = COMMANDS + [c for c in page_commands(run=False) if c not in COMMANDS]


def of(program: str, commands: list[str] = COMMANDS) -> list[str]:
    return [c for c in commands if c.startswith(program)]


def test_the_docs_show_every_entry_point():
    for program in ("make train", "make test", "seqnn-train", "seqnn-predict", "seqnn-variants",
                    "seqnn-export", "seqnn-ensemble", "seqnn-evaluate", "seqnn-convert",
                    "seqnn-interpret", "seqnn-design",
                    "python scripts/"):  # fmt: skip
        assert of(program, SHOWN), f"neither the README nor docs/ shows a {program!r} command"


def test_the_readme_is_short():
    lines = PAGES["README.md"].count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail into docs/"


@pytest.mark.parametrize("page", PAGES)
def test_every_shell_block_runs_or_says_why_not(page):
    for block, reason in bash_blocks(PAGES[page]):
        if reason is None:
            others = [c for c in block_commands(block) if not c.startswith("seqnn-")]
            assert not others, (
                f"{page}: the tests do not run {others}: mark the block with "
                "<!-- docs-test: not run (why) --> on the line above it"
            )


def test_a_marked_block_is_not_run_and_an_unmarked_one_is():
    page = (
        "text\n<!-- docs-test: not run (needs a GPU) -->\n```bash\nmake x\n```\n\n"
        "```bash\nseqnn-train\n```\n"
    )
    assert bash_blocks(page) == [("make x\n", "needs a GPU"), ("seqnn-train\n", None)]


# ----------------------------------------------------------------------------- seqnn-train
def train_overrides(command: str) -> list[list[str]]:
    """The override lists one ``seqnn-train`` line of the docs composes (alternatives expanded)."""
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


TRAIN_COMMANDS = [c for c in of("seqnn-train") if "--help" not in c.split()]


@pytest.mark.parametrize("command", TRAIN_COMMANDS)
def test_train_command_composes(command, tmp_path):
    for overrides in train_overrides(command):
        if any(o.startswith("hydra/launcher=slurm") for o in overrides):
            pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
        cfg = compose_train(overrides, tmp_path / "run")
        with open_dict(cfg):
            del cfg["hydra"]
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


@pytest.mark.parametrize("command", [c for c in of("seqnn-train") if c not in TRAIN_COMMANDS])
def test_train_help_runs(command):
    """``seqnn-train --help`` prints seqnn's own help: the groups, their options, examples."""
    done = subprocess.run(
        [sys.executable, "-m", "seqnn.cli.train", *shlex.split(command)[1:]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(group in done.stdout for group in ("data", "model", "task", "trainer")), done.stdout


# ----------------------------------------------------------------------------- other CLIs
@pytest.fixture(scope="module")
def readme_files(tmp_path_factory) -> Path:
    """A folder with small files under the names the pages' commands use."""
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
    write_cohort(folder / "cohort.vcf", genome)
    labelled = ["".join(rng.choice(list("ACGT"), 81)) for _ in range(20)]
    (folder / "labelled.csv").write_text(
        "sequence,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(labelled))
    )
    (folder / "library.fa").write_text("".join(f">d{i}\n{s}\n" for i, s in enumerate(labelled)))
    shipped = importlib.resources.files("seqnn.resources") / "models" / "ecoli-sigma70"
    shutil.copytree(str(shipped), folder / "outputs" / "runs" / "RUN" / "model")
    for fold in range(2):  # a <sweep>'s per-job model folders
        job = folder / "outputs" / "multiruns" / "SWEEP" / str(fold)
        shutil.copytree(str(shipped), job / "model")
    return folder


def write_cohort(path: Path, genome: dict[str, str]) -> None:
    """``cohort.vcf.gz`` (+ .tbi): three people, an SNV, an insertion and a deletion."""
    pysam = pytest.importorskip("pysam")
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">']
    lines += [f"##contig=<ID={c},length={len(seq)}>" for c, seq in genome.items()]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tHG1\tHG2\tHG3")
    for chrom, pos, ref_len, alt_tail, gts in (
        ("chr1", 130, 1, None, "0|1\t1|1\t0|0"),
        ("chr1", 145, 1, "TTT", "1|0\t0|0\t0|1"),
        ("chr2", 530, 4, "", "0|1\t0|0\t1|1"),
    ):
        ref = genome[chrom][pos - 1 : pos - 1 + ref_len]
        alt = ref[0] + alt_tail if alt_tail is not None else ("A" if ref != "A" else "C")
        lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t{gts}")
    path.write_text("\n".join(lines) + "\n")
    pysam.tabix_index(str(path), preset="vcf", force=True)


def outputs_of(command: str) -> list[str]:
    return [w.split("=", 1)[1] for w in shlex.split(command) if w.startswith("out=")]


CLI_MODULES = {"seqnn-predict": "seqnn.cli.predict", "seqnn-variants": "seqnn.cli.variants",
               "seqnn-export": "seqnn.cli.export", "seqnn-ensemble": "seqnn.cli.ensemble",
               "seqnn-evaluate": "seqnn.cli.evaluate", "seqnn-convert": "seqnn.cli.convert",
               "seqnn-design": "seqnn.cli.design", "seqnn-qc": "seqnn.cli.qc"}  # fmt: skip


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c.split()[0] in CLI_MODULES], ids=lambda c: c[:60]
)
def test_cli_command_runs(command, readme_files, seqnn_cache):  # noqa: F811 (a fixture)
    if "format=onnx" in command:
        pytest.importorskip("onnx")
    words = shlex.split(command.replace("<run>", "RUN").replace("<sweep>", "SWEEP"))
    if any(w.startswith("devices=") for w in words):  # GPUs in the docs: the same DDP
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
        path = readme_files / out  # a file, a model folder (seqnn-ensemble), a QC report
        written = [path / "seqnn.json", path / "model.safetensors"] if path.is_dir() else [path]
        if (path / "qc.json").exists():  # seqnn-qc's folder
            written = [path / "qc.json", path / "report.md"]
        assert all(p.stat().st_size > 0 for p in written), out


# ----------------------------------------------------------------------------- scripts, make
def script_flags(path: Path) -> set[str]:
    """The ``--flags`` a script's argparse parser declares (read, not run)."""
    flags = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flags |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return flags


@pytest.mark.parametrize("command", of("python scripts/", SHOWN) + of("bash scripts/", SHOWN))
def test_script_command_exists(command):
    words = shlex.split(command)
    path = ROOT / words[1]
    assert path.is_file(), f"the docs run {words[1]}, which does not exist"
    if path.suffix == ".py":
        used = {w.split("=")[0] for w in words[2:] if w.startswith("--")}
        assert used <= script_flags(path), (
            f"{words[1]} does not declare {used - script_flags(path)}"
        )


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    for command in of("make ", SHOWN):
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


def model_attributes(tree: ast.Module) -> list[str]:
    """The attributes a snippet reads of a model it loaded (``m = seqnn.load_pretrained(...)``
    then ``m.x``): the verbs are functions (``seqnn.predict_regions(m, ...)``), not methods."""
    models = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if getattr(func, "attr", getattr(func, "id", None)) == "load_pretrained":
                models |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in models
    ]


PYTHON_BLOCKS = {
    f"{page}:{i}": block
    for page, text in PAGES.items()
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S))
}


@pytest.fixture(scope="module")
def shipped_model():
    return seqnn.load_pretrained("ecoli-sigma70")


@pytest.mark.parametrize("block", PYTHON_BLOCKS.values(), ids=list(PYTHON_BLOCKS))
def test_python_block_names_exist(block, shipped_model):
    tree = ast.parse(block)
    for module, name in seqnn_names(tree):
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
    for name in model_attributes(tree):
        assert hasattr(shipped_model, name), f"a loaded model has no attribute {name!r}"


def test_a_model_method_that_does_not_exist_is_caught():
    tree = ast.parse('import seqnn\nm = seqnn.load_pretrained("x")\nm.predict_regions("g.fa")\n')
    assert model_attributes(tree) == ["predict_regions"]
