"""Bad input to the qa layer: malformed ECG-QA files and undecodable questions get package errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import DatasetError, UnsupportedQuestion
from ecgqa_tools.qa import load_ecgqa, official_template_samples, parse_question

SAMPLE = {
    "template_id": 2, "question_id": 1, "sample_id": 80000, "question_type": "single-verify",
    "attribute_type": "scp_code", "question": "Is this a normal ECG?", "answer": ["yes"], "ecg_id": [9],
    "attribute": ["normal ecg"],
}


def _tree(root: Path, chunk: bytes, templates: bytes | None = None) -> Path:
    folder = root / "ptbxl" / "template" / "test"
    folder.mkdir(parents=True)
    (folder / "80000.json").write_bytes(chunk)
    if templates is not None:
        (root / "templates.json").write_bytes(templates)
    return root


def test_binary_chunk_is_a_dataset_error_naming_the_file(tmp_path):
    root = _tree(tmp_path, b"[\xca\xfe\xba\xbe" + os.urandom(64))
    with pytest.raises(DatasetError, match=r"80000\.json.*not UTF-8"):
        load_ecgqa(root, "ptbxl", "template", "test")
    with pytest.raises(DatasetError, match=r"80000\.json.*not UTF-8"):
        official_template_samples(root)


@pytest.mark.parametrize("templates", [{"a": 1}, [None, 1], [{"examples": []}], [{"template_id": "2", "examples": []}]])
def test_malformed_templates_json_is_a_dataset_error(tmp_path, templates):
    root = _tree(tmp_path, json.dumps([SAMPLE]).encode(), json.dumps(templates).encode())
    with pytest.raises(DatasetError, match=r"templates\.json: expected a JSON list of templates"):
        official_template_samples(root)


def test_template_example_that_is_not_an_object_is_named(tmp_path):
    root = _tree(tmp_path, json.dumps([SAMPLE]).encode(), json.dumps([{"template_id": 2, "examples": [None]}]).encode())
    with pytest.raises(DatasetError, match=r"templates\.json: expected a JSON object per sample, got NoneType"):
        official_template_samples(root)


@pytest.mark.parametrize("content", [os.urandom(200) + b"\xff", b'[1, 2]\n"x"\n', b'{"template_id": "abc"}\n'])
def test_malformed_sampled_jsonl_is_a_dataset_error(tmp_path, content):
    (tmp_path / "sampled").mkdir()
    (tmp_path / "sampled" / "ptbxl_template_test_sample.jsonl").write_bytes(content)
    with pytest.raises(DatasetError, match=r"ptbxl_template_test_sample\.jsonl"):
        official_template_samples(tmp_path)


def test_cli_qa_load_prints_an_error_for_a_binary_chunk(tmp_path, capsys):
    root = _tree(tmp_path, b"[\xca\xfe\xba\xbe" + os.urandom(64))
    assert main(["qa", "load", "--ecgqa", str(root), "--split", "test", "--kind", "template"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "80000.json" in err and "not UTF-8" in err and "Traceback" not in err


def test_question_with_invalid_utf8_is_parsed_not_crashed():
    # 'is this \xff normal?' as Python receives it from argv/stdin (surrogateescape)
    question = b"Does this ECG show static noise? \xff".decode("utf-8", "surrogateescape")
    try:
        parsed = parse_question(question)
    except UnsupportedQuestion:
        return  # refusing is fine; a TypeError from the tokenizer is not
    assert parsed.template_id >= 1


def test_embedder_accepts_text_with_lone_surrogates():
    from ecgqa_tools.qa._embedder import load_embedder

    embedder = load_embedder()
    bad = b"is this \xff normal?".decode("utf-8", "surrogateescape")
    vectors = embedder.encode([bad, "is this ? normal?"])
    assert vectors.shape == (2, 384)
    assert float(vectors[0] @ vectors[1]) > 0.99  # the undecodable byte reads as '?'
