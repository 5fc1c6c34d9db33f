"""How much cutting a long record before band-passing changes the models' input and outputs
(docs/encoders.md, "Long records").

    ECGQA_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python scripts/long_record_inputs.py

Compares ``preprocess_ecg`` (the record cut to its middle 10 s plus ``FILTER_GUARD_S`` on each side,
then resampled, band-passed and z-scored) with the whole-record preprocessing it replaced (the same
steps on the whole record, then the middle 10 s), on:

- MIT-BIH 100-109 (30 min, 360 Hz, 2 leads): model input only (the models need 12 standard leads);
- PTB Diagnostic s0010_re (38.4 s, 1 kHz, 12 standard leads of 15): input and probabilities;
- two synthetic 2 h records (500 Hz): the bundled example ptbxl-00210 tiled 720 times, once as is
  and once with a slow amplitude drift (x0.7-1.3, 30 min period) and 0.3 mV baseline wander (0.15 Hz).

Per record: the largest absolute difference of the z-scored input over all leads (``input``), the
largest absolute difference of the band-passed signal before the z-score relative to that lead's
standard deviation in the window (``filter``: what the guard alone changes), the range over leads
of the new input's scale relative to the old (``scale``: the z-score's standard deviation over the
whole record divided by the one over the cut; the inputs differ by this factor and a shift), and the largest
probability difference over the 4 disease heads, the attribute classes and the age/sex outputs.
The whole-record path holds every copy of a 2 h record and needs about 1.6 GB.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def whole_record(ecg, leads_standard: bool = True, zscore: bool = True) -> np.ndarray:
    """The preprocessing before the cut: every step on the whole record, then the middle 10 s."""
    from scipy.signal import butter, sosfiltfilt

    from ecgqa_tools.encoders._preprocess import BAND_HZ, bandpass_zscore, fit_length
    from ecgqa_tools.records import resample, to_standard_leads

    at_500 = resample(to_standard_leads(ecg) if leads_standard else ecg, 500.0)
    if zscore:
        return fit_length(bandpass_zscore(at_500.signal_mv, 500.0)[:, ::5])
    sos = butter(4, BAND_HZ, btype="band", fs=500.0, output="sos")
    return fit_length(sosfiltfilt(sos, at_500.signal_mv.astype(np.float64), axis=1)[:, ::5])


def cut_record(ecg, leads_standard: bool = True, zscore: bool = True) -> np.ndarray:
    """``preprocess_ecg``'s path, also for records without the 12 standard leads."""
    from scipy.signal import butter, sosfiltfilt

    from ecgqa_tools.encoders._preprocess import (
        BAND_HZ,
        advance,
        bandpass_zscore,
        guarded_model_window,
    )
    from ecgqa_tools.records import resample, to_standard_leads

    window = guarded_model_window(ecg)
    if window.offset is None:
        raise SystemExit(f"{ecg.record_id} is short enough to be filtered whole")
    at_500 = resample(to_standard_leads(window.ecg) if leads_standard else window.ecg, 500.0).signal_mv
    if window.shift_s:
        at_500 = advance(at_500, 500.0, window.shift_s)
    if zscore:
        clean = bandpass_zscore(at_500, 500.0)
    else:
        clean = sosfiltfilt(butter(4, BAND_HZ, btype="band", fs=500.0, output="sos"), at_500.astype(np.float64), axis=1)
    return clean[:, ::5][:, window.offset:window.offset + 1000]


def outputs(x: np.ndarray) -> np.ndarray:
    """Every probability the shipped models give for one (12, 1000) input."""
    from ecgqa_tools.encoders import (
        DISEASES,
        load_age_sex_model,
        load_attribute_model,
        load_disease_model,
    )

    probs = [load_disease_model(d).predict_proba(x[None])[0] for d in DISEASES]
    attributes = 1 / (1 + np.exp(-load_attribute_model().predict_logits(x[None])[0]))
    from ecgqa_tools.encoders._training import AGE_SCALE_YEARS

    age_sex = load_age_sex_model().predict_logits(x[None])[0]
    return np.concatenate([np.asarray(probs, float), attributes,
                           [age_sex[0] * AGE_SCALE_YEARS, 1 / (1 + np.exp(-age_sex[1]))]])


def compare(ecg, leads_standard: bool = True) -> str:
    new = cut_record(ecg, leads_standard)
    if leads_standard:
        from ecgqa_tools.encoders import preprocess_ecg

        if not np.array_equal(new, preprocess_ecg(ecg)):
            raise SystemExit("cut_record differs from preprocess_ecg")
    old = whole_record(ecg, leads_standard)
    raw_new, raw_old = cut_record(ecg, leads_standard, False), whole_record(ecg, leads_standard, False)
    filt = float((np.abs(raw_new - raw_old).max(axis=1) / raw_old.std(axis=1)).max())
    scale = raw_old.std(axis=1) / old.std(axis=1) / (raw_new.std(axis=1) / new.std(axis=1))
    line = (f"{ecg.record_id:>14} {ecg.duration_s:7.1f} s  input {np.abs(new - old).max():.4f}  "
            f"scale {scale.min():.3f}-{scale.max():.3f}  filter {filt:.2e}")
    if leads_standard:
        out_new, out_old = outputs(new), outputs(old)
        diff = np.abs(out_new - out_old)
        line += (f"  diseases {diff[:4].max():.4f}  attributes {diff[4:-2].max():.4f}  "
                 f"age {diff[-2]:.2f} y  female {diff[-1]:.4f}")
    return line


def synthetic(drift: bool):
    from ecgqa_tools.records import ECG, load_example

    base = load_example("ptbxl-00210")
    signal = np.tile(base.signal_mv, (1, 720)).astype(np.float32)
    if drift:
        t = np.arange(signal.shape[1], dtype=np.float32) / base.fs_hz
        signal *= (1 + 0.3 * np.sin(2 * np.pi * t / 1800)).astype(np.float32)
        signal += (0.3 * np.sin(2 * np.pi * 0.15 * t)).astype(np.float32)
    return ECG.from_array(signal, base.fs_hz, base.lead_names, record_id="2h-drift" if drift else "2h-tiled")


def main() -> None:
    from ecgqa_tools.records import read_record

    data = Path(os.environ["ECGQA_DATA_DIR"])
    for n in range(100, 110):
        print(compare(read_record(data / "mitdb" / f"{n}.hea"), leads_standard=False), flush=True)
    print(compare(read_record(data / "ptbdb" / "s0010_re.hea")), flush=True)
    for drift in (False, True):
        print(compare(synthetic(drift)), flush=True)


if __name__ == "__main__":
    main()
