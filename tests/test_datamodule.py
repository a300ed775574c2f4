"""TableDataModule and IntervalDataModule (over SequenceDataModule): batch shapes, disjoint
splits, declared shapes checked against the data."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from seqnn.data.datamodule import IntervalDataModule, SequenceDataModule, TableDataModule
from seqnn.data.encoding import encode
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.transforms import ReverseComplement


def random_dna(rng, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), length))


@pytest.fixture
def table(rng) -> pd.DataFrame:
    n = 100
    return pd.DataFrame(
        {
            "sequence": [random_dna(rng, 30) for _ in range(n)],
            "label": np.r_[np.zeros(80, int), np.ones(20, int)],
            "score": rng.normal(size=n),
        }
    )


def sequences_of(dm: SequenceDataModule, stage: str) -> set:
    return {bytes(row) for row in dm.datasets[stage].codes}


def test_table_random_split_is_stratified_and_disjoint(table):
    dm = TableDataModule(table=table, target_columns="label", batch_size=16, seed=1)
    dm.setup("fit")
    sizes = {s: len(dm.datasets[s]) for s in ("train", "val", "test")}
    assert sizes == {"train": 80, "val": 10, "test": 10}
    assert int(dm.datasets["val"].targets.sum()) == 2  # 10% of each class
    train, val, test = (sequences_of(dm, s) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 4, 30) and x.dtype == torch.float32 and y.shape == (16, 1)
    assert (dm.n_targets, dm.input_length, dm.target_names) == (1, 30, ["label"])


def test_table_folds_partition_the_rows_stratified(table):
    tests = []
    for fold in range(5):
        dm = TableDataModule(table=table, target_columns="label", folds=5, fold=fold, seed=1)
        dm.setup()
        train, val, test = (sequences_of(dm, s) for s in ("train", "val", "test"))
        assert not (train & val or train & test or val & test)
        assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [70, 10, 20]
        assert int(dm.datasets["test"].targets.sum()) == 4  # a fifth of each class
        assert int(dm.datasets["val"].targets.sum()) == 2  # val_fraction of each class
        tests.append(test)
    assert set().union(*tests) == {
        bytes(r)
        for r in TableDataModule(table=table, target_columns="label")._full_dataset()[0].codes
    }
    assert sum(map(len, tests)) == len(table)  # each row is tested exactly once


def test_split_frame_is_each_splits_rows_of_the_table(table):
    dm = TableDataModule(table=table, target_columns="label", folds=5, fold=2, seed=1)
    frames = {s: dm.split_frame(s) for s in ("train", "val", "test")}
    for stage, frame in frames.items():
        # the same sequences, with the table's row index and every column
        assert sequences_of(dm, stage) == {bytes(r) for r in encode(list(frame["sequence"]))}
        assert frame.equals(table.loc[frame.index])
    assert sorted(np.concatenate([f.index for f in frames.values()])) == list(range(len(table)))
    with pytest.raises(ValueError, match="stage must be one of"):
        dm.split_frame("validation")


@pytest.mark.parametrize("split", [{"folds": 5, "fold": 3}, {"test_fraction": 0.2}])
def test_val_seed_redeals_validation_rows_and_keeps_the_test_rows(table, split):
    def frames(**kwargs) -> dict[str, set]:
        dm = TableDataModule(table=table, target_columns="label", seed=1, **split, **kwargs)
        return {s: set(dm.split_frame(s).index) for s in ("train", "val", "test")}

    plain = frames()
    assert frames(val_seed=1) == plain  # its own seed: the plain split
    dealt = [frames(val_seed=v) for v in (2, 3)]
    for parts in dealt:
        assert parts["test"] == plain["test"]
        assert parts["train"] | parts["val"] == plain["train"] | plain["val"]
        assert not parts["train"] & parts["val"]
        assert len(parts["val"]) == 10 and table.label[list(parts["val"])].sum() == 2  # stratified
    assert plain["val"] != dealt[0]["val"] != dealt[1]["val"]
    with pytest.raises(TypeError, match="val_seed"):  # a table's argument only
        IntervalDataModule(genome="g.fa", intervals="r.bed", val_seed=2)


@pytest.mark.parametrize("split", [{"folds": 5, "fold": 1}, {"test_fraction": 0.2}])
def test_extra_train_rows_join_only_the_training_split(tmp_path, rng, table, split):
    extra = pd.DataFrame(
        {"sequence": [random_dna(rng, 30) for _ in range(12)], "label": [1] * 9 + [0] * 3}
    )
    path = tmp_path / "extra.csv"
    extra.to_csv(path, index=False)
    plain = TableDataModule(table=table, target_columns="label", seed=1, **split)
    dm = TableDataModule(
        table=table, target_columns="label", seed=1, extra_train=path, batch_size=200, **split
    )
    dm.setup()
    for stage in ("val", "test"):  # the table's split is unchanged, and nothing extra leaks in
        assert sequences_of(dm, stage) == sequences_of_plain(plain, stage)
    added = sequences_of(dm, "train") - sequences_of_plain(plain, "train")
    assert added == {bytes(r) for r in encode(list(extra["sequence"]))}
    assert len(dm.datasets["train"]) == len(plain.datasets["train"]) + 12
    _, y = next(iter(dm.train_dataloader()))  # their labels come along
    assert int(y.sum()) == int(plain.datasets["train"].targets.sum()) + 9
    tail = dm.split_frame("train").tail(12)[["sequence", "label"]]
    assert tail.reset_index(drop=True).equals(extra)
    train = dm.datasets["train"].targets.numpy()
    assert dm.positive_weight() == pytest.approx([(train == 0).sum() / train.sum()], rel=1e-5)


def sequences_of_plain(dm: SequenceDataModule, stage: str) -> set:
    dm.setup()
    return sequences_of(dm, stage)


def test_extra_train_bad_input(tmp_path, rng, table):
    short = tmp_path / "short.csv"
    pd.DataFrame({"sequence": ["ACGT" * 5], "label": [1]}).to_csv(short, index=False)
    dm = TableDataModule(table=table, target_columns="label", extra_train=short)
    with pytest.raises(ValueError, match="short.csv: sequences of length 20, but the table's"):
        dm.setup()
    unlabelled = tmp_path / "unlabelled.csv"
    pd.DataFrame({"sequence": [random_dna(rng, 30)]}).to_csv(unlabelled, index=False)
    with pytest.raises(ValueError, match="unlabelled.csv.*label"):
        TableDataModule(table=table, target_columns="label", extra_train=unlabelled).setup()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"sequence": [random_dna(rng, 30)], "label": [7]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="bad.csv:2"):
        TableDataModule(table=table, target_columns="label", extra_train=bad).setup()
    with pytest.raises(TypeError, match="extra_train"):
        IntervalDataModule(genome="g.fa", intervals="r.bed", extra_train=short)


def test_table_folds_bad_arguments(table):
    with pytest.raises(ValueError, match="need folds >= 2 and 0 <= fold < folds"):
        TableDataModule(table=table, target_columns="label", folds=5, fold=5)
    with pytest.raises(ValueError, match="need folds >= 2"):
        TableDataModule(table=table, target_columns="label", folds=1)
    with pytest.raises(TypeError, match="folds"):
        IntervalDataModule(genome="g.fa", intervals="r.bed", folds=5)
    with pytest.raises(ValueError, match="must be below 1"):
        TableDataModule(table=table, target_columns="label", folds=2, val_fraction=0.5).setup()
    split = table.assign(split=np.resize(["train", "val", "test"], len(table)))
    with pytest.raises(ValueError, match="'split' column and folds=5 was given"):
        TableDataModule(table=split, target_columns="label", folds=5).setup()


def test_table_split_column_from_file(tmp_path, table):
    table["split"] = np.resize(["train", "train", "val", "test"], len(table))
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    dm = TableDataModule(
        table=tmp_path / "t.tsv", target_columns=["score"], output="codes", batch_size=8
    )
    assert (dm.n_targets, dm.input_length) == (1, 30)  # without an explicit setup()
    assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [50, 25, 25]
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (8, 30) and x.dtype == torch.uint8 and y.dtype == torch.float32
    assert sum(len(b[0]) for b in dm.test_dataloader()) == 25


def test_declared_shapes_are_checked(table):
    dm = TableDataModule(table=table, target_columns="label", n_targets=3, input_length=30)
    assert dm.n_targets == 3  # as declared, for config interpolation
    with pytest.raises(ValueError, match="n_targets=3 was given but target columns"):
        dm.setup()
    with pytest.raises(ValueError, match="input_length=31"):
        TableDataModule(table=table, target_columns="label", input_length=31).setup()


def test_old_length_keywords_warn_and_mean_input_length(table):
    """seq_len= / length= (the old names) still work for one release, with a warning."""
    with pytest.warns(DeprecationWarning, match="seq_len= is now input_length="):
        dm = TableDataModule(table=table, target_columns="label", seq_len=30, length=None)
    assert dm.hparams.input_length == 30 and "seq_len" not in dm.hparams
    with pytest.warns(DeprecationWarning, match="is now input_length"):
        assert dm.seq_len == 30
    with pytest.raises(TypeError, match="disagree"):
        TableDataModule(table=table, target_columns="label", seq_len=30, input_length=31)


def test_genome_intervals_by_chromosome(tmp_path, rng):
    write_fasta(tmp_path / "g.fa", {c: random_dna(rng, 2000) for c in ("chr1", "chr2", "chr3")})
    n = 60
    starts = rng.integers(0, 1900, n)
    intervals = pd.DataFrame(
        {
            "chrom": np.resize(["chr1", "chr2", "chr3"], n),
            "start": starts,
            "end": starts + 40,
            "a": rng.integers(0, 2, n),
            "b": rng.integers(0, 2, n),
        }
    )
    dm = IntervalDataModule(
        genome=Genome(tmp_path / "g.fa"),
        intervals=intervals,
        target_columns=["a", "b"],
        input_length=64,
        val_chroms=["chr2"],
        test_chroms=["chr3"],
        transforms=[ReverseComplement(seed=0)],
        batch_size=10,
    )
    dm.setup()
    chroms = {s: set(dm.datasets[s].intervals["chrom"]) for s in ("train", "val", "test")}
    assert chroms == {"train": {"chr1"}, "val": {"chr2"}, "test": {"chr3"}}
    assert dm.datasets["train"].transforms and not dm.datasets["val"].transforms
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (10, 4, 64) and y.shape == (10, 2)
    assert (dm.n_targets, dm.input_length, dm.target_names) == (2, 64, ["a", "b"])
    assert set(dm.split_frame("test")["chrom"]) == {"chr3"}
    assert (
        len(dm.split_frame("val")) == len(dm.datasets["val"]) == (intervals.chrom == "chr2").sum()
    )


@pytest.mark.parametrize("on_invalid", ["error", "pad", "drop"])
def test_resized_intervals_past_the_ends(tmp_path, rng, on_invalid):
    """input_length= can push windows past a chromosome's ends: on_invalid says what happens."""
    write_fasta(tmp_path / "g.fa", {"chr1": random_dna(rng, 500)})
    intervals = pd.DataFrame(
        {"chrom": "chr1", "start": [10, 100, 200, 300, 480], "end": [30, 120, 220, 320, 500]}
    ).assign(label=[1, 0, 1, 0, 1])
    dm = IntervalDataModule(
        genome=Genome(tmp_path / "g.fa"),
        intervals=intervals,
        target_columns="label",
        input_length=100,
        on_invalid=on_invalid,
        val_fraction=0.0,
        test_fraction=0.0,
        n_blocks=1,
    )
    if on_invalid == "error":
        with pytest.raises(ValueError, match="start -30 is negative.*on_invalid='pad'"):
            dm.setup()
        return
    if on_invalid == "drop":
        with pytest.warns(UserWarning, match="dropped 2 of 5 intervals"):
            dm.setup()
    else:
        dm.setup()
    kept = len(dm.datasets["train"])
    assert kept == (5 if on_invalid == "pad" else 3)
    x, _ = dm.datasets["train"][0]
    assert x.shape == (4, 100)
    if on_invalid == "pad":  # the first window starts 30 bp before chr1: N columns (zeros)
        assert x[:, :30].sum() == 0 and x[:, 30:].sum() == 70


