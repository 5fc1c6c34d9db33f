"""P/QRS/T delineation of every lead of an ECG: OpenECG's int8 TFLite boundary model with
12-lead post-processing, and NeuroKit2's DWT delineator as fallback and baseline.

Pipeline of ``method="openecg"`` (all tuning constants in ``DelineatorConfig`` were chosen on the
159 LUDB records OpenECG trained on, never on the 41 held-out ones):

1. each lead is resampled to 250 Hz (the model's rate) and cut into 10 s windows that overlap by
   two edge guards; per-frame (20 ms) class probabilities of overlapping windows are blended with
   weights that fall to ~0 inside the guard, so no boundary artefact appears where windows meet;
2. 12-lead fusion: each lead's probabilities are mixed with the mean over all usable leads, so a
   lead where a wave is ambiguous borrows evidence from the others;
3. runs of the arg-max class become waves; each boundary is placed between frame centres where
   the wave's probability margin crosses zero (sub-frame, below the model's 20 ms step; T onsets
   at the lead's own unfused crossing when one is within 2 frames, every other boundary on the
   fused one) and then shifted by a per-boundary bias measured on the training records; a lead's
   T onset further than 60 ms from the other leads' median T onset of the same beat is clipped to
   that limit, and each T onset is then moved by a small learned linear correction (ridge on the
   QRS offset, T peak/offset, RR, other leads' onsets and T-probability level crossings; chosen
   and fitted by grouped cross-validation on the training records, at most 40 ms);
4. rhythm gate: when the record is atrial fibrillation/flutter or paced (OpenECG codec rhythm
   layer pooled over all usable leads, with RR irregularity) P waves are removed from every lead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

from ..errors import ModelError, UsageError, require
from ..records import ECG, Delineation, Wave, require_ecg

DelineationMethod = Literal["openecg", "openecg-raw", "neurokit2"]
DELINEATION_METHODS: tuple[str, ...] = ("openecg", "openecg-raw", "neurokit2")

MODEL_FS_HZ = 250.0
"""Input rate of OpenECG's boundary model."""
FRAME_SAMPLES = 5
"""Samples per output frame of the boundary model (20 ms at 250 Hz)."""
WINDOW_SAMPLES = 2500
"""Samples per model window (10 s at 250 Hz)."""
CLASS_NAMES: tuple[str, ...] = ("none", "P", "QRS", "T")


T_ONSET_FEATURES: tuple[str, ...] = (
    "qrs_off", "peak", "offset", "rr", "others",
    "fused_30", "fused_50", "fused_70", "own_30", "own_50", "own_70",
)
"""Features of one T onset for ``TOnsetCorrection``, all in ms and (except ``rr``) relative to the
T onset itself: the offset of the lead's last QRS starting before the T peak, the T peak, the T
offset, the record's median RR (fused QRS probability), the median T onset of the other leads of
the beat (0 with < 3 leads), and where the lead's 12-lead fused / own T probability rises through
0.3, 0.5 and 0.7 before the T peak (0 when it does not). Missing values are 0 (before scaling
for ``rr``: the model's mean)."""


@dataclass(frozen=True)
class TOnsetCorrection:
    """A linear correction of each T onset (ms) from ``T_ONSET_FEATURES``: ``intercept +
    coef . (clip(x, low, high) - mean) / scale``, limited to +-``clip_ms``; the corrected onset
    stays after the lead's preceding QRS and not after the T peak. Fitted by
    ``scripts/tune_t_onset_correction.py`` on LUDB's training records."""

    features: tuple[str, ...]
    """Names (a subset of ``T_ONSET_FEATURES``) in the order of the arrays below."""
    low: tuple[float, ...]
    """Per feature: lower clip (1st percentile on the fitting data)."""
    high: tuple[float, ...]
    """Per feature: upper clip (99th percentile on the fitting data)."""
    mean: tuple[float, ...]
    """Per feature: mean of the clipped feature on the fitting data."""
    scale: tuple[float, ...]
    """Per feature: standard deviation of the clipped feature on the fitting data."""
    coef: tuple[float, ...]
    """Per feature: ms of correction per standard deviation."""
    intercept: float
    """ms added to every T onset."""
    clip_ms: float = 40.0
    """Largest correction either way, ms."""

    def __post_init__(self) -> None:
        k = len(self.features)
        if any(len(a) != k for a in (self.low, self.high, self.mean, self.scale, self.coef)):
            raise UsageError("TOnsetCorrection: every per-feature array needs one value per feature")
        unknown = [f for f in self.features if f not in T_ONSET_FEATURES]
        if unknown:
            raise UsageError(f"TOnsetCorrection: unknown features {unknown}; expected some of {T_ONSET_FEATURES}")

    def correction_ms(self, x: np.ndarray) -> np.ndarray:
        """Corrections (n,) in ms for feature rows x (n, len(features))."""
        x = np.clip(np.asarray(x, dtype=float), self.low, self.high)
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.clip(self.intercept + z @ np.asarray(self.coef), -self.clip_ms, self.clip_ms)


T_ONSET_CORRECTION = TOnsetCorrection(
    features=T_ONSET_FEATURES,
    low=(-202, 34, 90.52, 600, -60, -58.4181, -29.1044, -4.2266, -36.4528, -4.9951, 0),
    high=(-38, 162, 234, 1230, 60, -5.523, 15.8348, 48.9522, -4.3533, 13.2259, 43.677),
    mean=(-110.9293, 103.753, 181.2197, 880.9192, -1.2755, -20.4182, -4.0201, 12.3533, -17.1929, -3.6898,
          9.6102),
    scale=(34.2938, 27.0945, 27.3938, 147.3194, 22.6978, 11.0815, 8.319, 10.3451, 4.2952, 2.1067, 5.9522),
    coef=(1.0722, -0.9678, 5.7903, -1.6846, 2.2093, -0.2459, -3.7224, -0.3693, 3.6955, 1.0674, 0.4193),
    intercept=-0.6855,
    clip_ms=40.0,
)
"""The default T-onset correction (session 3): ridge (alpha 100) on all 11 features, chosen by
grouped 5-fold cross-validation over LUDB's 159 training records among 10 candidates by the rule
in docs/measurements.md (``scripts/tune_t_onset_correction.py``: out-of-fold 12-lead macro-F1
0.98383 vs 0.98331 without, lead II 0.98724 vs 0.98590) and refitted on all 159 records
(15,627 T onsets; constants rounded to 4 decimals)."""


