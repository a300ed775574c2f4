"""Datasets: shapes and dtypes per target kind and output, the batched path, workers, errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from seqnn.data.datasets import (
    BatchLoader,
    DatasetError,
    EpochSampler,
    IntervalDataset,
    SequenceDataset,
    collate_batched,
    encode_targets,
)
from seqnn.data.encoding import EncodingError, decode, one_hot, reverse_complement
from seqnn.data.genome import Genome, write_fasta
from seqnn.data.transforms import RandomShift, ReverseComplement

N_SEQS, SEQ_LEN = 40, 24


def random_dna(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), length))


@pytest.fixture
def table(rng) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sequence": [random_dna(rng, SEQ_LEN) for _ in range(N_SEQS)],
            "label": rng.integers(0, 2, N_SEQS),
            "tissue": rng.choice(["heart", "liver", "brain"], N_SEQS),
            "m1": rng.integers(0, 2, N_SEQS),
            "m2": rng.integers(0, 2, N_SEQS),
            "r1": rng.normal(size=N_SEQS),
            "r2": rng.normal(size=N_SEQS),
        }
    )


@pytest.fixture
def genome(tmp_path, rng) -> Genome:
    path = tmp_path / "genome.fa"
    write_fasta(path, {"chr1": random_dna(rng, 3000), "chr2": random_dna(rng, 2000)})
    return Genome(path)


@pytest.fixture
def intervals(rng) -> pd.DataFrame:
    n = 30
    chrom = rng.choice(["chr1", "chr2"], n)
    start = rng.integers(100, 1800, n)
    return pd.DataFrame(
        {
            "chrom": chrom,
            "start": start,
            "end": start + 50,
            "strand": rng.choice(["+", "-"], n),
            "signal": rng.normal(size=n),
        }
    )


KINDS = {  # columns -> (kind, n_targets, y item shape, y dtype)
    "label": ("binary", 1, (1,), torch.float32),
    "tissue": ("multiclass", 3, (), torch.int64),
    ("m1", "m2"): ("multilabel", 2, (2,), torch.float32),
    ("r1", "r2"): ("regression", 2, (2,), torch.float32),
}


@pytest.mark.parametrize("output", ["one_hot", "codes"])
@pytest.mark.parametrize("columns", list(KINDS))
def test_sequence_dataset_shapes(table, columns, output):
    kind, n_targets, y_shape, y_dtype = KINDS[columns]
    columns = columns if isinstance(columns, str) else list(columns)
    ds = SequenceDataset.from_table(table, target_columns=columns, output=output)
    assert (ds.target_kind, ds.n_targets, len(ds)) == (kind, n_targets, N_SEQS)
    x, y = ds[5]
    x_shape, x_dtype = (
        ((4, SEQ_LEN), torch.float32) if output == "one_hot" else ((SEQ_LEN,), torch.uint8)
    )
    assert (x.shape, x.dtype, y.shape, y.dtype) == (x_shape, x_dtype, y_shape, y_dtype)
    xb, yb = ds.__getitems__([0, 5, 7])
    assert xb.shape == (3, *x_shape) and yb.shape == (3, *y_shape)
    assert decode(x) == table["sequence"][5]


def test_multiclass_names_and_values(table):
    ds = SequenceDataset.from_table(table, target_columns="tissue")
    assert ds.target_names == ["brain", "heart", "liver"]
    labels = [ds.target_names[int(ds[i][1])] for i in range(N_SEQS)]
    assert labels == table["tissue"].tolist()


def test_no_targets_gives_x_alone(table):
    ds = SequenceDataset(table["sequence"].tolist())
    assert isinstance(ds[0], torch.Tensor) and ds.n_targets == 0
    assert ds.__getitems__([1, 2]).shape == (2, 4, SEQ_LEN)


def test_from_table_reads_csv_tsv_and_gzip(tmp_path, table):
    for name, sep in [("t.csv", ","), ("t.tsv", "\t"), ("t.tsv.gz", "\t"), ("t.dat", ";")]:
        table.to_csv(tmp_path / name, sep=sep, index=False)
        ds = SequenceDataset.from_table(tmp_path / name, target_columns=["r1", "r2"])
        assert torch.allclose(
            ds.targets, torch.tensor(table[["r1", "r2"]].to_numpy(), dtype=torch.float32)
        )


def test_from_fasta_with_named_targets(tmp_path, table):
    records = {f"seq{i}": s for i, s in enumerate(table["sequence"])}
    write_fasta(tmp_path / "s.fa", records, line_width=10)
    targets = table[["r1"]].set_index(pd.Index(list(records)))[::-1]  # other order: by name
    ds = SequenceDataset.from_fasta(tmp_path / "s.fa", targets=targets)
    x, y = ds[3]
    assert decode(x) == table["sequence"][3] and float(y) == pytest.approx(table["r1"][3])


def set_row_16(column: str, value):
    """An edit of the table's row 16 (line 17 of the CSV: the header is line 1)."""
    return lambda t: t.assign(**{column: t[column].where(t.index != 15, value)})


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.drop(columns="label"), "t.csv: no column 'label'"),
        (
            lambda t: t.rename(columns={"label": "Label"}),
            r"no column 'label' \(columns are .*; did you mean 'Label'\?\): name the column "
            r"with target_columns= \(seqnn-train: data.target_columns=",
        ),
        (
            lambda t: t.rename(columns={"sequence": "seq"}),
            r"no column 'sequence' .* name the column with sequence_column=",
        ),
        (set_row_16("label", np.nan), "t.csv:17: target 'label' is missing"),
        (set_row_16("sequence", "ACGT"), "t.csv:17: sequence has length 4, expected 24"),
        (set_row_16("sequence", "ACGTX" + "A" * 19), "t.csv:17: position 4: 'X'"),
        (set_row_16("label", 2.5), "t.csv:17: binary target 'label' is 2.5"),
    ],
)
def test_bad_tables_name_file_and_line(tmp_path, table, edit, message):
    edit(table).to_csv(tmp_path / "t.csv", index=False)
    kind = "binary" if "binary" in message else None
    with pytest.raises((DatasetError, EncodingError), match=message):
        SequenceDataset.from_table(tmp_path / "t.csv", target_columns="label", target_kind=kind)


