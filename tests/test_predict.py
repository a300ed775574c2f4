"""Prediction on sequences and FASTA regions, genome-wide scans, and the seqnn-predict CLI."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from cli_exit import exit_status

from seqnn.cli.predict import main
from seqnn.data.encoding import EncodingError, reverse_complement
from seqnn.data.genome import Genome, GenomeError, write_fasta
from seqnn.data.intervals import IntervalError
from seqnn.inference.predict import (
    PredictError,
    predict_regions,
    predict_regions_to_file,
    predict_sequences,
    write_table,
)
from seqnn.inference.pretrained import PretrainedError, load_pretrained, save_pretrained
from seqnn.inference.scan import TrackWriter, n_bins, scan_genome
from seqnn.models import BassetCNN

LENGTH = 64


@pytest.fixture
def fasta(tmp_path):
    rng = np.random.default_rng(1)
    seqs = {
        n: "".join(rng.choice(list("ACGT"), size)) for n, size in (("chr1", 1000), ("chr2", 300))
    }
    return write_fasta(tmp_path / "genome.fa", seqs)


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = BassetCNN(n_filters=[8, 8], kernel_sizes=5, pool_sizes=2, n_hidden=[8], dropout=0.0)
    return save_pretrained(net, tmp_path / "model", input_length=LENGTH, targets=["score"])


@pytest.fixture
def model(model_dir):
    return load_pretrained(model_dir)


@pytest.fixture
def bed(tmp_path):
    path = tmp_path / "regions.bed"
    path.write_text(
        "chr1\t100\t164\tr1\t0\t+\n"  # exactly the input length
        "chr1\t500\t520\tr2\t0\t-\n"  # shorter: resized around its centre
        "chr2\t10\t290\tr3\t0\t+\n"  # longer
    )
    return path


def test_predict_regions_matches_sequence_predictions(model, fasta, bed):
    genome = Genome(fasta)
    table = predict_regions(model, genome, bed, tile_regions=False)  # r3's central window
    assert list(table.columns) == [
        "chrom",
        "start",
        "end",
        "name",
        "score",
        "strand",
        "score_pred",
    ]
    assert list(table["name"]) == ["r1", "r2", "r3"]
    centre = (500 + 520) // 2
    seqs = [
        genome.fetch("chr1", 100, 164),
        reverse_complement(genome.fetch("chr1", centre - 32, centre + 32)),
        genome.fetch("chr2", 150 - 32, 150 + 32),
    ]
    expected = predict_sequences(model, seqs)["score_pred"].to_numpy()
    np.testing.assert_allclose(table["score_pred"].to_numpy(), expected, rtol=1e-6)


def test_predictions_do_not_depend_on_batch_size(model, fasta, bed):
    a = predict_regions(model, fasta, bed, batch_size=1)
    b = predict_regions(model, fasta, bed, batch_size=256)
    np.testing.assert_allclose(a["score_pred"], b["score_pred"], rtol=1e-5)


def test_rc_averaging_is_strand_symmetric(model):
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(8)]
    fwd = predict_sequences(model, seqs, rc=True).to_numpy()
    rev = predict_sequences(model, [reverse_complement(s) for s in seqs], rc=True).to_numpy()
    np.testing.assert_allclose(fwd, rev, rtol=1e-5)
    plain = predict_sequences(model, seqs).to_numpy()
    assert not np.allclose(plain, fwd)


@pytest.mark.parametrize(("length", "at"), [(100, 40), (64, 17), (20, 5)])  # cut, as is, padded
def test_a_bad_letter_is_named_by_index_and_position_as_given(model, length, at):
    seqs = ["ACGT" * 25, "A" * at + "Z" + "A" * (length - at - 1)]  # in the model's window
    with pytest.raises(EncodingError, match=rf"^sequences\[1\]: position {at}: 'Z' is not"):
        predict_sequences(model, seqs, batch_size=1 if length == 20 else 256)


def test_sequences_of_other_lengths_are_centred(model):
    core = "ACGT" * 16
    long = "T" * 10 + core + "T" * 11  # centre-crop to the middle 64
    short = core[8:40]  # N-padded around its centre
    out = predict_sequences(model, [core, long, short]).to_numpy()
    assert out[0] == pytest.approx(out[1])
    assert out[2] == pytest.approx(
        predict_sequences(model, ["N" * 16 + short + "N" * 16])["score_pred"][0]
    )


def test_tiled_regions_aggregate_their_windows(model, fasta, tmp_path):
    bed = tmp_path / "long.bed"
    bed.write_text("chr1\t0\t200\tlong\n")
    genome = Genome(fasta)
    starts = [0, 64, 128, 200 - LENGTH]  # the last window ends at the region's end
    per_window = predict_sequences(model, [genome.fetch("chr1", s, s + LENGTH) for s in starts])
    mean = predict_regions(model, genome, bed, tile_regions=True)["score_pred"][0]
    top = predict_regions(model, genome, bed, tile_regions=True, aggregate="max")["score_pred"][0]
    assert mean == pytest.approx(per_window["score_pred"].mean(), rel=1e-5)
    assert top == pytest.approx(per_window["score_pred"].max(), rel=1e-5)
    # the tiling settings with tiling off: an error before any file is read
    for kwargs, given in (({"aggregate": "max"}, "aggregate='max'"), ({"stride": 8}, "stride=8")):
        with pytest.raises(PredictError, match=f"{given} acts on tiled regions"):
            missing = (tmp_path / "missing.fa", tmp_path / "missing.bed")
            predict_regions(model, *missing, tile_regions=False, **kwargs)
    with pytest.raises(PredictError, match="tile must be true, false or auto"):
        predict_regions(model, fasta, bed, tile_regions="yes")


def test_bad_regions_are_clear_errors(model, fasta, tmp_path):
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t0\t64\nchrX\t0\t64\n")
    with pytest.raises(IntervalError, match=r"bad.bed:2: contig 'chrX' is not in the genome"):
        predict_regions(model, fasta, bad)
    bad.write_text("chr2\t250\t400\n")
    with pytest.raises(IntervalError, match=r"bad.bed:1: end 400 is past the end of chr2"):
        predict_regions(model, fasta, bad)
    padded = predict_regions(model, fasta, bad, on_invalid="pad")
    assert len(padded) == 1
    bad.write_text("")
    with pytest.raises(IntervalError, match="no intervals"):
        predict_regions(model, fasta, bad)


def test_scan_covers_every_contig_with_the_expected_bins(model, fasta, tmp_path):
    out = tmp_path / "track.bedgraph"
    (path,) = scan_genome(model, fasta, out, stride=50, chunk_bins=7, batch_size=3)
    track = pd.read_csv(path, sep="\t", header=None, names=["chrom", "start", "end", "value"])
    assert track.groupby("chrom").size().to_dict() == {"chr1": n_bins(1000, 50), "chr2": 6}
    for chrom, size in (("chr1", 1000), ("chr2", 300)):
        rows = track[track.chrom == chrom]
        assert rows.start.iloc[0] == 0 and rows.end.iloc[-1] == size
        assert (rows.start.to_numpy()[1:] == rows.end.to_numpy()[:-1]).all()  # no gaps
    # bin 3 of chr1 = the window centred on 175
    genome = Genome(fasta)
    expected = predict_sequences(model, [genome.fetch("chr1", 175 - 32, 175 + 32)])["score_pred"][
        0
    ]
    assert track.value.iloc[3] == pytest.approx(expected, rel=1e-4)
    assert not list(tmp_path.glob(".*.tmp"))


def test_bedgraph_writer_formats_every_line(tmp_path):
    """The chunk-at-once writer: a '%' in a contig name stays literal; %.6g values."""
    genome = Genome(write_fasta(tmp_path / "g.fa", {"c%d": "ACGT" * 10}))
    with TrackWriter(tmp_path / "t.bedgraph", genome, ["c%d"]) as writer:
        values = np.array([0.5, 1 / 3, np.nan, 1e-30], dtype=np.float32)
        writer.write("c%d", np.arange(4) * 10, np.arange(1, 5) * 10, values)
    assert (tmp_path / "t.bedgraph").read_text() == (
        "c%d\t0\t10\t0.5\nc%d\t10\t20\t0.333333\nc%d\t20\t30\tnan\nc%d\t30\t40\t1e-30\n"
    )


def test_scan_writes_bigwig(model, fasta, tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    (path,) = scan_genome(model, fasta, tmp_path / "track.bw", stride=40)
    bw = pyBigWig.open(str(path))
    assert bw.chroms() == {"chr1": 1000, "chr2": 300}
    assert len(bw.intervals("chr1")) == 25 and len(bw.intervals("chr2")) == 8
    (bedgraph,) = scan_genome(model, fasta, tmp_path / "track.bedgraph", stride=40)
    expected = pd.read_csv(bedgraph, sep="\t", header=None, names=["chrom", "start", "end", "v"])
    got = [(c, s, e, v) for c in ("chr1", "chr2") for s, e, v in bw.intervals(c)]
    assert [g[:3] for g in got] == list(expected[["chrom", "start", "end"]].itertuples(False))
    np.testing.assert_allclose([g[3] for g in got], expected.v, rtol=1e-5)  # chr2 ends short


def test_scan_names_track_files_from_any_target_name(fasta, tmp_path):
    """A target name with a '/' (or other non-file characters) gives a file in the output's
    folder, not a path into a missing one; two names that clash are an error."""
    net = BassetCNN(n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8], n_targets=3)
    model = load_pretrained(
        save_pretrained(
            net, tmp_path / "m", input_length=LENGTH, targets=["H3K27ac/rep1", "..", "c"]
        )
    )
    paths = scan_genome(model, fasta, tmp_path / "t.bedgraph", stride=60, contigs=["chr2"])
    assert [p.name for p in paths] == ["t.H3K27ac_rep1.bedgraph", "t._.bedgraph", "t.c.bedgraph"]
    assert all(p.parent == tmp_path and p.is_file() for p in paths)
    clash = BassetCNN(n_filters=[8], kernel_sizes=5, pool_sizes=2, n_hidden=[8], n_targets=2)
    clash = load_pretrained(
        save_pretrained(clash, tmp_path / "m2", input_length=LENGTH, targets=["a/b", "a_b"])
    )
    with pytest.raises(PredictError, match="same track file name"):
        scan_genome(clash, fasta, tmp_path / "u.bedgraph", stride=60)
    assert not list(tmp_path.glob("u*"))


def test_scan_rejects_bad_stride(model, fasta, tmp_path):
    for stride in (0, -5):
        with pytest.raises(PredictError, match="stride"):
            scan_genome(model, fasta, tmp_path / "t.bedgraph", stride=stride)
    assert not list(tmp_path.glob("*bedgraph*"))


def run_cli(monkeypatch, *args) -> int:
    return exit_status(main, *args)


def test_cli_takes_the_shipped_data_by_name(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SEQNN_CACHE_DIR", str(tmp_path / "cache"))  # the decompressed genome
    out = tmp_path / "preds.tsv"
    shipped = ["model=ecoli-sigma70", "fasta=embedded:ecoli", "regions=embedded:ecoli_promoters"]
    assert run_cli(monkeypatch, *shipped, f"out={out}", "progress=false") == 0
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 839 and (table["label_pred"] > 0.5).mean() > 0.8  # real promoters
    assert run_cli(monkeypatch, *shipped[:2], "regions=embedded:human", f"out={out}") == 2
    error = capsys.readouterr().err
    assert error.startswith("seqnn-predict: error: setting regions: embedded:human: seqnn ships")
    assert "embedded:ecoli (the E. coli K-12 MG1655 genome, FASTA)" in error
    assert len(error.strip().splitlines()) == 1


def test_the_prediction_column_is_always_target_pred(model, fasta, tmp_path):
    plain = tmp_path / "plain.bed"  # no column named like the target
    plain.write_text("chr1\t100\t164\n")
    assert list(predict_regions(model, fasta, plain).columns) == [
        "chrom",
        "start",
        "end",
        "score_pred",
    ]
    assert list(predict_sequences(model, ["ACGT" * 16]).columns) == ["score_pred"]


def test_rc_mean_warns_on_a_strand_specific_model(model, fasta, bed, tmp_path):
    stranded = load_pretrained(save_pretrained(model, tmp_path / "s", strand_specific=True))
    for rc in (True, "mean"):
        with pytest.warns(UserWarning, match="strand-specific.* use rc=false .* or rc=max"):
            predict_regions(stranded, fasta, bed, rc=rc)
    with pytest.warns(UserWarning, match="strand-specific"):
        scan_genome(stranded, fasta, tmp_path / "t.bedgraph", stride=50, rc=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict_regions(stranded, fasta, bed, rc="max")  # either strand: no warning
        predict_regions(stranded, fasta, bed)
        predict_regions(model, fasta, bed, rc=True)  # not said to be strand-specific


def test_cli_writes_the_expected_table(model_dir, fasta, bed, tmp_path):
    out = tmp_path / "preds.tsv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqnn.cli.predict",
            f"model={model_dir}",
            f"fasta={fasta}",
            f"regions={bed}",
            f"out={out}",
            "rc=true",
            "batch_size=2",
            "device=auto",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == [
        "chrom",
        "start",
        "end",
        "name",
        "score",
        "strand",
        "score_pred",
    ]
    assert len(table) == 3 and table["score_pred"].between(0, 1).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "genome.fa",
            "genome.fa.fai",
            "genome.fa.seqnn-codes",
            "genome.fa.seqnn-codes.json",
            "model",
            "regions.bed",
            "preds.tsv",
        ]
    )  # nothing else: no Hydra run folder, no log file


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["regions={bad}"], "contig 'chrX' is not in the genome"),
        (["regions={empty}"], "no intervals"),
        (["regions={past}"], "is past the end of chr2"),
        (["scan=true", "stride=0"], "stride=0"),
        (["regions={bed}", "model={tmp}/nomodel"], "no such model"),
        (["regions={bed}", "model={tmp}"], "no spec file"),
        (["regions={bed}", "fasta={tmp}/missing.fa"], "missing.fa"),
        (["regions={bed}", "tile=false", "aggregate=max"], "aggregate='max' acts on tiled"),
        (["regions={bed}", "tile=false", "stride=10"], "seqnn-predict: tile=true"),
        # checked before any process starts, as on one device
        (["regions={bed}", "devices=2", "tile=false", "aggregate=max"], "acts on tiled"),
    ],
)
def test_cli_bad_input_exits_non_zero_without_output(
    monkeypatch, capsys, model_dir, fasta, bed, tmp_path, extra, message
):
    (tmp_path / "bad.bed").write_text("chrX\t0\t64\n")
    (tmp_path / "empty.bed").write_text("# nothing\n")
    (tmp_path / "past.bed").write_text("chr2\t250\t400\n")
    names = {
        "bad": tmp_path / "bad.bed",
        "empty": tmp_path / "empty.bed",
        "past": tmp_path / "past.bed",
        "bed": bed,
        "tmp": tmp_path,
    }
    out = tmp_path / "out" / "preds.tsv"
    settings = {"model": model_dir, "fasta": fasta, "out": out}  # an extra one replaces these
    settings.update(e.format(**names).split("=", 1) for e in extra)
    assert run_cli(monkeypatch, *(f"{key}={value}" for key, value in settings.items())) == 2
    err = capsys.readouterr().err
    assert "seqnn-predict: error:" in err and message in err
    assert not out.exists() and not list(out.parent.glob("*")) if out.parent.exists() else True


def test_cli_calls_use_the_threshold_in_the_models_spec(monkeypatch, model, fasta, bed, tmp_path):
    preds = predict_regions(model, fasta, bed)["score_pred"].to_numpy()
    threshold = float(np.sort(preds)[1]) - 1e-6  # between the lowest and the middle score
    folder = save_pretrained(model, tmp_path / "tuned", threshold=threshold)
    assert load_pretrained(folder).spec.threshold == pytest.approx(threshold)
    out = tmp_path / "calls.tsv"
    args = [f"model={folder}", f"fasta={fasta}", f"regions={bed}", f"out={out}", "calls=true"]
    assert run_cli(monkeypatch, *args) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns)[-2:] == ["score_pred", "score_call"]
    np.testing.assert_array_equal(table["score_call"], (preds > threshold).astype(int))
    assert table["score_call"].sum() == 2  # 0.5 would give another split


def test_calls_are_made_on_the_predictions_not_an_old_column(model, fasta, tmp_path):
    from seqnn.inference.predict import add_calls

    regions = tmp_path / "old.tsv"  # an earlier run's output as regions: its score_pred goes
    regions.write_text("chrom\tstart\tend\tscore_pred\nchr1\t0\t64\t0.9\nchr1\t64\t128\t0.9\n")
    table = predict_regions(model, fasta, regions)
    assert list(table.columns) == ["chrom", "start", "end", "score_pred"]
    assert (table["score_pred"] != 0.9).all()  # this run's predictions
    called = add_calls(table, model)
    assert list(called.columns[-1:]) == ["score_call"]
    np.testing.assert_array_equal(called["score_call"], (table["score_pred"] > 0.5).astype(int))


def test_calls_need_a_yes_no_model_and_a_valid_threshold(
    monkeypatch, capsys, model, fasta, bed, tmp_path
):
    regression = save_pretrained(model, tmp_path / "reg", task="regression")
    args = [f"model={regression}", f"fasta={fasta}", f"regions={bed}", "calls=true"]
    assert run_cli(monkeypatch, *args, f"out={tmp_path}/x.tsv") == 2
    assert "calls need a binary or multilabel model" in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists()
    spec_file = tmp_path / "reg" / "seqnn.json"
    spec = spec_file.read_text()
    assert '"threshold": null' in spec
    spec_file.write_text(spec.replace('"threshold": null', '"threshold": 1.5'))
    with pytest.raises(PretrainedError, match="threshold 1.5 is not a probability"):
        load_pretrained(tmp_path / "reg")


def test_cli_missing_or_unknown_settings_fail(monkeypatch, capsys, model_dir, tmp_path):
    assert run_cli(monkeypatch, f"model={model_dir}", f"out={tmp_path}/x.tsv") == 2
    assert "give fasta=<genome.fa> with regions=" in capsys.readouterr().err
    assert run_cli(monkeypatch, f"model={model_dir}", "fasta=x.fa", "out=x", "strid=5") == 2
    assert "unknown setting 'strid=5'" in capsys.readouterr().err
    # OmegaConf would keep the last of a repeated key; a mistyped second out= is an error
    assert run_cli(monkeypatch, f"model={model_dir}", "fasta=x.fa", "out=a", "+out=b") == 2
    assert "setting out given more than once" in capsys.readouterr().err


def test_unindexed_fasta_in_read_only_folder_is_a_clear_error(model, fasta, tmp_path, bed):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "g.fa").write_bytes(fasta.read_bytes())
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK) and (ro / "probe").touch() is None:
            (ro / "probe").unlink()
            pytest.skip("running as root: the folder stays writable")
        with pytest.raises(GenomeError, match="cannot write"):
            predict_regions(model, ro / "g.fa", bed)
    finally:
        os.chmod(ro, 0o755)


@pytest.mark.parametrize("n_windows", [1, 2, 3, 7, 600])
def test_rank_batches_give_every_rank_work_and_cover_each_window_once(fasta, n_windows):
    """Lightning needs at least one batch per rank, even with fewer windows than ranks."""
    from seqnn.data.genome import Genome
    from seqnn.inference.multi_device import _RankBatches

    windows = pd.DataFrame({"chrom": "chr1", "start": np.arange(n_windows) % 900})
    windows["end"] = windows["start"] + 64
    genome = Genome(fasta)
    ranks = [_RankBatches(genome, windows, 256, False, r, 2) for r in range(2)]
    assert all(len(r) >= 1 for r in ranks)
    seen = np.concatenate([r[k][0] for r in ranks for k in range(len(r))])
    assert sorted(seen.tolist()) == list(range(n_windows))
    codes = [r[k][1] for r in ranks for k in range(len(r))]
    assert all(c.shape[1] == 64 and c.dtype == np.uint8 for c in codes)


def test_ddp_prediction_refuses_a_shard_folder_of_another_user(model_dir, fasta, tmp_path):
    """Under a shared temp folder another user could make the shard folder first."""
    import os

    from seqnn.inference.multi_device import predict_regions_distributed

    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("needs root to make a folder owned by another user")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t64\tr0\n")
    with pytest.raises(PermissionError, match="theirs: the shard folder belongs to another user"):
        predict_regions_distributed(load_pretrained(model_dir), fasta, bed, shard_dir=theirs)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"tile_regions": True, "stride": 16, "aggregate": "max"}, {"tile_regions": False}],
)
def test_multi_device_regions_are_tiled_as_on_one_device(model, fasta, bed, tmp_path, kwargs):
    """The multi-device path plans its windows with the one-device rule (tile=auto tiles r3,
    longer than the input): the same rows, whatever the number of devices (one rank here)."""
    from seqnn.inference.multi_device import predict_regions_distributed

    multi = predict_regions_distributed(
        model, fasta, bed, devices=1, accelerator="cpu", strategy="auto", **kwargs
    )
    single = predict_regions(model, fasta, bed, progress=False, **kwargs)
    pd.testing.assert_frame_equal(multi, single, rtol=1e-6)


@pytest.mark.slow
def test_ddp_prediction_merges_rank_shards_in_region_order(model_dir, fasta, tmp_path):
    rng = np.random.default_rng(3)
    starts = rng.integers(0, 700, 50)
    ends = starts + np.where(np.arange(50) % 3 == 0, rng.integers(65, 300, 50), 64)  # tiled
    bed = tmp_path / "many.bed"
    rows = (f"chr1\t{s}\t{e}\tr{i}\n" for i, (s, e) in enumerate(zip(starts, ends, strict=True)))
    bed.write_text("".join(rows))
    out = tmp_path / "ddp.tsv"
    args = [f"model={model_dir}", f"fasta={fasta}", f"regions={bed}", f"out={out}"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqnn.cli.predict",
            *args,
            "devices=2",
            "accelerator=cpu",
            "batch_size=8",
            "device=cpu",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    merged = pd.read_csv(out, sep="\t")
    single = predict_regions(load_pretrained(model_dir), fasta, bed, batch_size=8)
    assert list(merged["name"]) == [f"r{i}" for i in range(50)]
    np.testing.assert_allclose(merged["score_pred"], single["score_pred"], rtol=1e-5)
    assert not (tmp_path / ".ddp.tsv.shards").exists()  # the shards and their folder


@pytest.mark.parametrize("tiled", [False, True])
def test_streamed_predictions_equal_the_whole_table(model, fasta, tmp_path, tiled):
    """seqnn-predict's stream (blocks of a few regions, appended to a temp file) writes the
    table that predict_regions + write_table write in one go."""
    rng = np.random.default_rng(5)
    start = rng.integers(0, 900, 300)
    width = rng.integers(20, 200, 300) if tiled else np.full(300, LENGTH)
    regions = pd.DataFrame(
        {"chrom": "chr1", "start": start, "end": np.minimum(start + width, 1000), "name": "r"}
    )
    regions["strand"] = np.where(rng.random(300) < 0.5, "+", "-")
    bed = tmp_path / "many.bed"
    regions.to_csv(bed, sep="\t", header=False, index=False)
    kwargs = {"tile_regions": tiled, "stride": 16 if tiled else None, "batch_size": 7}
    whole, streamed = tmp_path / "whole.tsv", tmp_path / "streamed.tsv"
    write_table(predict_regions(model, fasta, bed, **kwargs), whole)
    predict_regions_to_file(model, fasta, bed, streamed, chunk_bytes=500, **kwargs)
    assert streamed.read_text() == whole.read_text()
    assert len(pd.read_csv(streamed, sep="\t")) == 300


def test_a_bad_region_late_in_the_stream_leaves_no_output(model, fasta, tmp_path):
    bed = tmp_path / "late.bed"
    bed.write_text("chr1\t100\t164\n" * 50 + "chr9\t1\t65\n")
    out = tmp_path / "out.tsv"
    with pytest.raises(IntervalError, match=r"late.bed:51: contig 'chr9' is not in the genome"):
        predict_regions_to_file(model, fasta, bed, out, chunk_bytes=64)
    assert not out.exists() and not list(tmp_path.glob(".out.tsv*"))


STREAM_CHILD = """
import sys
from pathlib import Path
from seqnn.inference.predict import predict_regions, predict_regions_to_file, write_table
from seqnn.inference.pretrained import load_pretrained
model_dir, fasta, bed, out, how = sys.argv[1:]
model = load_pretrained(model_dir)
if how == "stream":
    predict_regions_to_file(model, fasta, bed, out, chunk_bytes=1 << 18, progress=False)
