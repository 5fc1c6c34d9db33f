"""CLI of the benchmarks: ``ecgqa bench ecgqa`` and ``ecgqa bench speed``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..cli import CommandRegistry, int_at_least, int_between

DEFAULT_SYSTEMS = "oracle,upper-bound,tools"
DEFAULT_BENCH_NUMERIC_CONVENTION = "ecgqa"
"""Numeric convention of `ecgqa bench ecgqa` (session-7 protocol, docs/measurements.md "ECG-QA numeric convention")."""


def register(cli: CommandRegistry) -> None:
    from ..llm import MAX_STEPS, MAX_TOKENS  # the agent's caps (LLMSettings), one definition
    bench = cli.subcommand(
        "bench", "ecgqa",
        "ECG-QA systems side by side (oracle, upper-bound, tools, llm-upper-bound, llm-upper-bound-options, "
        "llm-agent): exact match per question type / attribute type / template with bootstrap CIs",
        _bench_ecgqa,
    )
    bench.add_argument("--dataset", default="ptbxl", choices=["ptbxl", "mimic-iv-ecg"],
                       help="ECG-QA dataset (signals here: PTB-XL only)")
    bench.add_argument("--kind", default="template", choices=["template", "paraphrased"],
                       help="question wording (default: template)")
    bench.add_argument("--split", default="test", choices=["train", "valid", "test"],
                       help="ECG-QA split to score (default: test)")
    bench.add_argument("--systems", default=DEFAULT_SYSTEMS,
                       help="comma-separated: oracle, upper-bound, tools, llm-upper-bound, "
                            "llm-upper-bound-options, llm-agent "
                            f"(default: {DEFAULT_SYSTEMS})")
    bench.add_argument("--ecgqa", help="ECG-QA folder (default: $ECGQA_DATA_DIR/ecg-qa)")
    bench.add_argument("--ptbxl", help="PTB-XL folder (default: $ECGQA_DATA_DIR/ptb-xl)")
    bench.add_argument("--no-examples", action="store_true",
                       help="leave out the official samples of the split quoted in templates.json")
    bench.add_argument("--fs", type=int, default=100, choices=[100, 500],
                       help="sampling rate of the signals read (default 100: all present records)")
    bench.add_argument("--numeric-convention", choices=("clinical", "ecgqa"), default=DEFAULT_BENCH_NUMERIC_CONVENTION,
                       help="whose numeric-feature ranges oracle, upper-bound, tools and llm-agent's intervals_and_axis "
                            "tool answer ECG-QA numeric questions with (not llm-upper-bound[-options]: no "
                            "measured ranges in their prompt): ecgqa (ECG-QA's own measuring convention: NeuroKit2 on lead II at 500 Hz; 100 Hz "
                            "signals resampled) or clinical (measure()'s 12-lead values, clinical ranges); default "
                            f"{DEFAULT_BENCH_NUMERIC_CONVENTION} (chosen by the session-7 protocol, docs/measurements.md)")
    bench.add_argument("--sample", type=float, default=None, metavar="FRACTION",
                       help="the paper's stratified sample: FRACTION of each template's samples (at least one "
                            "per template), seeded, e.g. 0.1 for 10%%; the way to spread a small run over the "
                            "templates (e.g. --sample 0.01: one or a few samples of every template)")
    bench.add_argument("--seed", type=int, default=42, help="seed of --sample (default 42, the paper's)")
    bench.add_argument("--limit", type=int_at_least(1), default=None, metavar="N",
                       help="score only the first N selected samples in sample-id order (after --sample): "
                            "sample ids follow the templates, so a small --limit alone covers one or two "
                            "templates; use --sample FRACTION for a run across templates")
    bench.add_argument("--shard", default=None, metavar="K/N",
                       help="run only every N-th selected sample from position K (0-based), for N workers "
                            "in their own --out folders; concatenate their predictions.jsonl and score with "
                            "--report-only")
    bench.add_argument("--leakage", default="per-system", choices=["per-system", "common", "refuse"],
                       help="per-system: each system drops the samples its own models saw (default; the "
                            "report adds a table on the samples every system may be scored on); common: "
                            "all systems on the samples no model saw; refuse: fail if any selected sample was seen")
    bench.add_argument("--disease-weights", default="ecgqa-split", choices=["ecgqa-split", "ptbxl-folds"],
                       help="disease models behind the tools/llm-agent systems' tools: ecgqa-split (default; trained "
                            "on ECG-QA train, selected on valid: never saw a test ECG) or ptbxl-folds (the shipped "
                            "fold 1-8 models `ecgqa ask` uses; answers that consulted them on ECGs they saw are dropped)")
    bench.add_argument("--out", default=None,
                       help="run folder: predictions JSONL, per-ECG cache (default runs/bench/<name>)")
    bench.add_argument("--report", default=None,
                       help="report path ending in .md (NAME.json and charts are written next to it; "
                            "default <out>/report.md)")
    bench.add_argument("--fresh", action="store_true",
                       help="discard earlier predictions and per-ECG caches in --out (after code or model changes)")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.add_argument("--report-only", action="store_true",
                       help="answer nothing: write the report from the predictions already in --out "
                            "(a stopped run; unanswered samples are counted and left out)")
    bench.add_argument("--llm-base-url", default=None,
                       help="OpenAI-compatible base URL of the LLM systems (default $ECGQA_LLM_BASE_URL); "
                            "checked once before the run (GET <url>/models)")
    bench.add_argument("--llm-model", default=None,
                       help="model name the endpoint serves (default $ECGQA_LLM_MODEL; required by the LLM systems)")
    bench.add_argument("--llm-api-key-env", default="ECGQA_LLM_API_KEY",
                       help="environment variable holding the API key (never printed)")
    bench.add_argument("--llm-timeout", type=float, default=120.0, help="seconds per LLM request")
    bench.add_argument("--llm-max-steps", type=int_between(1, MAX_STEPS), default=4,
                       help=f"agent turns per question (default 4, at most {MAX_STEPS})")
    bench.add_argument("--llm-max-tokens", type=int_between(1, MAX_TOKENS), default=96,
                       help=f"tokens per model reply (default 96, at most {MAX_TOKENS})")
    bench.add_argument("--llm-tools", default="ecgqa_attributes,intervals_and_axis,noise_per_lead,record_summary",
                       help="comma-separated tools offered to the llm-agent")
    bench.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")

    speed = cli.subcommand(
        "bench", "speed",
        "speed and memory on this machine: cold start of `ecgqa ask`, `measure` and `plot [--explain]`, "
        "per-ECG latency of each tool and of the full suite, ECG-QA questions/s with caching, peak memory",
        _bench_speed,
    )
    speed.add_argument("--ptbxl", help="PTB-XL folder (default: $ECGQA_DATA_DIR/ptb-xl)")
    speed.add_argument("--ecgqa", help="ECG-QA folder for the questions/s measurement")
    speed.add_argument("--n-ecgs", type=int_at_least(1), default=20, help="ECGs timed per tool (default 20)")
    speed.add_argument("--repeats", type=int_at_least(1), default=3, help="cold-start repetitions (default 3)")
    speed.add_argument("--threads", type=int_at_least(1), default=2, help="torch/onnxruntime threads (default 2)")
    speed.add_argument("--report", default=None, help="report path ending in .md (NAME.json next to it); "
                       "an existing report's hand-written part (from its '<!-- hand-written' line on) is kept")
    speed.add_argument("--json", action="store_true", help="print the JSON report")
    speed.add_argument("--cli-only", action="store_true",
                       help="only the cold starts of ecgqa --help, ask, measure, plot and plot --explain MI/STTC "
                            "(wall and CPU time; needs no dataset)")

    summary = cli.subcommand("bench", "summary",
                             "one Markdown table from ECG-QA and speed JSON reports (the README's table)",
                             _bench_summary)
    summary.add_argument("reports", nargs="+",
                         help="JSON reports written by bench ecgqa / bench speed (other JSON files, such as "
                              "docs/benchmarks/scale.json, are skipped with a note)")


def _bench_summary(args: argparse.Namespace) -> int:
    import json

    from ..errors import DatasetError
    from ._report import report_kind, summary_table

    reports, skipped = [], []
    for name in args.reports:
        try:
            report = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"cannot read the JSON report {name}: {exc}") from None
        if report_kind(report) is None:
            skipped.append(name)
            print(f"note: skipped {name}: not a bench ecgqa / bench speed JSON report", file=sys.stderr)
        else:
            reports.append(report)
    if not reports:
        raise DatasetError(f"none of {', '.join(args.reports)} is a bench ecgqa / bench speed JSON report")
    print(summary_table(reports))
    return 0


def report_paths(report: str | None, default: Path) -> tuple[Path, Path]:
    """The ``.md`` and ``.json`` paths a ``--report`` option names (``default`` when unset); a
    suffix other than ``.md`` is refused rather than silently replaced."""
    from ..errors import UsageError

    path = Path(report) if report else default
    if path.suffix != ".md":
        raise UsageError(f"--report must be a Markdown path ending in .md (the .json and charts are written "
                         f"next to it), got {str(path)!r}")
    return path, path.with_suffix(".json")


def check_llm_endpoint(endpoint: object, timeout_s: float = 10.0) -> str:
    """Check once, before a run, that the LLM systems can work: a model name is set and the
    endpoint answers ``GET <base url>/models``. Returns the base URL checked; raises
    ``UsageError`` (no model, malformed URL) or ``LLMError`` naming the URL (unreachable, key
    refused, not an OpenAI-compatible API root). The key is sent, never printed."""
    import os
    import re

    from ..errors import UsageError
    from ..llm import check_endpoint

    model = getattr(endpoint, "model", None) or os.environ.get("ECGQA_LLM_MODEL")
    if not model:
        raise UsageError("the LLM systems need a model name: pass --llm-model NAME or set ECGQA_LLM_MODEL "
                         "(the name the endpoint serves, e.g. smollm2)")
    base = getattr(endpoint, "base_url", None) or os.environ.get("ECGQA_LLM_BASE_URL") or "https://api.openai.com/v1"
    if not re.match(r"^https?://[^/\s]+", base):
        raise UsageError(f"--llm-base-url / ECGQA_LLM_BASE_URL must be an http(s) URL such as "
                         f"http://127.0.0.1:8080/v1, got {base!r}")
    key_env = str(getattr(endpoint, "api_key_env", "ECGQA_LLM_API_KEY"))
    key = os.environ.get(key_env) or os.environ.get("ECGQA_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    listed = check_endpoint(base, key, timeout_s, fix="start the server, or fix --llm-base-url / ECGQA_LLM_BASE_URL",
                            key_hint=f"set {key_env}")
    if listed and model not in listed:
        print(f"note: {base} lists the model(s) {', '.join(listed[:5])}, not {model!r} (llama.cpp serves "
              "its one model whatever the name; other servers refuse an unknown name)", file=sys.stderr)
    return base


def _command_line() -> str:
    return "ecgqa " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "ecgqa"


def _bench_ecgqa(args: argparse.Namespace) -> int:
    import json

    from .._config import dataset_dir
    from ..errors import UsageError
    from ._ecgqa_bench import require_predictions, run_benchmark, select_samples
    from ._ecgqa_bench_systems import BenchContext, LLMEndpoint, build_systems
    from ._report import write_report

    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    if not names:
        raise UsageError("--systems is empty; name at least one system")
    tag = f"ecgqa_{args.dataset}_{args.kind}_{args.split}" + (f"_s{args.sample:g}" if args.sample else "")
    out = Path(args.out) if args.out else Path("runs") / "bench" / tag
    if out.exists() and not out.is_dir():  # before the split is loaded
        raise UsageError(f"--out must be a folder (predictions and caches go in it); {out} is a file")
    report_path, json_path = report_paths(args.report, out / "report.md")
    if args.report_only and args.fresh:
        raise UsageError("--report-only reads the predictions in --out; it cannot go with --fresh")
    if args.sample is not None and not 0 < args.sample <= 1:
        raise UsageError(f"--sample must be a fraction in (0, 1], got {args.sample}")
    if args.dataset != "ptbxl":
        raise UsageError("only --dataset ptbxl can be benchmarked: systems need signals, and MIMIC-IV-ECG "
                         "signals are read by the records layer only where a user has them (not here)")
    ecgqa_root = dataset_dir("ecgqa", args.ecgqa)
    ptbxl_root = dataset_dir("ptbxl", args.ptbxl)
    if args.report_only:
        require_predictions(out, names)
    ctx = BenchContext(
        ptbxl_dir=ptbxl_root, ecgqa_dir=ecgqa_root, dataset=args.dataset, fs_hz=args.fs,
        disease_weights=args.disease_weights, numeric_convention=args.numeric_convention,
        llm=LLMEndpoint(base_url=args.llm_base_url, model=args.llm_model,
                        api_key_env=args.llm_api_key_env, timeout_s=args.llm_timeout,
                        max_steps=args.llm_max_steps, max_tokens=args.llm_max_tokens,
                        tools=tuple(t.strip() for t in args.llm_tools.split(",") if t.strip())),
    )
    if not args.report_only and any(n.startswith("llm") for n in names):  # before any data is read
        print(f"LLM endpoint {check_llm_endpoint(ctx.llm)} answers", file=sys.stderr)
    samples = load_split_samples(ecgqa_root, args.dataset, args.kind, args.split, not args.no_examples)
    selection = select_samples(samples, ctx.present_ids(), args.sample, args.seed, args.limit,
                               parse_shard(args.shard))
    ctx.cache_dir = out / "cache"
    if args.fresh and ctx.cache_dir.exists():
        import shutil

        shutil.rmtree(ctx.cache_dir)
    systems = build_systems(names, ctx)
    print(f"{len(selection.samples)} samples selected of {selection.n_loaded} loaded "
          f"({selection.n_missing_signal} without signals here); systems: {', '.join(names)}; "
          f"predictions in {out / 'predictions'}", file=sys.stderr)
    result = run_benchmark(systems, selection, out, leakage_policy=args.leakage, fresh=args.fresh,
                           progress=not args.no_progress, answer=not args.report_only)
    from collections import Counter

    sources = Counter(Path(s.source or "?").name for s in selection.samples)
    extra = {"dataset": args.dataset, "kind": args.kind, "split": args.split, "fs_hz": args.fs,
             "numeric_convention": args.numeric_convention,
             "numeric_convention_used_by": [s.name for s in systems if getattr(s, "uses_numeric_convention", False)] or "none",
             "selected_by_source_file": dict(sorted(sources.items())),
             "ecgqa_dir": str(ecgqa_root), "ptbxl_dir": str(ptbxl_root)}
    if any(n.startswith("llm") for n in names):
        extra["llm"] = ctx.llm.public()
    title = f"ECG-QA benchmark: {args.dataset} {args.kind} {args.split}"
    report = write_report(result, report_path, _command_line(), title, extra)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(_summary(report))
    for note in run_notes(result):
        print(f"note: {note}", file=sys.stderr)
    print(f"report: {report_path} and {json_path.name} (charts next to them)", file=sys.stderr)
    return 0


def run_notes(result) -> list[str]:
    """Why a system's cells are empty or partial, for the terminal: samples the leakage guard
    dropped, samples not answered (stopped run, endpoint failures), samples that raised errors."""
    from collections import Counter

    from ._ecgqa_bench import MAX_SAMPLE_ATTEMPTS

    n_selected = len(result.selection.samples)
    notes = []
    if n_selected == 0:
        selection = result.selection
        notes.append(f"no sample selected: {selection.n_loaded} loaded, {selection.n_missing_signal} of them "
                     "need an ECG with no signal here")
    for leak in result.leakage:
        name = leak.system
        preds = result.predictions.get(name, ())
        unanswered = result.n_unanswered.get(name, 0)
        if n_selected and leak.n_dropped_total:
            others = leak.n_dropped_total - leak.n_dropped_own
            notes.append(f"{name}: the leakage guard dropped {leak.n_dropped_total} of {n_selected} selected "
                         f"samples ({leak.n_dropped_own} with an ECG its models were trained or selected on"
                         + (f", {others} seen by other systems' models under --leakage common" if others else "")
                         + ")" + ("; nothing scored: its models saw every selected ECG (ECG-QA's test split holds ECGs they never saw)"
                                  if leak.n_scored == 0 and not leak.n_dropped_at_answer else ""))
        if leak.n_dropped_at_answer:
            notes.append(f"{name}: {leak.n_dropped_at_answer} answers consulted a model that saw the sample's "
                         "ECGs (dropped at answer time)")
        if unanswered:
            notes.append(f"{name}: {unanswered} samples not answered (a stopped run, or the LLM endpoint "
                         "failing; not scored, see 'all, unanswered counted wrong'): rerun the same command to "
                         f"answer them (a sample that times out or gets a server error in {MAX_SAMPLE_ATTEMPTS} runs is "
                         "then scored wrong)")
        errors = [p.error for p in preds if p.error]
        if errors:
            common, count = Counter(e.split(":", 1)[0] for e in errors).most_common(1)[0]
            example = next(e for e in errors if e.startswith(common))
            notes.append(f"{name}: {len(errors)} of {len(preds)} scored samples raised an error (scored wrong; "
                         f"most often {common}, x{count}: {example[:160]})")
    return notes


def load_split_samples(ecgqa_root: Path, dataset: str, kind: str, split: str,
                       include_examples: bool = True) -> list:
    """The official samples of one split: its staged chunks (``qa.load_ecgqa``) plus, for template
    wording, the official samples of that split quoted in ``templates.json`` (deduplicated by
    ``sample_id``, which is unique within a split)."""
    import json

    from ..errors import DatasetError, json_error_reason
    from ..qa import load_ecgqa, parse_samples

    samples = list(load_ecgqa(ecgqa_root, dataset, kind, split).samples)
    path = ecgqa_root / "templates.json"
    if include_examples and kind == "template" and dataset == "ptbxl" and path.is_file():
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"malformed JSON in {path} at line {exc.lineno} column {exc.colno}: "
                               f"{json_error_reason(exc)}") from None
        have = {s.sample_id for s in samples}
        items = []
        for entry in entries:
            for example in entry.get("examples", []):
                if example.get("split") != split or int(example["sample_id"]) in have:
                    continue
                have.add(int(example["sample_id"]))
                items.append({**example, "template_id": entry["template_id"],
                              "question_type": entry["question_type"], "attribute_type": entry["attribute_type"]})
        samples.extend(parse_samples(items, split, str(path)))
    return samples


def _summary(report: dict) -> str:
    """Overall and per-question-type accuracy, one row per group, one column per system."""
    from ._report import GroupScore, _table, unanswered_counted_wrong_row

    scores = [GroupScore(**s) for s in report["scores"]]
    systems = list(report["systems"])
    lines = (_table(scores, "overall", systems, "set") + unanswered_counted_wrong_row(report)
             + _table(scores, "question_type", systems, "question type")[2:])
    return "\n".join(lines)


def _bench_speed(args: argparse.Namespace) -> int:
    import json

    from .._config import dataset_dir
    from ._speed import render_speed_markdown, run_cli_speed_benchmark, run_speed_benchmark, write_speed_report
    from .._io import write_text_atomic

    if args.report:
        md_path, json_path = report_paths(args.report, Path("speed.md"))
    if args.cli_only:
        report = run_cli_speed_benchmark(repeats=args.repeats, threads=args.threads, command=_command_line())
    else:
        ptbxl_root = dataset_dir("ptbxl", args.ptbxl)
        ecgqa_root = dataset_dir("ecgqa", args.ecgqa, required=False)
        report = run_speed_benchmark(ptbxl_root, ecgqa_root, n_ecgs=args.n_ecgs, repeats=args.repeats,
                                     threads=args.threads, command=_command_line())
    if args.report:
        write_text_atomic(json_path, json.dumps(report, indent=2, default=str) + "\n")
        write_speed_report(md_path, render_speed_markdown(report))  # keeps the hand-written part
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(render_speed_markdown(report, summary_only=True))
    if args.report:
        print(f"report: {md_path} and {json_path.name}", file=sys.stderr)
    return 0


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> ``(K, N)`` (``None`` stays ``None``)."""
    from ..errors import UsageError

    if text is None:
        return None
    k, sep, n = text.partition("/")
    try:
        shard = (int(k), int(n))
    except ValueError:
        shard = None
    if not sep or shard is None or not 0 <= shard[0] < shard[1]:
        raise UsageError(f"--shard must be K/N with 0 <= K < N (e.g. 0/2), got {text!r}")
    return shard
