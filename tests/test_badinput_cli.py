"""Bad output paths and environment errors: a clean ``error:`` line, exit 1, no file left behind."""

from __future__ import annotations

import argparse
import errno

import pytest

from ecgqa_tools import cli
from ecgqa_tools._io import atomic_output, write_text_atomic
from ecgqa_tools.errors import EcgqaError, OutputError


def test_output_path_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(OutputError, match="is a directory"):
        write_text_atomic(tmp_path, "x")


def test_output_below_a_file_names_the_file(tmp_path):
    blocker = tmp_path / "report"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match=r"report is a file, not a folder"):
        write_text_atomic(blocker / "sub" / "out.json", "x")
    assert blocker.read_text() == "not a folder"


def test_output_error_is_a_package_error():
    assert issubclass(OutputError, EcgqaError)


def test_failed_replace_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    def refuse(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputError, match="No space left on device"), atomic_output(tmp_path / "out.txt") as tmp:
        tmp.write_text("data")
    assert list(tmp_path.iterdir()) == []


def test_cli_plot_into_an_impossible_folder_prints_an_error(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert cli.main(["plot", "ptbxl-00473", "-o", str(blocker / "x.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and "afile is a file, not a folder" in err
    assert "Traceback" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_cli_turns_an_os_error_into_an_error_line(monkeypatch, capsys):
    def handler(_: argparse.Namespace) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", "/data/secret.hea")

    parser = argparse.ArgumentParser(prog="ecgqa")
    parser.set_defaults(handler=handler)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 1
    assert capsys.readouterr().err == "error: Permission denied: /data/secret.hea\n"


def test_every_command_and_subcommand_has_working_help(capsys):
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    argvs = [[name] for name in commands]
    for group in cli.GROUPS:
        if group in commands:
            sub = commands[group]._subparsers._group_actions[0].choices  # type: ignore[union-attr]
            argvs += [[group, name] for name in sub]
    assert len(argvs) > 20
    for argv in argvs:
        assert cli.main(argv + ["--help"]) == 0, argv
        out = capsys.readouterr().out
        assert out.startswith("usage: ecgqa " + " ".join(argv)), argv
