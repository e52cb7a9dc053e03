"""Output files: never over an existing file unless forced, never over a device or folder, never half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boveda.outfiles import OutputError, atomic_text, check_target, write_text

BOVEDA = str(Path(sys.executable).with_name("boveda"))


def test_a_new_file_is_written(tmp_path):
    assert write_text(tmp_path / "out.json", "{}\n") == tmp_path / "out.json"
    assert (tmp_path / "out.json").read_text() == "{}\n"


@given(st.text(max_size=200))
def test_an_existing_file_is_kept_unless_forced(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("out")
    target = folder / "statement.html"
    target.write_text("signed already")
    with pytest.raises(OutputError, match="exists: choose another file, or pass --force"):
        write_text(target, content)
    assert target.read_text() == "signed already"
    write_text(target, content, force=True)
    assert target.read_bytes().decode("utf-8") == content
    assert [p.name for p in folder.iterdir()] == ["statement.html"]  # no temporary file left behind


@pytest.mark.parametrize("path,reason", [
    ("", "the output path is empty"),
    ("   ", "the output path is empty"),
    ("/dev/null", "not a regular file"),
    ("/no/such/folder/out.json", "does not exist"),
])
def test_paths_that_cannot_be_written_are_refused_in_one_line(path, reason):
    with pytest.raises(OutputError, match=reason) as refused:
        check_target(path, force=True)
    assert "\n" not in str(refused.value)


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(OutputError, match="it is a folder"):
        check_target(tmp_path, force=True)


def test_a_failure_while_writing_leaves_the_old_file_as_it_was(tmp_path):
    target = tmp_path / "export.json"
    target.write_text("the old export")
    with pytest.raises(RuntimeError):
        with atomic_text(target, force=True) as out:
            out.write("half of a new export")
            raise RuntimeError("interrupted")
    assert target.read_text() == "the old export"
    assert [p.name for p in tmp_path.iterdir()] == ["export.json"]


def run(*args, cwd):
    return subprocess.run([BOVEDA, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_export_refuses_an_existing_file_and_a_device_then_replaces_with_force(tmp_path):
    assert run("init", cwd=tmp_path).returncode == 0
    (tmp_path / "book.json").write_text("keep me")
    for target, reason in (("book.json", "exists"), ("/dev/full", "not a regular file"), ("", "empty"),
                           ("missing/book.json", "does not exist")):
        result = run("export", target, cwd=tmp_path)
        assert result.returncode == 2 and reason in result.stderr, (target, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "book.json").read_text() == "keep me"
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")
    assert run("export", "book.json", "--force", cwd=tmp_path).returncode == 0
    assert '"events"' in (tmp_path / "book.json").read_text()
