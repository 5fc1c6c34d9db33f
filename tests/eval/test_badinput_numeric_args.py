"""Numeric CLI options of eval/bench/train are validated while parsing (before any data is read):
a usage error naming the option, exit 2, no traceback (session-8 review M4, M5, S13)."""

from __future__ import annotations

import pytest

from ecgqa_tools.cli import int_at_least, main


@pytest.mark.parametrize("argv, option", [
    (["eval", "classifiers", "--n-boot", "-5", "--limit", "2"], "--n-boot"),
    (["eval", "classifiers", "--n-boot", "0"], "--n-boot"),
    (["eval", "classifiers", "--limit", "0"], "--limit"),
    (["eval", "encoders-speed", "--threads", "0"], "--threads"),
    (["bench", "speed", "--n-ecgs", "-1", "--cli-only"], "--n-ecgs"),
    (["bench", "speed", "--repeats", "0", "--cli-only"], "--repeats"),
    (["bench", "speed", "--threads", "x", "--cli-only"], "--threads"),
    (["bench", "delineation-speed", "--records", "0"], "--records"),
    (["bench", "intervals", "--limit", "-1"], "--limit"),
    (["eval", "xai", "--steps", "0"], "--steps"),
    (["eval", "xai", "--fold", "11"], "--fold"),
    (["train", "disease", "--disease", "MI", "--epochs", "0"], "--epochs"),
    (["train", "disease", "--epochs", "-1"], "--epochs"),
    (["train", "cv", "--epochs", "0"], "--epochs"),
    (["train", "attributes", "--epochs", "0"], "--epochs"),
    (["train", "age-sex", "--epochs", "0"], "--epochs"),
])
def test_bad_numeric_option_is_a_usage_error(argv: list[str], option: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("ECGQA_DATA_DIR", str(tmp_path))  # nothing to read: the error must come first
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert option in err and ("must be" in err or "invalid choice" in err) and "Traceback" not in err


def test_int_at_least_accepts_the_bound() -> None:
    assert int_at_least(1)("1") == 1
    assert int_at_least(0)("0") == 0


def test_train_cv_bad_folds_refused_before_data(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                tmp_path) -> None:
    monkeypatch.setenv("ECGQA_DATA_DIR", str(tmp_path / "missing"))
    assert main(["train", "cv", "--folds", "1,11"]) == 1
    assert "--folds: 11 is out of range" in capsys.readouterr().err
    assert main(["train", "cv", "--seeds", "a"]) == 1
    assert "--seeds must be comma-separated integers" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["bench", "intervals", "--cache-dir", "{file}"],
    ["bench", "delineation", "--cache-dir", "{file}/sub"],
    ["train", "disease", "--work-dir", "{file}"],
    ["train", "age-sex", "--out-dir", "{file}"],
])
def test_folder_option_on_an_existing_file(argv: list[str], tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """review S9 in these areas: a folder option naming a file is refused at parse time, naming it."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main([a.format(file=afile) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "must be a folder" in err and str(afile) in err