@dataclass(frozen=True)
class DelineatorConfig:
    """Tuning of the OpenECG pipeline (fixed on LUDB's 159 non-held-out records)."""

    guard_s: float = 2.0
    """Edge guard of each 10 s window: predictions this close to a window edge get ~0 weight
    where another window covers the same time."""
    fusion_weight: float = 0.5
    """Weight of the 12-lead mean probabilities mixed into each lead's own (0 = lead alone)."""
    min_frames: tuple[int, int, int] = (2, 2, 2)
    """Shortest run (frames) kept as a P, QRS, T wave."""
    bias_ms: tuple[float, float, float, float, float, float] = (0.0, -2.0, 4.0, -2.0, 4.0, -8.0)
    """Added to P on, P off, QRS on, QRS off, T on, T off after sub-frame placement (ms)."""
    rhythm_gate: bool = True
    """Remove P waves from every lead when the rhythm is atrial fibrillation/flutter."""
    rhythm_leads: tuple[str, ...] | None = None
    """Leads the codec rhythm layer runs on for the gate (None = every usable lead, the default
    chosen on LUDB's training records; ``("II", "I", "V1")`` is the faster session-1 choice)."""
    subframe: bool = True
    """Place boundaries between frame centres by interpolating the probability margin."""
    refine_frames: tuple[int, int, int] = (0, 0, 2)
    """For P, QRS, T: move each onset found on the fused probabilities to the lead's own
    probability crossing when one lies within this many 20 ms frames (0 = off)."""
    refine_offset_frames: tuple[int, int, int] | None = (0, 0, 0)
    """The same for offsets (None = as ``refine_frames``, the session-1/2 behaviour, which also
    moved T offsets). Session 3 chose (0, 0, 0), T offsets on the 12-lead fused crossing, by the
    rule in docs/measurements.md on the 159 training records (``scripts/tune_t_offset.py``):
    12-lead macro-F1 0.98331 vs 0.98301, lead II 0.98590 vs 0.98578."""
    t_onset_consensus_ms: float | None = 60.0
    """12-lead T-onset consensus: a lead's T onset further than this from the median T onset of
    the other leads of the same beat is moved to that limit (None = off). 60 ms was best of
    off/120/100/80/60/50/40 on the 159 training records (12-lead T-onset F1 0.9570 vs 0.9553 off;
    ``scripts/tune_t_onset.py``)."""
    t_onset_correction: TOnsetCorrection | None = T_ONSET_CORRECTION
    """Learned correction of each T onset after the consensus (``correct_t_onsets``; None = off,
    the pipeline before session 3's correction). See ``T_ONSET_CORRECTION``."""
    t_offset_consensus_ms: float | None = None
    """12-lead T-offset consensus: a lead's T offset further than this from the median T offset of
    the other leads of the same beat is moved to that limit (None = off, chosen in session 3: no
    limit of 100-30 ms raised 12-lead macro-F1 on the training records by more than 0.00006 once
    T offsets stay on the fused crossing, and <= 40 ms lowered lead II)."""


DEFAULT_CONFIG = DelineatorConfig()


@dataclass(frozen=True)
class LeadProbabilities:
    """Per-frame class probabilities of the boundary model for every lead of one ECG."""

    probs: np.ndarray
    """float32 (leads, frames, 4): probabilities of none / P / QRS / T per 20 ms frame."""
    lead_names: tuple[str, ...]
    """Lead of each row."""
    n_samples_250: int
    """Length of the 250 Hz signal the frames cover (frames beyond it are padding)."""
    usable: tuple[bool, ...]
    """False for leads that are flat or saturated (excluded from the 12-lead mean)."""


@dataclass(frozen=True)
class RhythmCall:
    """Record-level rhythm facts used by the delineator and the measurements."""

    codec_rhythm: str
    """Majority rhythm class of OpenECG's codec over the leads it ran on (sinus, avb, paced,
    afib, bbb, ventricular), or ``unknown`` when it could not run."""
    afib_fraction: float
    """Share of codec rhythm-layer samples labelled afib."""
    paced_fraction: float
    """Share of codec rhythm-layer samples labelled paced."""
    rr_irregularity: float | None
    """Median absolute successive RR difference divided by the median RR (None if < 5 beats)."""
    no_p_waves: bool
    """The gate (``no_p_rhythm``): atrial fibrillation/flutter or a paced rhythm, where there is
    no P wave to report (LUDB's cardiologists annotate none in either)."""
    atrial_fibrillation: bool
    """Atrial fibrillation/flutter by the codec (afib share >= 0.5, or >= 0.3 with irregular RR)."""
    paced: bool
    """Paced rhythm: the codec's paced share >= 0.5 or pacemaker spikes found."""
    n_qrs: int | None = None
    """QRS complexes found on the fused probabilities averaged over the usable leads (``lead_quality``;
    None: not counted). Below
    ``MIN_RHYTHM_QRS`` no rhythm is judged: ``atrial_fibrillation`` and ``no_p_waves`` are False
    (a paced call then rests on pacemaker spikes alone)."""

    @property
    def too_few_beats(self) -> bool:
        """True when ``n_qrs`` is below ``MIN_RHYTHM_QRS``: the rhythm was not judged."""
        return self.n_qrs is not None and self.n_qrs < MIN_RHYTHM_QRS


@dataclass(frozen=True)
class DelineationResult:
    """A delineation plus the facts the pipeline established on the way."""

    delineation: Delineation
    """Waves per lead at the input's sampling rate."""
    rhythm: RhythmCall | None
    """Rhythm call of the OpenECG pipeline (None for NeuroKit2)."""
    unusable_leads: dict[str, str] = field(default_factory=dict)
    """Leads that could not be delineated, with the reason (flat, saturated...)."""


# --------------------------------------------------------------------------- public API


def delineate(ecg: ECG, method: DelineationMethod = "openecg",
              config: DelineatorConfig = DEFAULT_CONFIG) -> Delineation:
    """P/QRS/T waves of every lead of ``ecg`` (any rate, any length >= 1 s).

    ``method``: ``openecg`` (TFLite model + 12-lead fusion, sub-frame boundaries and AF gate),
    ``openecg-raw`` (the model's own decoding, window by window, as a baseline) or
    ``neurokit2`` (DWT). Sample indices are at ``ecg.fs_hz``.
    """
    return delineate_detailed(ecg, method, config).delineation


def delineate_detailed(ecg: ECG, method: DelineationMethod = "openecg",
                       config: DelineatorConfig = DEFAULT_CONFIG) -> DelineationResult:
    """Like ``delineate`` but also returns the rhythm call and the unusable leads."""
    require_ecg(ecg, "delineate")
    if method not in DELINEATION_METHODS:
        raise UsageError(
            f"unknown delineation method {method!r}; expected one of {', '.join(DELINEATION_METHODS)}"
        )
    unusable = lead_quality(ecg)
    if method == "neurokit2":
        waves = {name: _neurokit_lead(ecg.lead(name), ecg.fs_hz) if name not in unusable else ()
                 for name in ecg.lead_names}
        return DelineationResult(Delineation(ecg.fs_hz, ecg.n_samples, waves, "neurokit2"), None, unusable)
    gated = method == "openecg" and config.rhythm_gate
    n_rhythm = len(usable_rhythm_leads(ecg, unusable, config.rhythm_leads)) if gated else 0
    n_steps = len(ecg.lead_names) - len(unusable) + CODEC_STEP * n_rhythm
    with long_record_progress(ecg, n_steps) as step:
        # the codec rhythm layer needs only the signal: it runs on its own threads while the
        # boundary model runs and its output is decoded
        rhythm_leads = usable_rhythm_leads(ecg, unusable, config.rhythm_leads) if gated else ()
        shares = start_codec_rhythm_fractions(ecg, rhythm_leads, progress=step) if rhythm_leads else None
        try:
            probs = lead_probabilities(ecg, config.guard_s, unusable, progress=step)
            if method == "openecg-raw":
                waves = {name: _raw_decode(probs.probs[i], probs.n_samples_250, ecg) if probs.usable[i] else ()
                         for i, name in enumerate(ecg.lead_names)}
                return DelineationResult(Delineation(ecg.fs_hz, ecg.n_samples, waves, "openecg-raw"), None, unusable)
            fused = fuse_leads(probs, config.fusion_weight)
            decoded = {name: decode_waves(fused[i], probs.n_samples_250, config, ecg.fs_hz, ecg.n_samples,
                                          own=probs.probs[i])
                       for i, name in enumerate(ecg.lead_names) if probs.usable[i]}
            rhythm = call_rhythm(ecg, fused, unusable, config.rhythm_leads, codec_fractions=shares) if gated else None
        except BaseException:  # also Ctrl-C: do not leave the codec threads working for nobody
            if shares is not None:
                shares.cancel()
            raise
    waves = {}
    for name in ecg.lead_names:
        lead_waves = decoded.get(name, ())
        if rhythm is not None and rhythm.no_p_waves:
            lead_waves = tuple(w for w in lead_waves if w.kind != "P")
        waves[name] = lead_waves
    if config.t_onset_consensus_ms is not None:
        waves = t_onset_consensus(waves, ecg.fs_hz, config.t_onset_consensus_ms)
    if config.t_onset_correction is not None:
        waves = correct_t_onsets(waves, fused, probs, ecg.fs_hz, config.t_onset_correction)
    if config.t_offset_consensus_ms is not None:
        waves = t_offset_consensus(waves, ecg.fs_hz, config.t_offset_consensus_ms)
    result = DelineationResult(Delineation(ecg.fs_hz, ecg.n_samples, waves, "openecg"), rhythm, unusable)
    _remember(result)
    return result


