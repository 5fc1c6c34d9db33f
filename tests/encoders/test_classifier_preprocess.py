"""Preprocessing shared by training and inference of the encoder models."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders import MODEL_SAMPLES, preprocess_ecg
from ecgqa_tools.errors import RecordError
from ecgqa_tools.records import ECG, STANDARD_LEADS, load_example


def _synthetic(fs_hz: float = 500.0, seconds: float = 10.0, leads=STANDARD_LEADS) -> ECG:
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    rows = [np.sin(2 * np.pi * (1.0 + i / 10) * t) + 0.3 * np.sin(2 * np.pi * 0.1 * t) + 0.01 * i for i in range(len(leads))]
    return ECG.from_array(np.array(rows), fs_hz, leads)


@pytest.mark.parametrize("fs_hz,seconds", [(500.0, 10.0), (100.0, 10.0), (360.0, 10.0), (250.0, 12.5), (1000.0, 8.0)])
def test_any_rate_and_length_becomes_12_by_1000_zscored(fs_hz, seconds):
    x = preprocess_ecg(_synthetic(fs_hz, seconds))
    assert x.shape == (12, MODEL_SAMPLES) and x.dtype == np.float32
    if seconds >= 10:  # no zero padding: every lead has mean ~0 and std ~1 (z-scored before decimation)
        assert np.allclose(x.mean(axis=1), 0, atol=0.05)
        assert np.allclose(x.std(axis=1), 1, atol=0.1)


def test_lead_order_does_not_matter_and_missing_leads_are_refused():
    ecg = _synthetic()
    order = list(reversed(range(12)))
    shuffled = ECG.from_array(ecg.signal_mv[order], 500.0, tuple(STANDARD_LEADS[i] for i in order))
    np.testing.assert_allclose(preprocess_ecg(shuffled), preprocess_ecg(ecg), atol=1e-6)
    with pytest.raises(RecordError, match="missing lead"):
        preprocess_ecg(ECG.from_array(ecg.signal_mv[:2], 500.0, ("V1", "V2")))


def test_flat_lead_becomes_zeros_not_nan():
    ecg = _synthetic()
    signal = ecg.signal_mv.copy()
    signal[7] = 0.0
    x = preprocess_ecg(ecg.with_signal(signal))
    assert np.isfinite(x).all() and np.all(x[7] == 0)


def test_bundled_500hz_example_matches_its_100hz_version_after_preprocessing():
    ecg = load_example("ptbxl-00473")
    from ecgqa_tools.records import resample

    low = resample(ecg, 100.0)
    a, b = preprocess_ecg(ecg), preprocess_ecg(low)
    corr = [np.corrcoef(a[i], b[i])[0, 1] for i in range(12)]
    assert np.mean(corr) > 0.97 and min(corr) > 0.8  # the 100 Hz copy lost 40-50 Hz content


@pytest.mark.data
def test_raw_500hz_records_reproduce_the_filtered_subset(ptbxl_dir, data_dir):
    """The filtered subset was made from the 500 Hz signals: our pipeline reproduces it."""
    from ecgqa_tools.records import PtbXl, PtbXlFiltered

    ptbxl = PtbXl(ptbxl_dir)
    subset = PtbXlFiltered(data_dir / "ptb-xl-filtered-subset")
    common = sorted(set(subset.present_ids()) & set(ptbxl.present_ids(500)))[:5]
    assert common, "expected records present both at 500 Hz and in the filtered subset"
    for ecg_id in common:
        ours = preprocess_ecg(ptbxl.read(ecg_id, 500))
        theirs = subset.read(ecg_id).signal_mv
        corr = np.mean([np.corrcoef(ours[i], theirs[i])[0, 1] for i in range(12)])
        assert corr > 0.999, (ecg_id, corr)
        # records of the subset itself pass through unchanged (already preprocessed)
        np.testing.assert_allclose(preprocess_ecg(subset.read(ecg_id)), theirs, atol=1e-6)
