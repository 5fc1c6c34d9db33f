"""Public inference API: the disease models, the attribute model and the age/sex model.

Every function takes an ``ECG`` (any rate, any lead order with the 12 standard leads), preprocesses
it exactly as in training and runs the shipped ONNX model with onnxruntime (``backend="torch"``
runs the torch module instead; both agree to 1e-4).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import ModelError, RecordError, UsageError
from ..records import ECG, read_note_kind, require_ecg
from ._cards import ModelCard
from ._flat import HeadConstant, flat_head_note, is_flat_logit, module_head_constant
from ._labels import DISEASE_NAMES, DISEASES
from ._package import Backend, LoadedModel
from ._preprocess import MODEL_FS_HZ, long_record_warning, preprocess_ecg, short_record_warning


def model_input_warnings(ecg: ECG, name: str | None = None) -> tuple[str, ...]:
    """``ECG.quality()`` findings that can make a model's output wrong (flat or implausible leads,
    missing standard leads) in one line, after one ``reading <name>: <note>`` line per reader note
    that can (``ECG.read_notes``: an assumed rate, a defaulted or negative gain), which is not
    called a lead finding; an ignored ``--fs`` is not a warning (``model_input_notes``).
    ``RecordError`` when every lead is flat (``SignalQuality.all_flat``), since the models still
    give confident-looking probabilities for a flat line. ``name`` is how the messages call the
    record (default: its path or record id). ``UsageError`` when ``ecg`` is not an ``ECG``."""
    ecg = require_ecg(ecg, "model_input_warnings")
    quality = ecg.quality()
    if quality.all_flat:
        raise RecordError(f"every lead of {name or ecg.path or ecg.record_id} is flat (peak-to-peak below 0.01 mV): "
                          f"there is no ECG signal for the models to read")
    notes = quality.reader_notes  # what the reader assumed or followed (a rate, a gain): said as such,
    # not as a lead finding (an ignored --fs read "outputs resting on these leads may be wrong", review s8 S5)
    found = [line for line in quality.problems() if not line.startswith("non-standard") and line not in notes]
    lines = tuple(f"reading {name or ecg.record_id}: {note}" for note in notes
                  if read_note_kind(note) != "info")  # info notes are plain notes (model_input_notes)
    if not found:
        return lines
    return lines + (f"signal quality of {name or ecg.record_id}: {'; '.join(found)}; outputs resting on these leads "
                    "may be wrong",)


def model_input_notes(ecg: ECG, name: str | None = None) -> tuple[str, ...]:
    """One ``reading <name>: <note>`` line per reader note that is information only, not a doubt
    about the outputs: a ``--fs``/``fs_hz`` ignored because the record states its own rate
    (``SignalQuality.ignored_rate_notes``). Shown as plain notes, like ``ecgqa info`` and
    ``ecgqa measure`` show reader notes; ``model_input_warnings`` has the rest."""
    ecg = require_ecg(ecg, "model_input_notes")
    return tuple(f"reading {name or ecg.record_id}: {note}" for note in ecg.ignored_rate_notes)  # no signal pass


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


DISEASE_WEIGHT_SETS: Mapping[str, str] = MappingProxyType({"ptbxl-folds": "", "ecgqa-split": "_ecgqa"})
"""Named sets of shipped disease weights -> file-name suffix. ``ptbxl-folds`` (``disease_<code>``,
the default): trained on PTB-XL strat_fold 1-8, selected on fold 9. ``ecgqa-split``
(``disease_<code>_ecgqa``): trained on ECG-QA's ptbxl train ECGs, selected on its valid ECGs, so it
never saw an ECG-QA test ECG (what the ECG-QA benchmark uses)."""

_ACTIVE_DISEASE_WEIGHTS: ContextVar[str] = ContextVar("ecgqa_disease_weights", default="ptbxl-folds")


def check_disease_weights(weights: str) -> str:
    """``weights`` if it names a set in ``DISEASE_WEIGHT_SETS``, else ``UsageError``."""
    if weights not in DISEASE_WEIGHT_SETS:
        raise UsageError(f"unknown disease weight set {weights!r}; expected one of {', '.join(DISEASE_WEIGHT_SETS)}")
    return weights


def active_disease_weights() -> str:
    """The weight set ``load_disease_model`` / ``predict_diseases`` use when given none."""
    return _ACTIVE_DISEASE_WEIGHTS.get()


@contextmanager
def use_disease_weights(weights: str) -> Iterator[str]:
    """Within the block, every ``load_disease_model``/``predict_diseases`` call without ``weights=``
    (including those made by the ``llm`` tools and ``grounding.explain``) uses ``weights``."""
    token = _ACTIVE_DISEASE_WEIGHTS.set(check_disease_weights(weights))
    try:
        yield weights
    finally:
        _ACTIVE_DISEASE_WEIGHTS.reset(token)


class DiseaseModel(LoadedModel):
    """One shipped per-disease model.

    ``.module``: torch ``nn.Module`` taking (batch, 12, 1000) preprocessed input -> logits (batch,);
    ``.preprocess(ecg)`` -> (12, 1000) float32; ``.card``: its ``ModelCard``; ``.threshold``: the
    probability cut-off chosen on the validation split (Youden's J); ``.weights``: its weight set.
    """

    fs_hz: float = MODEL_FS_HZ

    def __init__(self, disease: str, directory: Any = None, weights: str = "ptbxl-folds") -> None:
        if disease not in DISEASES:
            raise UsageError(f"unknown disease {disease!r}; expected one of {', '.join(DISEASES)}")
        super().__init__(f"disease_{disease}{DISEASE_WEIGHT_SETS[check_disease_weights(weights)]}", directory)
        self.disease = disease
        self.weights = weights

    @staticmethod
    def preprocess(ecg: ECG) -> np.ndarray:
        """(12, 1000) float32 model input (see ``encoders.preprocess_ecg``)."""
        return preprocess_ecg(ecg)

    @property
    def threshold(self) -> float:
        return float(self.card.metrics.get("threshold", 0.5))

    def predict_proba(self, inputs: np.ndarray, backend: Backend = "onnx") -> np.ndarray:
        """Probabilities (records,) for preprocessed inputs (records, 12, 1000)."""
        return _sigmoid(self.predict_logits(inputs, backend)).reshape(-1)

    def head_constant(self, backend: Backend = "onnx") -> HeadConstant | None:
        """The logit the head gives when every hidden unit of every ensemble member is inactive
        (the mean of the members' final biases): the card's ``ModelCard.head_constant``, computed
        from the parameters when the model was saved. The ``.onnx`` is exported from those same
        parameters, so it is the constant of both backends (``backend`` is accepted for callers
        that name one). None when the card records that the network has none (resnet12, several
        outputs: ``ModelCard.head_constant_computed``), without reading the weights. A card written
        before session 10 has no record: the constant is then computed once from the ``.pt``
        parameters (imports torch), and is None when that fallback cannot read the weights
        (``flat_check_note`` says why)."""
        return self._head_constant[0]

    @cached_property
    def _head_constant(self) -> tuple[HeadConstant | None, str]:
        """(``head_constant``, why the fallback failed: "" unless it did)."""
        if self.card.head_constant is not None or self.card.head_constant_computed:
            return self.card.head_constant, ""
        try:
            return self.parameter_head_constant(), ""
        except (ModelError, ImportError) as exc:
            return None, str(exc)

    def parameter_head_constant(self) -> HeadConstant | None:
        """The head constant computed from the torch module's parameters now, whatever the card
        says (``encoders._flat``; what ``save_model`` stores and the shipped cards are checked against)."""
        return module_head_constant(self.module, self.card.hparams.get("select_output"))

    @property
    def flat_check_note(self) -> str | None:
        """Why this model has no flat-head check though it may need one (an old card whose weights
        cannot be read), else None; ``predict_diseases`` adds it to ``DiseasePrediction.notes``."""
        reason = self._head_constant[1]
        if not reason:
            return None
        return (f"{self.disease}: flat-head check unavailable (model card {self.name} has no head_constant and "
                f"the weights could not be read: {reason})")

    def flat_logits(self, logits: np.ndarray, backend: Backend = "onnx") -> np.ndarray:
        """(records,) bool: the logit is the head's constant output (``head_constant``, within its
        tolerance), i.e. the head is flat at that ECG: every hidden unit inactive in every member."""
        constant = self.head_constant(backend)
        return np.array([is_flat_logit(v, constant) for v in np.asarray(logits).reshape(-1)], dtype=bool)


def load_disease_model(disease: str, weights: str | None = None) -> DiseaseModel:
    """The shipped model of ``disease`` (one of ``DISEASES``) from the weight set ``weights`` (see
    ``DISEASE_WEIGHT_SETS``; default: the active set, ``ptbxl-folds`` unless inside
    ``use_disease_weights``), cached."""
    return _load_disease_model(disease, check_disease_weights(weights or active_disease_weights()))


@lru_cache(maxsize=None)
def _load_disease_model(disease: str, weights: str) -> DiseaseModel:
    return DiseaseModel(disease, weights=weights)


@dataclass(frozen=True)
class DiseasePrediction:
    """The four disease models' outputs for one ECG."""

    probabilities: Mapping[str, float]
    """Disease code (MI, STTC, CD, HYP) -> model probability in [0, 1] (not calibrated)."""
    thresholds: Mapping[str, float]
    """Disease code -> cut-off chosen on the validation fold (Youden's J)."""
    versions: Mapping[str, str]
    """Disease code -> version of the model that produced it."""
    record_id: str = ""
    """Id of the ECG the prediction is about."""
    warnings: tuple[str, ...] = ()
    """Signal-quality findings (``ECG.quality()``: flat/implausible leads, missing standard leads;
    a record shorter than ``MIN_MODEL_SECONDS``) that can make the probabilities wrong; empty when
    none was found."""
    notes: tuple[str, ...] = ()
    """Information about how the record was read that does not put the probabilities in doubt
    (``model_input_notes``: an ignored ``--fs``; ``DiseaseModel.flat_check_note`` when a head's
    flat check is unavailable); ``summary`` prints them as ``note:`` lines."""
    flat_heads: tuple[str, ...] = ()
    """Disease codes whose head is flat at this ECG: its logit is the head's constant output (the
    mean of the ensemble members' final biases, given when every hidden unit of every member's head
    is inactive), so the probability is that constant, not a graded response to the signal
    (``DiseaseModel.head_constant``; docs/encoders.md "Flat heads"). ``flat_notes`` words it."""

    @property
    def flat_notes(self) -> tuple[str, ...]:
        """One ``flat_head_note`` per code of ``flat_heads`` (a note, not a warning)."""
        return tuple(flat_head_note(code, self.probabilities[code]) for code in self.flat_heads)

    @property
    def positive(self) -> tuple[str, ...]:
        """Codes whose probability reaches its threshold."""
        return tuple(d for d in self.probabilities if self.probabilities[d] >= self.thresholds[d])

    def summary(self) -> str:
        """One line per disease: code, name, probability, threshold, call."""
        lines = []
        for code, p in self.probabilities.items():
            call = "positive" if p >= self.thresholds[code] else "negative"
            lines.append(f"{code:<5} {DISEASE_NAMES[code]:<24} p={p:.3f}  threshold {self.thresholds[code]:.3f}  {call}")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        lines.extend(f"note: {n}" for n in self.notes + self.flat_notes)
        return "\n".join(lines)


def predict_diseases(ecg: ECG, diseases: tuple[str, ...] = DISEASES, backend: Backend = "onnx",
                     weights: str | None = None) -> DiseasePrediction:
    """Probabilities of MI, STTC, CD and HYP for one ECG, from its signal (``weights``: as in
    ``load_disease_model``). ``RecordError`` when every lead is flat; other signal-quality findings
    come as ``.warnings``, and so does a record shorter than ``MIN_MODEL_SECONDS`` (the models read
    10 s and zero-pad it; a 1.2 s normal record came out positive for all four diseases), and a
    longer record says which 10 s the models read (``long_record_warning``). A head whose logit is
    its constant output at this ECG is listed in ``.flat_heads`` (no gradient pass: one comparison
    with the constant stored in the model card)."""
    warnings = model_input_warnings(require_ecg(ecg, "predict_diseases"))
    name = ecg.path or ecg.record_id or "the record"
    warnings += tuple(w for w in (short_record_warning(name, ecg.duration_s, "the models read"),
                                  long_record_warning(name, ecg.duration_s)) if w)
    x = preprocess_ecg(ecg)[None]
    probs, thresholds, versions, flat, unavailable = {}, {}, {}, [], []
    for disease in diseases:
        model = load_disease_model(disease, weights)
        logits = model.predict_logits(x, backend).reshape(-1)
        probs[disease] = float(_sigmoid(logits)[0])
        thresholds[disease] = model.threshold
        versions[disease] = model.card.version
        if model.flat_logits(logits, backend)[0]:
            flat.append(disease)
        if model.flat_check_note:
            unavailable.append(model.flat_check_note)
    return DiseasePrediction(MappingProxyType(probs), MappingProxyType(thresholds), MappingProxyType(versions),
                             ecg.record_id, warnings, model_input_notes(ecg) + tuple(unavailable), tuple(flat))


class AttributeModel(LoadedModel):
    """The shipped attribute (ECG-QA upper-bound) model: (batch, 12, 1000) -> logits (batch, classes)."""

    fs_hz: float = MODEL_FS_HZ

    def __init__(self, directory: Any = None) -> None:
        super().__init__("attributes", directory)

    @staticmethod
    def preprocess(ecg: ECG) -> np.ndarray:
        return preprocess_ecg(ecg)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.card.outputs)

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Per-class cut-offs in ``classes`` order: the card's (``ModelCard.class_thresholds``: tuned
        on ECG-QA valid, then the card's ``threshold_rule``), 0.5 when the card has none."""
        values = self.card.class_thresholds()
        return tuple(values[c] for c in self.classes) if values else (0.5,) * len(self.classes)


