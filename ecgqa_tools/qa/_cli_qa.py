"""``ecgqa qa ...`` and ``ecgqa bench qa-*`` commands (ECG-QA dataset tooling)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_DATASETS = ("ptbxl", "mimic-iv-ecg")
_KINDS = ("template", "paraphrased")
_SPLITS = ("train", "valid", "test")


def register(cli) -> None:  # noqa: ANN001 - CommandRegistry
    p = cli.subcommand("qa", "load", "load ECG-QA splits into typed samples; report samples and missing chunks", _load)
    _ecgqa_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = cli.subcommand(
        "qa", "verify", "recompute every official answer from PTB-XL labels; per-template agreement", _verify
    )
    p.add_argument("--ptbxl", help="PTB-XL folder (with ptbxl_database.csv); default $ECGQA_DATA_DIR/ptb-xl")
    p.add_argument("--ecgqa", help="ECG-QA folder; default $ECGQA_DATA_DIR/ecg-qa")
    p.add_argument("--show", type=int, default=20, help="disagreements to print (default 20, -1 = all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = cli.subcommand(
        "qa", "map", "record path(s) of every sample in a PTB-XL or MIMIC-IV-ECG tree; absent ones listed", _map
    )
    _ecgqa_args(p)
    p.add_argument("--ptbxl", help="PTB-XL folder (for --dataset ptbxl)")
    p.add_argument("--mimic", help="MIMIC-IV-ECG folder with record_list.csv (for --dataset mimic-iv-ecg)")
    p.add_argument("--fs", type=int, default=500, choices=(100, 500),
                   help="PTB-XL sampling rate of the mapped paths (default 500: records500/, PTB-XL's original "
                        "rate; `bench ecgqa` reads --fs 100 by default because the partial PTB-XL here has more "
                        "records at 100 Hz: pass --fs 100 to count those)")
    p.add_argument("--parquet", help="write the mapped samples with ecg_path to this Parquet file")
    p.add_argument("--hf", help="save the mapped samples as a Hugging Face datasets folder here")
    p.add_argument("--list-absent", type=int, default=20, help="absent record ids to print (-1 = all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = cli.subcommand(
        "qa", "parse", "map a question to (template, slots) with the offline sentence-embedding model", _parse
    )
    p.add_argument("question", nargs="+",
                   help="the question text; several words are joined with spaces into one question (quoting it is optional)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = cli.subcommand("bench", "qa-load", "ECG-QA loading speed (samples/s) on the chunks present", _bench_load)
    p.add_argument("--ecgqa", help="ECG-QA folder; default $ECGQA_DATA_DIR/ecg-qa")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is reported)")

    p = cli.subcommand(
        "bench", "qa-parse", "question understanding accuracy (template + slots) per template", _bench_parse
    )
    p.add_argument("--ecgqa", help="ECG-QA folder; default $ECGQA_DATA_DIR/ecg-qa")
    p.add_argument("--limit", type=int, default=0, help="at most this many questions per source file (0 = all)")
    p.add_argument("--show", type=int, default=10, help="errors to print")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _ecgqa_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ecgqa", help="ECG-QA folder; default $ECGQA_DATA_DIR/ecg-qa")
    p.add_argument("--dataset", default="ptbxl", choices=_DATASETS,
                   help="ECG-QA dataset: ptbxl or mimic-iv-ecg (default: %(default)s)")
    p.add_argument("--kind", default="all", choices=(*_KINDS, "all"),
                   help="question wording: template, paraphrased or all (default: %(default)s)")
    p.add_argument("--split", default="all", choices=(*_SPLITS, "all"),
                   help="ECG-QA split: train, valid, test or all (default: %(default)s)")


def _ecgqa_root(value: str | None) -> Path:
    from .._config import dataset_dir

    return dataset_dir("ecgqa", value)  # type: ignore[return-value]


def _iter_splits(args: argparse.Namespace):  # -> Iterator[QASplit]
    """The requested splits one at a time (a caller that only counts keeps one split in memory:
    all six MIMIC-IV-ECG splits at once peaked at 2.3 GB, docs/benchmarks/scale.md)."""
    from ..errors import DatasetError
    from ._samples import load_ecgqa

    root = _ecgqa_root(args.ecgqa)
    kinds = _KINDS if args.kind == "all" else (args.kind,)
    splits = _SPLITS if args.split == "all" else (args.split,)
    found = False
    for kind in kinds:
        for split in splits:
            try:
                loaded = load_ecgqa(root, args.dataset, kind, split)
            except DatasetError as exc:
                if args.kind != "all" and args.split != "all":
                    raise
                print(f"skipped {args.dataset}/{kind}/{split}: {exc}", file=sys.stderr)
                continue
            found = True
            yield loaded
            del loaded  # not held while the next split loads
    if not found:
        raise DatasetError(f"no {args.dataset} ECG-QA split found under {root}")


def _splits(args: argparse.Namespace):  # -> list[QASplit]
    return list(_iter_splits(args))


def _load(args: argparse.Namespace) -> int:
    rows = []
    for s in _iter_splits(args):  # one split in memory at a time
        if args.json:
            rows.append({"dataset": s.dataset, "kind": s.kind, "split": s.split, "samples": len(s),
                         "chunks_found": list(s.chunks_found), "chunks_missing": list(s.chunks_missing)})
        else:
            print(s.summary(), flush=True)
            if s.chunks_missing:
                shown = ", ".join(s.chunks_missing[:8])
                print(f"  missing: {shown}{' ...' if len(s.chunks_missing) > 8 else ''}")
        del s
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .._config import dataset_dir
    from ._ptbxl_labels import attributes_from_ptbxl, load_ptbxl_metadata
    from ._samples import load_ecgqa
    from ._verify import (
        SIGNAL_DERIVED_TEMPLATES,
        numeric_comparison_consistency,
        official_template_samples,
        verify_answers,
    )

    ecgqa = _ecgqa_root(args.ecgqa)
    metadata = load_ptbxl_metadata(dataset_dir("ptbxl", args.ptbxl))
    samples, sources = official_template_samples(ecgqa)
    cache: dict = {}

    def attrs(ecg_id: int):
        if ecg_id not in cache:
            cache[ecg_id] = attributes_from_ptbxl(metadata, ecg_id)
        return cache[ecg_id]

    report = verify_answers(samples, attrs)
    extra = list(samples)
    try:
        extra += load_ecgqa(ecgqa, "mimic-iv-ecg", "template", "test").samples
    except Exception:  # noqa: BLE001 - MIMIC chunks are optional here
        pass
    consistency = numeric_comparison_consistency(extra)
    agree, total = report.non_numeric
    label_rows = [r for t, r in report.per_template.items() if not r.numeric and t not in SIGNAL_DERIVED_TEMPLATES]
    label_agree, label_total = sum(r.agree for r in label_rows), sum(r.total for r in label_rows)
    if args.json:
        print(json.dumps({
            "sources": sources,
            "per_template": {t: vars(r) for t, r in report.per_template.items()},
            "disagreements": [
                {"template_id": d.sample.template_id, "sample_id": d.sample.sample_id, "split": d.sample.split,
                 "ecg_id": list(d.sample.ecg_id), "question": d.sample.question, "expected": list(d.expected),
                 "got": list(d.got)} for d in report.disagreements
            ],
            "numeric_comparison_consistency": {
                "conflicts": consistency.conflicts, "undetermined": consistency.undetermined,
                "per_template": consistency.per_template},
            "non_numeric": {"agree": agree, "total": total},
            "label_derived": {"agree": label_agree, "total": label_total},
        }, indent=1))
        return 0
    print("official PTB-XL template samples: " + ", ".join(f"{k}: {v}" for k, v in sources.items()))
    print(f"{'template':>8} {'type':<30} {'attribute':<20} {'agree':>7} {'total':>7} {'pct':>7} {'in order':>8}")
    from ._templates import TEMPLATES

    for tid, r in report.per_template.items():
        tpl = TEMPLATES[tid]
        if r.numeric:
            print(f"{tid:>8} {tpl.question_type:<30} {tpl.attribute_type:<20} {'-':>7} {r.total:>7} "
                  f"{'numeric: needs signal measurements':>7}")
            continue
        note = "  (signal-derived heart axis)" if tid in SIGNAL_DERIVED_TEMPLATES else ""
        print(f"{tid:>8} {tpl.question_type:<30} {tpl.attribute_type:<20} {r.agree:>7} {r.total:>7} "
              f"{100 * r.agree / r.total:>6.1f}% {r.agree_in_order:>8}{note}")
    shown = report.disagreements if args.show < 0 else report.disagreements[: args.show]
    if shown:
        print(f"\ndisagreements ({len(report.disagreements)}):")
        for d in shown:
            print(f"  t{d.sample.template_id} {d.sample.split}#{d.sample.sample_id} ecg {list(d.sample.ecg_id)}: "
                  f"{d.sample.question!r} official {list(d.expected)} recomputed {list(d.got)}")
    print("\nnumeric comparison templates (self-consistency, no measurements): "
          f"{consistency.conflicts} conflicting record states; "
          + ", ".join(f"t{t} {a}/{n}" for t, (n, a) in consistency.per_template.items())
          + f"; {consistency.undetermined} samples undetermined")
    print(f"label-derived templates (all but numeric and heart axis): {label_agree}/{label_total} "
          f"({100 * label_agree / max(label_total, 1):.2f}%)")
    print(f"non-numeric templates: {agree}/{total} ({100 * agree / max(total, 1):.2f}%)")
    return 0


def _map(args: argparse.Namespace) -> int:
    from .._config import dataset_dir
    from ..errors import UsageError
    from ._mapping import export_hf, export_parquet, map_samples

    if args.dataset == "ptbxl":
        root = dataset_dir("ptbxl", args.ptbxl)
    else:
        root = dataset_dir("mimic", args.mimic)
    if args.dataset == "ptbxl" and args.mimic:
        raise UsageError("--mimic is for --dataset mimic-iv-ecg; use --ptbxl for PTB-XL")
    splits = _splits(args)
    samples = [s for sp in splits for s in sp.samples]
    t0 = time.perf_counter()
    report = map_samples(samples, root, args.dataset, args.fs)
    seconds = time.perf_counter() - t0
    written = []
    if args.parquet:
        written.append(str(export_parquet(report, args.parquet)))
    if args.hf:
        written.append(str(export_hf(report, args.hf)))
    absent = list(report.absent_ids) if args.list_absent < 0 else list(report.absent_ids[: args.list_absent])
    if args.json:
        print(json.dumps({
            "samples": report.n_samples, "present": report.n_present, "absent": report.n_absent,
            "absent_ids": list(report.absent_ids), "seconds": seconds, "written": written,
        }))
        return 0
    for sp in splits:
        print(sp.summary())
    print(report.summary() + f" ({seconds:.2f} s)")
    if report.absent_ids and not absent:
        print(f"absent record ids: {len(report.absent_ids)} (--list-absent N prints N of them)")
    elif report.absent_ids:
        more = " ..." if len(absent) < len(report.absent_ids) else ""
        print(f"absent record ids ({len(report.absent_ids)}): {', '.join(map(str, absent))}{more}")
    for path in written:
        print(f"wrote {path}")
    return 0


def _parse(args: argparse.Namespace) -> int:
    from ._understand import parse_question

    parsed = parse_question(" ".join(args.question))
    if args.json:
        print(json.dumps({"template_id": parsed.template_id, "slots": parsed.slots, "confidence": parsed.confidence}))
    else:
        print(f"template {parsed.template_id} slots {parsed.slots} confidence {parsed.confidence:.3f}")
    return 0


def _bench_load(args: argparse.Namespace) -> int:
    import os

    from ._samples import load_ecgqa

    root = _ecgqa_root(args.ecgqa)
    jobs = []
    size = 0
    for dataset in _DATASETS:
        for kind in _KINDS:
            for split in _SPLITS:
                folder = root / dataset / kind / split
                if folder.is_dir():
                    jobs.append((dataset, kind, split))
                    size += sum(os.path.getsize(folder / n) for n in os.listdir(folder) if n.endswith(".json"))
    best = best_cpu = None
    n = 0
    for _ in range(max(1, args.repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        n = sum(len(load_ecgqa(root, *job)) for job in jobs)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = elapsed if best is None else min(best, elapsed)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    rate = n / best
    cpu_rate = n / best_cpu
    print(f"loaded {n} samples from {len(jobs)} splits ({size / 1e6:.1f} MB JSON) in {best:.3f} s wall, "
          f"{best_cpu:.3f} s CPU (best of {args.repeat}): {rate:,.0f} samples/s wall, {cpu_rate:,.0f} samples/s CPU")
    print(f"extrapolated: all 414,348 PTB-XL samples (template or paraphrased) in ~{414_348 / rate:.1f} s wall "
          f"(~{414_348 / cpu_rate:.1f} s CPU)")
    return 0


def _bench_parse(args: argparse.Namespace) -> int:
    from ._templates import _data_text
    from ._understand import QuestionParser, evaluate_understanding

    root = _ecgqa_root(args.ecgqa)
    fresh = QuestionParser()
    t0, c0 = time.perf_counter(), time.process_time()
    fresh.parse("Does this ECG show static noise in lead V2?")
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    questions = [i["question"] for i in json.loads(_data_text("handwritten_paraphrases.json"))["questions"]]
    t0, c0 = time.perf_counter(), time.process_time()
    for q in questions:  # one at a time, none cached: the latency a user sees
        fresh.parse(q)
    per_question = (time.perf_counter() - t0) / len(questions)
    per_question_cpu = (time.process_time() - c0) / len(questions)
    result = evaluate_understanding(root, limit=args.limit or None)
    if args.json:
        payload = result.to_json()
        payload["speed"] = {"first_parse_s": first, "per_question_s": per_question}
        print(json.dumps(payload, indent=1))
        return 0
    print(result.format(show=args.show))
    print(f"speed: first parse (model load) {first:.2f} s wall / {first_cpu:.2f} s CPU; then "
          f"{1000 * per_question:.1f} ms wall / {1000 * per_question_cpu:.1f} ms CPU per new question "
          f"({len(questions)} questions, one at a time)")
    return 0
