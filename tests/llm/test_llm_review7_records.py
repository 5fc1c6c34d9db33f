"""Session-7 review: a path outside the data roots is refused with the same message whether or not
it exists (no file-existence oracle); the reference length limit and bad dataset ids are named."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import RecordNotFound
from ecgqa_tools.llm import parse_record_ref


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/doesnotexist", "/root/.ssh/id_rsa", "/nonexistent/dir/x.npy"])
def test_outside_paths_get_one_message_whether_or_not_they_exist(path, tmp_path):
    with pytest.raises(RecordNotFound) as info:
        parse_record_ref(path, extra_roots=[tmp_path])
    message = str(info.value)
    assert "is outside the allowed data roots" in message and "whether or not it exists" in message
    assert "not found" not in message


def test_an_existing_record_inside_a_root_is_still_found(tmp_path):
    (tmp_path / "r.npy").write_bytes(b"x")
    assert parse_record_ref(str(tmp_path / "r.npy"), extra_roots=[tmp_path]).kind == "path"
    with pytest.raises(RecordNotFound, match="was not found"):
        parse_record_ref(str(tmp_path / "missing.npy"), extra_roots=[tmp_path])


def test_an_over_long_reference_names_the_limit():
    with pytest.raises(RecordNotFound, match=r"200000 characters; at most 512"):
        parse_record_ref("x" * 200_000)


@pytest.mark.parametrize("ref", ["ptbxl:1e3", "ludb:x", "mimic:abc", "ptbxl:"])
def test_a_dataset_name_with_a_malformed_id_says_so(ref):
    with pytest.raises(RecordNotFound, match="is not a valid .* id"):
        parse_record_ref(ref)
