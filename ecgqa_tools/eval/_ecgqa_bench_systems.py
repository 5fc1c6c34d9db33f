"""The real systems of the ECG-QA benchmark, built only from the other subpackages' public APIs.

- ``oracle``: attributes from PTB-XL labels (``qa.attributes_from_ptbxl``) with numeric features
  measured on the signal (``grounding.measure``) -> ``qa.answer_question``. No trained model.
- ``upper-bound``: the attribute model's predictions (``encoders.predict_attributes``) with measured
  numeric features -> ``qa.answer_question`` (the paper's classifier upper bound).
- ``tools``: the offline answerer (``llm.answer_offline``) on the question text and the signal.
- ``llm-upper-bound``: the paper's LLM protocol (attribute predictions and options in the prompt).
- ``llm-upper-bound-options``: the same prompt, the reply constrained to the options (``Agent.choose``).
- ``llm-agent``: the LLM agent calling the toolkit's tools.

Each system states which ECGs its models saw (from the model cards) for the leakage guard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError, UsageError
from ..qa import QASample

SYSTEM_NAMES: tuple[str, ...] = ("oracle", "upper-bound", "tools", "llm-upper-bound", "llm-upper-bound-options",
                                 "llm-agent")


@dataclass(frozen=True)
class LLMEndpoint:
    """Where the LLM systems send their requests (any OpenAI-compatible endpoint)."""

    base_url: str | None = None
    """Base URL, e.g. ``http://127.0.0.1:8080/v1`` (default: ``ECGQA_LLM_BASE_URL``)."""
    model: str | None = None
    """Model name sent to the endpoint (default: ``ECGQA_LLM_MODEL``)."""
    api_key_env: str = "ECGQA_LLM_API_KEY"
    """Environment variable holding the key (the key itself is never stored or printed)."""
    timeout_s: float = 120.0
    """Per-request timeout."""
    max_steps: int = 4
    """Model turns per question for the agent (tool calls plus the final answer)."""
    max_tokens: int = 96
    """Limit of tokens per model reply (answers are option names; a small model rambles otherwise)."""
    tools: tuple[str, ...] = ("ecgqa_attributes", "intervals_and_axis", "noise_per_lead", "record_summary")
    """Tools the agent is offered (a short list keeps a small model's prompt short; these consult
    no model that saw PTB-XL test-fold or ECG-QA test ECGs except the attribute model's own ids)."""
    tool_rounds: int = 1
    """Agent turns with tool calls before it must answer (at least one per ECG of the question:
    the first tool is forced once per ECG, its record argument pinned to that ECG)."""
    answer_format: str = "auto"
    """How the agent's final reply is held to the options (``llm.LLMSettings.answer_format``)."""

    def public(self) -> dict[str, Any]:
        """What the report may show (no key)."""
        import os

        return {
            "base_url": self.base_url or os.environ.get("ECGQA_LLM_BASE_URL"),
            "model": self.model or os.environ.get("ECGQA_LLM_MODEL"),
            "timeout_s": self.timeout_s,
            "max_steps": self.max_steps,
            "max_tokens": self.max_tokens,
            "tools": list(self.tools),
            "agent_protocol": "v2: forced tool per ECG (record pinned), then an answering turn "
                              "constrained to the template's options",
            "tool_rounds": self.tool_rounds,
            "answer_format": self.answer_format,
        }


