"""CLI: ``ecgqa eval classifiers`` (per-disease AUC on PTB-XL folds or zero-shot on CinC),
``ecgqa eval attributes`` (attribute model on ECG-QA test ECGs), ``ecgqa eval age-sex`` and
``ecgqa eval encoders-speed`` (torch vs onnxruntime latency)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cli import CommandRegistry, int_at_least


def register(cli: CommandRegistry) -> None:
    c = cli.subcommand("eval", "classifiers", "AUC of the MI/STTC/CD/HYP models with bootstrap 95% CIs on "
                       "PTB-XL fold 9 (val) or 10 (test), or zero-shot on a CinC directory", _classifiers)
    source = c.add_mutually_exclusive_group()
    source.add_argument("--ptbxl", help="PTB-XL folder (ptbxl_database.csv, records100/; default: $ECGQA_PTBXL_DIR "
                        "or $ECGQA_DATA_DIR/ptb-xl)")
    source.add_argument("--cinc", help="CinC 2020/2021 folder (*.hea + *.mat with #Dx SNOMED CT codes)")
    c.add_argument("--split", choices=("val", "test"), default="test", help="PTB-XL fold 9 or 10 (default: test)")
    c.add_argument("--filtered", help="also score the filtered subset's records of the fold (signals100.npz or "
                   "its folder; default: a sibling ptb-xl-filtered-subset/ when present, 'none' to skip)")
    c.add_argument("--backend", choices=("onnx", "torch"), default="onnx", help="inference engine (default: onnx)")
    c.add_argument("--n-boot", type=int_at_least(1), default=1000, help="bootstrap resamples (default: 1000)")
    c.add_argument("--limit", type=int_at_least(1), help="CinC: read at most this many records")
    c.add_argument("--json", action="store_true", help="print JSON")
    a = cli.subcommand("eval", "attributes", "macro and per-class AUROC of the attribute model on ECG-QA's "
                       "PTB-XL test ECGs with signals", _attributes)
    a.add_argument("--data-dir", help="folder with ptb-xl/, ptb-xl-filtered-subset/, ecg-qa/ (default: $ECGQA_DATA_DIR)")
    a.add_argument("--backend", choices=("onnx", "torch"), default="onnx", help="inference engine (default: onnx)")
    a.add_argument("--json", action="store_true", help="print JSON")
    g = cli.subcommand("eval", "age-sex", "age MAE and sex AUC of the age/sex model on PTB-XL fold 10", _age_sex)
    g.add_argument("--ptbxl", help="PTB-XL folder (default: $ECGQA_PTBXL_DIR or $ECGQA_DATA_DIR/ptb-xl)")
    g.add_argument("--filtered", help="filtered subset (default: sibling folder when present, 'none' to skip)")
    g.add_argument("--json", action="store_true", help="print JSON")
    s = cli.subcommand("eval", "encoders-speed", "inference latency per ECG of the shipped encoders, torch vs "
                       "onnxruntime, batch 1 and 64", _speed)
    s.add_argument("--models", default="disease_MI,attributes,age_sex", help="comma-separated model names")
    s.add_argument("--threads", type=int_at_least(1), default=1, help="intra-op threads for both engines (default: 1)")
    s.add_argument("--json", action="store_true", help="print JSON")


def _ptbxl_root(args: argparse.Namespace, alternative: str = "") -> Path:
    """The PTB-XL folder of a command: ``--ptbxl``, else the configured one (``_config.dataset_dir``:
    ``ECGQA_PTBXL_DIR`` or ``ECGQA_DATA_DIR/ptb-xl``), like every other command."""
    from .._config import dataset_dir
    from ..errors import DatasetError

    try:
        return dataset_dir("ptbxl", args.ptbxl)
    except DatasetError as exc:
        raise DatasetError(f"{exc}{alternative}") from None


def _filtered(args: argparse.Namespace, ptbxl_root: Path) -> Path | None:
    if args.filtered == "none":
        return None
    if args.filtered:
        return Path(args.filtered)
    sibling = ptbxl_root.expanduser().resolve().parent / "ptb-xl-filtered-subset"
    return sibling if sibling.is_dir() else None


def _classifiers(args: argparse.Namespace) -> int:
    import sys

    from ._classifiers import evaluate_cinc, evaluate_ptbxl

    if args.cinc:
        report = evaluate_cinc(args.cinc, args.backend, args.n_boot, args.limit)
    else:
        root = _ptbxl_root(args, "; or pass --cinc DIR for a CinC directory")
        report = evaluate_ptbxl(root, args.split, _filtered(args, root), args.backend, args.n_boot)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
        return 0
    print(f"# {report.dataset}: {report.n_records} records")
    print(report.table())
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _attributes(args: argparse.Namespace) -> int:
    from .._config import data_dir
    from ..errors import DatasetError
    from ._classifiers import evaluate_attributes

    root = Path(args.data_dir).expanduser() if args.data_dir else data_dir()
    if root is None:
        raise DatasetError("no data folder: pass --data-dir or set ECGQA_DATA_DIR")
    report = evaluate_attributes(root, args.backend)
    if args.json:
        print(json.dumps({"macro_auc": report.macro_auc, "n_records": report.n_records,
                          "n_seen_dropped": report.n_seen_dropped,
                          "per_class": [{"class": c, "auc": a, "positives": n} for c, a, n in report.per_class]},
                         indent=1))
        return 0
    print(report.table())
    return 0


def _age_sex(args: argparse.Namespace) -> int:
    from ._classifiers import evaluate_age_sex

    from ._cli_measure import require_scored

    root = _ptbxl_root(args)
    report = evaluate_age_sex(root, _filtered(args, root))
    require_scored(report["records"], f"{root} has no unseen PTB-XL fold-10 record with a signal")
    if report["unscorable_ids"]:
        print(f"not scored (the model refused them): {len(report['unscorable_ids'])} record(s), ecg_id "
              + ", ".join(str(i) for i in report["unscorable_ids"]), file=sys.stderr)
    print(json.dumps(report, indent=1) if args.json else
          "\n".join(f"{k}\t{v}" for k, v in report.items()))
    return 0


def _speed(args: argparse.Namespace) -> int:
    from ._classifiers import measure_latency

    rows = measure_latency(tuple(args.models.split(",")), threads=args.threads)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
        return 0
    print("model\tbackend\tbatch\tms/call\tms/ECG")
    for r in rows:
        print(f"{r.model}\t{r.backend}\t{r.batch}\t{r.ms_per_call:.2f}\t{r.ms_per_ecg:.3f}")
    return 0