@lru_cache(maxsize=None)
def load_attribute_model() -> AttributeModel:
    """The shipped attribute model, cached."""
    return AttributeModel()


@dataclass(frozen=True)
class AttributePrediction:
    """The attribute model's outputs for one ECG over the ECG-QA classes learned from the signal."""

    probabilities: Mapping[str, float]
    """ECG-QA class name -> probability in [0, 1]."""
    thresholds: Mapping[str, float]
    """Class name -> cut-off in force (``AttributeModel.thresholds``: F1-tuned on ECG-QA's valid
    ECGs, then the card's threshold rule, e.g. shrunk toward 0.5 for classes with few valid positives)."""
    version: str
    """Version of the attribute model."""
    record_id: str = ""
    """Id of the ECG the prediction is about."""

    @property
    def present(self) -> tuple[str, ...]:
        """Classes whose probability reaches their threshold, most probable first."""
        on = [c for c, p in self.probabilities.items() if p >= self.thresholds[c]]
        return tuple(sorted(on, key=lambda c: -self.probabilities[c]))

    def to_multihot(self, numeric: Mapping[str, str] | None = None, dataset: str = "ptbxl") -> np.ndarray:
        """0/1 vector over all ECG-QA grounding classes of ``dataset`` (numeric-feature classes from
        ``numeric``: feature name -> ``below``/``within``/``above``, e.g. from measurements)."""
        from ..qa import grounding_classes

        present = set(self.present)
        numeric = dict(numeric or {})
        vector = []
        for name in grounding_classes(dataset):
            value = 1.0 if name in present else 0.0
            for feature, word in numeric.items():
                if name == f"{word} the normal range of {feature}":
                    value = 1.0
            vector.append(value)
        return np.array(vector, dtype=np.float32)

    def to_attributes(self, numeric: Mapping[str, str] | None = None, ecg_id: int | None = None) -> Any:
        """``qa.EcgAttributes`` from the thresholded predictions (plus measured numeric ranges)."""
        from ..qa import multihot_to_attributes

        return multihot_to_attributes(self.to_multihot(numeric), "ptbxl", 0.5, ecg_id)

    def summary(self, top: int = 10) -> str:
        ranked = sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:top]
        return "\n".join(
            f"{p:.3f}  {'*' if p >= self.thresholds[c] else ' '} {c}" for c, p in ranked
        )