_RECENT: dict[int, DelineationResult] = {}


def _remember(result: DelineationResult) -> None:
    _RECENT[id(result.delineation)] = result
    while len(_RECENT) > 16:
        _RECENT.pop(next(iter(_RECENT)))


def rhythm_of(delineation: Delineation) -> RhythmCall | None:
    """The rhythm call made when this very ``Delineation`` was produced by ``delineate`` (among the
    16 most recent), so ``measure(ecg, delineate(ecg))`` still knows about AF/pacing."""
    found = _RECENT.get(id(delineation))
    return found.rhythm if found is not None and found.delineation is delineation else None


# --------------------------------------------------------------------------- signal quality


def lead_quality(ecg: ECG) -> dict[str, str]:
    """Leads that cannot be delineated, mapped to the reason (flat, saturated, too noisy)."""
    bad: dict[str, str] = {}
    for name in ecg.lead_names:
        reason = lead_problem(ecg.lead(name), ecg.fs_hz)
        if reason:
            bad[name] = reason
    return bad


NOISE_LIMIT = 0.12
"""Noise score above which a lead is not delineated (see ``lead_problem``)."""


def lead_problem(x: np.ndarray, fs_hz: float) -> str | None:
    """Why one lead (mV) cannot be delineated, or None when it looks usable."""
    x = np.asarray(x, dtype=np.float64)
    span = float(np.ptp(x))
    if span < 0.02:
        return f"flat signal (peak-to-peak {span * 1000:.1f} uV)"
    # Saturation: a large share of samples stuck at the extreme values.
    # Saturation: many samples stuck at an extreme value that is far from the baseline (median).
    med = float(np.median(x))
    for extreme in (float(x.max()), float(x.min())):
        stuck = float(np.isclose(x, extreme, atol=1e-6).mean())
        if stuck > 0.05 and abs(extreme - med) > 0.25 * span:
            return f"saturated ({100 * stuck:.0f}% of samples at the amplifier limit)"
    # Noise: median sample-to-sample step (at ~250 Hz) against the 1-99 percentile spread. Clean
    # leads score <= 0.08 (LUDB max; median 0.004), white noise 0.20; an ECG of 1 mV with
    # 0.15 mV white noise ~0.12.
    step = max(1, int(round(fs_hz / 250.0)))
    y = x[::step]
    spread = float(np.percentile(y, 99) - np.percentile(y, 1)) + 1e-9
    noise = float(np.median(np.abs(np.diff(y)))) / spread
    if noise > NOISE_LIMIT:
        return f"too noisy (median sample step {noise:.2f} of the signal's spread; limit {NOISE_LIMIT})"
    return None


# --------------------------------------------------------------------------- model inference


PROGRESS_MIN_S = 60.0
"""Records longer than this show a progress bar on stderr while they are delineated (a 10-minute
12-lead record takes 1.5-4 minutes on the shared 2-core machine); shorter ones stay quiet."""

CODEC_STEP = 2.0
"""Progress weight of one lead through the codec rhythm layer, relative to one lead through the
boundary model (the codec takes about twice as long per lead)."""


@contextmanager
def long_record_progress(ecg: ECG, n_steps: float) -> Iterator[Callable[[float], None] | None]:
    """A tqdm bar on stderr over ``n_steps`` (one per lead and model) for records longer than
    ``PROGRESS_MIN_S``: yields its ``update`` (safe from worker threads), or None for short records."""
    if ecg.duration_s <= PROGRESS_MIN_S or n_steps <= 0:
        yield None
        return
    import sys

    from tqdm import tqdm

    bar = tqdm(total=n_steps, desc=f"delineating {ecg.record_id} ({ecg.duration_s / 60:.1f} min, "
               f"{len(ecg.lead_names)} leads)", file=sys.stderr, leave=False,
               mininterval=1.0, bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
    try:
        yield bar.update
    finally:
        bar.close()


MAX_WINDOWS_PER_CALL = 480
"""Most 10 s windows gathered for one ``boundary_logits`` call (bounds memory on long records)."""


def delineation_workers() -> int:
    """Interpreters that run the boundary model's windows in parallel: ``ECGQA_DELINEATION_THREADS``
    if set, else min(2, CPU count). The TFLite graph has its batch of 1 built into its reshapes
    (resizing the input fails), so parallel interpreters replace batching; every window is still
    one independent invocation, so the probabilities are bit-identical to a single interpreter's."""
    import os

    value = os.environ.get("ECGQA_DELINEATION_THREADS")
    if value:
        try:
            return max(1, int(value))
        except ValueError as exc:
            raise UsageError(f"ECGQA_DELINEATION_THREADS must be a whole number, got {value!r}") from exc
    return max(1, min(2, os.cpu_count() or 1))


NATIVE_INFO_LINES = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)
"""Lines the TFLite runtime writes to file descriptor 2 when an interpreter is built
(``TF_CPP_MIN_LOG_LEVEL`` does not silence them); dropped by ``quiet_native_info``."""


_NATIVE_STDERR_LOCK = threading.Lock()
"""fd 2 is process-wide: two blocks redirecting it at once would restore each other's copies."""


@contextmanager
def quiet_native_info(known: tuple[str, ...] = NATIVE_INFO_LINES) -> Iterator[None]:
    """Run the block with file descriptor 2 sent to a temporary file, then restore it and write
    back every captured line except the ``known`` informational ones (nothing else is lost, only
    delayed to the end of the block). Use it around native model construction only; one block
    at a time per process (a lock serialises them)."""
    with _NATIVE_STDERR_LOCK:
        yield from _redirected_fd2(known)


def _redirected_fd2(known: tuple[str, ...]) -> Iterator[None]:
    import os
    import sys
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2: nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if line.strip() not in known]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


@lru_cache(maxsize=4)
def _boundary_models(count: int) -> tuple:
    """``count`` interpreters of the boundary model (one thread each), loaded once (the runtime's
    'Created TensorFlow Lite XNNPACK delegate' line is dropped, see ``quiet_native_info``)."""
    require("openecg", "all")
    require("ai_edge_litert", "all")
    from openecg.deploy import Inference

    with quiet_native_info():
        return tuple(Inference(num_threads=1) for _ in range(count))


@lru_cache(maxsize=None)  # never evicted: a lock must live as long as the model instance it guards
def _model_locks(kind: str, count: int) -> tuple:
    """One lock per interpreter / session of ``kind``: a model instance runs one window at a time
    even when several threads delineate at once."""
    import threading

    return tuple(threading.Lock() for _ in range(count))


@lru_cache(maxsize=None)  # one pool per worker count, kept for the process (never dropped unshut)
def _window_pool(count: int):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="ecgqa-delineation")


