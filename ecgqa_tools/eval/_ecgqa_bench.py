"""The ECG-QA benchmark harness: sample selection, per-ECG cache, resumable JSONL predictions.

A *system* answers ECG-QA samples. It may compute something once per ECG (``ecg_features``: the
attribute predictions, the measurements, the ECG itself...) which the harness caches under the
system's ``cache_key`` so that every ECG is processed once however many questions, and however many
systems sharing that key, use it. Predictions are appended to ``<out>/predictions/<system>.jsonl``
one line per sample as they are produced and flushed at once; a killed run resumes from that file:
a torn last line is cut off, samples already answered are skipped, nothing is written twice.

Everything here talks to other subpackages only through callables handed in (``load_ecg``) or
through the systems (``_ecgqa_bench_systems``), so it is testable with fakes.
"""

from __future__ import annotations

import json
import pickle
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol, runtime_checkable

from .._io import atomic_output, write_text_atomic
from ..errors import DatasetError, EcgqaError, LeakageError, UsageError
from ..qa import QASample, parse_samples

LeakagePolicy = Literal["common", "per-system", "refuse"]


def as_qa_sample(obj: Any) -> QASample:
    """A ``qa.QASample`` from a sample object or one official JSON sample (a dict)."""
    if isinstance(obj, QASample):
        return obj
    if isinstance(obj, dict):
        return parse_samples([obj], str(obj.get("split", "")), "<memory>")[0]
    raise DatasetError(f"expected an ECG-QA sample (qa.QASample or a JSON object), got {type(obj).__name__}")


@runtime_checkable
class BenchSystem(Protocol):
    """What the harness runs. ``ecg_features`` results must be picklable when ``persist_cache``."""

    name: str
    """Short name used in reports and file names (``oracle``, ``tools``...)."""
    cache_key: str
    """Name of the per-ECG result this system uses; systems with the same key share the cache."""
    persist_cache: bool
    """Whether per-ECG results are also written to disk (small results only, not signals)."""

    def describe(self) -> dict[str, Any]:
        """Configuration that must not change between a run and its resumption (models, versions)."""
        ...

    def seen_ecg_ids(self) -> frozenset[int]:
        """ECG ids any model of this system was trained or selected on (the leakage guard)."""
        ...

    def ecg_features(self, ecg_id: int) -> Any:
        """The per-ECG result ``answer`` needs (computed once per ECG, then cached)."""
        ...

    def answer(self, sample: QASample, features: Sequence[Any]) -> list[str]:
        """The predicted answer list; ``features`` holds one entry per id of ``sample.ecg_id``."""
        ...


# ----------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    """Which samples a run scores, and why the others were left out."""

    samples: tuple[QASample, ...]
    """Samples with every ECG present, after the optional stratified sample and limit."""
    n_loaded: int
    """Samples in the loaded split."""
    n_missing_signal: int
    """Samples dropped because at least one of their ECGs has no signal here."""
    missing_ecg_ids: tuple[int, ...]
    """The absent ECG ids those samples referred to."""
    sample_fraction: float | None
    """The stratified fraction used (``None`` = all present samples)."""
    seed: int
    """Seed of the stratified sample."""
    limit: int | None
    """The ``--limit`` applied after sampling (``None`` = no limit)."""
    shard: tuple[int, int] | None = None
    """``(k, n)``: only the samples at positions ``k, k + n, ...`` of the selection (one of ``n``
    workers sharing a run; ``None`` = all)."""


def stratified_sample(samples: Sequence[QASample], fraction: float, seed: int = 42,
                      by: Callable[[QASample], Any] = lambda s: s.template_id) -> list[QASample]:
    """The ECG-QA paper's evaluation subset: ``fraction`` of each stratum (template), seeded.

    Each stratum keeps ``max(1, round(fraction * n))`` samples drawn without replacement by a
    ``numpy`` generator seeded with ``seed``; strata are visited in sorted order and samples within
    a stratum sorted by ``sample_id``, so the result depends only on the sample set and the seed.
    """
    import numpy as np

    if not 0.0 < fraction <= 1.0:
        raise UsageError(f"sample fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    strata: dict[Any, list[QASample]] = {}
    for sample in samples:
        strata.setdefault(by(sample), []).append(sample)
    chosen: list[QASample] = []
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda s: s.sample_id)
        k = min(len(members), max(1, int(round(fraction * len(members)))))
        picks = rng.choice(len(members), size=k, replace=False)
        chosen.extend(members[i] for i in sorted(picks))
    return sorted(chosen, key=lambda s: s.sample_id)