def predict_attributes(ecg: ECG, backend: Backend = "onnx") -> AttributePrediction:
    """Probabilities of the ECG-QA attribute classes (statements, noise, axis...) for one ECG
    (``RecordError`` when every lead is flat, see ``model_input_warnings``)."""
    model_input_warnings(require_ecg(ecg, "predict_attributes"))
    model = load_attribute_model()
    probs = _sigmoid(model.predict_logits(preprocess_ecg(ecg)[None], backend))[0]
    return AttributePrediction(
        MappingProxyType({c: float(p) for c, p in zip(model.classes, probs)}),
        MappingProxyType(dict(zip(model.classes, model.thresholds))),
        model.card.version, ecg.record_id,
    )


class AgeSexModel(LoadedModel):
    """The shipped age/sex model: (batch, 12, 1000) -> (batch, 2): standardised age, female logit."""

    fs_hz: float = MODEL_FS_HZ

    def __init__(self, directory: Any = None) -> None:
        super().__init__("age_sex", directory)

    @staticmethod
    def preprocess(ecg: ECG) -> np.ndarray:
        return preprocess_ecg(ecg)


@lru_cache(maxsize=None)
def load_age_sex_model() -> AgeSexModel:
    """The shipped age/sex model, cached."""
    return AgeSexModel()