@dataclass
class BenchContext:
    """What system factories get: data folders, the signal loader, LLM settings."""

    ptbxl_dir: Path
    """PTB-XL root (``ptbxl_database.csv``, ``records100``...)."""
    ecgqa_dir: Path
    """ECG-QA root."""
    dataset: str = "ptbxl"
    """ECG-QA dataset (only ``ptbxl`` has signals here)."""
    fs_hz: int = 100
    """Rate the signals are read at."""
    llm: LLMEndpoint = field(default_factory=LLMEndpoint)
    """LLM endpoint settings."""
    chat_function: Any = None
    """Replaces the endpoint's ``chat.completions.create`` (``llm.ScriptedChatModel`` in tests)."""
    cache_dir: Path | None = None
    """Where measured numeric ranges are kept between runs (``<out>/cache``), or ``None``."""
    disease_weights: str = "ecgqa-split"
    """Disease weight set the systems' tools use (``encoders.DISEASE_WEIGHT_SETS``): by default the
    models trained on ECG-QA's train ECGs and selected on its valid ECGs, which never saw a test ECG."""
    numeric_convention: str = "clinical"
    """Whose numeric-feature ranges answer ECG-QA numeric questions (``oracle``, ``upper-bound``,
    ``tools``, and ``llm-agent``'s ``intervals_and_axis`` tool): ``clinical`` (``measure()``'s 12-lead values, clinical ranges) or ``ecgqa``
    (``grounding.measure_ecgqa``: ECG-QA's own convention). Part of those systems' resume keys."""
    _ptbxl: Any = None
    _ranges: dict[int, dict[str, str]] = field(default_factory=dict)

    def ptbxl(self) -> Any:
        """The PTB-XL dataset object (``records.PtbXl``), opened once."""
        if self._ptbxl is None:
            from ..records import PtbXl

            self._ptbxl = PtbXl(self.ptbxl_dir)
        return self._ptbxl

    def present_ids(self) -> frozenset[int]:
        """PTB-XL ecg_ids with a signal file at ``fs_hz``."""
        return frozenset(int(i) for i in self.ptbxl().present_ids(fs_hz=self.fs_hz))

    def load_ecg(self, ecg_id: int) -> Any:
        """The ``ECG`` of one PTB-XL record at ``fs_hz``."""
        return self.ptbxl().read(int(ecg_id), fs_hz=self.fs_hz)

    def numeric_ranges(self, ecg_id: int, ecg: Any = None) -> dict[str, str]:
        """Measured ECG-QA numeric-feature ranges of one record, measured once per run folder and
        shared by the systems that use them (``oracle``, ``upper-bound``)."""
        import json

        ecg_id = int(ecg_id)
        if ecg_id in self._ranges:
            return self._ranges[ecg_id]
        if self.numeric_convention == "clinical":
            folder = f"measured-ranges-{self.fs_hz}hz"
        else:  # named by the convention's code digest: ranges of another version are never reused
            folder = f"measured-ranges-{self.numeric_convention}-{numeric_convention_digest()}-{self.fs_hz}hz"
        path = None if self.cache_dir is None else self.cache_dir / folder / f"{ecg_id}.json"
        if path is not None and path.exists():
            ranges = json.loads(path.read_text())
        else:
            ranges = measured_ranges(ecg if ecg is not None else self.load_ecg(ecg_id), self.numeric_convention)
            if path is not None:
                from .._io import write_text_atomic

                write_text_atomic(path, json.dumps(ranges))
        self._ranges[ecg_id] = ranges
        return ranges


def _card_ids(card: Any) -> frozenset[int]:
    """Training + selection ECG ids of one model card, whatever the card calls them."""
    ids: set[int] = set()
    for name in ("training_ids", "train_ids", "training_record_ids", "selection_ids",
                 "validation_ids", "selection_record_ids", "seen_ids"):
        value = getattr(card, name, None)
        if value is None and isinstance(card, dict):
            value = card.get(name)
        if value:
            ids.update(int(i) for i in value)
    seen = getattr(card, "seen_ecg_ids", None)
    if callable(seen):
        ids.update(int(i) for i in seen())
    return frozenset(ids)


def disease_model_seen_ids(weights: str | None = None) -> frozenset[int]:
    """ECG ids any shipped disease model (MI, STTC, CD, HYP) of the weight set ``weights`` (default:
    the active one, ``encoders.use_disease_weights``) was trained or selected on."""
    try:
        from ..encoders import DISEASES, load_disease_model
    except ImportError as exc:
        raise ModelError(f"the disease models are not available ({exc}): cannot apply the leakage guard") from None
    ids: set[int] = set()
    for disease in DISEASES:
        ids |= _card_ids(load_disease_model(disease, weights).card)
    return frozenset(ids)