def select_samples(samples: Iterable[Any], present_ids: Callable[[int], bool] | frozenset[int] | set[int],
                   sample_fraction: float | None = None, seed: int = 42,
                   limit: int | None = None, shard: tuple[int, int] | None = None) -> Selection:
    """Keep samples whose ECGs all have signals; then the stratified sample; then ``limit``; then
    ``shard`` ``(k, n)``: every n-th sample from position k (sample_id order), for n workers."""
    is_present = present_ids if callable(present_ids) else present_ids.__contains__
    loaded = [s if isinstance(s, QASample) else as_qa_sample(s) for s in samples]
    seen_keys: set[int] = set()
    for sample in loaded:
        if sample.sample_id in seen_keys:
            raise DatasetError(f"duplicate sample_id {sample.sample_id} in the loaded split")
        seen_keys.add(sample.sample_id)
    present: list[QASample] = []
    missing_ids: set[int] = set()
    n_missing = 0
    for sample in loaded:
        absent = [i for i in sample.ecg_id if not is_present(i)]
        if absent:
            n_missing += 1
            missing_ids.update(absent)
        else:
            present.append(sample)
    present.sort(key=lambda s: s.sample_id)
    if sample_fraction is not None:
        present = stratified_sample(present, sample_fraction, seed)
    if limit is not None:
        if limit < 1:
            raise UsageError(f"limit must be at least 1, got {limit}")
        present = present[:limit]
    if shard is not None:
        k, n = shard
        if not 0 <= k < n:
            raise UsageError(f"shard must be K/N with 0 <= K < N, got {k}/{n}")
        present = present[k::n]
    return Selection(
        samples=tuple(present),
        n_loaded=len(loaded),
        n_missing_signal=n_missing,
        missing_ecg_ids=tuple(sorted(missing_ids)),
        sample_fraction=sample_fraction,
        seed=seed,
        limit=limit,
        shard=shard,
    )


@dataclass(frozen=True)
class LeakageReport:
    """What the leakage guard removed for one system."""

    system: str
    """System name."""
    n_seen_ecgs: int
    """How many ECG ids its models were trained or selected on (from the model cards)."""
    n_dropped_own: int
    """Selected samples with at least one ECG this system's models saw."""
    n_dropped_total: int
    """Samples not scored for this system (its own leakage, plus others' under the common policy)."""
    n_scored: int
    """Samples scored for this system."""
    n_dropped_at_answer: int = 0
    """Samples whose answer turned out to consult a model that saw one of their ECGs (the system
    raised ``LeakageError``; e.g. the offline answerer called a disease model): not scored."""


def apply_leakage_guard(samples: Sequence[QASample], systems: Sequence[BenchSystem],
                        policy: LeakagePolicy = "common"
                        ) -> tuple[dict[str, tuple[QASample, ...]], list[LeakageReport]]:
    """Per system, the samples it may be scored on, and how many were dropped.

    ``common``: every system is scored on the samples none of the systems' models saw (side-by-side
    numbers on one set); ``per-system``: each system drops only what its own models saw;
    ``refuse``: raise ``LeakageError`` if any selected sample was seen by any system.
    """
    if policy not in ("common", "per-system", "refuse"):
        raise UsageError(f"unknown leakage policy {policy!r}; expected common, per-system or refuse")
    seen = {system.name: frozenset(system.seen_ecg_ids()) for system in systems}

    def clean(sample: QASample, ids: frozenset[int]) -> bool:
        return not any(i in ids for i in sample.ecg_id)

    own = {name: [s for s in samples if clean(s, ids)] for name, ids in seen.items()}
    if policy == "refuse":
        leaking = {name: len(samples) - len(kept) for name, kept in own.items() if len(kept) < len(samples)}
        if leaking:
            detail = ", ".join(f"{name}: {n}" for name, n in leaking.items())
            raise LeakageError(
                f"refusing to score systems on ECGs their models were trained or selected on "
                f"(samples affected per system: {detail}); use --leakage common or per-system"
            )
    all_seen = frozenset().union(*seen.values()) if seen else frozenset()
    common = [s for s in samples if clean(s, all_seen)]
    scored: dict[str, tuple[QASample, ...]] = {}
    reports: list[LeakageReport] = []
    for system in systems:
        kept = common if policy == "common" else own[system.name]
        scored[system.name] = tuple(kept)
        reports.append(LeakageReport(
            system=system.name,
            n_seen_ecgs=len(seen[system.name]),
            n_dropped_own=len(samples) - len(own[system.name]),
            n_dropped_total=len(samples) - len(kept),
            n_scored=len(kept),
        ))
    return scored, reports


