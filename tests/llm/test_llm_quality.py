"""The signal-quality heuristic behind ``noise_per_lead``: static and burst noise measured outside the QRS.

Synthetic 12-lead ECGs with P, QRS and T waves: limb leads with small QRS complexes, V2-V5 with
tall, sharp ones (the case that fooled the whole-lead residue), and noise added where a real
recording would show it.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.llm import (
    QUALITY_FIT_RULE,
    quality_development_ids,
    quality_fitted_ecg_ids,
)
from ecgqa_tools.llm._quality import BURST_FLOOR_MV, STATIC_MV, lead_quality
from ecgqa_tools.records import STANDARD_LEADS, load_example

FS_HZ = 500.0
SECONDS = 10.0
BEATS_S = np.arange(0.5, SECONDS - 0.3, 0.8)  # 75 bpm
TALL = ("V2", "V3", "V4", "V5")


def _clean_ecg(seed: int = 0) -> np.ndarray:
    """(12, 5000) mV: P 0.1, narrow QRS (0.6 mV in limb leads, 2.5 mV sharp in V2-V5), T 0.25, and
    1 uV white noise."""
    t = np.arange(int(FS_HZ * SECONDS)) / FS_HZ
    signal = np.zeros((12, t.size))
    for i, lead in enumerate(STANDARD_LEADS):
        r_mv, r_sd_s = (2.5, 0.007) if lead in TALL else (0.6, 0.010)
        for c in BEATS_S:
            signal[i] += 0.1 * np.exp(-((t - c + 0.16) ** 2) / (2 * 0.02 ** 2))
            signal[i] += r_mv * np.exp(-((t - c) ** 2) / (2 * r_sd_s ** 2))
            signal[i] -= 0.3 * r_mv * np.exp(-((t - c - 0.025) ** 2) / (2 * 0.008 ** 2))
            signal[i] += 0.25 * np.exp(-((t - c - 0.3) ** 2) / (2 * 0.045 ** 2))
    return signal + np.random.default_rng(seed).normal(0, 0.001, signal.shape)


def _between_beats(n_samples: int, margin_s: float = 0.1) -> np.ndarray:
    t = np.arange(n_samples) / FS_HZ
    return np.min(np.abs(t[:, None] - BEATS_S[None, :]), axis=1) > margin_s


def _by_lead(signal: np.ndarray):
    return {q.lead: q for q in lead_quality(signal, FS_HZ, STANDARD_LEADS)}


def test_tall_sharp_precordial_qrs_is_not_static_noise():
    quality = _by_lead(_clean_ecg())
    assert all("static noise" not in q.noises and "burst noise" not in q.noises for q in quality.values()), \
        {k: q.noises for k, q in quality.items()}
    for lead in TALL:  # the whole-lead residue (the old measure) is raised by the QRS alone ...
        assert quality[lead].residue_rms_mv > 0.05
        # ... the outside-QRS one is not
        assert quality[lead].residue_outside_qrs_mv < STATIC_MV / 3
        assert quality[lead].qrs_amplitude_mv > 2.0


def test_broadband_noise_between_beats_is_flagged_in_that_lead_only():
    signal = _clean_ecg()
    noisy = STANDARD_LEADS.index("II")
    between = _between_beats(signal.shape[1])
    signal[noisy, between] += np.random.default_rng(1).normal(0, 0.05, int(between.sum()))
    quality = _by_lead(signal)
    assert quality["II"].noises == ("static noise",)
    assert quality["II"].residue_outside_qrs_mv > 2 * STATIC_MV
    assert [k for k, q in quality.items() if "static noise" in q.noises] == ["II"]


def test_a_noisy_second_outside_qrs_is_burst_noise_not_static():
    signal = _clean_ecg()
    lead = STANDARD_LEADS.index("V6")
    t = np.arange(signal.shape[1]) / FS_HZ
    burst = (t >= 4.0) & (t < 5.0) & _between_beats(signal.shape[1])
    signal[lead, burst] += np.random.default_rng(2).normal(0, 0.4, int(burst.sum()))
    quality = _by_lead(signal)
    assert "burst noise" in quality["V6"].noises
    assert "static noise" not in quality["V6"].noises  # one noisy second does not move the median
    assert quality["V6"].burst_ratio_outside_qrs * quality["V6"].residue_outside_qrs_mv > BURST_FLOOR_MV
    assert [k for k, q in quality.items() if "burst noise" in q.noises] == ["V6"]


def test_flat_record_has_no_beats_and_is_an_electrode_problem_not_noise():
    quality = _by_lead(np.zeros((12, int(FS_HZ * SECONDS))))
    assert all(q.noises == ("electrodes problems",) for q in quality.values())
    assert all(q.residue_outside_qrs_mv == q.residue_rms_mv == 0.0 for q in quality.values())


def test_noise_without_any_ecg_is_static_noise():
    """Pure noise makes the slope detector find 'beats' in it; what is left outside them is still noise."""
    signal = np.zeros((12, int(FS_HZ * SECONDS)))
    signal[0] = np.random.default_rng(3).normal(0, 0.05, signal.shape[1])
    quality = _by_lead(signal)
    assert "static noise" in quality["I"].noises
    assert [k for k, q in quality.items() if "static noise" in q.noises] == ["I"]
    clean = _by_lead(_clean_ecg())  # far above what a clean recording leaves between beats
    assert quality["I"].residue_outside_qrs_mv > 5 * max(q.residue_outside_qrs_mv for q in clean.values())


def test_ptbxl_00210_limb_leads_are_flagged_not_only_the_tall_precordials():
    """PTB-XL labels static noise in all leads of this bundled record; the whole-lead residue named
    only V3-V5 (tall QRS). The outside-QRS residue is larger in every limb lead than in V3-V5."""
    ecg = load_example("ptbxl-00210")
    quality = {q.lead: q for q in lead_quality(ecg.signal_mv, ecg.fs_hz, ecg.lead_names)}
    limb = ("I", "II", "III", "aVR", "aVL", "aVF")
    assert all("static noise" in quality[lead].noises for lead in limb)
    assert min(quality[lead].residue_outside_qrs_mv for lead in limb) > \
        max(quality[lead].residue_outside_qrs_mv for lead in ("V3", "V4", "V5"))
    assert max(quality[lead].residue_rms_mv for lead in limb) < min(quality[lead].residue_rms_mv for lead in ("V3", "V4", "V5"))


@pytest.mark.parametrize("fs_hz", [100.0, 250.0, 500.0])
def test_measures_do_not_depend_on_the_input_rate(fs_hz):
    signal = _clean_ecg()
    step = int(FS_HZ / fs_hz)
    from scipy.signal import decimate

    x = signal if step == 1 else decimate(signal, step, axis=1, zero_phase=True)
    quality = {q.lead: q for q in lead_quality(x, fs_hz, STANDARD_LEADS)}
    assert not any("static noise" in q.noises for q in quality.values())
    assert quality["V3"].qrs_amplitude_mv > 2.0


class _FakePtbXl:
    """The two things ``quality_development_ids`` reads of ``records.PtbXl``."""

    def __init__(self, folds: dict[int, int], present: set[int]) -> None:
        import pandas as pd

        self.metadata = pd.DataFrame({"strat_fold": folds}).rename_axis("ecg_id")
        self._present = frozenset(present)

    def present_ids(self, fs_hz: int = 100) -> frozenset[int]:
        if fs_hz != 100:
            raise ValueError(fs_hz)
        return self._present


def test_development_ids_are_folds_1_to_8_present_and_in_the_train_split():
    ptbxl = _FakePtbXl({1: 1, 2: 8, 3: 9, 4: 10, 5: 3, 6: 5, 7: 2}, present={1, 2, 3, 4, 5, 7})
    # 1, 2, 7: fold 1-8, present, train; 3, 4: folds 9-10; 5: not train; 6: no 100 Hz signal
    assert quality_development_ids(ptbxl, [7, 1, 2, 3, 4, 6]) == (1, 2, 7)
    assert quality_development_ids(ptbxl, []) == ()


def test_shipped_fitted_ids_are_the_rule_recomputed_on_the_data_here(data_dir, ptbxl_dir):
    """The list the benchmark's guard reads is the development set the thresholds were fitted on:
    no fold 9-10 record and no ECG-QA valid/test ECG (ptbxl-00210, fold 10, is not among them)."""
    from ecgqa_tools.encoders._jobs import ecgqa_split_ids
    from ecgqa_tools.records import PtbXl

    ptbxl = PtbXl(ptbxl_dir)
    fitted = quality_fitted_ecg_ids()
    assert fitted == frozenset(quality_development_ids(ptbxl, ecgqa_split_ids(data_dir, "train")))
    assert (ptbxl.metadata.loc[sorted(fitted), "strat_fold"] <= 8).all()
    assert not fitted & (ecgqa_split_ids(data_dir, "valid") | ecgqa_split_ids(data_dir, "test"))
    assert 210 not in fitted and "train split" in QUALITY_FIT_RULE
