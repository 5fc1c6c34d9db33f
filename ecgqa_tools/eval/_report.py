"""Scores and reports of the ECG-QA benchmark: exact match with bootstrap CIs, Markdown, JSON, charts."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from .._io import atomic_output, write_text_atomic
from ..qa import QUESTION_TYPES
from ._ecgqa_bench import Prediction, RunResult

GroupKind = Literal["overall", "question_type", "attribute_type", "template"]


@dataclass(frozen=True)
class GroupScore:
    """Exact-match accuracy of one system on one group of samples."""

    system: str
    """System name."""
    kind: str
    """``overall``, ``question_type``, ``attribute_type`` or ``template``."""
    group: str
    """The group's value (``all``, ``single-verify``, ``scp_code``, template id as text...)."""
    n: int
    """Samples in the group."""
    correct: int
    """Samples answered exactly right."""
    accuracy: float
    """``correct / n`` (NaN when ``n`` is 0)."""
    ci_low: float
    """Lower end of the bootstrap 95% CI of the accuracy."""
    ci_high: float
    """Upper end of the bootstrap 95% CI of the accuracy."""
    errors: int
    """Samples where the system raised a package error (counted as wrong)."""


def bootstrap_ci(correct: Sequence[bool], n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of 0/1 outcomes (``(nan, nan)`` for no outcomes)."""
    import numpy as np

    values = np.asarray(correct, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // values.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


_KEYS: dict[str, Callable[[Prediction], str]] = {
    "overall": lambda p: "all",
    "question_type": lambda p: p.question_type,
    "attribute_type": lambda p: p.attribute_type,
    "template": lambda p: str(p.template_id),
}


def _sort_key(kind: str, group: str) -> tuple[Any, ...]:
    if kind == "question_type" and group in QUESTION_TYPES:
        return (0, QUESTION_TYPES.index(group), group)
    if kind == "template" and group.isdigit():
        return (0, int(group), group)
    return (1, 0, group)


def score_predictions(predictions: dict[str, Sequence[Prediction]], n_boot: int = 2000,
                      seed: int = 0) -> list[GroupScore]:
    """Exact match per system, overall and per question type, attribute type and template."""
    scores: list[GroupScore] = []
    for system, preds in predictions.items():
        for kind, key in _KEYS.items():
            groups: dict[str, list[Prediction]] = {}
            for p in preds:
                groups.setdefault(key(p), []).append(p)
            if kind == "overall" and not groups:
                groups["all"] = []
            for group in sorted(groups, key=lambda g: _sort_key(kind, g)):
                members = groups[group]
                hits = [p.correct for p in members]
                low, high = bootstrap_ci(hits, n_boot=n_boot, seed=seed)
                scores.append(GroupScore(
                    system=system, kind=kind, group=group, n=len(members), correct=sum(hits),
                    accuracy=(sum(hits) / len(members)) if members else float("nan"),
                    ci_low=low, ci_high=high, errors=sum(p.error is not None for p in members),
                ))
    return scores


def machine_description() -> dict[str, Any]:
    """CPU model, core count, memory, GPU presence, Python and key library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb: float | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    gpu = "none"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch_version,
        "platform": platform.platform(),
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}"


def _cell(score: GroupScore | None) -> str:
    if score is None or score.n == 0:
        return "-"
    return f"{_pct(score.accuracy)} [{_pct(score.ci_low)}, {_pct(score.ci_high)}] (n={score.n})"


