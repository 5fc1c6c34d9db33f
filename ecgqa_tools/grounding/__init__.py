"""Grounding: attributions turned into evidence, measurements (intervals, axis), plots."""

from ._measure import NORMAL_RANGES_MS, Beat, BeatIntervals, Measurement, Measurements, classify_axis, measure, range_of

__all__ = [
    "NORMAL_RANGES_MS",
    "Beat",
    "BeatIntervals",
    "Measurement",
    "Measurements",
    "classify_axis",
    "measure",
    "range_of",
]