# ----------------------------------------------------------------------------- per-ECG cache


class EcgCache:
    """Per-ECG results keyed by (cache key, ECG id): in memory (LRU), optionally on disk.

    Disk entries are pickles written atomically (temp file + ``os.replace``) under
    ``<root>/<cache key>/<ecg id>.pkl`` so a resumed run does not recompute them. Errors are cached
    too (as the exception), so an ECG that fails is not retried for every question about it.
    """

    def __init__(self, root: Path | None = None, max_items: int = 4096) -> None:
        self.root = root
        self.max_items = max_items
        self._memory: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self.computed = 0
        """How many per-ECG results were computed (not found in memory or on disk)."""
        self.hits = 0
        """How many lookups were answered from memory or disk."""

    def _path(self, key: str, ecg_id: int) -> Path | None:
        if self.root is None:
            return None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        return self.root / safe / f"{ecg_id}.pkl"

    def get(self, system: BenchSystem, ecg_id: int) -> Any:
        """The system's per-ECG result for ``ecg_id`` (re-raises a cached failure)."""
        key = (system.cache_key, int(ecg_id))
        if key in self._memory:
            self._memory.move_to_end(key)
            self.hits += 1
            return _unwrap(self._memory[key])
        path = self._path(system.cache_key, ecg_id) if system.persist_cache else None
        if path is not None and path.exists():
            try:
                with path.open("rb") as handle:
                    value = pickle.load(handle)
                self.hits += 1
                self._remember(key, value)
                return _unwrap(value)
            except Exception:  # a torn or stale pickle: recompute it
                path.unlink(missing_ok=True)
        try:
            value: Any = system.ecg_features(int(ecg_id))
        except EcgqaError as exc:
            value = _Failure(f"{type(exc).__name__}: {exc}")
        self.computed += 1
        self._remember(key, value)
        if path is not None:
            with atomic_output(path) as tmp, tmp.open("wb") as handle:
                _Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        return _unwrap(value)

    def _remember(self, key: tuple[str, int], value: Any) -> None:
        self._memory[key] = value
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_items:
            self._memory.popitem(last=False)


class _Pickler(pickle.Pickler):
    """Pickles read-only mappings (``types.MappingProxyType``, used by frozen domain types) as copies."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is MappingProxyType:
            return _read_only, (dict(obj),)
        return NotImplemented


def _read_only(mapping: dict[Any, Any]) -> MappingProxyType:
    return MappingProxyType(mapping)


@dataclass(frozen=True)
class _Failure:
    message: str


class CachedFailure(EcgqaError):
    """The per-ECG step failed for this ECG earlier in the run (the message says how)."""


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Failure):
        raise CachedFailure(value.message)
    return value


# ----------------------------------------------------------------------------- predictions


@dataclass(frozen=True)
class Prediction:
    """One system's answer to one sample, as written to the JSONL file."""

    system: str
    """System name."""
    sample_id: int
    """The sample's official ``sample_id``."""
    template_id: int
    """Template id."""
    question_type: str
    """Question type."""
    attribute_type: str
    """Attribute type."""
    ecg_ids: tuple[int, ...]
    """ECG ids of the sample."""
    gold: tuple[str, ...]
    """Gold answer list."""
    predicted: tuple[str, ...]
    """Predicted answer list (empty when the system failed)."""
    correct: bool
    """Exact match of the answer sets (case- and whitespace-insensitive)."""
    error: str | None
    """``Type: message`` of the package error the system raised, or ``None``."""
    seconds: float
    """Wall time of this answer (including per-ECG work not yet cached)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Prediction":
        return cls(
            system=str(data["system"]),
            sample_id=int(data["sample_id"]),
            template_id=int(data["template_id"]),
            question_type=str(data["question_type"]),
            attribute_type=str(data["attribute_type"]),
            ecg_ids=tuple(int(i) for i in data["ecg_ids"]),
            gold=tuple(data["gold"]),
            predicted=tuple(data["predicted"]),
            correct=bool(data["correct"]),
            error=data.get("error"),
            seconds=float(data["seconds"]),
        )


def normalize_answer(answer: Iterable[str]) -> frozenset[str]:
    """The answer as a set of lower-cased, whitespace-collapsed strings (exact-match key)."""
    return frozenset(" ".join(str(a).lower().split()) for a in answer)


def exact_match(predicted: Iterable[str], gold: Iterable[str]) -> bool:
    """ECG-QA's metric: the predicted answer set equals the gold answer set."""
    return normalize_answer(predicted) == normalize_answer(gold)


