"""CLI: ``ecgqa measure RECORD`` (intervals, heart rate, QRS axis) and ``ecgqa tokens RECORD``."""

from __future__ import annotations

import argparse
import json

from ..cli import RECORD_HELP, CommandRegistry


AXIS_CONVENTION_NAMES: tuple[str, ...] = ("textbook", "ptbxl", "ludb")
"""``grounding.AXIS_CONVENTIONS``' names, spelled out so ``ecgqa --help`` needs no numpy (a test pins them)."""


def register(cli: CommandRegistry) -> None:
    m = cli.command("measure", "heart rate, P/PR/QRS/QT/QTc and QRS axis of an ECG record "
                    "(OpenECG delineation; research use only)", _measure)
    m.add_argument("record", help=RECORD_HELP)
    m.add_argument("--method", choices=("openecg", "neurokit2"), default="openecg",
                   help="delineator (default: openecg)")
    m.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")
    m.add_argument("--json", action="store_true", help="print JSON instead of text")
    m.add_argument("--beats", action="store_true", help="also print per-beat intervals")
    m.add_argument("--start", type=float, default=0.0, metavar="SECONDS",
                   help="measure from this time in the record (default: 0)")
    m.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="seconds to measure, at most 60 (grounding.MAX_MEASURED_SECONDS; default: up to 60 s "
                        "from --start); the output names the window measured")
    m.add_argument("--axis-convention", default="textbook", choices=AXIS_CONVENTION_NAMES,
                   help="cut-offs of the axis class: textbook (AHA -30/+90, default), or a dataset's "
                        "label convention: ptbxl, ludb (grounding.AXIS_CONVENTIONS)")
    m.add_argument("--numeric-convention", default="clinical", choices=("clinical", "ecgqa"),
                   help="whose values the ECG-QA numeric-feature ranges use: clinical (the 12-lead values above "
                        "with clinical ranges, default) or ecgqa (also measure the six features the way ECG-QA "
                        "did: NeuroKit2 on lead II at 500 Hz, per beat, ECG-QA's ranges; docs/qa.md)")
    t = cli.command("tokens", "OpenECG codec tokens of one lead (run-length symbols, beats, rhythm)",
                    _tokens)
    t.add_argument("record", help=RECORD_HELP)
    t.add_argument("--lead", default="II", help="lead to tokenize (default: II)")
    t.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")
    t.add_argument("--json", action="store_true", help="print JSON instead of text")


def read_any(path: str, fs_hz: float | None = None):
    """Read a record file or a bundled example name (``fs_hz``: rate of a .npy/.csv that lacks one)."""
    from ..records import read_record_or_example

    return read_record_or_example(path, fs_hz=fs_hz)


def measurements_json(m) -> dict:
    """A JSON-ready dict of a ``Measurements`` (values, reasons, ranges, notes)."""
    return {
        "source": m.source,
        "measurements": {
            x.name: {"value": None if x.value is None else round(x.value, 1), "unit": x.unit,
                     "n_beats": x.n_beats, "n_rejected": x.n_rejected, "reason": x.reason}
            for x in m.all()
        },
        "axis_class": m.axis_class,
        "axis_convention": m.axis_convention,
        "ecgqa_ranges": m.range_attributes(),
        "numeric_convention": m.numeric_convention,
        **({"ecgqa_convention": {
            "lead": m.ecgqa_numeric.lead, "fs_hz": m.ecgqa_numeric.fs_hz,
            "aggregation": m.ecgqa_numeric.aggregation,
            "feature_sources": {f: m.ecgqa_numeric.source_of(f) for f in m.ecgqa_numeric.per_beat_ms},
            "per_beat_ms": {f: [round(v, 1) for v in vals] for f, vals in m.ecgqa_numeric.per_beat_ms.items()},
            "reasons": m.ecgqa_numeric.state_reasons(),
            "per_beat_reasons": dict(m.ecgqa_numeric.reasons),
            "clinical_ranges": m.range_attributes("clinical"),
        }} if m.ecgqa_numeric is not None else {}),
        "notes": list(m.notes),
    }


def _measure(args: argparse.Namespace) -> int:
    from ..encoders import delineate
    from . import measure

    from . import get_axis_convention

    from .. import DISCLAIMER
    from ..records import record_display_name

    import sys
    from dataclasses import replace

    from . import measured_window

    convention = get_axis_convention(args.axis_convention)  # an unknown name fails before reading
    _check_window_args(args.start, args.duration)
    whole = read_any(args.record, args.fs)
    name = record_display_name(args.record)
    ecg, window = measured_window(whole, args.start, args.duration)
    if window:
        print(f"{name}: {window}", file=sys.stderr)
    delineation = None if args.method == "openecg" else delineate(ecg, method=args.method)
    m = measure(ecg, delineation, axis_convention=convention, numeric_convention=args.numeric_convention)
    if window:
        m = replace(m, notes=(window, *m.notes))
    if args.json:
        out = {"record": name, **measurements_json(m)}
        if args.beats:
            out["beats"] = [b.__dict__ for b in m.beat_intervals]
        out["disclaimer"] = DISCLAIMER
        print(json.dumps(out, indent=2))
        return 0
    print(f"record {name}: {whole.duration_s:.1f} s{f' (measured {args.start:g}-{args.start + ecg.duration_s:g} s)' if window else ''}, {len(ecg.lead_names)} leads, "
          f"delineation {m.source}\n{DISCLAIMER}")
    print(m.summary())
    if args.beats:
        for i, b in enumerate(m.beat_intervals):
            cells = ", ".join(f"{k} {v:.0f}" for k, v in b.__dict__.items() if v is not None)
            print(f"beat {i + 1}: {cells}")
    return 0


def _check_window_args(start_s: float, duration_s: float | None) -> None:
    """``--start``/``--duration`` before the record is read (``measured_window`` checks them again
    against the record's length)."""
    import math

    from ..errors import UsageError
    from . import MAX_MEASURED_SECONDS

    if not math.isfinite(start_s) or start_s < 0:
        raise UsageError(f"--start must be a number of seconds >= 0, got {start_s:g}")
    if duration_s is not None and not (math.isfinite(duration_s) and 0 < duration_s <= MAX_MEASURED_SECONDS):
        raise UsageError(f"--duration must be > 0 and at most {MAX_MEASURED_SECONDS:g} s (measured at once; "
                         f"measure a longer record in windows with --start), got {duration_s:g}")


def _tokens(args: argparse.Namespace) -> int:
    from .. import DISCLAIMER
    from ..encoders import tokenize_lead
    from ..records import record_display_name

    ecg = read_any(args.record, args.fs)
    name = record_display_name(args.record)
    tokens = tokenize_lead(ecg, args.lead)
    if args.json:
        print(json.dumps({
            "record": name,
            "lead": tokens.lead,
            "vocab_version": tokens.vocab_version,
            "text": tokens.text,
            "tokens": [[t.symbol, t.duration_ms] for t in tokens.tokens],
            "beats": [[round(b.start_ms), round(b.end_ms), b.label] for b in tokens.beats],
            "rhythm": [[round(r.start_ms), round(r.end_ms), r.label] for r in tokens.rhythm],
            "disclaimer": DISCLAIMER,
        }, indent=2))
        return 0
    print(f"record {name}: {DISCLAIMER}")
    print(tokens.summary())
    return 0