def boundary_logits(windows: np.ndarray, workers: int | None = None, *,
                    progress: Callable[[float], None] | None = None, step: float = 1.0) -> np.ndarray:
    """Boundary-model logits (windows, frames, 4) of 250 Hz windows (windows, 2500), each window
    one invocation, spread over ``workers`` interpreters in threads (TFLite releases the GIL).
    ``progress(step)`` is called after each window."""
    models = _boundary_models(max(1, delineation_workers() if workers is None else workers))
    count = max(1, min(len(models), len(windows)))
    chunks = np.array_split(np.arange(len(windows)), count)

    locks = _model_locks("boundary", len(models))

    def run(k: int) -> list[np.ndarray]:
        out = []
        with locks[k]:
            for i in chunks[k]:
                out.append(np.array(models[k].forward_window(windows[i]), copy=True))
                if progress is not None:
                    progress(step)
        return out

    if count == 1:
        parts = [run(0)]
    else:
        parts = list(_window_pool(count).map(run, range(count)))
    return np.stack([logits for part in parts for logits in part])


def _to_rate(x: np.ndarray, fs_from: float, fs_to: float) -> np.ndarray:
    from fractions import Fraction

    from scipy.signal import resample_poly

    if abs(fs_from - fs_to) < 1e-9:
        return np.asarray(x, dtype=np.float32)
    ratio = Fraction(fs_to / fs_from).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def window_starts(n: int, window: int, guard: int) -> list[int]:
    """Start samples of windows of ``window`` samples covering ``n`` with overlap ``2 * guard``."""
    if n <= window:
        return [0]
    stride = window - 2 * guard
    starts = list(range(0, n - window, stride))
    starts.append(n - window)
    return sorted(set(starts))


def _window_weights(n_frames: int, guard_frames: int, first: bool, last: bool) -> np.ndarray:
    """Blend weights of one window's frames: ramp from ~0 at an inner edge to 1 past the guard."""
    w = np.ones(n_frames)
    if guard_frames > 0:
        ramp = (np.arange(guard_frames) + 0.5) / guard_frames
        ramp = np.clip((ramp - 0.25) / 0.75, 1e-3, 1.0)  # the outer quarter of the guard ~0
        if not first:
            w[:guard_frames] = ramp
        if not last:
            w[-guard_frames:] = ramp[::-1]
    return w


