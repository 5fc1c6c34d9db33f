"""The qa commands end to end (data tests skip without ECGQA_DATA_DIR)."""

from __future__ import annotations

from ecgqa_tools.cli import main


def test_verify_prints_the_summary_line(data_dir, tmp_path, capsys) -> None:
    """On the templates.json examples only (the full run is test_qa_engine::test_official_agreement)."""
    import shutil

    (tmp_path / "ecg-qa").mkdir()
    shutil.copy(data_dir / "ecg-qa" / "templates.json", tmp_path / "ecg-qa" / "templates.json")
    assert main(["qa", "verify", "--ptbxl", str(data_dir / "ptb-xl"), "--ecgqa", str(tmp_path / "ecg-qa"), "--show", "-1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("non-numeric templates: ") and out[-1].endswith("%)")
    assert out[-2].startswith("label-derived templates (all but numeric and heart axis): ")
    agree, total = out[-2].split(": ")[1].split(" ")[0].split("/")
    assert agree == total


def test_map_reports_absent_records(data_dir, capsys) -> None:
    code = main(["qa", "map", "--ecgqa", str(data_dir / "ecg-qa"), "--ptbxl", str(data_dir / "ptb-xl"),
                 "--kind", "template", "--split", "test", "--fs", "100", "--list-absent", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert "2146 samples" in out and "absent record ids" in out


def test_bad_folder_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["qa", "load", "--ecgqa", str(tmp_path / "nope")]) == 1
    assert "error:" in capsys.readouterr().err
    broken = tmp_path / "ecg-qa" / "ptbxl" / "template" / "test"
    broken.mkdir(parents=True)
    (broken / "00000.json").write_text("{oops")
    assert main(["qa", "load", "--ecgqa", str(tmp_path / "ecg-qa"), "--kind", "template", "--split", "test"]) == 1
    assert "malformed JSON" in capsys.readouterr().err


def test_parse_command_refuses_off_topic(capsys) -> None:
    assert main(["qa", "parse", "What is the capital of France?"]) == 1
    assert "error: cannot map" in capsys.readouterr().err
