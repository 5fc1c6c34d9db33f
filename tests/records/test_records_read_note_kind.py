"""Reader notes carry their kind as data (``records.ReadNote``, review s9 N5): an ``info`` note (a
caller's rate ignored because the record states its own) is told from a ``doubt`` by ``kind``, not by
how its text begins, so rewording a message cannot move a note into the warnings or back."""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace

import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.records import (
    ReadNote,
    load_example,
    read_record,
    resample,
    to_standard_leads,
)

REWORDED = "the record's own 500 Hz was kept; the rate you passed (250 Hz) was not used"
"""An ``info`` note whose text does not begin like ``file_rate``'s (``fs_hz/--fs ...``)."""


def test_the_kind_not_the_wording_decides() -> None:
    ecg = load_example("ptbxl-00210")
    info = ReadNote(REWORDED, "info")
    old_prefix_plain = "fs_hz/--fs 250 Hz ignored: looks like the old note, but it is a plain str"
    noted = replace(ecg, read_notes=(info, old_prefix_plain, ReadNote("a negative gain was followed")))
    assert noted.ignored_rate_notes == (REWORDED,) == noted.quality().ignored_rate_notes
    assert noted.quality().problems()[:3] == [REWORDED, old_prefix_plain, "a negative gain was followed"]
    assert info == REWORDED and hash(info) == hash(REWORDED) and isinstance(info, str)
    assert ReadNote("x").kind == "doubt"
    with pytest.raises(UsageError, match="read note kind"):
        ReadNote("x", "warning")


def test_the_kind_survives_transforms_copies_and_pickling() -> None:
    noted = replace(load_example("ptbxl-00210"), read_notes=(ReadNote(REWORDED, "info"),))
    for ecg in (resample(noted, 250.0), to_standard_leads(noted), noted.with_signal(noted.signal_mv * 2),
                copy.deepcopy(noted), pickle.loads(pickle.dumps(noted))):
        assert ecg.ignored_rate_notes == (REWORDED,)
        assert ecg.read_notes[0].kind == "info"


def test_file_rate_note_is_info_and_other_reader_notes_are_doubts(example_wfdb_copy) -> None:
    header = example_wfdb_copy.read_text()
    example_wfdb_copy.write_text(header.replace(" 1000.0(0)/mV", " -1000.0(0)/mV").replace(" 1000(0)/mV", " -1000(0)/mV"))
    ecg = read_record(example_wfdb_copy, fs_hz=250)
    kinds = {note.split(":")[0].split(" ")[0]: getattr(note, "kind", "doubt") for note in ecg.read_notes}
    assert kinds == {"fs_hz/--fs": "info", "rec.hea": "doubt"}
    assert len(ecg.ignored_rate_notes) == 1 and "250 Hz ignored" in ecg.ignored_rate_notes[0]
