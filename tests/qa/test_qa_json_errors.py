"""Malformed ECG-QA JSON: the error names the file, the line and column, and a readable reason
(no "starting at at line ..." from pasting the decoder's message before our own position)."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import DatasetError
from ecgqa_tools.qa import load_ecgqa, official_template_samples

_SAMPLE = {
    "template_id": 27, "question_id": 5, "sample_id": 120000, "question_type": "single-verify",
    "attribute_type": "noise", "question": "Does this ECG show static noise?", "answer": ["no"],
    "ecg_id": [3637], "attribute": ["static noise"],
}


def _chunk(tmp_path, text: str):
    folder = tmp_path / "ptbxl" / "template" / "train"
    folder.mkdir(parents=True)
    path = folder / "00000.json"
    path.write_text(text)
    return path


def test_unterminated_string_names_line_and_column_once(tmp_path) -> None:
    good = json.dumps([_SAMPLE], indent=1)  # many lines; then a string cut off on a new last line
    path = _chunk(tmp_path, good[:-1] + ',\n "cut off')
    line = good.count("\n") + 2
    with pytest.raises(DatasetError) as info:
        load_ecgqa(tmp_path, "ptbxl", "template", "train")
    text = str(info.value)
    assert text == f"malformed JSON in {path} at line {line} column 2: unterminated string"
    assert "at at" not in text


@pytest.mark.parametrize(("content", "reason"), [
    ("[{not json", "expecting property name enclosed in double quotes"),
    ('["a\tb"]', "invalid control character"),
    ("[1] 2", "extra data"),
])
def test_each_decoder_reason_reads_as_a_sentence(tmp_path, content: str, reason: str) -> None:
    _chunk(tmp_path, content)
    with pytest.raises(DatasetError, match=r"at line 1 column \d+: (.*)$") as info:
        load_ecgqa(tmp_path, "ptbxl", "template", "train")
    assert str(info.value).endswith(f": {reason}")
    assert not str(info.value).endswith(" at")


def test_jsonl_line_error_has_the_same_wording(tmp_path) -> None:
    folder = tmp_path / "sampled"
    folder.mkdir()
    path = folder / "ptbxl_template_train.jsonl"
    path.write_text(json.dumps(_SAMPLE) + '\n{"question": "unfinished\n')
    with pytest.raises(DatasetError) as info:
        official_template_samples(tmp_path)
    assert str(info.value) == f"malformed JSON in {path} at line 2 column 14: unterminated string"


def test_cli_prints_the_wording_without_a_traceback(tmp_path, capsys) -> None:
    path = _chunk(tmp_path, '[{"question": "cut')
    assert main(["qa", "load", "--ecgqa", str(tmp_path), "--split", "train", "--kind", "template"]) == 1
    err = capsys.readouterr().err
    assert f"malformed JSON in {path} at line 1 column 15: unterminated string" in err
    assert "Traceback" not in err and "at at" not in err
