"""``tokenize_lead``'s beats: one per QRS of the token string, untyped edge beats kept and labelled."""

import numpy as np

from ecgqa_tools.encoders import tokenize_lead
from ecgqa_tools.encoders._codec import UNTYPED_BEAT, _beats_per_qrs
from ecgqa_tools.records import Wave, load_example


def _qrs_runs(tokens) -> int:
    return sum(1 for i, t in enumerate(tokens) if t.symbol in "qrsw" and (i == 0 or tokens[i - 1].symbol not in "qrsw"))


def test_one_beat_per_qrs_of_the_token_string(capsys):
    from ecgqa_tools.cli import main

    tokens = tokenize_lead(load_example("ptbxl-00473"), "II")  # the codec types 7 of its 9 QRS complexes
    assert len(tokens.beats) == _qrs_runs(tokens.tokens) == 9
    assert [b.label for b in tokens.beats].count(UNTYPED_BEAT) == 2
    assert main(["tokens", "ptbxl-00473"]) == 0
    out = capsys.readouterr().out
    assert "sinus x7, untyped x2" in out and "usually the first or last beat" in out


def test_beat_labels_come_from_the_layer_around_each_qrs():
    layer = np.full(1000, 9, dtype=np.int64)  # 9 = none
    layer[95:140] = 1  # beat typed near the first QRS (a few samples early)
    layer[300:310] = 2  # a split event: two types around the second QRS, majority wins
    layer[310:340] = 1
    waves = (Wave("P", 50, 80), Wave("QRS", 100, 140), Wave("QRS", 305, 345), Wave("QRS", 700, 740))
    beats = _beats_per_qrs(layer, {1: "sinus", 2: "vpc"}, 9, 500.0, waves)
    assert [b.label for b in beats] == ["sinus", "sinus", UNTYPED_BEAT]
    assert beats[0].start_ms == 200.0 and beats[0].end_ms == 282.0