def _table(scores: list[GroupScore], kind: str, systems: list[str], label: str) -> list[str]:
    rows = [s for s in scores if s.kind == kind]
    groups = sorted({s.group for s in rows}, key=lambda g: _sort_key(kind, g))
    if not groups:
        return []
    index = {(s.system, s.group): s for s in rows}
    lines = [f"| {label} | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for group in groups:
        lines.append(f"| {group} | " + " | ".join(_cell(index.get((sys, group))) for sys in systems) + " |")
    return lines


def unanswered_counted_wrong_row(report: dict[str, Any]) -> list[str]:
    """The row shown under the overall exact match when a system left samples unanswered (a
    stopped run, the LLM endpoint failing): exact match with those samples counted wrong,
    ``correct / (scored + unanswered)``; no row when every system answered every sample."""
    unanswered = {k: int(v) for k, v in report.get("n_unanswered", {}).items()}
    if not any(unanswered.values()):
        return []
    overall = {s["system"]: s for s in report["scores"] if s["kind"] == "overall"}
    cells = []
    for name in report["systems"]:
        score, missing = overall.get(name), unanswered.get(name, 0)
        total = (score["n"] if score else 0) + missing
        cells.append("-" if total == 0 else f"{_pct((score['correct'] if score else 0) / total)} "
                     f"(n={total}, {missing} unanswered)")
    return ["| all, unanswered counted wrong | " + " | ".join(cells) + " |"]


def build_report(result: RunResult, command: str, title: str, extra: dict[str, Any] | None = None,
                 n_boot: int = 2000) -> dict[str, Any]:
    """The JSON report: command, date, machine, data, leakage, scores, per-system timing."""
    scores = score_predictions(result.predictions, n_boot=n_boot)
    common_ids = common_sample_ids(result.predictions)
    common_scores: list[GroupScore] = []
    if any(len(preds) != len(common_ids) for preds in result.predictions.values()):
        common_scores = [s for s in score_predictions(
            {name: [p for p in preds if p.sample_id in common_ids] for name, preds in result.predictions.items()},
            n_boot=n_boot) if s.kind in ("overall", "question_type")]
    selection = result.selection
    return {
        "title": title,
        "command": command,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "data": {
            "n_loaded": selection.n_loaded,
            "n_missing_signal": selection.n_missing_signal,
            "n_missing_ecg_ids": len(selection.missing_ecg_ids),
            "n_selected": len(selection.samples),
            "sample_fraction": selection.sample_fraction,
            "seed": selection.seed,
            "limit": selection.limit,
            "shard": None if selection.shard is None else f"{selection.shard[0]}/{selection.shard[1]}",
            **(extra or {}),
        },
        "leakage_policy": result.leakage_policy,
        "leakage": [asdict(r) for r in result.leakage],
        "systems": result.systems,
        "seconds": result.seconds,
        "answer_seconds": {name: round(sum(p.seconds for p in preds), 1)
                           for name, preds in result.predictions.items()},
        "n_unanswered": result.n_unanswered,
        "scores": [_finite(asdict(s)) for s in scores],
        "n_common": len(common_ids),
        "common_scores": [_finite(asdict(s)) for s in common_scores],
    }


def common_sample_ids(predictions: dict[str, Sequence[Prediction]]) -> set[int]:
    """Sample ids every system was scored on."""
    sets = [{p.sample_id for p in preds} for preds in predictions.values()]
    return set.intersection(*sets) if sets else set()


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (an empty group) becomes ``None`` so the JSON report is strict JSON."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}


def render_markdown(report: dict[str, Any], charts: Sequence[Path] = ()) -> str:
    """The Markdown report of a JSON report (tables per question type, attribute type, template)."""
    scores = [GroupScore(**s) for s in report["scores"]]
    systems = list(report["systems"])
    data = report["data"]
    machine = report["machine"]
    lines = [
        f"# {report['title']}",
        "",
        "Research software, not for clinical use. Exact match of the answer set, in percent, with a "
        "bootstrap 95% CI (2,000 resamples of the scored samples) and the number of samples n.",
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['date_utc']}",
        f"- Machine: {machine['cpu']}, {machine['cores']} CPU cores, {machine['memory_gb']} GB RAM, "
        f"GPU: {machine['gpu']}; Python {machine['python']}, torch {machine['torch']}",
    ]
    for key, value in data.items():
        if key.startswith("n_") or value is None or (key == "seed" and not data.get("sample_fraction")):
            continue
        lines.append(f"- {key.replace('_', ' ')}: {value}")
    lines += [
        "",
        "## Samples",
        "",
        f"- Loaded: {data['n_loaded']} samples.",
        f"- Dropped because an ECG has no signal here: {data['n_missing_signal']} samples "
        f"({data['n_missing_ecg_ids']} distinct absent ECG ids).",
        "- Selected (signals present"
        + (f", stratified {100 * data['sample_fraction']:g}% sample per template with seed {data['seed']}"
           if data.get("sample_fraction") else "")
        + (f", first {data['limit']}" if data.get("limit") else "")
        + (f", shard {data['shard']} (every N-th from position K)" if data.get("shard") else "")
        + f"): {data['n_selected']} samples.",
        "",
        f"Leakage guard (policy `{report['leakage_policy']}`): no system is scored on an ECG any of its "
        "models was trained or selected on (ids from the model cards). 'ECG ids its models saw' counts the "
        "models the system always consults; a system that consults further models only for some questions "
        "(the offline answerer, the agent) checks their ids after answering, and the sample is 'dropped at "
        "answer time' when one of them saw its ECGs.",
        "",
        "| system | ECG ids its models saw | selected samples they saw | not scored | dropped at answer time | scored | errors | answer time, summed (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    overall = {s.system: s for s in scores if s.kind == "overall"}
    for row in report["leakage"]:
        name = row["system"]
        errors = overall[name].errors if name in overall else 0
        lines.append(f"| {name} | {row['n_seen_ecgs']} | {row['n_dropped_own']} | {row['n_dropped_total']} "
                     f"| {row.get('n_dropped_at_answer', 0)} | {row['n_scored']} | {errors} "
                     f"| {report.get('answer_seconds', report['seconds']).get(name, 0):.1f} |")
    unanswered = {k: v for k, v in report.get("n_unanswered", {}).items() if v}
    if unanswered:
        lines += ["", "**Stopped run.** This report scores the predictions written before the run was stopped; "
                  "samples not answered yet are left out: "
                  + ", ".join(f"{name} {n}" for name, n in unanswered.items()) + " (per system, of the "
                  "samples it would be scored on). The answered ones follow the run's order (by ECG id), "
                  "not a random draw; the overall table's row 'all, unanswered counted wrong' scores the "
                  "unanswered ones as wrong."]
    lines += ["", "## Overall", ""] + _table(scores, "overall", systems, "set") + unanswered_counted_wrong_row(report)
    common = [GroupScore(**s) for s in report.get("common_scores", [])]
    if common:
        lines += ["", f"### On the {report['n_common']} samples every system was scored on", "",
                  "The systems above were scored on different samples (the leakage guard drops, per system, "
                  "the ECGs its models saw). Side by side on the samples they share:", ""]
        lines += _table(common, "overall", systems, "set") + _table(common, "question_type", systems,
                                                                     "question type")[2:]
    lines += ["", "## By question type", ""] + _table(scores, "question_type", systems, "question type")
    lines += ["", "## By attribute type", ""] + _table(scores, "attribute_type", systems, "attribute type")
    lines += ["", "## By template", ""] + _table(scores, "template", systems, "template")
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{chart.stem}]({chart.name})" for chart in charts]
    lines += ["", "## Systems", ""]
    for name, description in report["systems"].items():
        lines.append(f"- `{name}`: " + json.dumps(description, sort_keys=True, default=str))
    return "\n".join(lines) + "\n"