def lead_probabilities(ecg: ECG, guard_s: float = 2.0, unusable: dict[str, str] | None = None, *,
                       progress: Callable[[float], None] | None = None) -> LeadProbabilities:
    """Run the boundary model on every lead, stitching overlapping 10 s windows (``progress(x)``:
    x leads done, in fractions of a lead)."""
    unusable = lead_quality(ecg) if unusable is None else unusable
    x250 = _to_rate(ecg.signal_mv, ecg.fs_hz, MODEL_FS_HZ)
    n = x250.shape[1]
    guard = int(round(guard_s * MODEL_FS_HZ / FRAME_SAMPLES)) * FRAME_SAMPLES
    padded_n = max(n, WINDOW_SAMPLES)
    n_frames = -(-padded_n // FRAME_SAMPLES)
    starts = window_starts(padded_n, WINDOW_SAMPLES, guard)
    out = np.zeros((x250.shape[0], n_frames, 4), dtype=np.float32)
    usable = tuple(name not in unusable for name in ecg.lead_names)
    leads = [li for li in range(x250.shape[0]) if usable[li]]
    per_call = max(1, MAX_WINDOWS_PER_CALL // len(starts))  # leads whose windows run in one call
    logits_of: dict[int, np.ndarray] = {}
    for li in range(x250.shape[0]):
        if not usable[li]:
            out[li, :, 0] = 1.0
            continue
        if li not in logits_of:  # this lead and the next usable ones: all their windows in one call
            group = leads[leads.index(li):leads.index(li) + per_call]
            # a short record is mirror-padded to one window; frames past n are dropped
            sigs = [x250[g] if n >= WINDOW_SAMPLES else np.pad(x250[g], (0, WINDOW_SAMPLES - n), mode="symmetric")
                    for g in group]
            found = boundary_logits(np.stack([sig[s:s + WINDOW_SAMPLES] for sig in sigs for s in starts]),
                                    progress=progress, step=1.0 / len(starts))
            logits_of = {g: found[j * len(starts):(j + 1) * len(starts)] for j, g in enumerate(group)}
        acc = np.zeros((n_frames, 4))
        wsum = np.zeros(n_frames)
        for k, s in enumerate(starts):
            p = _softmax(np.asarray(logits_of[li][k], dtype=np.float64))
            f0 = s // FRAME_SAMPLES
            w = _window_weights(p.shape[0], guard // FRAME_SAMPLES, k == 0, k == len(starts) - 1)
            acc[f0:f0 + p.shape[0]] += p * w[:, None]
            wsum[f0:f0 + p.shape[0]] += w
        out[li] = (acc / np.maximum(wsum, 1e-12)[:, None]).astype(np.float32)
    return LeadProbabilities(out, ecg.lead_names, n, usable)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fuse_leads(probs: LeadProbabilities, weight: float) -> np.ndarray:
    """Each lead's probabilities mixed with the mean of the usable leads: (leads, frames, 4)."""
    p = probs.probs.astype(np.float64)
    usable = np.array(probs.usable)
    if weight <= 0 or usable.sum() < 2:
        return p
    mean = p[usable].mean(axis=0)
    return (1 - weight) * p + weight * mean[None]


# --------------------------------------------------------------------------- decoding

_KINDS = {1: "P", 2: "QRS", 3: "T"}


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(class, first frame, last frame inclusive) for each run of equal labels."""
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate(([0], change, [labels.size]))
    return [(int(labels[a]), int(a), int(b - 1)) for a, b in zip(bounds[:-1], bounds[1:])]


def _crossing(margin: np.ndarray, left: int, right: int) -> float:
    """Fractional frame position between frame centres ``left`` and ``right`` where ``margin``
    (wave probability minus the best other class) crosses zero."""
    a, b = margin[left], margin[right]
    if a == b:
        return 0.5 * (left + right)
    t = min(max(float(a / (a - b)), 0.0), 1.0)  # the ratio in the margin's dtype, as np.clip had it
    return left + t * (right - left)


def _own_crossing(margin: np.ndarray, near: int, rising: bool, reach: int) -> float | None:
    """Zero crossing of ``margin`` (rising = outside -> inside) nearest frame ``near`` within
    ``reach`` frames, as a fractional frame position between frame centres; None if none."""
    best: float | None = None
    for k in range(max(1, near - reach), min(margin.size, near + reach + 1)):
        a, b = margin[k - 1], margin[k]
        if (rising and a < 0 <= b) or (not rising and a >= 0 > b):
            pos = _crossing(margin, k - 1, k) + 0.5
            if best is None or abs(pos - near) < abs(best - near):
                best = pos
    return best


def _margins(p: np.ndarray) -> list[np.ndarray]:
    """Per class: its probability minus the best other class, (frames,) each."""
    return [p[:, c] - np.delete(p, c, axis=1).max(axis=1) for c in range(p.shape[1])]


def decode_waves(p: np.ndarray, n_samples_250: int, config: DelineatorConfig,
                 fs_hz: float, n_samples: int, own: np.ndarray | None = None) -> tuple[Wave, ...]:
    """Waves of one lead from (frames, 4) probabilities, in samples at ``fs_hz``.

    With ``own`` (the lead's unfused probabilities) and ``config.refine_frames`` > 0, waves are
    found on ``p`` but each boundary moves to the lead's own probability crossing when one lies
    within ``refine_frames`` frames."""
    n_frames = min(p.shape[0], -(-n_samples_250 // FRAME_SAMPLES))
    p = p[:n_frames]
    labels = p.argmax(axis=1)
    frame_ms = 1000.0 * FRAME_SAMPLES / MODEL_FS_HZ
    margins = _margins(p)
    refine_off = config.refine_frames if config.refine_offset_frames is None else config.refine_offset_frames
    own_margins = (_margins(own[:n_frames])
                   if own is not None and max(*config.refine_frames, *refine_off) > 0 else None)
    waves: list[Wave] = []
    for cls, a, b in _runs(labels):
        if cls == 0 or (b - a + 1) < config.min_frames[cls - 1]:
            continue
        margin = margins[cls]
        if config.subframe:
            # frame k's centre is at (k + 0.5) frames; the boundary lies between the centres of
            # the last outside frame and the first inside frame.
            on_f = _crossing(margin, a - 1, a) + 0.5 if a > 0 else 0.0
            off_f = _crossing(margin, b, b + 1) + 0.5 if b + 1 < n_frames else float(n_frames)
        else:
            on_f, off_f = float(a), float(b + 1)
        reach, reach_off = config.refine_frames[cls - 1], refine_off[cls - 1]
        if own_margins is not None and (reach > 0 or reach_off > 0):
            own_margin = own_margins[cls]
            on_own = _own_crossing(own_margin, a, True, reach) if a > 0 and reach > 0 else None
            off_own = (_own_crossing(own_margin, b + 1, False, reach_off)
                       if b + 1 < n_frames and reach_off > 0 else None)
            on_f = on_own if on_own is not None else on_f
            off_f = off_own if off_own is not None and off_own > on_f else off_f
        k = 2 * (cls - 1)
        on_ms = on_f * frame_ms + config.bias_ms[k]
        off_ms = off_f * frame_ms + config.bias_ms[k + 1]
        on = int(round(on_ms * fs_hz / 1000.0))
        off = int(round(off_ms * fs_hz / 1000.0)) - 1
        on = min(max(on, 0), n_samples - 1)
        off = min(max(off, on), n_samples - 1)
        peak_f = a + int(np.argmax(p[a:b + 1, cls]))
        peak = int(round((peak_f + 0.5) * frame_ms * fs_hz / 1000.0))
        waves.append(Wave(_KINDS[cls], on, off, min(max(peak, on), off)))  # type: ignore[arg-type]
    return tuple(waves)


def t_onset_consensus(waves: dict[str, tuple[Wave, ...]], fs_hz: float,
                      max_dev_ms: float) -> dict[str, tuple[Wave, ...]]:
    """Clip each lead's T onset to within ``max_dev_ms`` of the median T onset of the other leads
    of the same beat (T waves of all leads grouped by peak time, gaps > 200 ms split beats; a beat
    needs T in >= 3 leads). The onset never passes the wave's own peak, and is never pulled back
    into the lead's preceding QRS complex (a T wave starts after the QRS ends)."""
    new = {lead: list(ws) for lead, ws in waves.items()}
    limit = max_dev_ms * fs_hz / 1000.0
    for lead, k, w, ref in _t_waves_with_others_median(waves, fs_hz, "onset"):
        target = int(round(min(max(w.onset, ref - limit), ref + limit)))
        stop = w.peak if w.peak is not None else w.offset
        target = min(target, stop)
        if target < w.onset:
            target = max(target, _end_of_qrs_before(waves[lead], stop) + 1)
        if target != w.onset:
            new[lead][k] = Wave("T", target, w.offset, w.peak)
    return {lead: tuple(ws) for lead, ws in new.items()}


def _t_waves_with_others_median(waves: dict[str, tuple[Wave, ...]], fs_hz: float, edge: str):
    """Every T wave of a beat with T waves in >= 3 leads (T waves of all leads grouped by peak time,
    ``_t_beats``), as (lead, index in the lead, wave, median ``edge`` of the beat's other leads)."""
    items = sorted(((lead, k, w) for lead, ws in waves.items() for k, w in enumerate(ws) if w.kind == "T"),
                   key=lambda x: x[2].peak if x[2].peak is not None else x[2].onset)
    if len(items) < 3:
        return
    for g in _t_beats(items, fs_hz):
        if len({lead for lead, _, _ in g}) < 3:
            continue
        values = np.array([getattr(w, edge) for _, _, w in g], dtype=float)
        for j, (lead, k, w) in enumerate(g):
            yield lead, k, w, float(np.median(np.delete(values, j)))


def t_offset_consensus(waves: dict[str, tuple[Wave, ...]], fs_hz: float,
                       max_dev_ms: float) -> dict[str, tuple[Wave, ...]]:
    """Clip each lead's T offset to within ``max_dev_ms`` of the median T offset of the other
    leads of the same beat (beats grouped as in ``t_onset_consensus``). The offset never moves
    before the wave's own peak (or onset), nor past the start of the lead's next QRS complex."""
    new = {lead: list(ws) for lead, ws in waves.items()}
    limit = max_dev_ms * fs_hz / 1000.0
    for lead, k, w, ref in _t_waves_with_others_median(waves, fs_hz, "offset"):
        target = int(round(min(max(w.offset, ref - limit), ref + limit)))
        target = max(target, w.peak if w.peak is not None else w.onset)
        if target > w.offset:
            target = min(target, _start_of_qrs_after(waves[lead], w.offset) - 1)
        if target != w.offset and target >= w.onset:
            new[lead][k] = Wave("T", w.onset, target, w.peak)
    return {lead: tuple(ws) for lead, ws in new.items()}


def _rising_level_ms(pt: np.ndarray | list[float], peak_frame: int, level: float) -> float | None:
    """Time (ms, frame centres interpolated) where ``pt`` rises through ``level`` on the way to
    ``peak_frame`` (None when the peak is below the level or the run reaches frame 0)."""
    k = min(peak_frame, len(pt) - 1)
    if k < 1 or pt[k] < level:
        return None
    while k > 0 and pt[k - 1] >= level:
        k -= 1
    if k == 0:
        return None
    a, b = float(pt[k - 1]), float(pt[k])
    t = (level - a) / (b - a) if b != a else 0.5
    frame_ms = 1000.0 * FRAME_SAMPLES / MODEL_FS_HZ
    return (k - 0.5 + t) * frame_ms


def record_rr_ms(fused: np.ndarray) -> float | None:
    """Median RR (ms) from the 12-lead mean of the fused QRS probability (None with < 2 beats)."""
    q = fused[:, :, 2].mean(axis=0)
    centres = [0.5 * (a + b) for c, a, b in _runs((q > 0.5).astype(int)) if c == 1 and b - a >= 1]
    if len(centres) < 2:
        return None
    return float(np.median(np.diff(centres))) * 1000.0 * FRAME_SAMPLES / MODEL_FS_HZ


def t_onset_features(waves: dict[str, tuple[Wave, ...]], fused: np.ndarray, probs: LeadProbabilities,
                     fs_hz: float) -> dict[tuple[str, int], np.ndarray]:
    """``T_ONSET_FEATURES`` (ms) of every T wave with a peak, keyed by (lead, index in the lead);
    ``rr`` is NaN when unknown. ``fused``/``probs`` rows follow ``probs.lead_names``."""
    items = sorted(((lead, k, w) for lead, ws in waves.items() for k, w in enumerate(ws)
                    if w.kind == "T" and w.peak is not None), key=lambda x: x[2].peak)
    if not items:
        return {}
    others: dict[tuple[str, int], float] = {}
    for g in _t_beats(items, fs_hz):
        if len({lead for lead, _, _ in g}) < 3:
            continue
        onsets = np.array([w.onset for _, _, w in g], dtype=float)
        for j, (lead, k, _w) in enumerate(g):
            others[(lead, k)] = float(np.median(np.delete(onsets, j)))
    rr = record_rr_ms(fused)
    ms = 1000.0 / fs_hz
    row_of = {name: i for i, name in enumerate(probs.lead_names)}
    # per lead: QRS onsets sorted, and the latest QRS offset among the first j complexes (a search
    # per T wave instead of a scan of the lead, which was quadratic on long records)
    qrs_index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for lead, ws in waves.items():
        qrs = sorted((x.onset, x.offset) for x in ws if x.kind == "QRS")
        qrs_index[lead] = (np.array([a for a, _ in qrs], dtype=float),
                           np.maximum.accumulate(np.array([b for _, b in qrs], dtype=float)) if qrs
                           else np.zeros(0))
    out: dict[tuple[str, int], np.ndarray] = {}
    t_curves: dict[int, tuple[list[float], list[float]]] = {}  # per lead: fused and own T probability
    for lead, k, w in items:
        i = row_of[lead]
        if i not in t_curves:
            t_curves[i] = (fused[i, :, 3].tolist(), probs.probs[i, :, 3].astype(float).tolist())
        qrs_onsets, latest_offset = qrs_index[lead]
        j = int(np.searchsorted(qrs_onsets, w.peak, side="left"))  # QRS complexes starting before the peak
        qrs_off = float(latest_offset[j - 1]) if j else None
        on_ms = w.onset * ms
        peak_frame = int(w.peak * ms * MODEL_FS_HZ / 1000.0 / FRAME_SAMPLES)
        levels = []
        for pt in t_curves[i]:
            for level in (0.3, 0.5, 0.7):
                t = _rising_level_ms(pt, peak_frame, level)
                levels.append(0.0 if t is None else t - on_ms)
        out[(lead, k)] = np.array([
            (qrs_off - w.onset) * ms if qrs_off is not None else np.nan,
            (w.peak - w.onset) * ms, (w.offset - w.onset) * ms,
            np.nan if rr is None else rr,
            (others[(lead, k)] - w.onset) * ms if (lead, k) in others else 0.0,
            *levels,
        ])
    return out


def correct_t_onsets(waves: dict[str, tuple[Wave, ...]], fused: np.ndarray, probs: LeadProbabilities,
                     fs_hz: float, model: TOnsetCorrection) -> dict[str, tuple[Wave, ...]]:
    """Move each T onset by ``model``'s correction; T waves without a preceding QRS in their lead
    (no ``qrs_off``) are left alone. The onset stays after that QRS and not after the T peak."""
    feats = t_onset_features(waves, fused, probs, fs_hz)
    keys = [key for key, x in feats.items() if np.isfinite(x[0])]
    if not keys:
        return waves
    cols = [T_ONSET_FEATURES.index(f) for f in model.features]
    x = np.array([feats[key] for key in keys])
    rr = T_ONSET_FEATURES.index("rr")
    if "rr" in model.features:
        x[np.isnan(x[:, rr]), rr] = model.mean[model.features.index("rr")]
    corr = model.correction_ms(x[:, cols])
    new = {lead: list(ws) for lead, ws in waves.items()}
    for (lead, k), c in zip(keys, corr):
        w = waves[lead][k]
        qrs_end = w.onset + int(round(feats[(lead, k)][0] * fs_hz / 1000.0))
        target = w.onset + int(round(c * fs_hz / 1000.0))
        stop = w.peak if w.peak is not None else w.offset
        target = min(max(target, min(qrs_end + 1, w.onset)), max(stop, w.onset))
        if target != w.onset:
            new[lead][k] = Wave("T", target, w.offset, w.peak)
    return {lead: tuple(ws) for lead, ws in new.items()}


def _t_beats(items: list, fs_hz: float) -> list[list]:
    """T waves ``(lead, index, wave)`` sorted by peak, grouped into beats (gaps > 200 ms split)."""
    groups: list[list] = [[items[0]]]
    for it in items[1:]:
        prev = groups[-1][-1][2]
        t_prev = prev.peak if prev.peak is not None else prev.onset
        t_cur = it[2].peak if it[2].peak is not None else it[2].onset
        if t_cur - t_prev > 0.2 * fs_hz:
            groups.append([])
        groups[-1].append(it)
    return groups


def _start_of_qrs_after(lead_waves: tuple[Wave, ...], sample: int) -> int:
    """Onset of the first QRS complex of a lead that starts after ``sample`` (a large number when none)."""
    onsets = [w.onset for w in lead_waves if w.kind == "QRS" and w.onset > sample]
    return min(onsets, default=2**62)


def _end_of_qrs_before(lead_waves: tuple[Wave, ...], sample: int) -> int:
    """Offset of the last QRS complex of a lead that starts before ``sample`` (-1 when none)."""
    offsets = [w.offset for w in lead_waves if w.kind == "QRS" and w.onset < sample]
    return max(offsets, default=-1)


def _raw_decode(p: np.ndarray, n_samples_250: int, ecg: ECG) -> tuple[Wave, ...]:
    """The package's own decoding (arg-max runs >= 2 frames, frame-edge boundaries)."""
    cfg = DelineatorConfig(fusion_weight=0.0, subframe=False, rhythm_gate=False)
    return decode_waves(p, n_samples_250, cfg, ecg.fs_hz, ecg.n_samples)


# --------------------------------------------------------------------------- rhythm gate

RHYTHM_LEADS: tuple[str, ...] | None = None
"""Leads the codec's rhythm layer runs on (those present and usable); None = every usable lead,
their rhythm-layer shares pooled. Chosen on LUDB's 159 training records: pooled over the 12
leads, the afib + paced share is >= 0.67 in all 18 records without P waves and <= 0.12 in the
141 with P waves (over II, I and V1 only: >= 0.66 and up to 0.31), a wider margin for the same
0.5 threshold. Costs about 70 ms CPU per lead (codec)."""


@lru_cache(maxsize=4)
def _codec_models(count: int) -> tuple:
    """``count`` sessions of the codec with one onnxruntime thread each, for leads run in parallel
    threads (the default session spins two threads per call; outputs are bit-identical). Each runs
    the codec graph with its refinement stage on distinct columns only (``compact_codec_graph``)
    when the bundled model is the one that was checked, else the graph as shipped."""
    require("openecg", "all")
    ort = require("onnxruntime", "onnx")
    from openecg.deploy import OnnxCodec, bundled_codec_onnx_path

    path = str(bundled_codec_onnx_path())
    compact = compact_codec_graph(path)
    models = []
    for _ in range(count):
        options = ort.SessionOptions()  # type: ignore[attr-defined]
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        codec = OnnxCodec.__new__(OnnxCodec)  # OnnxCodec.__init__ with these session options
        codec.path = path
        session = ort.InferenceSession(compact[0] if compact else path, options,  # type: ignore[attr-defined]
                                       providers=["CPUExecutionProvider"])
        codec._sess = RowExpandedSession(session, compact[1]) if compact else session
        codec._inp = session.get_inputs()[0].name
        names = [o.name for o in session.get_outputs()]
        codec._idx = {head: next(i for i, n in enumerate(names) if head in n) for head in ("frame", "beat", "rhythm")}
        models.append(codec)
    return tuple(models)


CODEC_SHA256 = "640d2d13fbf71065b38cd999177ec294fafd532d608662f705cfb8c485e951f8"
"""sha256 of the codec graph ``compact_codec_graph`` was checked on (openecg 0.11.0's bundled
``codec_v6_int8.onnx``); any other file runs as shipped."""

CODEC_TOKENS = 500
"""Positions of the codec's transformer (5000 samples / stride 10)."""
_CONV5_BLOCK = (0, 1, 2, 2, 2, 2, 2, 2, 3, 4)
"""Per 10 output samples: which of the 5 distinct columns of the first refinement conv each is."""
_CONV6_BLOCK = (0, 1, 2, 2, 2, 2, 2, 3, 4)
"""Per token: the 9 columns (of the 5 above) whose windows of 5 give every distinct column of the
second refinement conv."""
_OUTPUT_ROWS = (0, 1, 2, 3, 4, 4, 5, 6, 7, 8)
"""Per 10 output samples: the row of the 9 computed per token that equals it."""


def compact_codec_graph(path: str) -> tuple[bytes, np.ndarray] | None:
    """The codec graph computing its refinement stage on distinct columns only, and the output row
    (of 4500) for each of the 5000 samples; None when ``onnx`` is missing or the file is not the
    one checked (``CODEC_SHA256``).

    The codec upsamples its 500 transformer tokens x10 by repetition, then applies two 5-wide
    convolutions (128 channels, 5000 columns, ~60% of its arithmetic) and per-sample heads. With
    each token repeated 10 times, only 5 of the 10 windows of the first convolution per token
    differ (x5 repetition gives exactly those 5, in order), and 9 of the 10 of the second. So the
    first runs on 2500 columns, the second on 4500 (gathered from the first's output), the heads on
    4500 rows, and each of the 5000 samples takes its row back (``_OUTPUT_ROWS``). Every value is
    computed by the same kernels with the same operands (onnxruntime computes each convolution
    column by the same sequence of operations when the column count is at least the inner
    dimension, 640 here; the heads' dynamic int8 scale comes from the min/max, which the distinct
    rows share with all rows), so the outputs are bit-identical
    (``tests/encoders/test_delineation_exact.py``; all heads, every lead of the checked records)."""
    import hashlib

    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != CODEC_SHA256:
        return None
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        return None
    model = onnx.load_from_string(data)
    graph = model.graph
    edited = ("node_upsample_nearest1d", "node_conv1d_5", "node_conv1d_6", "node_add_256")
    if sorted(n.name for n in graph.node if n.name in edited) != sorted(edited):
        return None
    t = CODEC_TOKENS
    conv6_cols = (5 * np.arange(t)[:, None] + np.array(_CONV6_BLOCK)[None, :]).ravel().astype(np.int64)
    graph.initializer.extend([
        numpy_helper.from_array(np.array([1, 1, 5], dtype=np.float32), "compact_scale5"),
        numpy_helper.from_array(np.array([1, 1, len(_CONV6_BLOCK)], dtype=np.float32), "compact_scale9"),
        numpy_helper.from_array(conv6_cols, "compact_conv6_cols"),
    ])
    nearest = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    nodes = []
    for node in graph.node:
        if node.name == "node_upsample_nearest1d":  # x10 repetition: x5 for conv 5, x9 for the sum
            nodes.append(helper.make_node("Resize", ["transpose_33", "", "compact_scale5"], ["compact_up5"],
                                          name="compact_up5", **nearest))
            nodes.append(helper.make_node("Resize", ["transpose_33", "", "compact_scale9"], ["compact_up9"],
                                          name="compact_up9", **nearest))
            continue
        if node.name == "node_conv1d_5":
            node.input[0] = "compact_up5"
        elif node.name == "node_conv1d_6":  # gather on the time axis in (1, time, 128) layout: fast
            nodes += [helper.make_node("Transpose", ["gelu_8"], ["compact_g_t"], perm=[0, 2, 1], name="compact_t1"),
                      helper.make_node("Gather", ["compact_g_t", "compact_conv6_cols"], ["compact_g9_t"], axis=1,
                                       name="compact_gather"),
                      helper.make_node("Transpose", ["compact_g9_t"], ["compact_g9"], perm=[0, 2, 1], name="compact_t2")]
            node.input[0] = "compact_g9"
        elif node.name == "node_add_256":
            node.input[0] = "compact_up9"
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    for out in graph.output:
        out.type.tensor_type.shape.dim[1].dim_param = "rows"
    rows = (len(_CONV6_BLOCK) * (np.arange(10 * t) // 10) + np.array(_OUTPUT_ROWS)[np.arange(10 * t) % 10])
    return model.SerializeToString(), rows


class RowExpandedSession:
    """An onnxruntime session of ``compact_codec_graph`` that answers like the original graph's:
    every output (1, rows, classes) is returned with its rows taken by ``rows`` (5000)."""

    def __init__(self, session, rows: np.ndarray) -> None:
        self._session = session
        self._rows = rows

    def run(self, output_names, feed, *args, **kwargs) -> list[np.ndarray]:
        return [out[:, self._rows] for out in self._session.run(output_names, feed, *args, **kwargs)]

    def get_inputs(self):
        return self._session.get_inputs()

    def get_outputs(self):
        return self._session.get_outputs()


def codec_rhythm_fractions(ecg: ECG, leads: tuple[str, ...], *,
                           progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Fraction of codec rhythm-layer samples per class (6,) over the given leads (the leads run
    over ``delineation_workers()`` codec sessions in parallel threads; ``progress(CODEC_STEP)`` per lead)."""
    return start_codec_rhythm_fractions(ecg, leads, progress=progress)()


@lru_cache(maxsize=None)  # one pool per worker count, kept for the process (never dropped unshut)
def _codec_pool(count: int):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="ecgqa-codec")


class PendingFractions:
    """Codec rhythm fractions being computed on threads: call it to wait for them; ``cancel()``
    makes the threads stop before their next lead (when the caller failed and will not wait)."""

    def __init__(self, wait: Callable[[], np.ndarray], cancelled: threading.Event) -> None:
        self._wait = wait
        self._cancelled = cancelled

    def __call__(self) -> np.ndarray:
        return self._wait()

    def cancel(self) -> None:
        self._cancelled.set()


def start_codec_rhythm_fractions(ecg: ECG, leads: tuple[str, ...], *,
                                 progress: Callable[[float], None] | None = None) -> PendingFractions:
    """Start ``codec_rhythm_fractions`` on threads of its own (with more than one worker) and return
    a ``PendingFractions`` that waits for it and returns the fractions, so the caller can do other
    work (the boundary model) meanwhile. The fractions are the same as ``codec_rhythm_fractions``'.
    A codec failure is raised, when waited for, as ``ModelError`` naming the lead."""
    import openecg

    models = _codec_models(delineation_workers())
    count = max(1, min(len(models), len(leads)))
    chunks = np.array_split(np.arange(len(leads)), count)
    locks = _model_locks("codec", len(models))
    cancelled = threading.Event()

    def run(k: int) -> np.ndarray:
        counts = np.zeros(6)
        for i in chunks[k]:
            if cancelled.is_set():
                break
            x = _to_rate(ecg.lead(leads[i]), ecg.fs_hz, 500.0)
            if x.size < 5000:
                x = np.pad(x, (0, 5000 - x.size), mode="symmetric")
            try:
                with locks[k]:
                    codec = openecg.encode_stream(x, fs=500, model=models[k])
            except Exception as exc:  # the codec's own errors are not ours: name the lead
                raise ModelError(f"the OpenECG codec failed on lead {leads[i]}: "
                                 f"{type(exc).__name__}: {exc}") from exc
            counts += np.bincount(codec.rhythm, minlength=6)[:6]
            if progress is not None:
                progress(CODEC_STEP)
        return counts

    def pooled(parts: list[np.ndarray]) -> np.ndarray:
        counts = np.sum(parts, axis=0)
        return counts / max(counts.sum(), 1)

    if count == 1:
        fractions = pooled([run(0)])
        return PendingFractions(lambda: fractions, cancelled)
    futures = [_codec_pool(count).submit(run, k) for k in range(count)]
    return PendingFractions(lambda: pooled([f.result() for f in futures]), cancelled)


def no_p_rhythm(afib_fraction: float, paced_fraction: float, rr_irregularity: float | None) -> bool:
    """The gate: no P waves to report (atrial fibrillation/flutter, or a paced rhythm).

    Fixed on LUDB's 159 training records: with the shares over leads II, I and V1, afib + paced
    reached >= 0.5 in 12 of their 14 AF/flutter/paced-without-P records and in none of the others
    (max 0.31); the two remaining AF records have afib >= 0.3 and a clearly irregular RR
    (median |dRR| / RR >= 0.15). Pooled over all 12 leads (``RHYTHM_LEADS``), the first clause
    alone separates all 18 records without P waves (>= 0.67) from the 141 with them (<= 0.12)."""
    if afib_fraction + paced_fraction >= 0.5:
        return True
    return afib_fraction >= 0.3 and rr_irregularity is not None and rr_irregularity >= 0.15


MIN_RHYTHM_QRS = 5
"""Fewest QRS complexes (4 RR intervals, 3 successive RR differences) on which the rhythm is judged
(atrial fibrillation/flutter, RR irregularity, the P-wave gate). Fixed a priori, the minimum
``rr_irregularity`` already used, not tuned: a 1.2 s sinus record (2 complexes, the codec reading a
record padded to 10 s) was called atrial fibrillation and its P waves dropped. Every 10 s LUDB record
with a rate >= 30 bpm has more."""


def _qrs_centres(qrs_probability: np.ndarray) -> list[float]:
    """Frame centres of the QRS complexes (runs of >= 2 frames above 0.5) of a QRS probability."""
    return [0.5 * (a + b) for c, a, b in _runs((qrs_probability > 0.5).astype(int)) if c == 1 and b - a >= 1]


def rr_irregularity(qrs_probability: np.ndarray) -> float | None:
    """Median |successive RR difference| / median RR from a QRS probability per 20 ms frame (QRS =
    runs of >= 2 frames above 0.5); None with fewer than ``MIN_RHYTHM_QRS`` complexes."""
    centres = _qrs_centres(qrs_probability)
    if len(centres) < MIN_RHYTHM_QRS:
        return None
    rr = np.diff(centres)
    return float(np.median(np.abs(np.diff(rr))) / max(np.median(rr), 1e-9))


def usable_rhythm_leads(ecg: ECG, unusable: dict[str, str], wanted: tuple[str, ...] | None = RHYTHM_LEADS) -> tuple[str, ...]:
    """The leads the codec rhythm layer runs on: ``wanted`` (None = all) that are present and
    usable, else the first usable lead, else none."""
    leads = tuple(n for n in (wanted or ecg.lead_names) if n in ecg.lead_names and n not in unusable)
    return leads or tuple(n for n in ecg.lead_names if n not in unusable)[:1]


def call_rhythm(ecg: ECG, fused: np.ndarray, unusable: dict[str, str],
                rhythm_leads: tuple[str, ...] | None = RHYTHM_LEADS, *,
                progress: Callable[[float], None] | None = None,
                codec_fractions: PendingFractions | None = None) -> RhythmCall:
    """Decide atrial fibrillation/flutter from the codec rhythm layer (pooled over
    ``rhythm_leads``, None = every usable lead) and RR irregularity. ``codec_fractions``: the
    codec's fractions over those leads already started (``start_codec_rhythm_fractions``)."""
    from openecg.layered import RHYTHM_AFIB, RHYTHM_NAMES, RHYTHM_PACED

    leads = usable_rhythm_leads(ecg, unusable, rhythm_leads)
    if leads:
        if codec_fractions is not None:
            frac = codec_fractions()
        else:
            frac = (codec_rhythm_fractions(ecg, leads) if progress is None
                    else codec_rhythm_fractions(ecg, leads, progress=progress))
        rhythm = RHYTHM_NAMES[int(frac.argmax())]
        afib, paced_fraction = float(frac[RHYTHM_AFIB]), float(frac[RHYTHM_PACED])
    else:
        rhythm, afib, paced_fraction = "unknown", 0.0, 0.0
    # fused QRS probability, mean over the usable leads (``lead_quality``: a flat, saturated or noisy
    # row holds no beats of its own and diluted the mean below 0.5, review s8 S9), over the record's
    # own frames (a record shorter than the 10 s window is padded with its mirror image, whose beats
    # are not the patient's)
    real_frames = -(-int(round(ecg.duration_s * MODEL_FS_HZ)) // FRAME_SAMPLES)
    rows = [i for i, name in enumerate(ecg.lead_names) if name not in unusable]
    qrs_probability = (fused[rows, :real_frames, 2].mean(axis=0) if rows
                       else np.zeros(fused[:, :real_frames].shape[1]))
    irregularity = rr_irregularity(qrs_probability)
    n_qrs = len(_qrs_centres(qrs_probability))
    if n_qrs < MIN_RHYTHM_QRS:  # too few beats to judge the rhythm (MIN_RHYTHM_QRS): no AF, no P-wave gate
        return RhythmCall(rhythm, afib, paced_fraction, irregularity, False, False, paced_record(ecg), n_qrs)
    gate = no_p_rhythm(afib, paced_fraction, irregularity)
    af = afib >= 0.5 or (afib >= 0.3 and irregularity is not None and irregularity >= 0.15)
    paced = paced_fraction >= 0.5 or paced_record(ecg)
    return RhythmCall(rhythm, afib, paced_fraction, irregularity, gate, af, paced, n_qrs)


PACING_THRESHOLD_Z = 128.0
"""Threshold of OpenECG's spike detector. Its default (32) flags 38% of LUDB's 190 unpaced lead-II
records; 128 flags 5% and finds 6 of the 10 paced ones. Spikes need >= 500 Hz sampling."""


def paced_record(ecg: ECG) -> bool:
    """Pacemaker spikes found in lead II (False below 500 Hz, where spikes are filtered out)."""
    if ecg.fs_hz < 500:
        return False
    import openecg

    name = "II" if "II" in ecg.lead_names else ecg.lead_names[0]
    x = _to_rate(ecg.lead(name), ecg.fs_hz, 500.0).astype(np.float64)
    try:
        return bool(openecg.is_paced_record(x, 500, threshold_z=PACING_THRESHOLD_Z))
    except (ValueError, IndexError):  # the rule detector rejects degenerate inputs
        return False


# --------------------------------------------------------------------------- NeuroKit2


def _neurokit_lead(x: np.ndarray, fs_hz: float) -> tuple[Wave, ...]:
    """NeuroKit2 DWT delineation of one lead; () when it finds no beats."""
    import warnings

    nk = require("neurokit2", "all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            clean = nk.ecg_clean(x, sampling_rate=int(round(fs_hz)))  # type: ignore[attr-defined]
            _, rinfo = nk.ecg_peaks(clean, sampling_rate=int(round(fs_hz)))  # type: ignore[attr-defined]
            rpeaks = np.asarray(rinfo["ECG_R_Peaks"], dtype=int)
            if rpeaks.size < 2:
                return ()
            _, info = nk.ecg_delineate(clean, rpeaks, sampling_rate=int(round(fs_hz)),  # type: ignore[attr-defined]
                                       method="dwt")
        except Exception:  # NeuroKit2 raises bare errors on degenerate signals: no waves found
            return ()
    waves: list[Wave] = []
    n = len(x)
    for kind, on_key, off_key, peak_key in (
        ("P", "ECG_P_Onsets", "ECG_P_Offsets", "ECG_P_Peaks"),
        ("QRS", "ECG_R_Onsets", "ECG_R_Offsets", None),
        ("T", "ECG_T_Onsets", "ECG_T_Offsets", "ECG_T_Peaks"),
    ):
        ons, offs = info.get(on_key, []), info.get(off_key, [])
        peaks = rpeaks if peak_key is None else info.get(peak_key, [None] * len(ons))
        for on, off, pk in zip(ons, offs, peaks):
            if on is None or off is None or np.isnan(on) or np.isnan(off):
                continue
            on_i, off_i = int(on), int(off)
            if not (0 <= on_i < off_i < n):
                continue
            pk_i = None if pk is None or (isinstance(pk, float) and np.isnan(pk)) else int(pk)
            if pk_i is not None and not on_i <= pk_i <= off_i:
                pk_i = None
            waves.append(Wave(kind, on_i, off_i, pk_i))  # type: ignore[arg-type]
    return tuple(sorted(waves, key=lambda w: w.onset))

