"""Record names (examples, ptbxl:<id>[@rate], ludb:<n>, mimic:<id>): one parser and reader for every command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import DatasetError, RecordError, RecordNotFound
from ecgqa_tools.records import (
    STANDARD_LEADS,
    parse_record_name,
    read_record_or_example,
    record_display_name,
)


@pytest.mark.parametrize(("text", "canonical", "fs"), [
    ("ptbxl:9", "ptbxl:9", None), ("PTB-XL/09", "ptbxl:9", None), ("ptbxl:9@100", "ptbxl:9@100", 100),
    ("ptbxl:9 @ 500Hz", "ptbxl:9@500", 500), ("12", "ptbxl:12", None), ("12@100", "ptbxl:12@100", 100),
    ("ludb:7", "ludb:7", None), ("mimic:40000017", "mimic:40000017", None),
    ("ptbxl-00473", "example:ptbxl-00473", None), ("example:ptbxl-00473", "example:ptbxl-00473", None),
    ("00473_hr", "example:ptbxl-00473", None), ("473", "example:ptbxl-00473", None),
])
def test_names_parse_to_one_canonical_form(text, canonical, fs):
    name = parse_record_name(text)
    assert name is not None and name.canonical == canonical and name.fs_hz == fs


@pytest.mark.parametrize("path", ["rec.hea", "/data/rec", "x.csv", "ptbxl/records100/00001_lr"])
def test_paths_are_not_names(path):
    assert parse_record_name(path) is None


@pytest.mark.parametrize(("text", "error", "match"), [
    ("ptbxl:9@250", RecordError, "100 Hz and 500 Hz"), ("ludb:1@500", RecordError, "only PTB-XL"),
    ("example:nope", RecordNotFound, "no bundled example 'nope'"),
    ("ptbxl:abc", RecordError, "'abc' is not a valid ptbxl record id"),  # session 8: was read as a file path
])
def test_bad_names_are_refused_naming_the_problem(text, error, match):
    with pytest.raises(error, match=match):
        parse_record_name(text)


def test_example_names_read_without_any_dataset(monkeypatch):
    monkeypatch.delenv("ECGQA_DATA_DIR", raising=False)
    ecgs = [read_record_or_example(n) for n in ("ptbxl-00473", "example:ptbxl-00473", "473")]
    assert {e.record_id for e in ecgs} == {"473"}
    np.testing.assert_array_equal(ecgs[0].signal_mv, ecgs[1].signal_mv)


def test_dataset_name_without_its_folder_names_the_variable(monkeypatch, capsys):
    for var in ("ECGQA_DATA_DIR", "ECGQA_PTBXL_DIR"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(DatasetError, match="ECGQA_PTBXL_DIR"):
        read_record_or_example("ptbxl:9")
    assert main(["info", "ptbxl:9"]) == 1
    err = capsys.readouterr().err
    assert "ECGQA_PTBXL_DIR" in err and "ECGQA_DATA_DIR" in err and "no such record" not in err


def test_an_existing_file_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "473.npz", signal=np.ones((12, 1000)), fs_hz=100.0, lead_names=np.array(STANDARD_LEADS))
    assert read_record_or_example("473.npz").fs_hz == 100
    assert record_display_name("473.npz") == "473.npz"
    assert record_display_name("473") == "example:ptbxl-00473"


@pytest.mark.parametrize("command", [["info", "--json"], ["tokens"], ["measure", "--json"]])
def test_every_record_command_reads_ptbxl_names(ptbxl_dir, monkeypatch, capsys, command):
    monkeypatch.setenv("ECGQA_PTBXL_DIR", str(ptbxl_dir))
    assert main([command[0], "ptbxl:9@100", *command[1:]]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if command[0] == "info":
        assert json.loads(out)["fs_hz"] == 100


def test_ptbxl_rate_is_chosen_by_the_name(ptbxl_dir, monkeypatch):
    from ecgqa_tools.llm import ToolContext

    monkeypatch.setenv("ECGQA_PTBXL_DIR", str(ptbxl_dir))
    assert read_record_or_example("ptbxl:9@100").fs_hz == 100
    assert read_record_or_example("ptbxl:9").fs_hz == 500  # 500 Hz when present
    ctx = ToolContext()
    ref, ecg = ctx.load("ptbxl:9@100")  # ask/chat resolve through the same reader
    assert ref.canonical == "ptbxl:9@100" and ecg.fs_hz == 100
    assert ctx.load("ptbxl:9")[1].fs_hz == 500