def read_predictions(path: Path, repair: bool = True) -> dict[int, Prediction]:
    """Predictions in a JSONL file by sample id; a torn last line is cut off when ``repair``.

    A line that is not the last and does not parse means the file was damaged by something other
    than an interruption: that raises ``DatasetError`` rather than silently losing predictions.
    """
    if not path.exists():
        return {}
    data = path.read_bytes()
    good_end = 0
    out: dict[int, Prediction] = {}
    position = 0
    while position < len(data):
        newline = data.find(b"\n", position)
        if newline == -1:  # no newline: the write was interrupted mid-line
            break
        line = data[position:newline]
        if line.strip():
            try:
                prediction = Prediction.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise DatasetError(f"{path}: line at byte {position} is not a prediction: {exc}") from exc
            if prediction.sample_id in out:
                raise DatasetError(f"{path}: sample {prediction.sample_id} appears twice")
            out[prediction.sample_id] = prediction
        position = newline + 1
        good_end = position
    if good_end < len(data) and repair:
        with path.open("r+b") as handle:
            handle.truncate(good_end)
    return out


_NOT_AN_ANSWER = (
    # the endpoint unreachable, timing out, rate-limited or failing with 5xx after the agent's retries
    # (timeouts and 5xx are retried on later runs, then scored wrong: ``is_retry_then_score_error``)
    re.compile(r"^LLMError: LLM endpoint at .* failed after \d+ attempt"),
    # a reply that is not a chat completion (a body that is not JSON, HTML, no choices): a broken
    # endpoint or proxy, like a 5xx (``llm.PROTOCOL_ERROR``; retried on later runs, then scored wrong)
    re.compile(r"^LLMError: LLM endpoint at .* did not answer as an OpenAI-compatible chat endpoint"),
    # the same, as worded before session 8 (stored rows of older runs: dropped and asked again)
    re.compile(r"^LLMError: LLM endpoint error at .*?: (JSONDecodeError|APIResponseValidationError)\b"),
    re.compile(r"^LLMError: LLM endpoint returned (no choices|a choice without a message)"),
    # the endpoint refused the key or does not know the model / path: configuration, not the sample
    # (``LLM endpoint error at <url>: ...``; before session 8 without `` at <url>``)
    re.compile(r"^LLMError: LLM endpoint error( at .*?)?: (AuthenticationError|PermissionDeniedError|NotFoundError)\b"),
    # an LLM system run with no model name (``llm.LLMSettings``)
    re.compile(r"^UsageError: no model name given"),
)


def is_infrastructure_error(error: str | None) -> bool:
    """Whether a ``Type: message`` error says nothing about the system's answer to the sample: the
    LLM endpoint down, timing out or overloaded (after the agent's own retries), answering with
    something that is not a chat completion, refusing the key or the model name, or no model
    configured. Such samples are never recorded as predictions (a
    resumed run answers them again) rather than scored wrong."""
    return bool(error) and any(p.match(error) for p in _NOT_AN_ANSWER)


_ENDPOINT_DOWN = re.compile(
    r"^LLMError: LLM endpoint at .* failed after \d+ attempt\(s\): (APIConnectionError|RateLimitError|"
    r"Connection\w*Error)\b")
"""The endpoint refusing connections, unreachable or rate-limiting: the user's setup, whatever the sample."""

MAX_SAMPLE_ATTEMPTS = 3
"""Runs in which one sample may fail on the endpoint by a timeout or a server error (HTTP 5xx)
before it is recorded as an error (scored wrong): a question that always times out (a prompt too
long for the server, an answer the server crashes on) counts against the system instead of being
left out of exact match for ever. Counted per sample across resumed runs in
``<out>/predictions/<system>.attempts.json``."""


