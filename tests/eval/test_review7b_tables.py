"""Session-7b review: eval uses the one label table and the one clinical-name table (no copies)."""

from __future__ import annotations

from ecgqa_tools.encoders import AXIS_PTBXL_LABELS
from ecgqa_tools.eval import PTBXL_AXIS_MAP
from ecgqa_tools.eval._delineation_intervals import candidate_ranges
from ecgqa_tools.grounding import ECGQA_CLINICAL_VALUE_NAMES


def test_the_axis_benchmark_scores_against_the_table_the_axis_model_trains_on():
    assert PTBXL_AXIS_MAP is AXIS_PTBXL_LABELS


def test_clinical_candidate_reads_every_value_named_by_the_grounding_table():
    values = {n: 100.0 for n in ECGQA_CLINICAL_VALUE_NAMES.values()}
    states = candidate_ranges("clinical+ecgqa-ranges", {"values": values}, None)
    assert set(states) == set(ECGQA_CLINICAL_VALUE_NAMES)