def _named_model_seen_ids(loader_name: str, what: str) -> frozenset[int]:
    from .. import encoders

    loader = getattr(encoders, loader_name, None)
    if loader is None:
        raise ModelError(f"ecgqa_tools.encoders has no {loader_name}: cannot read the {what}'s model card "
                         "for the leakage guard")
    return _card_ids(loader().card)


ALL_MODEL_LOADERS: tuple[str, ...] = ("load_disease_model", "load_attribute_model", "load_age_sex_model")

QUALITY_THRESHOLDS = "quality_thresholds"
"""Stands in ``TOOL_MODELS`` / ``source_models`` for the noise thresholds of ``noise_per_lead``: not an
``encoders`` model, but fitted on labelled ECGs (``llm.quality_fitted_ecg_ids``, the
``llm.QUALITY_FIT_RULE`` records: PTB-XL folds 1-8 in ECG-QA's train split)."""

TOOL_MODELS: dict[str, tuple[str, ...]] = {
    "record_summary": (),
    "intervals_and_axis": (),
    "codec_tokens": (),
    # signal-quality heuristic whose static/burst thresholds were fitted on ECG-QA train ECGs only
    # (llm.QUALITY_FIT_RULE): allowed on ECG-QA valid/test, refused on the ECGs it was fitted on
    "noise_per_lead": (QUALITY_THRESHOLDS,),
    "ecgqa_attributes": ("load_attribute_model",),
    "disease_probabilities": ("load_disease_model",),
    "attribution_evidence": ("load_disease_model",),
    "compare_ecgs": ("load_disease_model", "load_attribute_model"),
    "age_sex_estimate": ("load_age_sex_model",),
}
"""The trained models behind each ``llm`` tool (by their ``encoders`` loader, or
``QUALITY_THRESHOLDS`` for the fitted noise thresholds); a tool not listed here is taken to use
every model."""


_LOADER_SEEN: dict[str, frozenset[int]] = {}


def loader_seen_ids(loader_name: str) -> frozenset[int]:
    """ECG ids the models returned by one ``encoders`` loader saw (cached per process; the disease
    models' per weight set, the active one of ``encoders.use_disease_weights``)."""
    key = loader_name
    if loader_name == QUALITY_THRESHOLDS:
        if key not in _LOADER_SEEN:
            from ..llm import quality_fitted_ecg_ids

            _LOADER_SEEN[key] = quality_fitted_ecg_ids()
        return _LOADER_SEEN[key]
    if loader_name == "load_disease_model":
        from ..encoders import active_disease_weights

        key = f"{loader_name}:{active_disease_weights()}"
    if key not in _LOADER_SEEN:
        if loader_name == "load_disease_model":
            _LOADER_SEEN[key] = disease_model_seen_ids()
        else:
            _LOADER_SEEN[key] = _named_model_seen_ids(loader_name, loader_name.removeprefix("load_"))
    return _LOADER_SEEN[key]


def check_tools_unseen(tools_used: Sequence[str], ecg_ids: Sequence[int]) -> None:
    """Raise ``LeakageError`` when a model behind one of ``tools_used`` saw one of ``ecg_ids``."""
    from ..errors import LeakageError

    for tool in dict.fromkeys(tools_used):
        for loader_name in TOOL_MODELS.get(tool, ALL_MODEL_LOADERS):
            seen = sorted(set(ecg_ids) & loader_seen_ids(loader_name))
            if seen:
                raise LeakageError(f"tool {tool} consulted a model ({loader_name.removeprefix('load_')}) "
                                   f"trained or selected on ECG(s) {', '.join(map(str, seen))}")