def plot_question_type_charts(report: dict[str, Any], out_dir: Path, stem: str) -> list[Path]:
    """One bar chart PNG per question type: accuracy of each system with its 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [GroupScore(**s) for s in report["scores"] if s["kind"] == "question_type"]
    systems = list(report["systems"])
    paths: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for qtype in sorted({s.group for s in scores}, key=lambda g: _sort_key("question_type", g)):
        rows = {s.system: s for s in scores if s.group == qtype}
        names = [name for name in systems if name in rows and rows[name].n > 0]
        if not names:
            continue
        names = [n for n in names if rows[n].accuracy is not None]
        if not names:
            continue
        acc = [100 * rows[n].accuracy for n in names]
        low = [100 * (rows[n].accuracy - rows[n].ci_low) for n in names]
        high = [100 * (rows[n].ci_high - rows[n].accuracy) for n in names]
        fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2.5, 3.6), dpi=110)
        bars = ax.bar(names, acc, yerr=[low, high], capsize=4, color="#4c72b0", edgecolor="black")
        for bar, name in zip(bars, names):
            ax.annotate(f"{100 * rows[name].accuracy:.1f}%\nn={rows[name].n}",
                        (bar.get_x() + bar.get_width() / 2, 2), ha="center", va="bottom", fontsize=8,
                        color="white" if rows[name].accuracy > 0.12 else "black")
        ax.set_ylim(0, 100)
        ax.set_ylabel("exact match (%)")
        ax.set_title(f"ECG-QA {qtype}: exact match with 95% CI")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"{stem}_{qtype}.png"
        with atomic_output(path) as tmp:
            fig.savefig(tmp)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(result: RunResult, report_path: Path, command: str, title: str,
                 extra: dict[str, Any] | None = None, charts: bool = True) -> dict[str, Any]:
    """Write ``<report>.md``, ``<report>.json`` and the charts next to them; return the JSON report."""
    report = build_report(result, command, title, extra)
    stem = report_path.with_suffix("")
    chart_paths = plot_question_type_charts(report, report_path.parent, stem.name) if charts else []
    write_text_atomic(stem.with_suffix(".json"), json.dumps(report, indent=2, default=str) + "\n")
    write_text_atomic(stem.with_suffix(".md"), render_markdown(report, chart_paths))
    return report


__all__ = [
    "GroupScore",
    "bootstrap_ci",
    "build_report",
    "machine_description",
    "plot_question_type_charts",
    "render_markdown",
    "report_kind",
    "score_predictions",
    "summary_table",
    "write_report",
]


def report_kind(obj: Any) -> Literal["ecgqa", "speed", "speed-cli"] | None:
    """Which JSON report ``obj`` is: ``ecgqa`` (``bench ecgqa``), ``speed`` (``bench speed``),
    ``speed-cli`` (``bench speed --cli-only``), or ``None`` for anything else (another JSON file)."""
    if not isinstance(obj, dict):
        return None
    if obj.get("cli_only") and isinstance(obj.get("cold_start"), dict) and "machine" in obj:
        return "speed-cli"
    if isinstance(obj.get("headline"), dict) and isinstance(obj.get("goals"), dict) and "machine" in obj:
        return "speed"
    if isinstance(obj.get("data"), dict) and isinstance(obj.get("scores"), list):
        return "ecgqa"
    return None


def _sample_set(data: dict[str, Any]) -> str:
    """The data column of an ECG-QA row: dataset, wording, split and how the samples were chosen."""
    where = f"{data.get('dataset', '')} {data.get('kind', '')} {data.get('split', '')}".strip()
    if data.get("sample_fraction"):
        where += f", {100 * data['sample_fraction']:g}% stratified sample (seed {data['seed']})"
    if data.get("limit"):
        where += f", first {data['limit']} by sample id (--limit {data['limit']})"
    if data.get("shard"):
        where += f", shard {data['shard']}"
    return where


def summary_table(reports: Sequence[dict[str, Any]]) -> str:
    """One Markdown table summarising ECG-QA and speed JSON reports (the README's bench table).

    ECG-QA reports give one row per system (overall exact match with CI and n, the sample set);
    a speed report gives one row per headline number with its goal. Anything else (``report_kind``
    ``None``) is a ``DatasetError``.
    """
    from ..errors import DatasetError

    lines = ["| benchmark | result | data / goal |", "|---|---|---|"]
    for position, report in enumerate(reports):
        if report_kind(report) is None:
            title = report.get("title") if isinstance(report, dict) else None
            raise DatasetError(f"item {position} ({title or type(report).__name__}) is not a bench ecgqa / "
                               "bench speed JSON report")
        if report.get("cli_only"):  # `bench speed --cli-only`: cold starts of the commands
            for row in report["cold_start"].values():
                if "error" not in row:
                    lines.append(f"| speed: cold `{row['command']}`, median | {row['median_s']:.2f} s wall, "
                                 f"{row.get('cpu_median_s', float('nan')):.2f} s CPU | n={row['n']}; "
                                 f"{report['machine']['cores']} cores, {report['date_utc']} |")
            continue
        if "headline" in report:  # a speed report
            from ._speed import _LABELS, goal_ratio

            for name, value in report["headline"].items():
                goal = report["goals"][name]
                ratio, met = goal_ratio(name, value)
                shown = ("not measured" if value is None else
                         f"{value:,.0f} {goal['unit']}" if value >= 100 else f"{value:.3g} {goal['unit']}")
                verdict = "" if met is None else (" (met)" if met else f" (NOT met, {ratio:.2f}x the goal)")
                lines.append(f"| speed: {_LABELS[name]} | {shown} | goal {goal['direction']} {goal['goal']:g} "
                             f"{goal['unit']}{verdict}; {report['machine']['cores']} cores, {report['date_utc']} |")
            continue
        where = _sample_set(report["data"])
        for row in report["scores"]:
            if row["kind"] != "overall":
                continue
            score = GroupScore(**row)
            extra = f"; {score.errors} error{'s' if score.errors > 1 else ''}" if score.errors else ""
            lines.append(f"| ECG-QA `{score.system}` | {_cell(score)} | {where}{extra} |")
    return "\n".join(lines)
