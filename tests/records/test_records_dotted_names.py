"""A dotted record name (``rec.v2``) reads its own files, never those of the sibling ``rec``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ecgqa_tools.errors import RecordNotFound
from ecgqa_tools.records import example_path, read_record, read_wfdb


def _copy_example(example: str, folder, name: str):
    """Copy a bundled example as ``folder/name.hea`` + ``.dat`` (the header renamed to match)."""
    source = example_path(example)
    source = source.with_name(source.name.split(".")[0])
    header = source.with_name(source.name + ".hea").read_text().replace(source.name, name)
    (folder / f"{name}.hea").write_text(header)
    shutil.copyfile(source.with_name(source.name + ".dat"), folder / f"{name}.dat")
    return folder / name


@pytest.fixture
def dotted_pair(tmp_path):
    dotted = _copy_example("ptbxl-00210", tmp_path, "rec.v2")
    plain = _copy_example("ptbxl-00377", tmp_path, "rec")
    return dotted, plain


def test_dotted_and_plain_records_each_read_their_own_signal(dotted_pair):
    dotted, plain = dotted_pair
    own = read_record(str(plain) + ".hea").signal_mv
    other = read_record(str(dotted) + ".hea").signal_mv
    assert not np.array_equal(own, other)
    for form in (str(dotted), str(dotted) + ".hea", str(dotted) + ".dat"):
        np.testing.assert_array_equal(read_record(form).signal_mv, other)
        np.testing.assert_array_equal(read_wfdb(form).signal_mv, other)
    for form in (str(plain), str(plain) + ".hea", str(plain) + ".dat"):
        np.testing.assert_array_equal(read_record(form).signal_mv, own)


def test_dotted_name_without_its_own_header_is_not_found(tmp_path):
    _copy_example("ptbxl-00377", tmp_path, "rec")
    for form in ("rec.v2", "rec.v2.hea"):
        with pytest.raises(RecordNotFound, match=r"rec\.v2\.hea"):
            read_record(tmp_path / form)
