"""Direct tests of atomic output: a directory or file appears whole or not at all."""

from __future__ import annotations

import os

import pytest

from monoglot.artifacts import atomic_dir
from monoglot.errors import BadInput
from monoglot.files import write_json_atomic, write_text_atomic


def test_atomic_dir_renames_on_success_and_leaves_nothing_on_error(tmp_path):
    out = tmp_path / "model"
    with atomic_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".model.tmp-") and not out.exists()
        (tmp / "config.json").write_text("{}")
    assert os.listdir(tmp_path) == ["model"] and (out / "config.json").read_text() == "{}"

    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "other") as tmp:
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("stage failed")
    assert os.listdir(tmp_path) == ["model"]  # no output, no temporary


def test_atomic_dir_overwrite_replaces_only_when_complete(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(BadInput, match="exists"):
        with atomic_dir(out):
            pass
    with pytest.raises(KeyboardInterrupt), atomic_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise KeyboardInterrupt  # Ctrl-C halfway: the old output stays as it was
    assert os.listdir(out) == ["old.txt"]
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert os.listdir(out) == ["new.txt"] and sorted(os.listdir(tmp_path)) == ["model"]


def test_atomic_files_write_whole_files_and_leave_no_temporary(tmp_path):
    write_json_atomic(tmp_path / "sub" / "a.json", {"x": [1, 2], "ü": "ç"})
    write_text_atomic(tmp_path / "sub" / "b.md", "# title\n")
    assert sorted(os.listdir(tmp_path / "sub")) == ["a.json", "b.md"]
    assert (tmp_path / "sub" / "a.json").read_text() == '{\n  "x": [\n    1,\n    2\n  ],\n  "ü": "ç"\n}\n'
