"""Per-ECG values outside the physiological bounds become unmeasurable with a reason."""

from ecgqa_tools.grounding._measure import PLAUSIBLE_BOUNDS, Measurement, plausible


def test_qrs_outside_bounds_is_unmeasurable_with_value_and_bound():
    out = plausible(Measurement("qrs_duration", 412.0, "ms", n_beats=7))
    assert out.value is None
    assert "412 ms" in out.reason and "40-250 ms" in out.reason


def test_values_inside_bounds_and_unbounded_names_are_kept():
    kept = Measurement("qrs_duration", 100.0, "ms", n_beats=9)
    assert plausible(kept) is kept
    axis = Measurement("qrs_axis", 400.0, "deg")
    assert plausible(axis) is axis
    assert set(PLAUSIBLE_BOUNDS) == {"heart_rate", "p_duration", "pr_interval", "qrs_duration", "qt_interval"}
