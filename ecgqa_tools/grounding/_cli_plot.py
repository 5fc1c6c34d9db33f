"""``ecgqa plot``: the clinical 12-lead plot, optionally explained by a disease head."""

from __future__ import annotations

import argparse


IG_VARIANT_NAMES: tuple[str, ...] = (
    "flat", "isoelectric", "lowpass", "normal", "expected", "blur", "blur-wide", "lowpass-multi",
    "lowpass-smooth", "guided", "expected-16", "expected-smooth", "expected-normal",
)
"""``grounding.IG_VARIANTS``, spelled out so ``ecgqa --help`` needs no numpy (a test pins them)."""


def register(cli) -> None:  # noqa: ANN001 - CommandRegistry
    parser = cli.command(
        "plot",
        "draw the 12-lead ECG (3x4 + lead II rhythm strip on ECG paper), optionally coloured by a "
        "disease head's attribution with ATTR and CLIN strips (PNG or SVG)",
        _run,
    )
    from ..cli import RECORD_HELP

    parser.add_argument("record", help=RECORD_HELP)
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="output file, .png or .svg (missing folders are created, as for every "
                        "ecgqa output file; written atomically)")
    parser.add_argument("--explain", choices=("MI", "STTC", "CD", "HYP"),
                        help="colour the trace by this disease head's attribution and mark its clinical region")
    parser.add_argument("--method", choices=("ig", "gradshap", "saliency"), default="ig",
                        help="attribution method (default: ig, Integrated Gradients from the head's own baseline, "
                             "see --baseline)")
    parser.add_argument("--baseline", choices=IG_VARIANT_NAMES, default=None,
                        help="IG baseline or path variant (default: each head's own, "
                             "grounding.DEFAULT_BASELINE_BY_DISEASE: MI, CD, HYP lowpass-multi, STTC "
                             "expected-smooth; see docs/grounding.md)")
    parser.add_argument("--delineation", choices=("openecg", "neurokit2"), default="openecg",
                        help="delineator for the CLIN strip and the evidence (default: openecg)")
    parser.add_argument("--fs", type=float, default=None, help="sampling rate for .npy/.csv files that do not store it")
    parser.add_argument("--evidence", action="store_true",
                        help="also print the evidence text (shares, top regions, faithfulness) for --explain")


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UsageError
    from ..records import read_record_or_example
    from ._plot import FORMATS, plot_ecg

    suffix = Path(args.output).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise UsageError(f"output must end in .png or .svg, got {args.output!r}")
    if args.evidence and not args.explain:
        raise UsageError("--evidence needs --explain DISEASE")
    if args.baseline and not args.explain:
        raise UsageError("--baseline needs --explain DISEASE")
    import sys

    from ..encoders import model_input_notes
    from ..records import record_display_name

    ecg = read_record_or_example(args.record, fs_hz=args.fs)
    notes = model_input_notes(ecg)  # e.g. an ignored --fs: a plain note, as classify shows it
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    ecg = _plotted_part(ecg, args.record)
    attribution = mask = None
    if args.explain:
        from ..encoders import delineate, model_input_warnings
        from ..records import to_standard_leads
        from ._attribution import explain
        from ._evidence import flat_head_text
        from ._segments import clinical_mask

        ecg = to_standard_leads(ecg)
        warnings = model_input_warnings(ecg)  # RecordError when every lead is flat: nothing to explain
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        attribution = explain(ecg, args.explain, args.method, baseline=args.baseline)
        if attribution.locally_flat and not args.evidence:  # the evidence text says it itself
            print(f"note: {flat_head_text(args.explain, args.method, attribution.probability, attribution.flat_check)}",
                  file=sys.stderr)
        delineation = delineate(ecg, method=args.delineation)
        mask = clinical_mask(delineation, args.explain, n_samples=ecg.n_samples, fs_hz=ecg.fs_hz)
        if args.evidence:
            from ._evidence import build_evidence

            print(build_evidence(attribution, delineation).text)
            for warning in warnings:
                print(f"Warning: {warning}")
            for note in notes:
                print(f"note: {note}")

    plot_ecg(ecg, attribution, mask=mask, path=args.output, record_name=record_display_name(args.record))
    print(args.output)
    return 0


def _plotted_part(ecg, record: str):  # noqa: ANN001, ANN202 - records.ECG in and out
    """The first ``MAX_SECONDS`` of a longer record, which is all the plot draws, with a note on
    stderr: ``--explain`` then explains (and delineates) what is drawn, not the whole record (a
    2-hour record would be delineated for minutes and the models read its middle 10 s, not the
    plotted ones)."""
    import sys

    from ..records import record_display_name
    from ._plot import MAX_SECONDS

    n = int(round(MAX_SECONDS * ecg.fs_hz))
    if ecg.n_samples <= n:
        return ecg
    print(f"{record_display_name(record)}: plotting (and explaining) the first {MAX_SECONDS:g} s of "
          f"{ecg.duration_s:.1f} s", file=sys.stderr)
    return ecg.with_signal(ecg.signal_mv[:, :n])
