"""CLI of the learned PTB-XL axis classifier: ``ecgqa train axis-ptbxl`` (the committed development
comparison + the shipped model) and ``ecgqa axis-ptbxl RECORD`` (its class for one ECG)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cli import RECORD_HELP, CommandRegistry


def register(cli: CommandRegistry) -> None:
    from ._cli_encoders import _common_train_args, _weights_args
    from ._install import shipped_recipes_help

    t = cli.subcommand(
        "train", "axis-ptbxl",
        "train the PTB-XL heart-axis classifier (left/normal/right, PTB-XL's label words) on folds 1-8: first "
        "the leave-one-strat-fold-out development comparison (8 x 3 members), then the shipped model (folds "
        "1-7, selection fold 8, seeds 0,1,2); resumable, progress on stderr",
        _train_axis)
    _common_train_args(t)
    _weights_args(t)
    t.epilog = shipped_recipes_help("axis-ptbxl")
    t.add_argument("--development-only", action="store_true",
                   help="run and print only the leave-one-fold-out comparison (no final model)")
    a = cli.command("axis-ptbxl", "heart-axis class of an ECG in PTB-XL's label convention (left border near +5 "
                    "degrees), from the learned limb-lead model; `ecgqa measure` gives the measured angle and "
                    "its textbook class", _axis)
    a.add_argument("record", help=RECORD_HELP)
    a.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")
    a.add_argument("--json", action="store_true", help="print JSON")


def _train_axis(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ._axis_model import (
        AXIS_CONFIG,
        AXIS_MODEL_NAME,
        AXIS_SEEDS,
        load_axis_data,
        run_axis_development,
        train_final_axis_model,
    )
    from ._cli_encoders import _command, _data_dir, _out_dir, _print_written
    from ._install import card_train_config

    work = Path(args.work_dir).expanduser()
    config = replace(AXIS_CONFIG, epochs=args.epochs) if args.epochs else AXIS_CONFIG
    out = None if args.development_only else _out_dir(args, [(AXIS_MODEL_NAME, card_train_config(config, AXIS_SEEDS))])
    data_dir = _data_dir(args)
    data = load_axis_data(data_dir, work, not args.quiet)
    dev = run_axis_development(data, work / "axis_ptbxl", args.epochs, not args.quiet)
    for source, what in (("records100", "records100 (where the angle cut-offs also run)"),
                         ("filtered", "filtered subset (z-scored: no angle baseline)")):
        correct, n = dev.count(source)
        print(f"development LOFO folds 1-8, {what}: {correct}/{n} = {correct / max(n, 1):.3f}")
    print("records100 confusion (rows = label; columns left, normal, right):")
    for label, row in dev.confusion("records100").items():
        print(f"  {label:<7} " + " ".join(f"{row[c]:>4d}" for c in row))
    print(f"development training time: {dev.train_seconds / 60:.1f} min (24 members)", file=sys.stderr)
    if out is None:  # --development-only
        return 0
    train_final_axis_model(data, work / "axis_ptbxl", out, dev, _command(args, "axis-ptbxl"), args.version,
                           args.epochs, not args.quiet)
    _print_written(AXIS_MODEL_NAME, out, args.install)
    return 0


def _axis(args: argparse.Namespace) -> int:
    from .. import DISCLAIMER
    from ..records import read_record_or_example, record_display_name
    from ._axis_model import predict_axis_ptbxl

    ecg = read_record_or_example(args.record, fs_hz=args.fs)
    name = record_display_name(args.record)
    pred = predict_axis_ptbxl(ecg)
    if args.json:
        print(json.dumps({"record": name, "axis_class": pred.axis_class, "probabilities": pred.probabilities,
                          "model_version": pred.model_version, "convention": pred.convention,
                          "warnings": list(pred.warnings), "notes": list(pred.notes),
                          "disclaimer": DISCLAIMER}, indent=2))
        return 0
    print(f"record {name}")
    print(DISCLAIMER)
    print(pred.summary())
    return 0