@dataclass(frozen=True)
class AgeSexEstimate:
    """Age and sex estimated from the signal alone."""

    age_years: float
    """Estimated age in years (trained on ages capped at 90)."""
    female_probability: float
    """Probability that the patient is female, in [0, 1]."""
    age_mae_years: float
    """The model's mean absolute age error on PTB-XL fold 10 (its typical error)."""
    version: str
    """Version of the model."""
    record_id: str = ""
    """Id of the ECG the estimate is about."""

    @property
    def sex(self) -> str:
        """``female`` when ``female_probability >= 0.5``, else ``male``."""
        return "female" if self.female_probability >= 0.5 else "male"

    def summary(self) -> str:
        return (f"age {self.age_years:.0f} years (typical error +-{self.age_mae_years:.0f}), "
                f"{self.sex} (p(female)={self.female_probability:.2f})")


def estimate_age_sex(ecg: ECG, backend: Backend = "onnx") -> AgeSexEstimate:
    """Age and sex of the patient estimated from the ECG signal (``RecordError`` when every lead is
    flat, see ``model_input_warnings``)."""
    from ._training import AGE_SCALE_YEARS

    model_input_warnings(require_ecg(ecg, "estimate_age_sex"))
    model = load_age_sex_model()
    out = model.predict_logits(preprocess_ecg(ecg)[None], backend)[0]
    mae = model.card.metrics.get("test_fold10", {}).get("age_mae_years", float("nan"))
    return AgeSexEstimate(float(out[0] * AGE_SCALE_YEARS + 60.0), float(_sigmoid(out[1])), float(mae),
                          model.card.version, ecg.record_id)


def model_cards() -> dict[str, ModelCard]:
    """Cards of every shipped model, by name."""
    from ._package import weights_dir

    cards = {}
    for path in sorted(weights_dir().glob("*.json")):
        try:
            cards[path.stem] = ModelCard.load(path)
        except ModelError:
            continue
    return cards