def test_sequence_data_module_picks_the_module_and_warns(tmp_path, rng, table):
    """SequenceDataModule(...), the one class of earlier releases, builds the module its
    arguments call for (for one release), and both are SequenceDataModules."""
    with pytest.warns(DeprecationWarning, match=r"is now TableDataModule\(\.\.\.\)"):
        dm = SequenceDataModule(table=table, target_columns="label", input_length=30)
    assert type(dm) is TableDataModule and dm.hparams.input_length == 30
    write_fasta(tmp_path / "g.fa", {"chr1": random_dna(rng, 500)})
    intervals = pd.DataFrame({"chrom": "chr1", "start": [0, 100], "end": [50, 150]})
    with pytest.warns(DeprecationWarning, match="is now IntervalDataModule"):
        dm = SequenceDataModule(genome=tmp_path / "g.fa", intervals=intervals)
    assert type(dm) is IntervalDataModule and dm.input_length == 50
    assert isinstance(dm, SequenceDataModule)
    with pytest.raises(TypeError, match="genome"), pytest.warns(DeprecationWarning):
        SequenceDataModule()


def test_importable_from_seqnn_data_without_loading_lightning_first():
    code = (
        "import sys, seqnn.data as sd\n"
        "assert 'lightning' not in sys.modules\n"
        "from seqnn.data import IntervalDataModule, SequenceDataModule, TableDataModule\n"
        "from seqnn.data.datamodule import SequenceDataModule as direct\n"
        "assert SequenceDataModule is direct and 'SequenceDataModule' in sd.__all__\n"
        "assert {'TableDataModule', 'IntervalDataModule'} <= set(sd.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_positive_weight_balances_the_training_rows(table):
    rng = np.random.default_rng(3)
    frame = table.assign(a=(rng.random(len(table)) < 0.2).astype(float), b=table["label"])
    dm = TableDataModule(table=frame, target_columns=["a", "b"], target_kind="multilabel")
    dm.setup()
    y = dm.datasets["train"].targets.numpy()
    expected = (len(y) - y.sum(0)) / y.sum(0)  # negatives / positives, training rows only
    assert dm.positive_weight() == pytest.approx(expected.tolist(), rel=1e-5)
    assert expected[0] > 2 and expected[0] != pytest.approx(expected[1])
    whole = frame[["a", "b"]].to_numpy()  # not the whole table's ratio
    assert dm.positive_weight()[0] != pytest.approx(
        (len(whole) - whole[:, 0].sum()) / whole[:, 0].sum()
    )


def test_positive_weight_needs_labels_of_both_classes(table):
    regression = table.assign(value=np.linspace(0, 1, len(table)))
    with pytest.raises(ValueError, match="needs binary or multilabel targets, not regression"):
        TableDataModule(
            table=regression, target_columns="value", target_kind="regression"
        ).positive_weight()
    none = table.assign(a=0.0, b=table["label"])
    with pytest.raises(ValueError, match="target 'a' has no positive training rows"):
        TableDataModule(
            table=none, target_columns=["a", "b"], target_kind="multilabel"
        ).positive_weight()


# ----------------------------------------------------------------------------- ergonomics
def test_mixed_lengths_are_centred_on_the_longest_or_refused():
    """resize="centre": the window starts input_length // 2 before the sequence's centre
    (len // 2): N on both sides of a shorter one, the central bases of a longer one;
    input_length null takes the longest's length."""
    from seqnn.data.datasets import DatasetError
    from seqnn.data.encoding import decode

    frame = pd.DataFrame({"sequence": ["ACGTAC", "GT", "ACG", "TTTTTT"], "label": [1, 0, 1, 0]})
    dm = TableDataModule(
        table=frame, target_columns="label", resize="centre", val_fraction=0.25, test_fraction=0.25
    )
    assert dm.input_length == 6
    assert decode(dm._full.codes) == ["ACGTAC", "NNGTNN", "NNACGN", "TTTTTT"]
    assert (dm._full.n_padded, dm._full.n_cropped) == (2, 0)
    dm = TableDataModule(
        table=frame, target_columns="label", resize="centre", input_length=2,
        val_fraction=0.25, test_fraction=0.25,
    )  # fmt: skip
    dm.setup()
    assert decode(dm._full.codes) == ["GT", "GT", "AC", "TT"]
    with pytest.raises(DatasetError, match="table row 1: sequence has length 2, expected 6"):
        TableDataModule(table=frame, target_columns="label").setup()


def test_test_table_is_the_test_split_and_the_table_trains(tmp_path, rng, table):
    test = pd.DataFrame(
        {"sequence": [random_dna(rng, 24) for _ in range(10)], "label": [0, 1] * 5}
    )
    path = tmp_path / "test.csv"
    test.to_csv(path, index=False)
    dm = TableDataModule(
        table=table, target_columns="label", test_table=path, resize="centre", val_fraction=0.2
    )
    dm.setup()
    assert len(dm.datasets["test"]) == 10 and len(dm.datasets["val"]) == 20
    assert len(dm.datasets["train"]) == 80  # every row of the table is train or val
    assert dm.split_frame("test")["sequence"].tolist() == test["sequence"].tolist()
    assert dm.datasets["test"].codes.shape[1] == 30  # brought to the table's length
    with pytest.raises(ValueError, match="test.csv: sequences of length 24, but the table's"):
        TableDataModule(table=table, target_columns="label", test_table=path).setup()
    with pytest.raises(ValueError, match="test_table and folds=5 were both given"):
        TableDataModule(table=table, target_columns="label", test_table=path, folds=5)


@pytest.mark.parametrize(
    ("labels", "positive"), [(["promoter", "non-promoter"], "promoter"), ([1, -1], 1)]
)
def test_positive_label_makes_a_binary_target_of_two_labels(tmp_path, table, labels, positive):
    two = table.assign(label=np.where(table.label == 1, labels[0], labels[1]))
    with pytest.raises(Exception, match=f"data.positive_label={positive} "):
        TableDataModule(table=two, target_columns="label", n_targets=1).setup("fit")
    test = two.iloc[:10]
    test.to_csv(tmp_path / "test.csv", index=False)
    dm = TableDataModule(
        table=two, target_columns="label", n_targets=1, positive_label=positive,
        test_table=tmp_path / "test.csv",
    )  # fmt: skip
    dm.setup("fit")
    assert dm._full.target_kind == "binary"
    expected = np.r_[table.label.to_numpy(), table.label.to_numpy()[:10]]
    np.testing.assert_array_equal(dm._full.targets.numpy().ravel(), expected)
    assert dm.split_frame("train").label.isin(labels).all()  # the table's own values kept


def test_positive_label_that_is_not_in_the_column_lists_its_values(table):
    dm = TableDataModule(table=table, target_columns=["label"], positive_label="yes")
    with pytest.raises(
        Exception, match=r"positive_label='yes' is not a value of 'label' .*\['0', '1'\]"
    ):
        dm.setup("fit")


def test_negative_integer_labels_are_classes_not_an_error(table):
    signed = table.assign(label=np.where(table.label == 1, 1, -1))
    dm = TableDataModule(table=signed, target_columns="label")
    dm.setup("fit")
    assert dm._full.target_kind == "multiclass" and dm.target_names == ["-1", "1"]
