"""``measure`` notes carry the reader's notes (negative or defaulted gain, an ignored --fs) and
microvolt-scale / > 20 mV amplitudes (review M8, S14: measure printed nothing while ask/classify warned)."""

from __future__ import annotations

from dataclasses import replace

from ecgqa_tools.grounding import measure
from ecgqa_tools.records import load_example


def test_measure_notes_reader_notes_and_microvolts() -> None:
    ecg = load_example("ptbxl-01386")
    noted = replace(ecg.with_signal(ecg.signal_mv * 1000), read_notes=("x.hea gives a negative ADC gain for every lead",))
    notes = measure(noted).notes
    assert "x.hea gives a negative ADC gain for every lead" in notes
    assert any("values look like microvolts" in n for n in notes)
    assert not any("microvolts" in n or "negative ADC gain" in n for n in measure(ecg).notes)
