"""Session-8 bad-input review, S7/S8: an ECG-QA JSON sample of the wrong type names the item, its
sample id and the field; ECG ids that cannot exist (<= 0, or above PTB-XL's 21837) are refused at load."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.errors import DatasetError
from ecgqa_tools.qa import load_ecgqa, parse_samples


def _sample(**changes):
    item = {"template_id": 1, "question_id": 0, "sample_id": 80000, "question_type": "single-verify",
            "attribute_type": "scp_code", "question": "Does this ECG show symptoms of non-specific st changes?",
            "answer": ["yes"], "ecg_id": [13], "attribute": ["non-specific st changes"]}
    item.update(changes)
    return item


@pytest.mark.parametrize("changes,words", [
    ({"ecg_id": "abc"}, "field 'ecg_id' must be a list of one or two integer ECG ids, got \"abc\""),
    ({"ecg_id": ["abc"]}, "field 'ecg_id' must be a list of one or two integer ECG ids, got [\"abc\"]"),
    ({"ecg_id": []}, "field 'ecg_id' must be a list of one or two"),
    ({"ecg_id": [1, 2, 3]}, "field 'ecg_id' must be a list of one or two"),
    ({"question": None}, "field 'question' must be a string, got null"),
    ({"question": 5}, "field 'question' must be a string, got 5"),
    ({"answer": None}, "field 'answer' must be a list of strings, got null"),
    ({"answer": "yes"}, "field 'answer' must be a list of strings, got \"yes\""),
    ({"answer": [1]}, "field 'answer' must be a list of strings, got [1]"),
    ({"template_id": "sixty-nine"}, "field 'template_id' must be an integer, got \"sixty-nine\""),
    ({"template_id": 1.5}, "field 'template_id' must be an integer, got 1.5"),
    ({"attribute": "x"}, "field 'attribute' must be a list of strings or null, got \"x\""),
    ({"question_type": ["single-verify"]}, "field 'question_type' must be a string"),
])
def test_a_wrongly_typed_field_is_named_with_item_and_sample(changes, words):
    data = [_sample(sample_id=79999), _sample(**changes)]
    with pytest.raises(DatasetError) as info:
        parse_samples(data, "test", "chunk.json")
    assert str(info.value).startswith("chunk.json: item 1 (sample 80000): ") and words in str(info.value), info.value


def test_the_sample_id_is_left_out_when_it_is_itself_wrong():
    with pytest.raises(DatasetError, match=r"^c: item 0: field 'sample_id' must be an integer, got null"):
        parse_samples([_sample(sample_id=None)], "test", "c")


@pytest.mark.parametrize("ids,words", [([-1], "ECG ids are positive"), ([0, 5], "ECG ids are positive"),
                                       ([1000000000000], "PTB-XL ecg_ids are 1..21837"),
                                       ([5, 21838], "PTB-XL ecg_ids are 1..21837")])
def test_impossible_ecg_ids_are_refused_at_load(tmp_path, ids, words):
    folder = tmp_path / "ptbxl" / "template" / "test"
    folder.mkdir(parents=True)
    (folder / "80000.json").write_text(json.dumps([_sample(ecg_id=ids)]))
    with pytest.raises(DatasetError, match=rf"80000\.json: sample 80000 has ecg_id .*{words}"):
        load_ecgqa(tmp_path, "ptbxl", "template", "test")


def test_well_formed_samples_still_load(tmp_path):
    folder = tmp_path / "ptbxl" / "template" / "test"
    folder.mkdir(parents=True)
    (folder / "80000.json").write_text(json.dumps([_sample(), _sample(sample_id=80001, ecg_id=[1, 21837],
                                                                      attribute=None)]))
    split = load_ecgqa(tmp_path, "ptbxl", "template", "test")
    assert [s.ecg_id for s in split.samples] == [(13,), (1, 21837)]