def source_models(source: str) -> tuple[str, ...]:
    """The ``encoders`` loaders behind an evidence item's provenance source (``llm`` tools name
    them ``disease-cnn``, ``attribute-model``, ``age-sex-cnn``; the signal-quality heuristic uses its
    fitted thresholds, ``QUALITY_THRESHOLDS``; measurements, the record reader and the OpenECG codec
    use none of them); unknown sources count as every model."""
    text = source.lower()
    if text.startswith("signal-quality"):
        return (QUALITY_THRESHOLDS,)
    found = tuple(loader for key, loader in (("disease-cnn", "load_disease_model"),
                                             ("attribute-model", "load_attribute_model"),
                                             ("age-sex", "load_age_sex_model")) if key in text)
    if found:
        return found
    if text.startswith(("measurements", "record reader")) or "codec" in text:
        return ()
    return ALL_MODEL_LOADERS


def check_evidence_unseen(evidence: Sequence[Any], ecg_ids: Sequence[int]) -> None:
    """Raise ``LeakageError`` when evidence an answer rests on came from a model that saw one of
    ``ecg_ids`` (judged by each item's ``provenance.source``)."""
    from ..errors import LeakageError

    for item in evidence:
        source = str(item.provenance.source)
        for loader_name in source_models(source):
            seen = sorted(set(ecg_ids) & loader_seen_ids(loader_name))
            if seen:
                raise LeakageError(f"evidence {item.id} ({source}) comes from a model trained or selected "
                                   f"on ECG(s) {', '.join(map(str, seen))}")


def measured_ranges(ecg: Any, convention: str = "clinical") -> dict[str, str]:
    """ECG-QA numeric-feature ranges (below/within/above) measured on the signal under a numeric
    convention (``clinical``: ``measure()``; ``ecgqa``: ``measure_ecgqa``); unmeasurable ones left out."""
    from ..grounding import measure, measure_ecgqa

    if convention == "ecgqa":
        ranges = measure_ecgqa(ecg).range_attributes()
    elif convention == "clinical":
        ranges = measure(ecg).range_attributes()
    else:
        from ..errors import UsageError

        raise UsageError(f"unknown numeric convention {convention!r}; expected clinical or ecgqa")
    return {name: value for name, value in ranges.items() if value is not None}


def with_numeric(attrs: Any, numeric: dict[str, str]) -> Any:
    """``EcgAttributes`` with its numeric-feature ranges replaced by ``numeric``."""
    from dataclasses import replace

    return replace(attrs, numeric=numeric)


def template_slots(sample: QASample) -> dict[str, str]:
    """Slot values of an official sample (``qa.slots_of_sample``: its text, else its attribute list).

    The ``oracle`` and ``upper-bound`` systems take the template and slots from the sample, as the
    paper's upper bound does; only ``tools`` and the LLM systems read the question text.
    """
    from ..qa import slots_of_sample

    return dict(slots_of_sample(sample))


def model_versions(*loaders: str) -> dict[str, str]:
    """``card.name -> card.version`` of the shipped models the named loaders return."""
    from .. import encoders

    versions: dict[str, str] = {}
    for loader_name in loaders:
        if loader_name == "load_disease_model":
            models = [encoders.load_disease_model(d) for d in encoders.DISEASES]
        else:
            models = [getattr(encoders, loader_name)()]
        for model in models:
            versions[str(model.card.name)] = str(model.card.version)
    return versions


def noise_measure_version() -> str:
    """``"<method> v<version>"`` of the noise measure behind ``noise_per_lead`` (``llm.QUALITY_METHOD``,
    ``llm.QUALITY_VERSION``): part of the resume key of the systems that can call it, so predictions
    of another version of the measure are never mixed into one run."""
    from ..llm import QUALITY_METHOD, QUALITY_VERSION

    return f"{QUALITY_METHOD} v{QUALITY_VERSION}"