else:  # the whole table in memory: what the stream must not do
    write_table(predict_regions(model, fasta, bed, progress=False), Path(out))
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(int(status.split()[0]) / 1024)
"""


def peak_rss_mb(model_dir, fasta, bed, out, how: str) -> float:
    cmd = [sys.executable, "-c", STREAM_CHILD, str(model_dir), str(fasta), str(bed), str(out), how]
    return float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


@pytest.mark.slow
def test_a_streamed_prediction_run_does_not_keep_its_rows(model_dir, tmp_path):
    """Peak memory of 200,000 regions stays within a few MB of 20,000 (a block of ~12,000
    regions is held at a time); holding them all costs tens of MB more."""
    rng = np.random.default_rng(0)
    fasta = write_fasta(tmp_path / "g.fa", {"chr1": "".join(rng.choice(list("ACGT"), 50_000))})
    Genome(fasta)  # index + cache built outside the measured runs
    peaks = {}
    for n in (20_000, 200_000):
        start = rng.integers(0, 50_000 - LENGTH, n)
        bed = tmp_path / f"r{n}.bed"
        pd.DataFrame({"c": "chr1", "s": start, "e": start + LENGTH, "name": "region"}).to_csv(
            bed, sep="\t", header=False, index=False
        )
        peaks[n] = peak_rss_mb(model_dir, fasta, bed, tmp_path / f"o{n}.tsv", "stream")
        assert len(pd.read_csv(tmp_path / f"o{n}.tsv", sep="\t")) == n
    growth = peaks[200_000] - peaks[20_000]
    assert growth < 10, f"peak RSS grew by {growth:.0f} MB from 20k to 200k regions"


def test_regions_longer_than_the_input_are_tiled_by_default(model, model_dir, fasta, tmp_path):
    """tile=auto: a long region is the mean of its windows (as tile=true gives it), a short
    one its centred window (as tile=false gives it); tile=false keeps the central window."""
    bed = tmp_path / "mixed.bed"
    bed.write_text(f"chr1\t100\t{100 + LENGTH // 2}\tshort\nchr1\t0\t{3 * LENGTH + 7}\tlong\n")
    genome = Genome(fasta)
    auto = predict_regions(model, genome, bed, progress=False)
    tiled = predict_regions(model, genome, bed, tile_regions=True, progress=False)
    centred = predict_regions(model, genome, bed, tile_regions=False, progress=False)
    np.testing.assert_allclose(auto["score_pred"], tiled["score_pred"], rtol=1e-6)
    np.testing.assert_allclose(auto["score_pred"][0], centred["score_pred"][0], rtol=1e-6)
    assert not np.isclose(auto["score_pred"][1], centred["score_pred"][1])  # all of it seen
    args = [f"model={model_dir}", f"fasta={fasta}", f"regions={bed}", "progress=false"]
    for tile, expected in (("auto", auto), ("false", centred)):
        main([*args, f"out={tmp_path}/{tile}.tsv", f"tile={tile}"])
        table = pd.read_csv(tmp_path / f"{tile}.tsv", sep="\t")
        np.testing.assert_allclose(table["score_pred"], expected["score_pred"], rtol=1e-5)
