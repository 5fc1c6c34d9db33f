"""Grounding: attributions turned into evidence, measurements (intervals, axis), plots."""

from ._attribution import (BASELINES, DEFAULT_BASELINE, DEFAULT_BASELINE_BY_DISEASE, METHODS, Attribution,
                           cosine_similarity, default_baseline, explain, explain_batch, make_baseline,
                           predict_logits, variant_fingerprint)
from ._evidence import BeatShare, Evidence, Faithfulness, Peak, Region, build_evidence
from ._plot import plot_ecg
from ._ptbxl_plus import read_ptbxl_plus_fiducials
from ._segments import CLINICAL_SEGMENTS, SEGMENTS, clinical_mask, clinical_segments, scored_mask, segment_labels
from ._validation import cas, mask_coverage, pointing_game
from ._measure import (AXIS_CONVENTIONS, AXIS_METHODS, DEFAULT_AXIS_CONVENTION, DEFAULT_AXIS_METHOD, NORMAL_RANGES_MS,
                       AxisConvention, Beat, BeatIntervals, Measurement, Measurements, axis_from_beats, classify_axis,
                       get_axis_convention, global_beats, limb_leads, measure, measure_from_delineation, range_of)

__all__ = [
    "Attribution",
    "BASELINES",
    "BeatShare",
    "CLINICAL_SEGMENTS",
    "DEFAULT_BASELINE",
    "DEFAULT_BASELINE_BY_DISEASE",
    "Evidence",
    "Faithfulness",
    "METHODS",
    "Peak",
    "Region",
    "SEGMENTS",
    "build_evidence",
    "cas",
    "clinical_mask",
    "clinical_segments",
    "cosine_similarity",
    "default_baseline",
    "explain",
    "explain_batch",
    "make_baseline",
    "mask_coverage",
    "plot_ecg",
    "pointing_game",
    "predict_logits",
    "read_ptbxl_plus_fiducials",
    "scored_mask",
    "segment_labels",
    "variant_fingerprint",
    "AXIS_CONVENTIONS",
    "AXIS_METHODS",
    "AxisConvention",
    "DEFAULT_AXIS_CONVENTION",
    "DEFAULT_AXIS_METHOD",
    "NORMAL_RANGES_MS",
    "Beat",
    "BeatIntervals",
    "Measurement",
    "Measurements",
    "axis_from_beats",
    "classify_axis",
    "get_axis_convention",
    "global_beats",
    "limb_leads",
    "measure",
    "measure_from_delineation",
    "range_of",
]
