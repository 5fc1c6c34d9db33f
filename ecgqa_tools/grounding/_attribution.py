"""Attributions of a disease head's logit to its 12-lead input: Integrated Gradients (primary),
GradientSHAP and plain saliency, computed with captum and returned at the ECG's own rate.

Baseline (documented choice, ``baseline=``, see ``make_baseline`` / ``make_references``): by
default each head's own (``DEFAULT_BASELINE_BY_DISEASE``, chosen per head on PTB-XL fold 9, the
models' selection fold, by rules committed before the runs; docs/grounding.md): ``lowpass`` for
MI (the input blurred with a Gaussian of sigma 100 ms per lead in the model's input space),
``lowpass-multi`` for CD and HYP (IG averaged over the input blurred at sigma 25, 50, 100 and
200 ms) and ``expected-smooth`` for STTC (expected gradients: IG averaged over 8 normal training
beats, each placed at the ECG's own QRS complexes, to 2 noisy copies of the input; session 4b). Path variants (``PATHS``, ``grounding._paths``):
Blur IG, SmoothGrad over IG, Guided IG. ``normal`` (one median normal beat placed the same
way), ``flat`` (all zero in the band-passed, z-scored input space: a flat line at every lead's
mean) and ``isoelectric`` (running median over 1 s) are kept. Completeness reads: the attributions
sum to ``logit(x) - logit(baseline)`` (the mean reference logit for ``expected``).
GradientSHAP draws its baselines from the same references as IG (``gradshap_background``; until
session 4 it drew around the flat line whatever the baseline) with Gaussian input noise
(``stdevs`` = 0.1 of each input's standard deviation), i.e. expected gradients with the head's
reference distribution as background.
Saliency is the absolute input gradient of the logit (no baseline).

The model may run at another rate and window than the record (the shipped models take 10 s at
100 Hz, centre-cropping longer records and zero-padding shorter ones symmetrically); the map is
carried back to the record's samples so that each input sample receives the attribution of the
model sample nearest to it in time, split evenly between the input samples that share it (sums
are kept, so completeness still holds on the returned map). Samples outside the model's window
get zero.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ModelError, UsageError
from ..records import ECG, STANDARD_LEADS, require_ecg, to_standard_leads

if TYPE_CHECKING:  # pragma: no cover
    import torch

Method = Literal["ig", "gradshap", "saliency"]
METHODS: tuple[Method, ...] = ("ig", "gradshap", "saliency")
METHOD_NAMES: dict[str, str] = {
    "ig": "Integrated Gradients",
    "gradshap": "GradientSHAP",
    "saliency": "saliency (|gradient|)",
}
BASELINE_DESCRIPTION = "flat line (zero in the model's band-passed, z-scored input space)"
FlatCheck = Literal["head-constant", "zero-gradient"]
"""How ``Attribution.locally_flat`` was decided (``Attribution.flat_check``)."""
BaselineKind = Literal["flat", "isoelectric", "lowpass", "normal", "expected",
                       "blur", "blur-wide", "lowpass-multi", "lowpass-smooth", "guided",
                       "expected-16", "expected-smooth", "expected-normal"]
BASELINES: tuple[BaselineKind, ...] = ("flat", "isoelectric", "lowpass", "normal", "expected")
"""Straight-line IG from a reference (one, or several averaged for ``expected``)."""
PATHS: tuple[BaselineKind, ...] = ("blur", "blur-wide", "lowpass-multi", "lowpass-smooth", "guided")
"""IG variants that change the path or average several paths (``grounding._paths``; session-4
candidates, docs/grounding.md): Blur IG from sigma 100 ms / 400 ms, IG averaged over four low-pass
cut-offs, a SmoothGrad noise tunnel over low-pass IG, Guided IG from the low-pass baseline."""
EXPECTED_VARIANTS: tuple[BaselineKind, ...] = ("expected-16", "expected-smooth", "expected-normal")
"""Variants of ``expected`` (session-4b candidates for STTC, docs/grounding.md): 16 normal
references; 8 references x 2 noisy copies of the input (SmoothGrad); half normal-template IG,
half expected IG."""
IG_VARIANTS: tuple[BaselineKind, ...] = BASELINES + PATHS + EXPECTED_VARIANTS
"""Every key ``baseline=`` accepts."""
MULTI_REFERENCE_BASELINES: frozenset[str] = frozenset({"expected", "lowpass-multi", *EXPECTED_VARIANTS})
"""Baselines made of several references (``make_references``); IG is averaged over them."""
BASELINE_DESCRIPTIONS: dict[str, str] = {
    "flat": BASELINE_DESCRIPTION,
    "isoelectric": "isoelectric line (each lead's running median over 1 s in the model's input "
                   "space: the signal with its P, QRS and T waves removed)",
    "lowpass": "low-passed signal (each lead blurred with a Gaussian of sigma 100 ms in the "
               "model's input space)",
    "normal": "normal-beat template (median beat of normal PTB-XL training ECGs in the model's "
              "input space) placed at this ECG's own QRS complexes",
    "expected": "expected gradients over 8 normal references (the median beats of 8 normal PTB-XL "
                "training ECGs in the model's input space, each placed at this ECG's own QRS "
                "complexes; IG averaged over them)",
    "blur": "Blur IG: a path through Gaussian scale space from the signal blurred with sigma 100 ms "
            "(the low-pass baseline) down to the signal, per lead in the model's input space",
    "blur-wide": "Blur IG from the signal blurred with sigma 400 ms down to the signal (scale-space "
                 "path, per lead in the model's input space)",
    "lowpass-multi": "IG averaged over four low-passed references (each lead blurred with a Gaussian "
                     "of sigma 25, 50, 100 and 200 ms in the model's input space)",
    "lowpass-smooth": "SmoothGrad over IG: IG from the low-passed signal (sigma 100 ms) to 4 noisy "
                      "copies of the input (Gaussian noise of 0.1 lead standard deviations), averaged",
    "guided": "Guided IG from the low-passed signal (sigma 100 ms): an adaptive path that moves the "
              "samples with the smallest gradient first",
    "expected-16": "expected gradients over 16 normal references (median beats of 16 normal PTB-XL "
                   "training ECGs, each placed at this ECG's own QRS complexes; IG averaged over them)",
    "expected-smooth": "expected gradients with SmoothGrad noise: IG from each of 8 normal references "
                       "(placed at this ECG's QRS complexes) to 2 noisy copies of the input (Gaussian "
                       "noise of 0.1 lead standard deviations), averaged",
    "expected-normal": "half IG from the normal-beat template, half expected gradients over 8 normal "
                       "references (all placed at this ECG's own QRS complexes)",
}
DEFAULT_BASELINE: BaselineKind = "lowpass"
"""IG baseline of a head that has no entry in ``DEFAULT_BASELINE_BY_DISEASE`` (and the tie-break
of the per-head selection)."""
DEFAULT_BASELINE_BY_DISEASE: dict[str, BaselineKind] = {
    "MI": "lowpass-multi",
    "STTC": "expected-smooth",
    "CD": "lowpass-multi",
    "HYP": "lowpass-multi",
}
"""IG baseline (or path variant) of ``explain`` per disease head when none is given. Chosen on
PTB-XL fold 9 (the models' selection fold) true positives by rules committed beforehand
(docs/grounding.md). Session 3, "Per-head IG baseline": the highest CAS among lowpass / normal /
expected whose pointing game is within 0.02 of the best (MI lowpass 0.974 / 0.684, STTC expected
0.859 / 0.618). Session 4, "attribution paths": a path variant replaces a head's default when it
keeps the pointing game, raises CAS by >= 0.02 and stays faithful; CD and HYP moved from lowpass to
``lowpass-multi`` (IG averaged over low-pass cut-offs 25/50/100/200 ms): CD 1.000 / 0.576 ->
1.000 / 0.613, HYP 1.000 / 0.589 -> 1.000 / 0.667; no candidate qualified for MI or STTC. Session 4b,
"STTC variants of expected gradients" (same rule): STTC moved from ``expected`` to
``expected-smooth`` (8 normal references x 2 noisy copies of the input): 56/64 = 0.875 / 0.620 ->
59/64 = 0.922 / 0.623 (rule B: two or more hits more, CAS not lower by more than 0.01). Session 4d,
"MI default re-selected for MI version 3" (rule A, MI maps costing <= 0.08 s in the speed suite): MI
moved from lowpass to ``lowpass-multi``: 42/42 = 1.000 / 0.612 -> 42/42 = 1.000 / 0.632. Re-selected for each
shipped model version with the same candidates, all kept: CD v3 (session 6), MI v4 and HYP v3 (session 8), CD v4,
STTC v3 (session 9; STTC by the session-4b rule: normal-fill faithfulness, rules A/B) and HYP v4 (session 9: 21/21,
fold-9 CAS 0.687, the highest of 13)."""


def default_baseline(disease: str) -> BaselineKind:
    """IG baseline ``explain`` uses for ``disease`` when none is given."""
    return DEFAULT_BASELINE_BY_DISEASE.get(disease, DEFAULT_BASELINE)
ISOELECTRIC_WINDOW_S = 1.0
"""Running-median window of the isoelectric baseline (about one cardiac cycle)."""
LOWPASS_SIGMA_S = 0.1
"""Gaussian sigma of the low-pass baseline."""
BLUR_SIGMA_MAX_S: dict[str, float] = {"blur": LOWPASS_SIGMA_S, "blur-wide": 0.4}
"""Start of the Blur IG paths: the input blurred with this Gaussian sigma (seconds)."""
LOWPASS_MULTI_SIGMAS_S: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2)
"""Gaussian sigmas (seconds) of the ``lowpass-multi`` references."""
SMOOTH_DRAWS = 4
"""Noisy copies of the input in ``lowpass-smooth``."""
SMOOTH_NOISE_SD = 0.1
"""Noise standard deviation of ``lowpass-smooth`` in the z-scored input space (lead SDs)."""
GUIDED_FRACTION = 0.1
"""Share of the not-yet-moved features Guided IG moves at a time."""
EXPECTED_SMOOTH_DRAWS = 2
"""Noisy copies of the input per reference in ``expected-smooth`` (noise ``SMOOTH_NOISE_SD``)."""
TEMPLATE_WEIGHT = 0.5
"""Weight of the normal-template IG in ``expected-normal`` (the 8 references share the rest)."""


def reference_weights(kind: str, n_references: int) -> np.ndarray:
    """Weight of each reference of ``make_references(inputs, kind)`` in the map and in
    ``baseline_logit`` (sums to 1): uniform, except ``expected-normal`` whose first reference (the
    normal template) weighs ``TEMPLATE_WEIGHT`` and the normal references share the rest."""
    if kind == "expected-normal" and n_references > 1:
        rest = (1.0 - TEMPLATE_WEIGHT) / (n_references - 1)
        return np.asarray([TEMPLATE_WEIGHT] + [rest] * (n_references - 1))
    return np.full(n_references, 1.0 / n_references)


def path_points(kind: str, n_steps: int) -> tuple[int, int]:
    """(paths, gradient points per path) of an IG variant at ``n_steps``: straight-line IG uses
    ``n_steps`` points per reference; Blur IG and Guided IG ``2 * n_steps`` points on one path;
    ``lowpass-multi`` and ``lowpass-smooth`` ``max(2, n_steps // 2)`` on each of their 4 paths
    (16 gradient points per map at the default 8 steps for every path variant)."""
    if kind in ("blur", "blur-wide", "guided"):
        return 1, 2 * n_steps
    if kind == "lowpass-multi":
        return len(LOWPASS_MULTI_SIGMAS_S), max(2, n_steps // 2)
    if kind == "lowpass-smooth":
        return SMOOTH_DRAWS, max(2, n_steps // 2)
    from ._baselines import N_REFERENCES, N_REFERENCES_WIDE

    paths = {"expected": N_REFERENCES, "expected-16": N_REFERENCES_WIDE,
             "expected-smooth": N_REFERENCES * EXPECTED_SMOOTH_DRAWS, "expected-normal": N_REFERENCES + 1}
    return paths.get(kind, 1), n_steps


MAP_ALIGNMENT = "nearest"
"""How ``to_input_rate`` assigns input samples to model samples: ``"nearest"`` since session 6
(``"floor"`` before, 4 ms late at 500 Hz). Part of ``variant_fingerprint``, so ``ecgqa eval xai``
does not reuse rows computed with the old alignment."""


def variant_fingerprint() -> str:
    """Short hash of everything besides the code that defines the IG baselines and path variants:
    the blur and low-pass widths, isoelectric window, noise draws and SD, Guided-IG fraction,
    template weight and reference counts (this module), the beat-template constants and the QRS
    detector's that place the normal beats (``_baselines``: template rate and span, ``PRE_FRACTION``,
    ``MIN_RR_S``, ``BEAT_*``), and a sha1 of the bytes of the shipped ``normal_beat.npz``,
    ``normal_refs.npz`` and ``normal_refs16.npz`` ("missing" for an absent file), and how the map
    is carried to the input rate (``MAP_ALIGNMENT``), and the adaptive completeness rule
    (``COMPLETENESS_TOLERANCE``, ``COMPLETENESS_ABS_TOLERANCE``, ``MAX_IG_POINTS``,
    ``COMPLETENESS_PASS_CHOICE``). Part of
    ``ecgqa eval xai``'s resume key, so rows computed with other constants or other shipped
    references are redone."""
    import hashlib

    from . import _baselines as b

    def file_sha1(path: Any) -> str:
        try:
            return hashlib.sha1(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            return "missing"

    values = (ISOELECTRIC_WINDOW_S, LOWPASS_SIGMA_S, sorted(BLUR_SIGMA_MAX_S.items()), LOWPASS_MULTI_SIGMAS_S,
              SMOOTH_DRAWS, SMOOTH_NOISE_SD, GUIDED_FRACTION, EXPECTED_SMOOTH_DRAWS, TEMPLATE_WEIGHT,
              b.N_REFERENCES, b.N_REFERENCES_WIDE,
              b.TEMPLATE_FS_HZ, b.TEMPLATE_PRE_S, b.TEMPLATE_POST_S, b.PRE_FRACTION, b.MIN_RR_S,
              b.BEAT_SMOOTH_S, b.BEAT_HEIGHT_FRACTION, b.BEAT_HEIGHT_PERCENTILE,
              [file_sha1(p) for p in (b.TEMPLATE_PATH, b.REFERENCES_PATH, b.REFERENCES_WIDE_PATH)],
              MAP_ALIGNMENT, COMPLETENESS_TOLERANCE, COMPLETENESS_ABS_TOLERANCE, MAX_IG_POINTS,
              COMPLETENESS_PASS_CHOICE)
    return hashlib.sha1(repr(values).encode()).hexdigest()[:12]


def make_baseline(inputs: np.ndarray, kind: BaselineKind, fs_hz: float) -> np.ndarray:
    """IG baseline for (batch, leads, samples) model inputs at ``fs_hz``, same shape, float32.

    ``flat``: zeros. ``isoelectric``: per lead, the running median over ``ISOELECTRIC_WINDOW_S``
    (a lead spends most of each cycle on its isoelectric PR/TP level, so the median follows that
    level and drops the waves; IG then measures deviation *from isoelectric*, so an elevated ST
    segment counts fully). ``lowpass``: per lead, a Gaussian blur with sigma ``LOWPASS_SIGMA_S``
    (a "blurred input" baseline: only sharp features such as the QRS differ from it).
    Path variants (``PATHS``) give their path's start: the input blurred with their largest sigma
    (``blur``, ``blur-wide``) or the low-pass baseline (``lowpass-smooth``, ``guided``).
    """
    x = np.asarray(inputs, dtype=np.float32)
    if x.ndim != 3:
        raise UsageError(f"baseline needs (batch, leads, samples) inputs, got shape {x.shape}")
    if kind == "flat":
        return np.zeros_like(x)
    if kind == "isoelectric":
        from scipy.ndimage import median_filter

        width = max(1, int(round(ISOELECTRIC_WINDOW_S * fs_hz)) | 1)
        return median_filter(x, size=(1, 1, width), mode="nearest").astype(np.float32)
    if kind in ("lowpass", "lowpass-smooth", "guided", "blur", "blur-wide"):
        from ._paths import gaussian_blur

        return gaussian_blur(x, BLUR_SIGMA_MAX_S.get(kind, LOWPASS_SIGMA_S) * fs_hz)
    if kind == "normal":  # beat-aligned normal template (grounding._baselines)
        from ._baselines import normal_template_baseline

        return normal_template_baseline(x, fs_hz)
    if kind in MULTI_REFERENCE_BASELINES:
        raise UsageError(f"IG baseline {kind!r} has several references; use make_references")
    raise UsageError(f"unknown IG baseline {kind!r}; expected one of {', '.join(IG_VARIANTS)}")


def make_references(inputs: np.ndarray, kind: BaselineKind, fs_hz: float) -> np.ndarray:
    """IG references for (batch, leads, samples) model inputs: (batch, references, leads,
    samples), float32. One reference (``make_baseline``) for every kind but ``expected``, which
    gives the ``N_REFERENCES`` normal references placed at each input's QRS complexes, and
    ``lowpass-multi``, the input blurred at each of ``LOWPASS_MULTI_SIGMAS_S``."""
    if kind == "lowpass-multi":
        from ._paths import blurred_references

        return blurred_references(inputs, LOWPASS_MULTI_SIGMAS_S, fs_hz)
    if kind in ("expected", "expected-smooth", "expected-16", "expected-normal"):
        from . import _baselines

        x = np.asarray(inputs, dtype=np.float32)
        wide = _baselines.load_normal_references(_baselines.REFERENCES_WIDE_PATH) if kind == "expected-16" else None
        refs = _baselines.normal_reference_baselines(x, fs_hz, wide)
        if kind == "expected-normal":  # the template first (``reference_weights``)
            refs = np.concatenate([make_baseline(x, "normal", fs_hz)[:, None], refs], axis=1)
        return refs
    return make_baseline(inputs, kind, fs_hz)[:, None]


@dataclass(frozen=True)
class Attribution:
    """How much each sample of each lead pushed one disease head's logit, at the ECG's own rate."""

    values: np.ndarray
    """float32 attribution map, shape (leads, samples) at ``fs_hz``; logit units (sums to the
    logit change for IG)."""
    lead_names: tuple[str, ...]
    """Leads of ``values`` (the 12 standard leads, standard order)."""
    fs_hz: float
    """Sampling rate of ``values`` (the ECG's own rate)."""
    disease: str
    """Disease head explained (``MI``, ``STTC``, ``CD``, ``HYP`` or a custom head's name)."""
    method: Method
    """``ig``, ``gradshap`` or ``saliency``."""
    probability: float
    """Sigmoid of the head's logit on this ECG."""
    logit: float
    """The head's logit on this ECG."""
    baseline_logit: float | None
    """The head's logit on the baseline (the mean over the references of a multi-reference
    baseline); ``None`` for saliency."""
    convergence_delta: float | None
    """IG completeness error: sum(values) - (logit - baseline_logit); ``None`` for other methods."""
    model_values: np.ndarray
    """The same map at the model's rate and window, shape (leads, model_samples)."""
    model_fs_hz: float
    """Sampling rate the model ran at."""
    model_offset: int
    """Model sample ``j`` covers the record at model-rate index ``j + model_offset`` (negative
    when the model zero-padded a short record)."""
    baseline: str
    """Human-readable description of the baseline."""
    ecg: ECG
    """The ECG (12 standard leads) the map refers to."""
    threshold: float | None = None
    """The model's probability cut-off for calling the disease (``None`` when it has none)."""
    baseline_kind: str | None = None
    """Key of the IG baseline (``IG_VARIANTS``; for GradientSHAP the key whose references are its
    background; None for saliency)."""
    locally_flat: bool | None = None
    """Whether the head's output is locally flat at this ECG, so small changes of the signal do not
    change the probability and the saliency map is all zero. How it was decided is ``flat_check``.
    IG and GradientSHAP take their gradients away from the ECG and can still give a non-zero map
    (docs/grounding.md, "Saturated heads"). ``None``: not checked (an ``Attribution`` built by hand)."""
    flat_check: FlatCheck | None = None
    """How ``locally_flat`` was decided. ``head-constant``: the model has the encoders' output-only
    check (``DiseaseModel.flat_logits``, the shipped models) and the logit equals the head's constant
    output, the mean of the ensemble members' final biases, which it gives exactly when every hidden
    unit of every member's classifier head is inactive (then the input gradient is exactly zero too);
    no extra pass. ``zero-gradient``: any other module, the input gradient of the logit is exactly zero
    at every lead and sample (``zero_input_gradient``, one more forward and backward pass; for
    saliency the map itself); the cause inside the module is not known. ``None``: not checked."""
    n_steps: int | None = None
    """IG steps of the returned map (the caller's ``n_steps``, doubled by the adaptive completeness
    loop where needed; of a map that never meets the tolerance, the pass with the smallest error);
    ``None`` for GradientSHAP and saliency."""
    completeness_error: float | None = None
    """IG relative completeness error |sum(model_values) - path change| / |path change|, the path
    change being the weighted mean over the integration paths of logit(end) - logit(start) (=
    ``logit - baseline_logit`` except for the noise tunnels ``expected-smooth`` / ``lowpass-smooth``,
    whose paths end at noisy copies of the input); 0 when both are 0, ``inf`` when only the change is;
    ``None`` for GradientSHAP and saliency."""
    completeness_abs_error: float | None = None
    """|sum(model_values) - path change| in logit units (``None`` for GradientSHAP and saliency)."""
    completeness_tolerance: float | None = None
    """Relative tolerance the map was held to (``COMPLETENESS_TOLERANCE`` by default; ``None``: no
    adaptive loop was asked for, or not IG)."""
    completeness_met: bool | None = None
    """The map meets ``completeness_tolerance`` (relative error <= it, or absolute error <=
    ``COMPLETENESS_ABS_TOLERANCE``) after the adaptive loop; ``False`` when the step budget
    (``MAX_IG_POINTS``) ran out first or the error is not a number (NaN: not redone); ``None``
    when no tolerance was asked for, or not IG."""

    @property
    def n_samples(self) -> int:
        return int(self.values.shape[1])

    @property
    def positive(self) -> np.ndarray:
        """Positive part of the map (evidence *for* the disease), shape (leads, samples)."""
        return np.clip(self.values, 0.0, None)

    def model_index(self, sample: int) -> int:
        """Index into the model's window of an input sample: the model sample nearest to it in
        time (as in ``to_input_rate``; may fall outside the window)."""
        return int(_nearest_index(sample * self.model_fs_hz / self.fs_hz)) - self.model_offset


def zero_input_gradient(module: Any, inputs: "torch.Tensor") -> np.ndarray:
    """Per item of (batch, leads, samples) model ``inputs``: True when the gradient of the logit of
    ``module`` with respect to that input is exactly zero everywhere (the head is locally flat
    there; ``Attribution.locally_flat``). One forward and backward pass; the items are independent
    (eval mode), so the gradient of the summed logits is each item's own gradient."""
    import torch

    forward = _forward_logit(module)
    with torch.enable_grad():  # callers may be inside torch.no_grad()
        x = inputs.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(forward(x).sum(), x)
    return (grad.reshape(grad.shape[0], -1) == 0).all(dim=1).numpy()


def _output_flat_check(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The encoders' output-only flat-head check for ``model``, or None when it has none: for a
    model with ``head_constant(backend)`` and ``flat_logits(logits, backend)`` (the shipped
    ``encoders.DiseaseModel``) whose head has a constant output (``head_constant("torch")`` is not
    None), a function (batch,) torch-backend logits -> (batch,) bool (``Attribution.flat_check``
    ``head-constant``). It reads the torch module's parameters, the weights ``explain`` runs."""
    head_constant = getattr(model, "head_constant", None)
    flat_logits = getattr(model, "flat_logits", None)
    if not (callable(head_constant) and callable(flat_logits)) or head_constant("torch") is None:
        return None

    def check(logits: np.ndarray) -> np.ndarray:
        return np.asarray(flat_logits(np.asarray(logits, dtype=float), "torch"), dtype=bool).reshape(-1)

    return check


def _locally_flat(model: Any, inputs: "torch.Tensor", logits: np.ndarray, method: str,
                 attr: "torch.Tensor | None" = None) -> tuple[np.ndarray, FlatCheck]:
    """(batch,) ``Attribution.locally_flat`` and its ``flat_check`` for ``inputs`` (batch, leads,
    samples) whose logits ``explain`` already computed: the encoders' output-only check when the
    model has one (no pass over the module), else the zero input gradient (the saliency map
    ``attr`` itself when given, else ``zero_input_gradient``: one forward and backward pass)."""
    check = _output_flat_check(model)
    if check is not None:
        return check(logits), "head-constant"
    if method == "saliency" and attr is not None:  # the map is |gradient|: zero map = zero gradient
        return (attr.detach().reshape(len(inputs), -1) == 0).all(dim=1).numpy(), "zero-gradient"
    return zero_input_gradient(gradient_module(model.module), inputs), "zero-gradient"


def _threshold(model: Any) -> float | None:
    value = getattr(model, "threshold", None)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def call_words(probability: float, threshold: float | None) -> str:
    """``probability 0.81 (above the head's threshold 0.26)`` or just the probability."""
    if threshold is None:
        return f"probability {probability:.2f}"
    side = "at or above" if probability >= threshold else "below"
    return f"probability {probability:.2f} ({side} the head's threshold {threshold:.2f})"


def _model_rate(model: Any, ecg: ECG, n_model: int) -> float:
    fs = getattr(model, "fs_hz", None) or getattr(getattr(model, "card", None), "fs_hz", None)
    if fs:
        return float(fs)
    try:
        from ..encoders import MODEL_FS_HZ

        return float(MODEL_FS_HZ)
    except (ImportError, AttributeError):  # a model of unknown rate: assume it covers the record
        return n_model / ecg.duration_s


def _alignment(n_input: int, fs_hz: float, model_fs_hz: float, n_model: int) -> int:
    """Offset of the model window in model-rate samples (centre crop / symmetric zero pad). At the
    encoders' rate it is exactly where their preprocessing puts the window
    (``encoders.model_window_start``, shared with the long-record cut; before session 9 a ``round``
    here put it one model sample early for some lengths); at another rate, on the record resampled
    to that rate (``records.resampled_length``)."""
    from ..encoders import MODEL_FS_HZ, model_window_start
    from ..records import resampled_length

    if abs(model_fs_hz - MODEL_FS_HZ) < 1e-9:
        return model_window_start(n_input, fs_hz, n_model)
    n_at_model = resampled_length(n_input, fs_hz, model_fs_hz)
    if n_model <= n_at_model:
        return (n_at_model - n_model) // 2
    return -((n_model - n_at_model) // 2)


def _nearest_index(position: np.ndarray) -> np.ndarray:
    """Positions in samples (fractional) rounded to the nearest sample; exact halves go to the
    later sample."""
    return np.floor(np.asarray(position, dtype=np.float64) + 0.5).astype(np.int64)


def to_input_rate(model_values: np.ndarray, n_input: int, fs_hz: float, model_fs_hz: float,
                  offset: int) -> np.ndarray:
    """Carry a (leads, model_samples) map to (leads, n_input) samples at ``fs_hz``, keeping sums.

    Model sample ``j`` is the signal at the instant ``(j + offset) / model_fs`` (the models'
    input is the record resampled to their rate: 500 Hz band-passed, then every 5th sample), so
    input sample ``i`` gets the share of the model sample **nearest** to it in time,
    ``round(i * model_fs / fs) - offset``; a model sample's value is split evenly over the input
    samples nearest to it. At 500 Hz that is input samples ``5j - 2 .. 5j + 2``; the first model
    sample of a record-start window has only 3 of them, and the last 2 input samples, nearer to
    a sample after the window, get zero. When the model is faster than the input, each model
    sample inside the record is added to its nearest input sample.
    (Before session 6 input sample ``i`` took model sample ``floor(i * model_fs / fs)``, which put
    a 500 Hz map 2 samples, 4 ms, late: docs/grounding.md, "Session 6".)
    """
    n_model = model_values.shape[1]
    out = np.zeros((model_values.shape[0], n_input), dtype=np.float64)
    if model_fs_hz <= fs_hz:
        owner = _nearest_index(np.arange(n_input) * model_fs_hz / fs_hz) - offset
        inside = (owner >= 0) & (owner < n_model)
        counts = np.bincount(owner[inside], minlength=n_model).astype(np.float64)
        share = np.divide(model_values, counts, out=np.zeros(model_values.shape), where=counts > 0)
        out[:, inside] = share[:, owner[inside]]
    else:
        at = (np.arange(n_model) + offset) * fs_hz / model_fs_hz
        inside = (np.floor(at) >= 0) & (np.floor(at) < n_input)  # model samples within the record
        target = np.clip(_nearest_index(at), 0, n_input - 1)
        for row in range(model_values.shape[0]):
            np.add.at(out[row], target[inside], model_values[row, inside])
    return out.astype(np.float32)


def _forward_logit(module: Any) -> Any:
    def forward(inputs: "torch.Tensor") -> "torch.Tensor":
        out = module(inputs)
        return out.reshape(out.shape[0], -1)[:, 0]

    return forward


_GRADIENT_MODULES: dict[int, tuple[Any, tuple[int, ...], Any]] = {}


def gradient_module(module: Any) -> Any:
    """``module`` with every convolution + batch-norm pair folded into one convolution, for the
    many forward/backward passes of an attribution (eval-mode arithmetic: the same function up
    to float rounding, about a third fewer operations to differentiate). Cached per module and
    rebuilt when its weights change; the module itself when it is training or cannot be traced."""
    import torch

    if not isinstance(module, torch.nn.Module) or module.training:
        return module
    versions = tuple(t._version for t in (*module.parameters(), *module.buffers()))
    hit = _GRADIENT_MODULES.get(id(module))
    if hit is not None and hit[0] is module and hit[1] == versions:
        return hit[2]
    try:
        fused = _fold_batch_norms(module)  # a traced copy; the module itself is untouched
    except Exception:  # untraceable custom module (data-dependent control flow): use it as is
        fused = module
    while len(_GRADIENT_MODULES) >= 8:
        _GRADIENT_MODULES.pop(next(iter(_GRADIENT_MODULES)), None)
    _GRADIENT_MODULES[id(module)] = (module, versions, fused)
    return fused


DEFAULT_IG_STEPS = 8
"""Gauss-Legendre steps of IG when none is given: the smallest count whose maps reach a mean cosine
similarity >= 0.99 to 256-step maps for all four disease heads on 60 PTB-XL fold-9 records
(development split; low-pass baseline; docs/grounding.md "Choosing the IG step count"). Was 32."""
COMPLETENESS_TOLERANCE = 0.05
"""Relative completeness tolerance T of ``explain`` (docs/grounding.md "IG completeness", fixed from
the definition before implementing): a map is complete enough when |sum(map) - path change| <= T x
|path change| or <= ``COMPLETENESS_ABS_TOLERANCE``; a map that misses it is redone with twice the steps."""
COMPLETENESS_ABS_TOLERANCE = 0.01
"""Absolute completeness error (logit units) that always counts as complete: the relative error of a
change near zero means nothing, and 0.01 logit moves the probability by at most 0.0025."""
COMPLETENESS_PASS_CHOICE = "smallest-error"
"""Which pass of the adaptive loop a map keeps: since the session-10 amendment the pass with the smallest
completeness error (``"last"`` before it). Part of ``variant_fingerprint``, so ``ecgqa eval xai`` does
not reuse rows computed under the old choice (they differ only for maps that never met the tolerance)."""
MAX_IG_POINTS = 256
"""Gradient points (``path_points``: paths x points per path) the adaptive loop allows in one pass:
it doubles the steps only while the next pass stays within this (fixed from cost, ~5 ms CPU per point
here: ~1.3 s for a 256-point pass; measured for the whole chain of one map, 274 maps: at most 3.18 s
CPU, MI on PTB Diagnostic s0010_re at 128 steps, one thread, machine load ~4.5; docs/grounding.md
"IG completeness")."""


def _fold_batch_norms(module: Any) -> Any:
    """A traced copy of an eval-mode ``module`` with each batch norm that only follows a
    convolution folded into that convolution's weights and bias. The trace shares the module's
    leaf layers; folded convolutions are new layers set on the trace's own containers, so
    ``module`` itself is never changed (and no deep copy of it is needed)."""
    import torch
    from torch import fx
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    traced = fx.symbolic_trace(module)
    modules = dict(traced.named_modules())
    calls: dict[str, int] = {}  # a convolution called at several places must not be folded twice
    for node in traced.graph.nodes:
        if node.op == "call_module":
            calls[str(node.target)] = calls.get(str(node.target), 0) + 1
    convs = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    for node in list(traced.graph.nodes):
        bn = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(bn, torch.nn.modules.batchnorm._BatchNorm) or bn.running_mean is None:
            continue
        source = node.args[0]
        if not (isinstance(source, fx.Node) and source.op == "call_module"
                and isinstance(modules.get(source.target), convs) and len(source.users) == 1
                and calls[str(source.target)] == 1 and calls[str(node.target)] == 1):
            continue
        folded = fuse_conv_bn_eval(modules[source.target], bn)
        parent, _, name = str(source.target).rpartition(".")
        setattr(traced.get_submodule(parent) if parent else traced, name, folded)
        modules[source.target] = folded
        node.replace_all_uses_with(source)
        traced.graph.erase_node(node)
    traced.graph.lint()
    traced.recompile()
    traced.delete_all_unused_submodules()
    return traced.eval()


IG_THREADS_ENV = "ECGQA_IG_THREADS"
"""Torch intra-op threads of the attribution passes (default 1; 0 = keep torch's own setting)."""


@contextmanager
def attribution_threads() -> Iterator[None]:
    """Run the attribution passes on ``ECGQA_IG_THREADS`` torch threads (default 1), restoring
    torch's setting afterwards. Measured here (2 cores, MI head, 8 steps): with one other busy
    process on the machine, torch's 2 OpenMP threads took 3.5 s per IG map against 0.067 s on one
    thread (the threads wait on each other at every operation); at load 4, 0.48 s against 0.08 s.
    The batches of a single map are too small for a second thread to pay off reliably."""
    import os

    import torch

    value = os.environ.get(IG_THREADS_ENV, "1")
    try:
        wanted = int(value)
    except ValueError as exc:
        raise UsageError(f"{IG_THREADS_ENV} must be a whole number (0 = torch's setting), got {value!r}") from exc
    current = torch.get_num_threads()
    if wanted <= 0 or wanted == current:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(current)


IG_POINTS_PER_PASS = 32
"""Path points per forward/backward pass of ``integrated_gradients`` (times the batch size)."""


def integrated_gradients(module: Any, inputs: "torch.Tensor", baseline: "torch.Tensor",
                         n_steps: int) -> "torch.Tensor":
    """Integrated Gradients of the logit of ``module`` from ``baseline`` to ``inputs`` (both
    (batch, leads, samples)) with ``n_steps`` Gauss-Legendre points: the same points, weights and
    sum as captum's ``IntegratedGradients(method="gausslegendre")``, without its extra forward
    passes (the caller has the end-point logits for the completeness check)."""
    import torch

    nodes, weights = np.polynomial.legendre.leggauss(n_steps)  # captum's gausslegendre, rescaled to [0, 1]
    # (not imported from captum: importing any captum module imports matplotlib and its LLM tools)
    alpha = torch.tensor((0.5 * (1 + nodes)).tolist(), dtype=inputs.dtype)
    weight = torch.tensor((0.5 * weights).tolist(), dtype=inputs.dtype)
    x, base = inputs.detach(), baseline.detach().to(inputs.dtype)
    diff = x - base
    forward = _forward_logit(module)
    total = torch.zeros_like(x)
    with torch.enable_grad():  # callers may be inside torch.no_grad()
        for start in range(0, n_steps, IG_POINTS_PER_PASS):
            a = alpha[start:start + IG_POINTS_PER_PASS].view(-1, 1, 1, 1)
            path = (base.unsqueeze(0) + a * diff.unsqueeze(0)).reshape(-1, *x.shape[1:]).requires_grad_(True)
            (grad,) = torch.autograd.grad(forward(path).sum(), path)
            w = weight[start:start + IG_POINTS_PER_PASS].view(-1, 1, 1, 1)
            total += (grad.reshape(a.shape[0], *x.shape) * w).sum(dim=0)
    return total * diff


IG_ITEMS_PER_PASS_POINTS = 64
"""Path points per pass of ``multi_reference_ig`` (input-reference pairs x steps)."""


def multi_reference_ig(module: Any, inputs: "torch.Tensor", references: "torch.Tensor",
                       n_steps: int) -> "torch.Tensor":
    """Mean over references of IG from each reference: ``inputs`` (batch, leads, samples),
    ``references`` (batch, k, leads, samples). Expected gradients with the path integral taken by
    Gauss-Legendre quadrature (deterministic): sums to ``logit(x) - mean_k logit(reference_k)``."""
    import torch

    batch, k = references.shape[:2]
    pairs_x = inputs.detach().repeat_interleave(k, dim=0)
    pairs_ref = references.detach().reshape(batch * k, *references.shape[2:])
    return paired_ig(module, pairs_x, pairs_ref, n_steps).reshape(batch, k, *inputs.shape[1:]).mean(dim=1)


def paired_ig(module: Any, inputs: "torch.Tensor", baselines: "torch.Tensor", n_steps: int) -> "torch.Tensor":
    """Straight-line IG of each (input, baseline) pair, both (n, leads, samples), in passes of
    ``IG_ITEMS_PER_PASS_POINTS // n_steps`` pairs; returns (n, leads, samples)."""
    import torch

    per_pass = max(1, IG_ITEMS_PER_PASS_POINTS // n_steps)
    return torch.cat([integrated_gradients(module, inputs[i:i + per_pass], baselines[i:i + per_pass], n_steps)
                      for i in range(0, inputs.shape[0], per_pass)])


def _ig_variant(module: Any, inputs: "torch.Tensor", baseline: "torch.Tensor", kind: str,
                n_steps: int, fs_hz: float, seed: int) -> "torch.Tensor":
    """IG map of ``kind`` (``IG_VARIANTS``) from ``baseline`` (the kind's start / references)."""
    from . import _paths

    _, points = path_points(kind, n_steps)
    if kind in BLUR_SIGMA_MAX_S:
        return _paths.blur_ig(module, inputs, fs_hz, BLUR_SIGMA_MAX_S[kind], points)
    if kind == "lowpass-smooth":
        return _paths.smooth_ig(module, inputs, baseline, SMOOTH_DRAWS, SMOOTH_NOISE_SD, points, seed)
    if kind == "guided":
        return _paths.guided_ig(module, inputs, baseline, points, GUIDED_FRACTION)
    if kind == "expected-smooth":  # IG from every reference to each noisy copy, averaged
        return _paths.smooth_expected_ig(module, inputs, baseline, EXPECTED_SMOOTH_DRAWS, SMOOTH_NOISE_SD,
                                         points, seed)
    if kind == "expected-normal":  # weighted: the template, then the normal references
        w = TEMPLATE_WEIGHT
        return (w * integrated_gradients(module, inputs, baseline[:, 0], points)
                + (1 - w) * multi_reference_ig(module, inputs, baseline[:, 1:], points))
    if baseline.dim() == inputs.dim() + 1:  # (batch, references, ...): IG averaged over them
        return multi_reference_ig(module, inputs, baseline, points)
    return integrated_gradients(module, inputs, baseline, points)


def _attribute(module: Any, inputs: "torch.Tensor", method: Method, n_steps: int,
               n_samples: int, seed: int,
               ig_baseline: "torch.Tensor | None" = None,
               logit_change: "np.ndarray | None" = None, kind: str = "flat",
               fs_hz: float = 100.0) -> tuple["torch.Tensor", "torch.Tensor | None"]:
    import torch

    module = gradient_module(module)
    forward = _forward_logit(module)
    baseline = torch.zeros_like(inputs)
    if method == "ig":
        baseline = baseline if ig_baseline is None else ig_baseline
        attr = _ig_variant(module, inputs, baseline, kind, n_steps, fs_hz, seed)
        if logit_change is None:
            refs = baseline.detach().reshape(-1, *inputs.shape[1:])
            with torch.inference_mode():
                ends = forward(torch.cat([inputs.detach(), refs]))
            per_ref = ends[len(inputs):].reshape(len(inputs), -1)
            weights = torch.from_numpy(reference_weights(kind, per_ref.shape[1])).to(per_ref.dtype)
            base_logits = (per_ref * weights).sum(dim=1)
            logit_change = (ends[:len(inputs)] - base_logits).numpy()
        sums = attr.detach().double().sum(dim=tuple(range(1, attr.dim())))
        return attr, sums - torch.from_numpy(np.asarray(logit_change, dtype=np.float64))
    if method == "gradshap":
        from captum.attr import GradientShap

        background = gradshap_background(inputs if ig_baseline is None else ig_baseline, inputs, kind)
        numpy_state = np.random.get_state()  # captum draws the path coefficients with numpy
        parts = []
        try:
            for i in range(len(inputs)):  # references belong to one ECG: one GradientSHAP call each
                with torch.random.fork_rng():
                    torch.manual_seed(seed)
                    np.random.seed(seed)
                    item = inputs[i:i + 1]
                    stdevs = float(0.1 * item.std().item()) or 0.1
                    parts.append(GradientShap(forward).attribute(item, baselines=background[i], n_samples=n_samples,
                                                                 stdevs=stdevs))
        finally:
            np.random.set_state(numpy_state)
        return torch.cat(parts), None
    if method == "saliency":
        from captum.attr import Saliency

        return Saliency(forward).attribute(inputs, abs=True), None
    raise UsageError(f"unknown attribution method {method!r}; expected one of {', '.join(METHODS)}")


NOISE_TUNNELS: dict[str, int] = {"expected-smooth": EXPECTED_SMOOTH_DRAWS, "lowpass-smooth": SMOOTH_DRAWS}
"""IG variants whose paths end at seeded noisy copies of the input (SmoothGrad), and how many copies."""


def path_end_logits(forward: Callable[["torch.Tensor"], "torch.Tensor"], inputs: "torch.Tensor", kind: str,
                    seed: int) -> np.ndarray | None:
    """Per input, the mean logit at the end points of the integration paths of ``kind`` when they
    are not the input itself: the seeded noisy copies of the noise tunnels (``NOISE_TUNNELS``; the
    same draws as the map, ``_paths.noise_draws``), in one forward pass. ``None`` for every other
    variant (its paths end at the input, whose logit the caller has)."""
    import torch

    from ._paths import noise_draws

    draws = NOISE_TUNNELS.get(kind)
    if draws is None:
        return None
    noise = torch.from_numpy(noise_draws(draws, SMOOTH_NOISE_SD, tuple(inputs.shape[1:]), seed))
    noisy = (inputs.detach().unsqueeze(1) + noise.unsqueeze(0)).reshape(-1, *inputs.shape[1:])
    with torch.inference_mode():
        out = forward(noisy).numpy().astype(float)
    return out.reshape(len(inputs), draws).mean(axis=1)


def completeness(map_sums: np.ndarray, path_change: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relative, absolute) completeness errors of IG maps whose totals are ``map_sums`` for the
    logit changes ``path_change`` along their paths: |sum - change| / |change| (0 when both are 0,
    ``inf`` when only the change is) and |sum - change| (logit units)."""
    sums = np.asarray(map_sums, dtype=np.float64)
    change = np.asarray(path_change, dtype=np.float64)
    absolute = np.abs(sums - change)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(absolute == 0, 0.0, absolute / np.abs(change))
    return relative, absolute


def completeness_met(relative: np.ndarray, absolute: np.ndarray, tolerance: float) -> np.ndarray:
    """Whether each map meets the completeness rule: relative error <= ``tolerance`` or absolute
    error <= ``COMPLETENESS_ABS_TOLERANCE`` (docs/grounding.md "IG completeness")."""
    return (np.asarray(absolute) <= COMPLETENESS_ABS_TOLERANCE) | (np.asarray(relative) <= tolerance)


def _map_sums(attr: "torch.Tensor") -> np.ndarray:
    return attr.detach().double().sum(dim=tuple(range(1, attr.dim()))).numpy()


@dataclass(frozen=True)
class _Completed:
    """IG maps of one group after the adaptive completeness loop (``_adaptive_ig``)."""

    attr: "torch.Tensor"
    delta: "torch.Tensor"
    steps: np.ndarray
    relative: np.ndarray
    absolute: np.ndarray
    met: np.ndarray | None


def _adaptive_ig(module: Any, inputs: "torch.Tensor", attr: "torch.Tensor", delta: "torch.Tensor",
                 path_change: np.ndarray, logit_change: np.ndarray, base_input: "torch.Tensor", kind: str,
                 n_steps: int, seed: int, fs_hz: float, tolerance: float | None) -> _Completed:
    """The adaptive completeness rule (docs/grounding.md "IG completeness", with its session-10
    amendment): each map of the first pass (``attr``, ``n_steps``) that misses ``tolerance`` is
    recomputed alone with twice the steps, again while its last pass misses, as long as the next pass
    has at most ``MAX_IG_POINTS`` gradient points (``path_points``); each map keeps its pass with the
    smallest completeness error (the earliest on a tie: a redo never makes completeness worse). A
    map whose error is not finite (NaN or infinite logit or map sum) is not redone. Maps that meet
    the tolerance are left as they are (bit-identical to the first pass); ``tolerance=None`` only
    measures."""
    import torch

    relative, absolute = completeness(_map_sums(attr), path_change)
    steps = np.full(len(inputs), n_steps, dtype=int)
    if tolerance is None:
        return _Completed(attr, delta, steps, relative, absolute, None)
    met = completeness_met(relative, absolute, tolerance)
    pending = ~met & np.isfinite(absolute)  # maps whose last pass missed and can still improve
    n = n_steps
    while pending.any():
        paths, points = path_points(kind, 2 * n)
        if paths * points > MAX_IG_POINTS:
            break
        repeated = (paths, points) == path_points(kind, n)
        n *= 2
        if repeated:  # the same gradient points as the last pass (lowpass-multi/-smooth from 2 steps): the
            continue  # same maps, which the smallest-error rule would not take; not recomputed
        redo = np.flatnonzero(pending)
        index = torch.from_numpy(redo)
        new_attr, new_delta = _attribute(module, inputs[index].clone().requires_grad_(True), "ig", n, 1, seed,
                                         ig_baseline=base_input[index], logit_change=logit_change[redo],
                                         kind=kind, fs_hz=fs_hz)
        new_relative, new_absolute = completeness(_map_sums(new_attr), path_change[redo])
        better = new_absolute < absolute[redo]  # False for NaN: the earlier pass is kept
        if better.any():
            keep, take = redo[better], torch.from_numpy(np.flatnonzero(better))
            attr, delta = attr.detach().clone(), delta.clone()
            attr[torch.from_numpy(keep)], delta[torch.from_numpy(keep)] = new_attr.detach()[take], new_delta[take]
            relative[keep], absolute[keep], steps[keep] = new_relative[better], new_absolute[better], n
            met[keep] = completeness_met(relative[keep], absolute[keep], tolerance)
        pending[redo] = ~completeness_met(new_relative, new_absolute, tolerance) & np.isfinite(new_absolute)
    return _Completed(attr, delta, steps, relative, absolute, met)


def gradshap_background(references: "torch.Tensor", inputs: "torch.Tensor", kind: str) -> "torch.Tensor":
    """GradientSHAP background of each input: (batch, rows, leads, samples) drawn uniformly by
    captum. The references IG uses for ``kind`` (``make_references``; ``references`` is
    (batch, leads, samples) for one reference or (batch, k, leads, samples)), so both methods
    explain the logit against the same distribution; for ``expected-normal`` the template is
    repeated so that a uniform draw gives it ``TEMPLATE_WEIGHT`` (``reference_weights``). When
    ``references`` is ``inputs`` itself (no IG baseline given), the flat line."""
    import torch

    if references is inputs:
        return torch.zeros_like(inputs).unsqueeze(1)
    refs = references.detach()
    if refs.dim() == inputs.dim():
        return refs.unsqueeze(1)
    if kind == "expected-normal" and refs.shape[1] > 2:
        template = refs[:, :1].expand(-1, refs.shape[1] - 1, *refs.shape[2:])
        return torch.cat([template, refs[:, 1:]], dim=1)
    return refs


def resolve_model(disease: str, model: Any = None) -> Any:
    """The given model, or the shipped disease model of ``disease`` (``load_disease_model``)."""
    if model is not None:
        return model
    try:
        from ..encoders import load_disease_model  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ModelError(
            "no disease model available: ecgqa_tools.encoders.load_disease_model is missing"
        ) from exc
    return load_disease_model(disease)


def explain_batch(ecgs: Sequence[ECG], disease: str, method: Method = "ig", *, model: Any = None,
                  n_steps: int = DEFAULT_IG_STEPS, n_samples: int = 32, batch_size: int = 16,
                  seed: int = 0, baseline: BaselineKind | None = None,
                  completeness_tolerance: float | None = COMPLETENESS_TOLERANCE) -> list[Attribution]:
    """Attribution maps for several ECGs at once (one map per ECG, each at its own rate).

    ``model`` is any object with ``.module`` (torch module: (batch, 12, samples) -> logit) and
    ``.preprocess(ecg) -> (12, samples)``; by default the shipped model of ``disease``.
    ``n_steps``: IG integration steps (Gauss-Legendre); ``n_samples``: GradientSHAP draws.
    ``baseline``: IG baseline (``BASELINES``, see ``make_baseline`` / ``make_references``) or path
    variant (``PATHS``: ``blur``, ``blur-wide``, ``lowpass-multi``, ``lowpass-smooth``, ``guided``;
    ``path_points`` gives their cost); None = the head's default (``default_baseline(disease)``).
    GradientSHAP draws its baselines from the same references (``gradshap_background``; pass
    ``baseline="flat"`` for the flat line, the definition before session 4) and saliency has none.
    ``completeness_tolerance``: IG maps whose relative completeness error exceeds it (and whose
    absolute error exceeds ``COMPLETENESS_ABS_TOLERANCE``) are redone with twice the steps while a
    pass stays within ``MAX_IG_POINTS`` gradient points (docs/grounding.md "IG completeness"); the
    result's ``n_steps``, ``completeness_error`` and ``completeness_met`` say how it ended. ``None``:
    one pass at ``n_steps`` (the behaviour before session 10), errors still reported.
    """
    import torch

    if isinstance(ecgs, (ECG, np.ndarray)) or not isinstance(ecgs, Sequence):
        raise UsageError(f"explain_batch takes a sequence of ECGs, got {type(ecgs).__name__} (explain takes one ECG)")
    ecgs = [require_ecg(ecg, "explain") for ecg in ecgs]
    if method not in METHODS:
        raise UsageError(f"unknown attribution method {method!r}; expected one of {', '.join(METHODS)}")
    kind_of: BaselineKind = default_baseline(disease) if baseline is None else baseline
    if kind_of not in IG_VARIANTS:
        raise UsageError(f"unknown IG baseline {baseline!r}; expected one of {', '.join(IG_VARIANTS)}")
    if n_steps < 2 or n_samples < 1 or batch_size < 1:
        raise UsageError(f"n_steps must be >= 2, n_samples and batch_size >= 1; got {n_steps}, "
                         f"{n_samples}, {batch_size}")
    if completeness_tolerance is not None and not (isinstance(completeness_tolerance, numbers.Real)
                                                   and not isinstance(completeness_tolerance, (bool, np.bool_))
                                                   and completeness_tolerance > 0):
        raise UsageError(f"completeness_tolerance must be a positive number or None, got {completeness_tolerance!r}")
    model = resolve_model(disease, model)
    module = model.module
    module.eval()
    standard = [to_standard_leads(ecg) for ecg in ecgs]
    arrays = [np.asarray(model.preprocess(ecg), dtype=np.float32) for ecg in standard]
    results: list[Attribution] = []
    for start in range(0, len(arrays), batch_size):
        chunk = arrays[start:start + batch_size]
        shapes = {a.shape for a in chunk}
        groups = [[a] for a in chunk] if len(shapes) > 1 else [chunk]
        maps: list[np.ndarray] = []
        deltas: list[float | None] = []
        flats: list[bool] = []
        checks: list[FlatCheck] = []
        logits: list[float] = []
        base_logits: list[float | None] = []
        done: list[tuple[int, float, float, bool | None] | None] = []  # IG: steps, errors, met
        for group in groups:
            inputs = torch.from_numpy(np.stack(group))
            forward = _forward_logit(module)
            kind = "flat" if method == "saliency" else kind_of  # GradientSHAP: the same references as IG
            group_fs = _model_rate(model, standard[start], inputs.shape[2])
            references = torch.from_numpy(make_references(inputs.numpy(), kind, group_fs))
            n_refs = references.shape[1]
            base_input = references[:, 0] if n_refs == 1 else references
            with attribution_threads():
                with torch.inference_mode():  # both end points (every reference) in one forward pass
                    flat_refs = references.reshape(-1, *inputs.shape[1:])
                    ends = forward(torch.cat([inputs, flat_refs])).numpy().astype(float)
                logit = ends[:len(group)]
                base = ends[len(group):].reshape(len(group), n_refs) @ reference_weights(kind, n_refs)
                attr, delta = _attribute(module, inputs.clone().requires_grad_(True), method,
                                         n_steps, n_samples, seed, ig_baseline=base_input,
                                         logit_change=logit - base, kind=kind, fs_hz=group_fs)
                if method == "ig":
                    ends_path = path_end_logits(forward, inputs, kind, seed)
                    completed = _adaptive_ig(module, inputs, attr, delta,
                                             (logit if ends_path is None else ends_path) - base, logit - base,
                                             base_input, kind, n_steps, seed, group_fs, completeness_tolerance)
                    attr, delta = completed.attr, completed.delta
                    done.extend((int(completed.steps[i]), float(completed.relative[i]), float(completed.absolute[i]),
                                 None if completed.met is None else bool(completed.met[i]))
                                for i in range(len(group)))
                else:
                    done.extend([None] * len(group))
                flat, flat_check = _locally_flat(model, inputs, logit, method, attr)
            flats.extend(bool(f) for f in flat)
            checks.extend([flat_check] * len(group))
            maps.extend(attr.detach().numpy().astype(np.float32))
            deltas.extend([float(d) for d in delta.detach().numpy()] if delta is not None
                          else [None] * len(group))
            logits.extend(logit.tolist())
            base_logits.extend(base.tolist() if method != "saliency" else [None] * len(group))
        for offset_in_chunk, model_map in enumerate(maps):
            ecg = standard[start + offset_in_chunk]
            model_fs = _model_rate(model, ecg, model_map.shape[1])
            offset = _alignment(ecg.n_samples, ecg.fs_hz, model_fs, model_map.shape[1])
            values = to_input_rate(model_map, ecg.n_samples, ecg.fs_hz, model_fs, offset)
            logit_value = logits[offset_in_chunk]
            results.append(Attribution(
                values=values, lead_names=STANDARD_LEADS, fs_hz=ecg.fs_hz, disease=disease,
                method=method, probability=float(1.0 / (1.0 + np.exp(-logit_value))),
                logit=logit_value, baseline_logit=base_logits[offset_in_chunk],
                convergence_delta=deltas[offset_in_chunk], model_values=model_map,
                model_fs_hz=model_fs, model_offset=offset,
                baseline=("none (gradient only)" if method == "saliency"
                          else BASELINE_DESCRIPTIONS[kind_of] if method == "ig"
                          else "GradientSHAP background: " + BASELINE_DESCRIPTIONS[kind_of]),
                ecg=ecg, threshold=_threshold(model),
                baseline_kind=None if method == "saliency" else kind_of,
                locally_flat=flats[offset_in_chunk], flat_check=checks[offset_in_chunk],
                **_completeness_fields(done[offset_in_chunk], completeness_tolerance),
            ))
    return results


def _completeness_fields(done: tuple[int, float, float, bool | None] | None,
                         tolerance: float | None) -> dict[str, Any]:
    """``Attribution`` fields of one IG map's completeness (none for GradientSHAP and saliency)."""
    if done is None:
        return {}
    steps, relative, absolute, met = done
    return {"n_steps": steps, "completeness_error": relative, "completeness_abs_error": absolute,
            "completeness_tolerance": None if tolerance is None else float(tolerance), "completeness_met": met}


def explain(ecg: ECG, disease: str, method: Method = "ig", *, model: Any = None,
            n_steps: int = DEFAULT_IG_STEPS, n_samples: int = 32, seed: int = 0,
            baseline: BaselineKind | None = None,
            completeness_tolerance: float | None = COMPLETENESS_TOLERANCE) -> Attribution:
    """Attribution map of one disease head on one ECG: (12, samples) at the ECG's own rate.

    ``method``: ``ig`` (Integrated Gradients, the default), ``gradshap`` (GradientSHAP) or
    ``saliency`` (|d logit / d input|). ``baseline``: IG baseline, one of ``IG_VARIANTS``; None
    (default) = the head's default, ``DEFAULT_BASELINE_BY_DISEASE`` (``lowpass`` for other heads).
    ``completeness_tolerance``: the adaptive IG step rule (``explain_batch``; None = fixed steps).
    """
    return explain_batch([require_ecg(ecg, "explain")], disease, method, model=model, n_steps=n_steps,
                         n_samples=n_samples, seed=seed, baseline=baseline,
                         completeness_tolerance=completeness_tolerance)[0]


def cosine_similarity(a: Attribution, b: Attribution) -> float:
    """Cosine similarity of two maps of the same ECG (flattened), in [-1, 1]."""
    if a.values.shape != b.values.shape:
        raise UsageError(f"maps differ in shape: {a.values.shape} vs {b.values.shape}")
    x, y = a.values.ravel().astype(np.float64), b.values.ravel().astype(np.float64)
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / norm) if norm > 0 else 0.0


def predict_logits(model: Any, inputs: np.ndarray) -> np.ndarray:
    """Logits of ``model`` on a (batch, 12, samples) array of preprocessed inputs."""
    import torch

    with torch.no_grad():
        out = _forward_logit(model.module)(torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)))
    return out.numpy().astype(float)