def is_retry_then_score_error(error: str | None) -> bool:
    """Whether an endpoint failure may be the sample's own (a timeout, an HTTP 5xx after the
    agent's retries, a reply that is not a chat completion such as a body that is not JSON), so that it is retried on later runs and after ``MAX_SAMPLE_ATTEMPTS`` runs
    recorded as an error; the endpoint down (connection refused, unreachable, rate limit) and
    configuration errors are never recorded (``is_infrastructure_error``)."""
    return (bool(error) and error.startswith("LLMError: LLM endpoint at ")  # type: ignore[union-attr]
            and is_infrastructure_error(error) and not _ENDPOINT_DOWN.match(error or ""))


def _read_attempts(path: Path) -> dict[int, tuple[int, str]]:
    """Sample id -> (runs in which it failed on the endpoint by a timeout or server error, the last
    such error), from ``<system>.attempts.json``; {} when there is none."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {int(k): (int(v["attempts"]), str(v.get("last_error", ""))) for k, v in data.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DatasetError(f"{path} is not an attempts file ({exc}); delete it to count attempts from zero") from None


def _write_attempts(path: Path, attempts: dict[int, tuple[int, str]]) -> None:
    """Write (atomically) the pending samples' attempt counts; remove the file when none is pending."""
    data = {str(k): {"attempts": n, "last_error": e} for k, (n, e) in sorted(attempts.items())}
    if data:
        write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    elif path.exists():
        path.unlink()


def _check_meta(meta_path: Path, description: dict[str, Any], fresh: bool, write: bool = True) -> None:
    """Refuse to resume predictions made by a differently configured system (``write``: record the
    configuration when there is none yet)."""
    text = json.dumps(description, sort_keys=True, default=str)
    if meta_path.exists() and not fresh:
        previous = json.dumps(json.loads(meta_path.read_text()), sort_keys=True, default=str)
        if previous != text:
            raise UsageError(
                f"{meta_path.parent}: predictions there were made with a different configuration "
                f"({previous} != {text}); pass --fresh to start over or choose another --out"
            )
        return
    if write:
        write_text_atomic(meta_path, json.dumps(description, indent=2, sort_keys=True, default=str) + "\n")


def _drop_infrastructure_errors(path: Path, done: dict[int, Prediction], system: str) -> dict[int, Prediction]:
    """Remove from the file (atomically) the lines of an earlier run whose error was the endpoint
    or the configuration, so those samples are answered again; the remaining predictions."""
    kept = {sid: p for sid, p in done.items() if not is_infrastructure_error(p.error)}
    if len(kept) < len(done):
        write_text_atomic(path, "".join(p.to_json() + "\n" for p in kept.values()))
        print(f"{system}: {len(done) - len(kept)} earlier sample(s) failed on the LLM endpoint or its "
              "configuration, not on the question; answering them again", file=sys.stderr)
    return kept