def numeric_convention_version(convention: str) -> str:
    """``"<convention>"`` plus, for ``ecgqa``, its aggregation, rate and a digest of its code: part of
    the resume key, so answers made under another convention (or another version of it) are redone."""
    if convention != "ecgqa":
        return convention
    from ..grounding import DEFAULT_ECGQA_AGGREGATION, ECGQA_FEATURE_SOURCES, ECGQA_FS_HZ

    clinical = ", ".join(f for f, s in ECGQA_FEATURE_SOURCES.items() if s.startswith("clinical"))
    return (f"ecgqa ({DEFAULT_ECGQA_AGGREGATION}, {ECGQA_FS_HZ:g} Hz; from the 12-lead clinical values: "
            f"{clinical or 'none'}; code {numeric_convention_digest()})")


def numeric_convention_digest() -> str:
    """Digest of the code behind the ``ecgqa`` convention's states (``ecgqa_fingerprint``:
    ``measure_ecgqa``'s module and the NeuroKit2 version) plus, since the session-7b per-feature
    convention takes QRS from ``measure()``, the delineator's and ``measure()``'s modules, and the llm
    tools' module (``use_numeric_convention``'s), which gives the ``tools`` system's QRS state its own
    12-lead measurement since the session-7b review."""
    from ..encoders import delineate
    from ..grounding import measure
    from ..llm import use_numeric_convention
    from ._delineation_intervals import ecgqa_fingerprint

    return ecgqa_fingerprint(delineate, measure, use_numeric_convention)


class _Base:
    name = ""
    cache_base = ""
    persist_cache = True
    model_loaders: tuple[str, ...] = ()
    uses_numeric_convention = False
    """Whether numeric answers follow ``ctx.numeric_convention`` (then it is in the resume key)."""

    def __init__(self, ctx: BenchContext) -> None:
        self.ctx = ctx
        self._description: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """The resume key (``<out>/predictions/<name>.meta.json``): name, dataset, rate, model
        versions and, for a system that can call ``noise_per_lead``, the noise measure's version."""
        if self._description is None:
            with self.model_context():
                description = {"name": self.name, "dataset": self.ctx.dataset, "fs_hz": self.ctx.fs_hz,
                               "models": model_versions(*self.model_loaders)}
            if self.calls_noise_measure():
                description["noise_measure"] = noise_measure_version()
            if self.uses_numeric_convention:
                description["numeric_convention"] = numeric_convention_version(self.ctx.numeric_convention)
            self._description = description
        return self._description

    def calls_noise_measure(self) -> bool:
        """Whether this system's answers can rest on ``llm``'s noise measure (``noise_per_lead``)."""
        return False

    def model_context(self) -> Any:
        """Context the harness computes and answers in: the disease models in use are those of
        ``ctx.disease_weights`` (``encoders.use_disease_weights``), for the tools and the guard alike."""
        from ..encoders import use_disease_weights

        return use_disease_weights(self.ctx.disease_weights)

    @property
    def cache_key(self) -> str:
        """The per-ECG cache's name: its kind plus a digest of the models behind it, so results of
        other model versions are never reused."""
        import hashlib
        import json

        if not self.persist_cache:  # in-memory results (the signal) do not depend on models
            return self.cache_base
        models = json.dumps(self.describe().get("models", {}), sort_keys=True)
        return f"{self.cache_base}-{hashlib.sha1(models.encode()).hexdigest()[:10]}"

    def seen_ecg_ids(self) -> frozenset[int]:
        return frozenset()


