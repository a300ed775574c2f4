"""Outputs written whole or not at all, and write failures (a full disk, a read-only folder)
as one error naming the path."""

import errno
import os
from pathlib import Path

import pytest

from seqnn.atomic import OutputError, atomic_folder, atomic_indexed, atomic_open, atomic_path
from seqnn.errors import SeqnnInputError


def test_a_clean_write_renames_and_a_failed_one_leaves_nothing(tmp_path):
    out = tmp_path / "a" / "table.tsv"
    with atomic_open(out) as fh:
        fh.write("x\n")
    assert out.read_text() == "x\n"
    with pytest.raises(RuntimeError), atomic_open(out) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert out.read_text() == "x\n"  # the old file, never a half one
    assert sorted(p.name for p in out.parent.iterdir()) == ["table.tsv"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_or_read_only_folder_is_one_error_naming_the_path(tmp_path, monkeypatch, code):
    out = tmp_path / "preds.tsv"

    def replace(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="preds.tsv: cannot write it .* nothing was written"):
        with atomic_open(out) as fh:
            fh.write("x\n")
    assert list(tmp_path.iterdir()) == []
    assert issubclass(OutputError, SeqnnInputError)  # the tools' one-line exit catches it


def test_a_full_disk_while_writing_a_folder(tmp_path, monkeypatch):
    def rename(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OutputError, match="model: cannot write it"):
        with atomic_folder(tmp_path / "model") as tmp:
            (tmp / "w").write_text("x")
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_keep_their_type(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "x") as tmp:
        os.remove(tmp)
        open(tmp_path / "missing" / "y")


def test_a_folder_where_the_file_should_go(tmp_path):
    with pytest.raises(OutputError, match="is a folder"), atomic_path(tmp_path):
        pass


def fail_at_rename(monkeypatch, n: int) -> None:
    """os.replace fails at its n-th call (an interrupt between two renames)."""
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == n:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("interrupted_at", [None, 1, 2])
def test_a_data_file_and_its_index_are_never_a_mismatched_pair(
    tmp_path, monkeypatch, interrupted_at
):
    data, index, csi = tmp_path / "c.vcf.gz", tmp_path / "c.vcf.gz.tbi", tmp_path / "c.vcf.gz.csi"
    for path, text in ((data, "old"), (index, "old index"), (csi, "old csi")):
        path.write_text(text)
    if interrupted_at:
        fail_at_rename(monkeypatch, interrupted_at)
    try:
        with atomic_indexed(data, index, stale=(csi,)) as (data_tmp, index_tmp):
            Path(data_tmp).write_text("new")
            Path(index_tmp).write_text("new index")
    except KeyboardInterrupt:
        pass
    pair = (data.read_text(), index.read_text() if index.exists() else None)
    expected = {None: ("new", "new index"), 1: ("old", None), 2: ("new", None)}
    assert pair == expected[interrupted_at]
    assert not csi.exists()  # the old file's other index goes with it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (data, index) if p.exists()
    )  # no temp file left


def test_a_failed_write_leaves_the_old_pair(tmp_path):
    data, index = tmp_path / "c.vcf.gz", tmp_path / "c.vcf.gz.tbi"
    data.write_text("old")
    index.write_text("old index")
    with pytest.raises(RuntimeError), atomic_indexed(data, index) as (data_tmp, _):
        Path(data_tmp).write_text("half")
        raise RuntimeError("crash")
    assert (data.read_text(), index.read_text()) == ("old", "old index")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.vcf.gz", "c.vcf.gz.tbi"]