def run_system(system: BenchSystem, samples: Sequence[QASample], out_dir: Path,
               cache: EcgCache, fresh: bool = False, progress: bool = True,
               on_prediction: Callable[[Prediction], None] | None = None,
               max_consecutive_failures: int = 3, max_attempts: int = MAX_SAMPLE_ATTEMPTS) -> dict[int, Prediction]:
    """Answer every sample not already in ``<out>/predictions/<system>.jsonl``; return all of them.

    Samples are processed grouped by ECG (sorted by ECG ids) so each ECG's per-ECG result is
    computed once and reused while it is hot. Each prediction is written as one JSON line and
    flushed before the next sample starts. A system with a ``model_context()`` method computes and
    answers inside that context (e.g. the disease weight set its tools use).

    A package error is the system's answer (recorded, scored wrong) unless it is an endpoint or
    configuration failure (``is_infrastructure_error``): that sample is not recorded (a rerun
    answers it, and lines of that kind left by an earlier run are answered again), and after
    ``max_consecutive_failures`` of them in a row the run stops with that error. A timeout or
    server error (``is_retry_then_score_error``) is counted per sample across runs
    (``<system>.attempts.json``); at the ``max_attempts``-th run it fails in, the sample is recorded
    as an error (scored wrong).
    """
    from contextlib import nullcontext

    from tqdm import tqdm

    pred_dir = out_dir / "predictions"
    pred_dir.mkdir(parents=True, exist_ok=True)
    path = pred_dir / f"{system.name}.jsonl"
    attempts_path = pred_dir / f"{system.name}.attempts.json"
    if fresh:
        for stale in (path, attempts_path):
            if stale.exists():
                stale.unlink()
    _check_meta(pred_dir / f"{system.name}.meta.json", system.describe(), fresh)
    done = _drop_infrastructure_errors(path, read_predictions(path), system.name)
    attempts = {sid: a for sid, a in _read_attempts(attempts_path).items() if sid not in done}
    wanted = {s.sample_id for s in samples}
    todo = sorted((s for s in samples if s.sample_id not in done), key=lambda s: (s.ecg_id, s.sample_id))
    bar = tqdm(total=len(samples), initial=len(wanted & done.keys()), desc=system.name, unit="q",
               file=sys.stderr, disable=not progress, dynamic_ncols=True)
    failures_in_a_row = 0
    try:
        with path.open("a", encoding="utf-8") as handle:
            for sample in todo:
                start = time.perf_counter()
                error: str | None = None
                give_up = False
                try:
                    with getattr(system, "model_context", nullcontext)():
                        features = [cache.get(system, i) for i in sample.ecg_id]
                        predicted = [str(a) for a in system.answer(sample, features)]
                except EcgqaError as exc:
                    predicted, error = [], f"{type(exc).__name__}: {exc}"
                    if is_infrastructure_error(error):
                        failures_in_a_row += 1
                        if is_retry_then_score_error(error):
                            n_runs = attempts.get(sample.sample_id, (0, ""))[0] + 1
                            attempts[sample.sample_id] = (n_runs, error)
                            give_up = n_runs >= max_attempts
                            if give_up:  # recorded below (then dropped from the attempts file)
                                error = (f"{type(exc).__name__}: no answer in {n_runs} runs, each failing on "
                                         f"the endpoint (timeout, server error or a reply that is not a chat "
                                         f"completion), scored wrong; last: {exc}")
                            else:
                                _write_attempts(attempts_path, attempts)
                        if failures_in_a_row >= max_consecutive_failures and not give_up:
                            n_kept = len(wanted & done.keys())
                            raise type(exc)(
                                f"{system.name}: stopped after {failures_in_a_row} samples in a row failed on "
                                f"the LLM endpoint or its configuration, not on the question: {exc}. "
                                f"They were not scored; {n_kept} of {len(samples)} predictions are in {path}; "
                                f"fix the endpoint and rerun the same command to resume (a sample that times "
                                f"out, gets a server error or a reply that is not a chat completion in "
                                f"{max_attempts} runs is then scored wrong)"
                            ) from None
                        if not give_up:
                            bar.update(1)
                            continue
                if not give_up:  # a sample recorded after its last attempt still counts as a failure in a row
                    failures_in_a_row = 0
                prediction = Prediction(
                    system=system.name,
                    sample_id=sample.sample_id,
                    template_id=sample.template_id,
                    question_type=sample.question_type,
                    attribute_type=sample.attribute_type,
                    ecg_ids=sample.ecg_id,
                    gold=sample.answer,
                    predicted=tuple(predicted),
                    correct=error is None and exact_match(predicted, sample.answer),
                    error=error,
                    seconds=round(time.perf_counter() - start, 6),
                )
                handle.write(prediction.to_json() + "\n")
                handle.flush()
                done[sample.sample_id] = prediction
                if attempts.pop(sample.sample_id, None) is not None:  # answered or given up: no longer pending
                    _write_attempts(attempts_path, attempts)
                if on_prediction is not None:
                    on_prediction(prediction)
                bar.update(1)
    finally:
        bar.close()
    return {sid: p for sid, p in done.items() if sid in wanted}


@dataclass(frozen=True)
class RunResult:
    """Everything a report needs about one benchmark run."""

    selection: Selection
    """The samples and what was left out."""
    leakage: tuple[LeakageReport, ...]
    """What the leakage guard removed, per system."""
    leakage_policy: str
    """``common``, ``per-system`` or ``refuse``."""
    predictions: dict[str, tuple[Prediction, ...]]
    """Scored predictions per system name, in sample-id order."""
    systems: dict[str, dict[str, Any]]
    """Each system's ``describe()``."""
    seconds: dict[str, float]
    """Wall time spent by each system in this invocation (0 when everything was resumed)."""
    n_unanswered: dict[str, int] = field(default_factory=dict)
    """Per system, samples it should be scored on that have no prediction yet (``answer=False``:
    a report of a run that was stopped); they are left out of the scores."""