class OracleSystem(_Base):
    """Attributes from PTB-XL labels + measured numeric features -> the answer engine."""

    name = "oracle"
    uses_numeric_convention = True
    cache_base = "oracle-attributes"

    def ecg_features(self, ecg_id: int) -> Any:
        from .. import qa

        labels = qa.attributes_from_ptbxl(self.ctx.ptbxl(), ecg_id)
        return with_numeric(labels, self.ctx.numeric_ranges(ecg_id))

    def answer(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        from ..qa import answer_question

        return list(answer_question(sample.template_id, template_slots(sample), *features))


class UpperBoundSystem(_Base):
    """The attribute model's predictions + measured numeric features -> the answer engine."""

    name = "upper-bound"
    uses_numeric_convention = True
    cache_base = "attribute-model"
    model_loaders = ("load_attribute_model",)

    def seen_ecg_ids(self) -> frozenset[int]:
        return loader_seen_ids("load_attribute_model")

    def ecg_features(self, ecg_id: int) -> Any:
        from ..encoders import predict_attributes

        ecg = self.ctx.load_ecg(ecg_id)
        prediction = predict_attributes(ecg)
        numeric = self.ctx.numeric_ranges(ecg_id, ecg)
        return prediction.to_attributes(numeric=numeric, ecg_id=ecg_id), prediction

    def answer(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        from ..qa import answer_question

        return list(answer_question(sample.template_id, template_slots(sample), *[f[0] for f in features]))


class ToolsSystem(_Base):
    """The offline answerer: question text + signal(s) -> answer, through models and measurements.

    One ``llm.ToolContext`` is kept for the run so the answerer's own per-record caches (model
    outputs, measurements) serve every question about the same ECG.
    """

    name = "tools"
    uses_numeric_convention = True
    cache_base = "signal"
    persist_cache = False
    model_loaders = ("load_disease_model", "load_attribute_model", "load_age_sex_model")

    def __init__(self, ctx: BenchContext) -> None:
        super().__init__(ctx)
        self._context: Any = None

    def calls_noise_measure(self) -> bool:
        return True  # the offline answerer calls noise_per_lead for noise questions

    def seen_ecg_ids(self) -> frozenset[int]:
        """The attribute model's ids up front; every other model is checked after each answer
        against every tool the answerer consulted, cited or not (``check_tools_unseen``), and the
        sources of the evidence it cites (``check_evidence_unseen``)."""
        return loader_seen_ids("load_attribute_model")

    def ecg_features(self, ecg_id: int) -> Any:
        return self.ctx.load_ecg(ecg_id)

    def answer(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        from ..errors import UnsupportedQuestion
        from ..llm import ToolContext, answer_offline

        if self._context is None:
            from ..llm import use_numeric_convention

            self._context = ToolContext(max_cached_records=64)
            use_numeric_convention(self._context, self.ctx.numeric_convention)
        second = features[1] if len(features) > 1 else None
        result = answer_offline(features[0], sample.question, second=second, context=self._context)
        # the evidence the answer cites, and every tool the answerer consulted, cited or not (a
        # model's output can steer an answer without being cited)
        check_evidence_unseen(result.evidence, sample.ecg_id)
        check_tools_unseen(result.tools_used, sample.ecg_id)
        if not result.supported:
            raise UnsupportedQuestion(f"the offline answerer declined: {result.explanation.splitlines()[0]}")
        return list(result.answer)


def match_options(reply: str, options: Sequence[str]) -> list[str]:
    """The answer options an LLM's free-text reply names, in the given order.

    The reply is split on ``|``, commas, semicolons and new lines; a part that is exactly an
    option is taken as is, otherwise every option found in it as whole words (longest first, no
    overlaps) is taken.
    """
    import re

    wanted = {" ".join(o.lower().split()): o for o in options}
    found: set[str] = set()
    for part in re.split(r"[|;,\n]", reply.lower()):
        part = " ".join(part.split()).strip(" .'\"`*")
        if part in wanted:
            found.add(wanted[part])
            continue
        for key in sorted(wanted, key=len, reverse=True):
            pattern = r"(?<![\w-])" + re.escape(key) + r"(?![\w-])"
            if re.search(pattern, part):
                found.add(wanted[key])
                part = re.sub(pattern, " ", part)
    return [o for o in options if o in found]


def sample_options(sample: QASample) -> tuple[str, ...]:
    """The answer options of the sample's template (``qa.answer_options``)."""
    from ..qa import answer_options

    return tuple(answer_options(sample.template_id))


class _LLMBase(_Base):
    """Shared by the LLM systems: one ``llm.Agent`` (one tool context) for the whole run."""

    cache_base = "signal"
    persist_cache = False

    def __init__(self, ctx: BenchContext) -> None:
        super().__init__(ctx)
        self._agent: Any = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "llm": self.ctx.llm.public()}

    def agent(self) -> Any:
        if self._agent is None:
            import os

            from ..llm import Agent, LLMSettings, ToolContext

            endpoint = self.ctx.llm
            settings = LLMSettings.from_env(
                model=endpoint.model, base_url=endpoint.base_url, timeout_s=endpoint.timeout_s,
                max_steps=endpoint.max_steps, max_tokens=endpoint.max_tokens,
                api_key=os.environ.get(endpoint.api_key_env) or None,
                pin_records=True, max_tool_rounds=endpoint.tool_rounds, answer_format=endpoint.answer_format,
            )
            context = ToolContext(max_cached_records=64)
            if self.uses_numeric_convention:  # the agent's intervals_and_axis answers under it
                from ..llm import use_numeric_convention

                use_numeric_convention(context, self.ctx.numeric_convention)
            self._agent = Agent(settings, context=context,
                                chat_function=self.ctx.chat_function,
                                tool_names=tuple(endpoint.tools) if self.name == "llm-agent" else None)
        return self._agent

    def ecg_features(self, ecg_id: int) -> Any:
        return self.ctx.load_ecg(ecg_id)

    def register(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        """Make the sample's ECGs callable by the agent's tools as ``ptbxl:<id>``; their names."""
        names = []
        for ecg_id, ecg in zip(sample.ecg_id, features):
            name = f"ptbxl:{ecg_id}"
            self.agent().context.add_record(name, ecg)
            names.append(name)
        return names


class LLMUpperBoundSystem(_LLMBase):
    """The ECG-QA paper's LLM protocol (``llm.Agent.ask_ecgqa_protocol``): the attribute model's
    classes with p > 0.5 and the answer options in the prompt, the LLM picks options."""

    name = "llm-upper-bound"
    model_loaders = ("load_attribute_model",)

    def seen_ecg_ids(self) -> frozenset[int]:
        return loader_seen_ids("load_attribute_model")

    def answer(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        import inspect

        from ..errors import UnsupportedQuestion

        names = self.register(sample, features)
        agent = self.agent()
        options = sample_options(sample) or None
        if len(names) == 1:
            return list(agent.ask_ecgqa_protocol(names[0], sample.question, options).answer)
        if "second" not in inspect.signature(agent.ask_ecgqa_protocol).parameters:
            raise UnsupportedQuestion("llm.Agent.ask_ecgqa_protocol takes one ECG; comparison questions "
                                      "cannot be put to the LLM in this protocol")
        return list(agent.ask_ecgqa_protocol(names[0], sample.question, options, second=names[1]).answer)


class LLMUpperBoundOptionsSystem(LLMUpperBoundSystem):
    """The paper's LLM protocol with the same prompt (attribute classes with p > 0.5 and the
    options), but the reply constrained to the options the way the agent's answering turn is
    (``llm.Agent.choose``: a JSON list of the options where the endpoint allows, else parsed from
    free text; one option for verify questions). It separates what the model knows from whether it
    can write an option: ``llm-upper-bound`` keeps the paper's free text. A reply naming no option
    is an error: scored wrong and counted."""

    name = "llm-upper-bound-options"

    def answer(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        from ..errors import UnsupportedQuestion

        names = self.register(sample, features)
        options = sample_options(sample)
        if not options:
            raise UnsupportedQuestion(f"template {sample.template_id} has no answer options to constrain to")
        reply = self.agent().ask_ecgqa_protocol(
            names[0], sample.question, options, second=names[1] if len(names) == 2 else None,
            constrained=True, single=sample.question_type.endswith("verify"))
        if not reply.answer:
            raise UnsupportedQuestion(f"the reply named none of the answer options "
                                      f"({reply.answer_format}): {reply.text[:160]!r}")
        return list(reply.answer)


class LLMAgentSystem(_LLMBase):
    """The LLM agent calling the toolkit's tools (``llm.Agent.ask``): the tool chosen by the
    attribute type is forced once per ECG, then the agent's answering turn must choose among the
    template's options (a JSON schema of them where the endpoint supports one, else parsed from
    free text). A final reply naming no option is an error: scored wrong and counted."""

    name = "llm-agent"
    uses_numeric_convention = True  # its intervals_and_axis tool gives ranges under ctx.numeric_convention
    model_loaders = ("load_disease_model", "load_attribute_model", "load_age_sex_model")

    def calls_noise_measure(self) -> bool:
        return "noise_per_lead" in self.ctx.llm.tools  # only when the agent is offered the tool

    def seen_ecg_ids(self) -> frozenset[int]:
        """The attribute model's ids up front; the models behind the tools the agent called are
        checked after each answer (``check_tools_unseen``)."""
        return loader_seen_ids("load_attribute_model")

    def answer(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        names = self.register(sample, features)
        options = sample_options(sample)
        question = sample.question
        if len(names) == 2:
            question += f" (The first ECG is record '{names[0]}', the second ECG is record '{names[1]}'.)"
        listed = " Answer with one or more of these options: " + " | ".join(options) + "."
        if options and len(question) + len(listed) <= MAX_AGENT_QUESTION_CHARS:
            question += listed
        reply = self.agent().ask(names[0], question, force_tool=self.first_tool(sample), others=tuple(names[1:]),
                                 options=options or None, single=sample.question_type.endswith("verify"))
        check_evidence_unseen(reply.evidence, sample.ecg_id)  # everything the tools told the model
        check_tools_unseen([call.name for call in reply.tool_calls if call.ok], sample.ecg_id)
        if not options:
            return [reply.text.strip()]
        if not reply.answer:
            from ..errors import UnsupportedQuestion

            raise UnsupportedQuestion(f"the agent's final reply named none of the answer options "
                                      f"({reply.answer_format}): {reply.text[:160]!r}")
        return list(reply.answer)

    def first_tool(self, sample: QASample) -> str:
        """The tool the first turn must call (llama.cpp's function calling cannot force "any tool";
        a 135M model rarely calls one unasked): by the question's attribute type, among the offered tools."""
        wanted = {"numeric_feature": "intervals_and_axis", "noise": "noise_per_lead"}.get(
            sample.attribute_type, "ecgqa_attributes")
        tools = self.ctx.llm.tools
        return wanted if wanted in tools else tools[0]


MAX_AGENT_QUESTION_CHARS = 300
"""Options are listed in the agent's question only while it stays this short (the tool-calling
turns do not need them and a small model's prompt is expensive); the answering turn lists them all."""


SystemFactory = Callable[[BenchContext], Any]

SYSTEM_FACTORIES: dict[str, SystemFactory] = {
    "oracle": OracleSystem,
    "upper-bound": UpperBoundSystem,
    "tools": ToolsSystem,
    "llm-upper-bound": LLMUpperBoundSystem,
    "llm-upper-bound-options": LLMUpperBoundOptionsSystem,
    "llm-agent": LLMAgentSystem,
}
"""Name -> factory of each system ``--systems`` accepts."""


def build_systems(names: Sequence[str], ctx: BenchContext) -> list[Any]:
    """Instantiate the named systems, refusing unknown names with the list of valid ones."""
    unknown = [n for n in names if n not in SYSTEM_FACTORIES]
    if unknown:
        raise UsageError(f"unknown system(s) {', '.join(unknown)}; expected any of "
                         f"{', '.join(SYSTEM_FACTORIES)}")
    return [SYSTEM_FACTORIES[name](ctx) for name in names]


__all__ = [
    "SYSTEM_FACTORIES",
    "SYSTEM_NAMES",
    "BenchContext",
    "LLMAgentSystem",
    "LLMUpperBoundOptionsSystem",
    "LLMUpperBoundSystem",
    "LLMEndpoint",
    "OracleSystem",
    "ToolsSystem",
    "UpperBoundSystem",
    "build_systems",
    "match_options",
]