def test_interval_dataset_matches_genome(genome, intervals):
    ds = IntervalDataset(
        genome, intervals, target_columns="signal", use_strand=True, output="codes"
    )
    x, y = ds.__getitems__(list(range(len(intervals))))
    assert (
        x.shape == (len(intervals), 50)
        and x.dtype == torch.uint8
        and y.shape == (len(intervals), 1)
    )
    for i, row in intervals.iterrows():
        expected = genome.fetch(row.chrom, row.start, row.end)
        expected = reverse_complement(expected) if row.strand == "-" else expected
        assert decode(x[i]) == expected


def test_interval_dataset_holds_contig_indices_not_name_strings(genome, intervals):
    """The chrom column is contig codes (int8 here) with the genome's name table: it reads as
    the names, and a million rows take 1 MB instead of the ~57 MB of Python strings."""
    many = intervals.sample(20_000, replace=True, random_state=0).reset_index(drop=True)
    ds = IntervalDataset(genome, many, target_columns="signal")
    chrom = ds.intervals["chrom"]
    assert chrom.cat.codes.dtype == np.int8 and list(chrom.cat.categories) == ["chr1", "chr2"]
    assert chrom.astype(str).tolist() == many["chrom"].tolist()
    assert chrom.memory_usage(deep=True) < 2 * len(many)  # bytes: the codes, not strings
    assert many["chrom"].memory_usage(deep=True) > 50 * len(many)


def test_interval_dataset_one_hot_is_one_hot_of_its_codes(genome, intervals):
    codes = IntervalDataset(genome, intervals, use_strand=True, output="codes")
    onehot = IntervalDataset(genome, intervals, use_strand=True)
    index = list(range(len(intervals)))
    x = onehot.__getitems__(index)
    assert x.dtype == torch.float32 and x.shape == (len(intervals), 4, 50)
    torch.testing.assert_close(x, one_hot(codes.__getitems__(index)))
    torch.testing.assert_close(onehot.subset([2, 0])[1], x[0])


def test_interval_dataset_resize_and_length_check(genome, intervals):
    uneven = intervals.assign(end=intervals["end"] + np.arange(len(intervals)) % 2)
    with pytest.raises(
        DatasetError, match="interval 1 .* has length 51, expected 50: pass input_length="
    ):
        IntervalDataset(genome, uneven)
    ds = IntervalDataset(genome, uneven, input_length=64)
    assert ds[0].shape == (4, 64)


@pytest.mark.parametrize("make", ["sequences", "intervals"])
def test_batched_path_equals_items(table, genome, intervals, make):
    transforms = [ReverseComplement(seed=1), RandomShift(3, seed=2)]
    if make == "sequences":
        ds = SequenceDataset.from_table(table, target_columns=["r1", "r2"], transforms=transforms)
    else:
        ds = IntervalDataset(genome, intervals, target_columns="signal", transforms=transforms)
    ds.set_epoch(3)
    index = [7, 0, 3, 3, 12]
    xb, yb = ds.__getitems__(index)
    for row, i in enumerate(index):
        x, y = ds[i]
        assert torch.equal(xb[row], x) and torch.equal(yb[row], y)


def loader_batches(ds, num_workers: int, epoch: int) -> list:
    sampler = EpochSampler(ds, shuffle=True, seed=5)
    sampler.set_epoch(epoch)
    loader = DataLoader(
        ds, batch_size=8, sampler=sampler, collate_fn=collate_batched, num_workers=num_workers
    )
    return list(loader)


