"""A missing dataset folder is reported by where its path came from: the command's --<dataset> option,
the dataset's own variable, ECGQA_DATA_DIR, or nothing; the text also reads right over MCP (no --help)."""

from __future__ import annotations

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import DatasetError
from ecgqa_tools.records import read_record_or_example


@pytest.fixture
def no_data_env(monkeypatch):
    for var in ("ECGQA_DATA_DIR", "ECGQA_PTBXL_DIR", "ECGQA_LUDB_DIR", "ECGQA_MIMIC_DIR", "ECGQA_ECGQA_DIR"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_option_folder_that_does_not_exist_is_named_with_its_option(no_data_env, tmp_path, capsys):
    missing = tmp_path / "nonexistent" / "mimic"
    assert main(["data", "check", "--mimic", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"the folder given with --mimic ({missing}) does not exist" in err
    assert "--help" not in err and "ECGQA_MIMIC_DIR" not in err and "Traceback" not in err


def test_option_pointing_at_a_file_says_it_is_not_a_folder(no_data_env, tmp_path, capsys):
    file = tmp_path / "record_list.csv"
    file.write_text("x\n")
    assert main(["data", "check", "--ludb", str(file)]) == 1
    assert f"the folder given with --ludb ({file}) is not a folder" in capsys.readouterr().err


def test_folder_from_the_dataset_variable_names_the_variable(no_data_env, tmp_path):
    missing = tmp_path / "gone"
    no_data_env.setenv("ECGQA_MIMIC_DIR", str(missing))
    with pytest.raises(DatasetError) as info:
        read_record_or_example("mimic:40689238")  # the path MCP and `ecgqa ask` take: no option exists
    text = str(info.value)
    assert f"the mimic dataset folder {missing} (from ECGQA_MIMIC_DIR) does not exist" in text
    assert "--help" not in text and "ECGQA_DATA_DIR=<folder holding mimic-iv-ecg/>" in text


def test_folder_under_the_data_dir_names_the_data_dir(no_data_env, tmp_path):
    no_data_env.setenv("ECGQA_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetError) as info:
        read_record_or_example("ludb:1")
    text = str(info.value)
    assert f"the ludb dataset folder {tmp_path / 'ludb'} (under ECGQA_DATA_DIR) does not exist" in text
    assert "ECGQA_LUDB_DIR=<ludb folder>" in text and "--help" not in text


def test_nothing_configured_says_so_and_how_to_set_it(no_data_env):
    with pytest.raises(DatasetError) as info:
        read_record_or_example("ptbxl:9")
    text = str(info.value)
    assert text.startswith("no ptbxl dataset folder configured (ECGQA_DATA_DIR is unset)")
    assert "ECGQA_PTBXL_DIR=<ptbxl folder>" in text and "--ptbxl option" in text and "--help" not in text