def require_predictions(out_dir: Path, names: Sequence[str]) -> None:
    """``DatasetError`` unless ``out_dir`` holds a predictions file of at least one of ``names``
    (a report of a run folder with none would be all empty cells: a mistyped ``--out``)."""
    if not any((out_dir / "predictions" / f"{name}.jsonl").is_file() for name in names):
        raise DatasetError(f"no predictions in {out_dir / 'predictions'} for {', '.join(names)}: nothing to "
                           "report; run without --report-only first, or check --out and --systems")


def is_leakage(prediction: Prediction) -> bool:
    """Whether the system refused this answer because a model it consulted saw the sample's ECGs."""
    return (prediction.error or "").startswith(f"{LeakageError.__name__}:")


def run_benchmark(systems: Sequence[BenchSystem], selection: Selection, out_dir: Path,
                  leakage_policy: LeakagePolicy = "per-system", fresh: bool = False,
                  progress: bool = True, cache: EcgCache | None = None, answer: bool = True) -> RunResult:
    """Run every system on its leakage-free share of the selection, resuming from ``out_dir``.

    ``answer=False`` answers nothing: it scores the predictions already in ``out_dir`` (the report
    of a stopped run) and counts the samples still unanswered.
    """
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise UsageError(f"system names must be unique, got {names}")
    if not answer:
        require_predictions(out_dir, names)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
    if cache is None:
        cache = EcgCache(out_dir / "cache")
    scored, leakage = apply_leakage_guard(selection.samples, systems, leakage_policy)
    predictions: dict[str, tuple[Prediction, ...]] = {}
    seconds: dict[str, float] = {}
    unanswered: dict[str, int] = {}
    for system in systems:
        start = time.perf_counter()
        if answer:
            done = run_system(system, scored[system.name], out_dir, cache, fresh=fresh, progress=progress)
        else:
            pred_dir = out_dir / "predictions"
            _check_meta(pred_dir / f"{system.name}.meta.json", system.describe(), fresh=False, write=False)
            done = {sid: p for sid, p in read_predictions(pred_dir / f"{system.name}.jsonl", repair=False).items()
                    if not is_infrastructure_error(p.error)}  # never answered: counted as unanswered
        seconds[system.name] = round(time.perf_counter() - start, 3)
        ordered = sorted(scored[system.name], key=lambda s: s.sample_id)
        predictions[system.name] = tuple(done[s.sample_id] for s in ordered if s.sample_id in done)
        unanswered[system.name] = len(ordered) - len(predictions[system.name])
    leaked = {name: {p.sample_id for p in preds if is_leakage(p)} for name, preds in predictions.items()}
    if leakage_policy == "refuse" and any(leaked.values()):
        detail = ", ".join(f"{name}: {len(ids)}" for name, ids in leaked.items() if ids)
        raise LeakageError(f"answers consulted models that saw the sample's ECGs ({detail} samples); "
                           "use --leakage per-system or common to drop them")
    everyone = set().union(*leaked.values()) if leaked else set()
    reports = []
    for report in leakage:
        drop = everyone if leakage_policy == "common" else leaked[report.system]
        kept = tuple(p for p in predictions[report.system] if p.sample_id not in drop)
        reports.append(replace(report, n_dropped_at_answer=len(predictions[report.system]) - len(kept),
                               n_scored=len(kept)))
        predictions[report.system] = kept
    leakage = reports
    return RunResult(
        selection=selection,
        leakage=tuple(leakage),
        leakage_policy=leakage_policy,
        predictions=predictions,
        systems={s.name: s.describe() for s in systems},
        seconds=seconds,
        n_unanswered=unanswered,
    )


__all__ = [
    "MAX_SAMPLE_ATTEMPTS",
    "BenchSystem",
    "CachedFailure",
    "EcgCache",
    "LeakageReport",
    "Prediction",
    "RunResult",
    "Selection",
    "apply_leakage_guard",
    "as_qa_sample",
    "exact_match",
    "is_infrastructure_error",
    "is_leakage",
    "is_retry_then_score_error",
    "normalize_answer",
    "read_predictions",
    "require_predictions",
    "run_benchmark",
    "run_system",
    "select_samples",
    "stratified_sample",
]
