"""Beat-aligned "normal template" IG baseline: a normal ECG with this ECG's own rhythm.

The template is the median beat of normal PTB-XL training ECGs (``NORM`` as their only
diagnostic class, ``strat_fold`` 1-8, none of the scored records), per lead, in the disease
models' input space (0.5-40 Hz band-pass, per-lead z-score, 100 Hz), aligned on the QRS
detected by ``detect_beats``. The baseline of an ECG is that template placed at the ECG's own
QRS complexes (same detector), so IG measures how this ECG differs from a normal one beat by
beat, in every wave: P, QRS, ST and T alike. Between two beats the template is cut at
``PRE_FRACTION`` of the RR interval before the next QRS; gaps (long RR) are joined by straight
lines, the stretch before the first and after the last beat holds the template's edge value. An
input with fewer than two detected beats gets the flat (all-zero) baseline.

The shipped template (``normal_beat.npz``, 12 x 81 float32, a few KB) is built by
``build_normal_template`` (command in docs/grounding.md) and loaded lazily.

Several references (the ``expected`` baseline, expected gradients): instead of one median beat,
the median beats of ``N_REFERENCES`` individual normal training ECGs (drawn at random, seed 0,
from the same list), each placed at the ECG's QRS complexes the same way; IG is averaged over
them. Shipped as ``normal_refs.npz`` (8 x 12 x 81 float32 plus their ecg_ids), built by
``build_normal_references``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ModelError, UsageError

TEMPLATE_FS_HZ = 100.0
"""Rate of the shipped template (the models' input rate)."""
TEMPLATE_PRE_S = 0.30
"""Template span before the QRS fiducial."""
TEMPLATE_POST_S = 0.50
"""Template span after the QRS fiducial."""
PRE_FRACTION = 0.4
"""Share of an RR interval given to the next beat's template (its P wave and PR segment)."""
MIN_RR_S = 0.25
"""Shortest RR interval the detector accepts (240 beats per minute)."""
BEAT_SMOOTH_S = 0.04
"""Width of the moving average over the 12-lead absolute slope in ``detect_beats``."""
BEAT_HEIGHT_FRACTION = 0.35
"""A QRS peak must reach this share of the smoothed slope's ``BEAT_HEIGHT_PERCENTILE``."""
BEAT_HEIGHT_PERCENTILE = 99.0
"""Percentile of the smoothed slope that ``BEAT_HEIGHT_FRACTION`` refers to."""
TEMPLATE_PATH = Path(__file__).with_name("normal_beat.npz")


@dataclass(frozen=True)
class NormalTemplate:
    """Median normal beat per lead in the models' input space."""

    beat: np.ndarray
    """float32, shape (12, pre + 1 + post samples) at ``fs_hz``; z-score units."""
    fs_hz: float
    """Sampling rate of ``beat``."""
    pre_samples: int
    """Index of the QRS fiducial in ``beat``."""
    n_records: int
    """Normal training ECGs the median was taken over."""


def detect_beats(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """QRS fiducials (sample indices, sorted) of a (leads, samples) model input.

    The fiducial is the peak of the 12-lead absolute slope, smoothed over ``BEAT_SMOOTH_S`` (40 ms);
    peaks must reach ``BEAT_HEIGHT_FRACTION`` (35%) of its ``BEAT_HEIGHT_PERCENTILE`` (99th)
    percentile and lie at least ``MIN_RR_S`` apart.
    """
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import find_peaks

    signal = np.asarray(x, dtype=np.float64)
    if signal.ndim != 2 or signal.shape[1] < 3:
        raise UsageError(f"detect_beats needs (leads, samples), got shape {signal.shape}")
    slope = np.abs(np.diff(signal, axis=1)).sum(axis=0)
    energy = uniform_filter1d(slope, size=max(1, int(round(BEAT_SMOOTH_S * fs_hz))), mode="nearest")
    top = float(np.percentile(energy, BEAT_HEIGHT_PERCENTILE))
    if top <= 0:
        return np.zeros(0, dtype=np.int64)
    peaks, _ = find_peaks(energy, height=BEAT_HEIGHT_FRACTION * top, distance=max(1, int(round(MIN_RR_S * fs_hz))))
    return peaks.astype(np.int64)


def normal_training_ids(ptbxl_root: str | Path, *, folds: tuple[int, ...] = tuple(range(1, 9)),
                        exclude_ids: frozenset[int] = frozenset()) -> list[int]:
    """PTB-XL ecg_ids present at 100 Hz in ``folds`` whose only diagnostic class is ``NORM``, with
    the ``NORM`` statement at likelihood 100 (sorted)."""
    from ..records import PtbXl

    data = PtbXl(ptbxl_root)
    meta, statements = data.metadata, data.statements
    present = data.present_ids(100)
    ids = []
    for ecg_id in meta.index[meta["strat_fold"].isin(folds)]:
        if int(ecg_id) not in present or int(ecg_id) in exclude_ids:
            continue
        classes = {statements.loc[c].get("diagnostic_class") for c in meta.loc[ecg_id, "scp_codes"]
                   if c in statements.index}
        classes = {c for c in classes if isinstance(c, str) and c}
        if classes == {"NORM"} and meta.loc[ecg_id, "scp_codes"].get("NORM", 0) >= 100:
            ids.append(int(ecg_id))
    return sorted(ids)


def record_median_beat(x: np.ndarray, fs_hz: float = TEMPLATE_FS_HZ) -> np.ndarray | None:
    """Median beat (leads, pre + 1 + post samples) of one model input around its detected QRS
    complexes; None when fewer than 3 whole beats are detected."""
    pre, post = int(round(TEMPLATE_PRE_S * fs_hz)), int(round(TEMPLATE_POST_S * fs_hz))
    beats = [b for b in detect_beats(x, fs_hz) if b - pre >= 0 and b + post < x.shape[1]]
    if len(beats) < 3:
        return None
    return np.median(np.stack([x[:, b - pre:b + post + 1] for b in beats]), axis=0).astype(np.float32)


def build_normal_template(ptbxl_root: str | Path, *, folds: tuple[int, ...] = tuple(range(1, 9)),
                          exclude_ids: frozenset[int] = frozenset(), limit: int | None = None,
                          progress: bool = True) -> NormalTemplate:
    """Median beat of the normal training ECGs of PTB-XL present at 100 Hz (see module docstring).

    ``exclude_ids``: records never to use (e.g. the evaluation folds); ``limit``: at most N ECGs.
    """
    from tqdm import tqdm

    from ..encoders import preprocess_ecg
    from ..records import PtbXl

    data = PtbXl(ptbxl_root)
    ids = normal_training_ids(ptbxl_root, folds=folds, exclude_ids=exclude_ids)
    ids = ids[:limit] if limit else ids
    pre = int(round(TEMPLATE_PRE_S * TEMPLATE_FS_HZ))
    medians = []
    for ecg_id in tqdm(ids, desc="normal template", disable=not progress, unit="ecg"):
        beat = record_median_beat(preprocess_ecg(data.read(ecg_id, 100)))
        if beat is not None:
            medians.append(beat)
    if not medians:
        raise DatasetError(f"{ptbxl_root}: no normal training ECGs with detectable beats")
    beat = np.median(np.stack(medians), axis=0).astype(np.float32)
    return NormalTemplate(beat=beat, fs_hz=TEMPLATE_FS_HZ, pre_samples=pre, n_records=len(medians))


def save_normal_template(template: NormalTemplate, path: str | Path = TEMPLATE_PATH) -> Path:
    """Write the template as ``.npz`` (atomically)."""
    return _save_npz(path, beat=template.beat, fs_hz=template.fs_hz, pre_samples=template.pre_samples,
                     n_records=template.n_records)


def _save_npz(path: str | Path, **arrays) -> Path:
    """Write ``arrays`` as one ``.npz`` file, atomically (no half-written file after an interruption)."""
    import io

    from .._io import write_bytes_atomic

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_bytes_atomic(Path(path), buffer.getvalue())


@lru_cache(maxsize=2)
def load_normal_template(path: str | Path = TEMPLATE_PATH) -> NormalTemplate:
    """The shipped (or given) normal template."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"normal-beat template {path} is missing; build it with "
                         "grounding._baselines.build_normal_template (docs/grounding.md)")
    with np.load(path) as data:
        return NormalTemplate(beat=data["beat"].astype(np.float32), fs_hz=float(data["fs_hz"]),
                              pre_samples=int(data["pre_samples"]), n_records=int(data["n_records"]))


def _template_at(template: NormalTemplate, fs_hz: float) -> tuple[np.ndarray, int]:
    if abs(template.fs_hz - fs_hz) < 1e-9:
        return template.beat, template.pre_samples
    t_old = (np.arange(template.beat.shape[1]) - template.pre_samples) / template.fs_hz
    pre = int(np.floor(-t_old[0] * fs_hz))
    t_new = np.arange(-pre, int(np.floor(t_old[-1] * fs_hz)) + 1) / fs_hz
    beat = np.stack([np.interp(t_new, t_old, lead) for lead in template.beat]).astype(np.float32)
    return beat, pre


def place_beats(beats: np.ndarray, pre: int, fiducials: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``beats`` (rows, length; fiducial at index ``pre``) placed at ``fiducials`` over
    ``n`` samples: cut between two beats at ``PRE_FRACTION`` of the RR interval before the next
    one, gaps joined by straight lines, edges held. Fewer than two fiducials: zeros."""
    rows = np.asarray(beats, dtype=np.float64)
    if len(fiducials) < 2:
        return np.zeros((rows.shape[0], n), dtype=np.float32)
    post = rows.shape[1] - pre - 1
    out = np.full((rows.shape[0], n), np.nan, dtype=np.float64)
    for i, r in enumerate(fiducials):
        before = pre if i == 0 else min(pre, int(np.floor(PRE_FRACTION * (r - fiducials[i - 1]))))
        after = post if i == len(fiducials) - 1 else min(post, int(np.ceil((1 - PRE_FRACTION) * (fiducials[i + 1] - r))) - 1)
        lo, hi = max(0, r - before), min(n, r + after + 1)
        out[:, lo:hi] = rows[:, pre - (r - lo):pre + (hi - r)]
    filled = np.isfinite(out[0])
    first, last = np.flatnonzero(filled)[[0, -1]]
    out[:, :first] = out[:, [first]]
    out[:, last + 1:] = out[:, [last]]
    gaps = ~np.isfinite(out[0])
    if gaps.any():
        known = np.flatnonzero(~gaps)
        for row in range(out.shape[0]):
            out[row, gaps] = np.interp(np.flatnonzero(gaps), known, out[row, known])
    return out.astype(np.float32)


def place_template(x: np.ndarray, fs_hz: float, template: NormalTemplate | None = None) -> np.ndarray:
    """The normal template placed at the QRS complexes of one (leads, samples) model input."""
    signal = np.asarray(x, dtype=np.float32)
    template = template or load_normal_template()
    beat, pre = _template_at(template, fs_hz)
    if beat.shape[0] != signal.shape[0]:
        raise UsageError(f"template has {beat.shape[0]} leads, input {signal.shape[0]}")
    return place_beats(beat, pre, detect_beats(signal, fs_hz), signal.shape[1])


def normal_template_baseline(inputs: np.ndarray, fs_hz: float, template: Any = None) -> np.ndarray:
    """``place_template`` for every input of a (batch, leads, samples) array."""
    x = np.asarray(inputs, dtype=np.float32)
    if x.ndim != 3:
        raise UsageError(f"baseline needs (batch, leads, samples) inputs, got shape {x.shape}")
    return np.stack([place_template(item, fs_hz, template) for item in x]).astype(np.float32)


# ------------------------------------------------------------------ several normal references
N_REFERENCES = 8
"""Normal references of the ``expected`` baseline (IG cost is linear in it: 8 references x 8
steps = 64 gradient points per map)."""
REFERENCES_PATH = Path(__file__).with_name("normal_refs.npz")
N_REFERENCES_WIDE = 16
"""Normal references of the ``expected-16`` variant (session-4b candidate): the 8 of ``expected``
plus the next 8 of the same seed-0 draw (``build_normal_references(n=16, seed=0)``)."""
REFERENCES_WIDE_PATH = Path(__file__).with_name("normal_refs16.npz")


@dataclass(frozen=True)
class NormalReferences:
    """Median beats of several individual normal training ECGs, in the models' input space."""

    beats: np.ndarray
    """float32, shape (references, 12, pre + 1 + post samples) at ``fs_hz``; z-score units."""
    fs_hz: float
    """Sampling rate of ``beats``."""
    pre_samples: int
    """Index of the QRS fiducial in each beat."""
    record_ids: tuple[int, ...]
    """PTB-XL ecg_id of each reference (``NORM`` only, ``strat_fold`` 1-8)."""


def build_normal_references(ptbxl_root: str | Path, *, n: int = N_REFERENCES, seed: int = 0,
                            folds: tuple[int, ...] = tuple(range(1, 9)),
                            exclude_ids: frozenset[int] = frozenset()) -> NormalReferences:
    """``n`` normal training ECGs drawn at random (``seed``) from ``normal_training_ids``; each
    contributes its own median beat (records with fewer than 3 detectable beats are skipped and
    the next draw is taken)."""
    from ..encoders import preprocess_ecg
    from ..records import PtbXl

    if n < 1:
        raise UsageError(f"need at least one reference, got {n}")
    data = PtbXl(ptbxl_root)
    ids = normal_training_ids(ptbxl_root, folds=folds, exclude_ids=exclude_ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    beats, chosen = [], []
    for index in order:
        beat = record_median_beat(preprocess_ecg(data.read(ids[index], 100)))
        if beat is None:
            continue
        beats.append(beat)
        chosen.append(ids[index])
        if len(beats) == n:
            break
    if len(beats) < n:
        raise DatasetError(f"{ptbxl_root}: only {len(beats)} normal training ECGs with detectable beats, need {n}")
    return NormalReferences(beats=np.stack(beats).astype(np.float32), fs_hz=TEMPLATE_FS_HZ,
                            pre_samples=int(round(TEMPLATE_PRE_S * TEMPLATE_FS_HZ)), record_ids=tuple(chosen))


def save_normal_references(references: NormalReferences, path: str | Path = REFERENCES_PATH) -> Path:
    """Write the references as ``.npz`` (atomically)."""
    return _save_npz(path, beats=references.beats, fs_hz=references.fs_hz, pre_samples=references.pre_samples,
                     record_ids=np.asarray(references.record_ids, dtype=np.int64))


@lru_cache(maxsize=2)
def load_normal_references(path: str | Path = REFERENCES_PATH) -> NormalReferences:
    """The shipped (or given) normal references."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"normal references {path} are missing; build them with "
                         "grounding._baselines.build_normal_references (docs/grounding.md)")
    with np.load(path) as data:
        return NormalReferences(beats=data["beats"].astype(np.float32), fs_hz=float(data["fs_hz"]),
                                pre_samples=int(data["pre_samples"]),
                                record_ids=tuple(int(i) for i in data["record_ids"]))


def normal_reference_baselines(inputs: np.ndarray, fs_hz: float,
                               references: NormalReferences | None = None) -> np.ndarray:
    """Each reference beat placed at the QRS complexes of each input: (batch, leads, samples) ->
    (batch, references, leads, samples), float32 (QRS detected once per input)."""
    x = np.asarray(inputs, dtype=np.float32)
    if x.ndim != 3:
        raise UsageError(f"baseline needs (batch, leads, samples) inputs, got shape {x.shape}")
    references = references or load_normal_references()
    k, leads, _ = references.beats.shape
    if leads != x.shape[1]:
        raise UsageError(f"references have {leads} leads, input {x.shape[1]}")
    beats = [_template_at(NormalTemplate(b, references.fs_hz, references.pre_samples, 1), fs_hz) for b in references.beats]
    pre = beats[0][1]
    stacked = np.concatenate([b for b, _ in beats])  # (k * leads, length)
    out = [place_beats(stacked, pre, detect_beats(item, fs_hz), x.shape[2]).reshape(k, leads, -1) for item in x]
    return np.stack(out).astype(np.float32)