def test_workers_give_the_same_batches(genome, intervals):
    transforms = [ReverseComplement(seed=1), RandomShift(5, seed=2)]
    ds = IntervalDataset(genome, intervals, target_columns="signal", transforms=transforms)
    serial, parallel = loader_batches(ds, 0, 1), loader_batches(ds, 2, 1)
    assert len(serial) == len(parallel) == 4
    for (xa, ya), (xb, yb) in zip(serial, parallel, strict=True):
        assert xa.shape == (8, 4, 50) or len(xa) == 6
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    other_epoch = loader_batches(ds, 0, 2)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(serial, other_epoch, strict=True))


@pytest.mark.parametrize("resume", [None, (0, 8)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_loader_in_process_equals_a_plain_dataloader(
    genome, intervals, drop_last, resume, monkeypatch
):
    # BatchLoader's own in-process iterator: the same batches, and the same draws from
    # torch's RNG (at iter() time) as DataLoader's, so training runs repeat either way
    taken = []
    in_process = BatchLoader._in_process
    monkeypatch.setattr(
        BatchLoader, "_in_process", lambda self: taken.append(1) or in_process(self)
    )
    ds = IntervalDataset(genome, intervals, target_columns="signal")
    kwargs = {"batch_size": 8, "collate_fn": collate_batched, "drop_last": drop_last}
    assert len(ds) % 8  # a last, partial batch (kept or dropped)
    plain = DataLoader(ds, sampler=EpochSampler(ds, seed=5), **kwargs)
    ours = BatchLoader(ds, sampler=EpochSampler(ds, seed=5), **kwargs)
    plain.sampler.resume = ours.sampler.resume = resume  # a mid-epoch resume skips 8 items
    states = []
    for loader in (plain, ours):
        torch.manual_seed(0)
        iterator = iter(loader)
        states.append(torch.random.get_rng_state())
        states.append(list(iterator))
    assert torch.equal(states[0], states[2]) and len(states[1]) == len(states[3]) > 1
    for (xa, ya), (xb, yb) in zip(states[1], states[3], strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    skipped = 1 if resume else 0
    assert ours.state_dict() == {"epoch": 0, "batches": skipped + len(states[3])}
    assert taken == [1]  # the in-process path was the one compared


class _Counting(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter(range(5))


class _Stops(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i >= 4:
            raise StopIteration  # some datasets end an epoch this way
        return torch.tensor(i)


@pytest.mark.parametrize("dataset", [_Counting(), _Stops()])
def test_batch_loader_falls_back_like_a_dataloader(dataset):
    # an iterable dataset, a StopIteration from the dataset, batch_size=None: as DataLoader does
    for batch_size in (2, None):
        if batch_size is None and isinstance(dataset, _Stops):
            continue
        plain = [torch.as_tensor(b).tolist() for b in DataLoader(dataset, batch_size=batch_size)]
        ours = [torch.as_tensor(b).tolist() for b in BatchLoader(dataset, batch_size=batch_size)]
        assert ours == plain and len(plain) > 1


def test_batch_loader_state_is_the_newest_pass(table):
    # an abandoned pass still being read must not move the count of the pass in progress
    ds = SequenceDataset(table["sequence"].tolist())
    loader = ds.loader(batch_size=2, shuffle=True)
    old = iter(loader)
    next(old)
    new = iter(loader)
    next(new), next(new)
    next(old), next(old), next(old)
    assert loader.state_dict()["batches"] == 2


def test_one_hot_output_follows_the_policy(table):
    from seqnn.data.encoding import EncodingPolicy

    seqs = ["ACGN" * 3, "NNNN" * 3]
    ds = SequenceDataset(seqs, policy=EncodingPolicy(n="quarter"))
    assert torch.equal(ds.__getitems__([0, 1]), torch.from_numpy(one_hot(seqs, policy=ds.policy)))


def test_persistent_workers_see_set_epoch(genome, intervals):
    ds = IntervalDataset(genome, intervals, transforms=[RandomShift(5, seed=2)], output="codes")
    sampler = EpochSampler(ds, shuffle=False)
    loader = DataLoader(
        ds, batch_size=8, sampler=sampler, collate_fn=collate_batched,
        num_workers=1, persistent_workers=True,
    )  # fmt: skip
    for epoch in (0, 1):
        sampler.set_epoch(epoch)  # what Lightning does at each epoch start
        got = torch.cat(list(loader))
        assert torch.equal(got, ds.__getitems__(list(range(len(ds)))))


def test_text_targets_typo_vs_class_labels():
    # mostly numbers: the text value is a typo, named with its row
    with pytest.raises(DatasetError, match=r"row 2: target 'l' is 'x', not a number"):
        encode_targets(pd.DataFrame({"l": ["1", "0", "x", "1"]}))
    # mostly text: class labels, one of which happens to look like a number
    _, kind, _, classes = encode_targets(pd.DataFrame({"l": ["a", "b", "c", "1"]}))
    assert kind == "multiclass" and sorted(classes) == ["1", "a", "b", "c"]
    # a numeric kind names the column and row that do not convert, not the first text column
    frame = pd.DataFrame({"a": ["1", "0"], "b": ["2", "y"]})
    with pytest.raises(DatasetError, match=r"row 1: target 'b' is 'y', not a number"):
        encode_targets(frame, kind="regression")
