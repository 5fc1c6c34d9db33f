"""``ecgqa eval xai``: pointing game and CAS of the disease heads' attributions."""

from __future__ import annotations

import argparse
import json
import sys

from ..cli import RECORD_HELP, int_at_least


def register(cli) -> None:  # noqa: ANN001 - CommandRegistry
    parser = cli.subcommand(
        "eval", "xai",
        "pointing game and CAS of Integrated Gradients against clinical masks, per disease "
        "(PTB-XL fold-10 true positives, LUDB gold masks)",
        _run,
    )
    parser.add_argument("--ptbxl", metavar="DIR", help="PTB-XL folder (fold-10 records present at 100 Hz are used)")
    parser.add_argument("--ludb", metavar="DIR", help="LUDB folder (gold per-lead annotations)")
    parser.add_argument("--ptbxl-plus", metavar="DIR",
                        help="PTB-XL+ folder: use its ECGdeli fiducials for PTB-XL masks instead of the delineator")
    parser.add_argument("--disease", action="append", choices=("MI", "STTC", "CD", "HYP"),
                        help="disease head(s) to score (default: all four)")
    parser.add_argument("--results", metavar="JSONL",
                        help="per-record results file; an interrupted run resumes from it")
    parser.add_argument("--baseline", choices=("flat", "isoelectric", "lowpass", "normal", "expected", "blur",
                                               "blur-wide", "lowpass-multi", "lowpass-smooth", "guided",
                                               "expected-16", "expected-smooth", "expected-normal"),
                        help="IG baseline or path variant for every head (default: each head's own default, "
                             "grounding.DEFAULT_BASELINE_BY_DISEASE; see docs/grounding.md)")
    parser.add_argument("--fold", type=int, choices=range(1, 11), metavar="{1..10}", default=10,
                        help="PTB-XL fold (default 10, the test fold; 9 is the models' selection fold, "
                             "used only to choose the attribution method)")
    parser.add_argument("--steps", type=int_at_least(1), help="IG integration steps (default: explain's default)")
    parser.add_argument("--no-gradshap", action="store_true", help="skip the IG-vs-GradientSHAP cosine")
    parser.add_argument("--limit", type=int_at_least(1), help="score at most N labelled records per dataset (quick look)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    speed = cli.subcommand(
        "bench", "xai-speed",
        "time the grounding path of an interactive answer: IG / GradientSHAP / saliency, batched IG, "
        "delineation, evidence, plot",
        _speed,
    )
    speed.add_argument("record", nargs="?", default="ptbxl-00473",
                       help=RECORD_HELP + " (default: ptbxl-00473)")
    speed.add_argument("--disease", choices=("MI", "STTC", "CD", "HYP"), default="MI",
                       help="disease head to explain (default: MI)")
    speed.add_argument("--repeats", type=int_at_least(1), default=5, help="timed calls per step (median reported)")


def _run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ._xai import DISEASES_DEFAULT, evaluate_xai

    if not args.ptbxl and not args.ludb:
        raise UsageError("give --ptbxl DIR and/or --ludb DIR")
    report = evaluate_xai(
        args.ptbxl, args.ludb, diseases=tuple(args.disease or DISEASES_DEFAULT),
        ptbxl_plus_root=args.ptbxl_plus, results_path=args.results,
        compare_gradshap=not args.no_gradshap, limit=args.limit, progress=sys.stderr.isatty() or True,
        baseline=args.baseline, fold=args.fold, n_steps=args.steps,
    )
    from ._cli_measure import require_scored

    folders = ", ".join(str(f) for f in (args.ptbxl, args.ludb) if f)
    require_scored(len(report.records), f"no ECG with a signal and a label of the chosen diseases in {folders}")
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.table())
    return 0


def _speed(args: argparse.Namespace) -> int:
    import os

    from ..records import read_record_or_example
    from ._xai_speed import bench_xai_speed

    ecg = read_record_or_example(args.record)
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"record {ecg.record_id}: {ecg.fs_hz:g} Hz, {ecg.duration_s:.1f} s; {os.cpu_count()} CPU cores, "
          f"{torch.get_num_threads()} torch threads, load average {load:.1f} at start")
    print(f"{'step':<66}{'wall':>10}{'CPU':>12}   (medians)")
    for timing in bench_xai_speed(ecg, args.disease, args.repeats):
        print(f"{timing.step:<66}{timing.median_ms:>8.0f} ms{timing.cpu_ms:>9.0f} ms")
    return 0
