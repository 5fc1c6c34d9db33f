"""CLI benchmarks of the measurements area: ``ecgqa bench delineation | qrs | axis | intervals |
delineation-speed``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._io import folder_option
from ..cli import CommandRegistry, int_at_least



def _refuse_development_folds(folds, flag: str) -> tuple[int, ...]:
    """PTB-XL's development folds 1-8 (where the axis rules were chosen); ``UsageError`` when ``folds``
    asks to score any of them with ``flag``."""
    from ..errors import UsageError

    dev_folds = tuple(range(1, 9))
    if folds is not None and set(folds) & set(dev_folds):
        raise UsageError(f"{flag} scores only folds outside the development part 1-8 (e.g. --folds 9-10)")
    return dev_folds

def _cache_dir(args: argparse.Namespace) -> Path | None:
    if getattr(args, "no_cache", False):
        return None
    if args.cache_dir:
        return Path(args.cache_dir)
    import os

    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ecgqa-tools" / "bench"


def require_scored(n_scored: int, what: str) -> None:
    """``DatasetError`` when a benchmark scored nothing: a score over 0 records (F1 0.0000,
    agreement 0.000) reads like a result but only means the folder holds no usable record."""
    if n_scored <= 0:
        from ..errors import DatasetError

        raise DatasetError(f"0 records scored: {what}")


def register(cli: CommandRegistry) -> None:
    d = cli.subcommand("bench", "delineation", "P/QRS/T delineation on LUDB vs cardiologists (Martinez "
                       "tolerances): ours and NeuroKit2 side by side", _delineation)
    d.add_argument("--ludb", help="LUDB folder (default: $ECGQA_LUDB_DIR or $ECGQA_DATA_DIR/ludb)")
    d.add_argument("--leads", choices=("ii", "all"), default="all", help="lead II or all 12 (default all)")
    d.add_argument("--records", choices=("all", "heldout", "train"), default="heldout",
                   help="heldout = the 41 records OpenECG did not train on (default)")
    d.add_argument("--methods", default="openecg,neurokit2",
                   help="comma-separated: openecg, openecg-raw, neurokit2 (first is the headline)")
    d.add_argument("--span-rule", choices=("widened", "strict"), default="widened",
                   help="widened (default, reproduces the issue's reference numbers): unmatched predictions "
                        "in the annotated span widened by the tolerance are false positives; strict: only "
                        "those inside the annotated span itself")
    d.add_argument("--cache-dir", type=folder_option, help="where per-record results are kept for resuming")
    d.add_argument("--no-cache", action="store_true", help="recompute everything")

    q = cli.subcommand("bench", "qrs", "QRS detection on MIT-BIH records (150 ms tolerance)", _qrs)
    q.add_argument("--mitdb", help="MIT-BIH folder (default: $ECGQA_DATA_DIR/mitdb)")
    q.add_argument("--records", default="100-109", help="e.g. 100-109 or 100,101 (default 100-109)")
    q.add_argument("--method", default="openecg", choices=("openecg", "neurokit2"), help="delineator (default: openecg)")

    a = cli.subcommand("bench", "axis", "QRS axis vs PTB-XL heart_axis and LUDB electric axis", _axis)
    a.add_argument("--ptbxl", help="PTB-XL folder (default: $ECGQA_DATA_DIR/ptb-xl)")
    a.add_argument("--ludb", help="LUDB folder (default: $ECGQA_DATA_DIR/ludb)")
    a.add_argument("--fs", type=int, choices=(100, 500), default=500, help="PTB-XL signals to use")
    a.add_argument("--skip-ptbxl", action="store_true", help="do not score PTB-XL (LUDB only)")
    a.add_argument("--skip-ludb", action="store_true", help="do not score LUDB (PTB-XL only)")
    a.add_argument("--folds", default="all",
                   help="PTB-XL strat_folds to score: all (default), 1-8 (development part, where the "
                        "axis method was chosen) or 9-10 (report part)")
    a.add_argument("--axis-methods", default="",
                   help="comma-separated grounding.AXIS_METHODS to compare (default: the one measure() "
                        "uses); e.g. area-I-II,peak-limb6")
    a.add_argument("--conventions", default="dataset,textbook,apriori",
                   help="comma-separated label conventions to cut our angle with: dataset (the "
                        "dataset's own fitted convention, ptbxl or ludb), textbook (AHA -30/+90, what "
                        "measure() returns), apriori (session 1's dataset cut-offs), ptbxl, ludb "
                        "(default: dataset,textbook,apriori)")
    a.add_argument("--ludb-records", choices=("heldout", "train", "all"), default="heldout",
                   help="LUDB records: heldout = the 41 OpenECG did not train on, the report part "
                        "(default); train = the 159 others, the development part; all")
    a.add_argument("--fit", action="store_true",
                   help="fit each dataset's convention on its development part only (PTB-XL folds 1-8 at "
                        "100 Hz, LUDB train) with the committed grid and tie rule, and print the grid; "
                        "ignores --fs, --folds and --ludb-records")
    a.add_argument("--learned", action="store_true",
                   help="session-3b learned PTB-XL class rule: compare it with the fitted cut-offs by nested "
                        "leave-one-strat-fold-out on folds 1-8 (100 Hz) and print the decision and the final "
                        "model; with --folds 9-10 (and --fs) also score that model once on those folds")
    a.add_argument("--axis-model", action="store_true",
                   help="score the shipped learned axis_ptbxl model (PTB-XL label words from the limb leads; "
                        "session 7) on the PTB-XL records of --folds at --fs instead of the angle; refuses "
                        "records it was trained or selected on (use --folds 9-10)")
    a.add_argument("--filtered", help="with --axis-model: also score the filtered subset's records of --folds "
                        "that have no records100 signal (folder or signals100.npz)")
    a.add_argument("--hybrid", action="store_true",
                   help="session-8 hybrid of the angle and the axis_ptbxl CNN: compare the committed candidates "
                        "with the fitted cut-offs by nested leave-one-strat-fold-out on folds 1-8 (100 Hz; needs "
                        "--cnn-dev) and print the decision; with --folds 9-10 (and --fs) also score the final rule "
                        "once on those folds, and unless --skip-ludb on --ludb-records")
    a.add_argument("--cnn-dev", help="with --hybrid: the axis CNN's leave-one-fold-out predictions, "
                        "<work-dir>/axis_ptbxl/dev of 'ecgqa train axis-ptbxl --development-only'")
    a.add_argument("--cache-dir", type=folder_option, help="where per-record QRS boundaries and angles are kept for resuming")
    a.add_argument("--no-cache", action="store_true", help="recompute everything")

    i = cli.subcommand("bench", "intervals", "interval distributions on PTB-XL and agreement of range "
                       "attributes with ECG-QA numeric-feature answers", _intervals)
    i.add_argument("--ptbxl", help="PTB-XL folder (default: $ECGQA_DATA_DIR/ptb-xl)")
    i.add_argument("--ecgqa", help="ECG-QA folder (default: $ECGQA_DATA_DIR/ecg-qa)")
    i.add_argument("--fs", type=int, choices=(100, 500), default=500, help="PTB-XL signals to use (default: 500)")
    i.add_argument("--limit", type=int_at_least(0), default=0, help="distribution on the first N records only")
    i.add_argument("--cache-dir", type=folder_option, help="where per-record measurements are kept for resuming")
    i.add_argument("--no-cache", action="store_true", help="recompute everything")
    i.add_argument("--numeric-convention", choices=("clinical", "ecgqa"), default="clinical",
                   help="whose numeric-feature states the ECG-QA agreement lines use: clinical (measure()'s "
                        "12-lead values, clinical ranges; default) or ecgqa (ECG-QA's own convention: "
                        "NeuroKit2 on lead II at 500 Hz, ECG-QA's ranges)")
    i.add_argument("--select-convention", action="store_true",
                   help="session-7 protocol: per-ECG state agreement of every numeric-convention candidate "
                        "on the ECG-QA train + valid answers only (at --fs 100 the ECG-QA-convention "
                        "candidates resampled to 500 Hz and as read), then exit")

    s = cli.subcommand("bench", "delineation-speed", "ms per lead per 10 s and per 12-lead ECG", _speed)
    s.add_argument("--ludb", help="LUDB folder (default: $ECGQA_DATA_DIR/ludb)")
    s.add_argument("--records", type=int_at_least(1), default=10, help="how many LUDB records to time")


def _delineation(args: argparse.Namespace) -> int:
    from .._config import dataset_dir
    from ..errors import UsageError
    from ._delineation_bench import run_ludb

    root = dataset_dir("ludb", args.ludb)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in ("openecg", "openecg-raw", "neurokit2"):
            raise UsageError(f"unknown method {m!r}; expected openecg, openecg-raw or neurokit2")
    cache = _cache_dir(args)
    leads = "lead II" if args.leads == "ii" else "all 12 leads"
    for method in methods:
        res = run_ludb(root, method, args.records,
                       None if cache is None else cache / f"ludb-delineation-{method}.jsonl", args.span_rule)
        require_scored(len(res.records), f"{root} has no LUDB {args.records} record with a signal (data/<n>.hea/.dat)")
        score = res.lead_ii if args.leads == "ii" else res.all_leads
        print(f"== {method}: LUDB {args.records} ({len(res.records)} records), {leads}, span rule {args.span_rule}")
        print(score.table())
        print(f"macro-F1: {score.macro_f1:.3f}")
        print(f"AF/flutter records: {len(res.af_records)}, with a P wave reported: "
              f"{res.af_records_with_p} ({res.af_p_waves} P waves in all leads)")
        print()
    return 0


def _parse_records(spec: str) -> list[str]:
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            out += [str(x) for x in range(int(a), int(b) + 1)]
        elif part:
            out.append(part)
    return out


def _qrs(args: argparse.Namespace) -> int:
    from .._config import dataset_dir
    from ._delineation_bench import QrsResult, run_mitdb

    root = dataset_dir("mitdb", args.mitdb)
    records = [r for r in _parse_records(args.records) if (root / f"{r}.hea").is_file()]
    require_scored(len(records), f"none of the MIT-BIH records {args.records} is in {root} (no <record>.hea)")
    results = run_mitdb(root, records, args.method)
    require_scored(len(results), f"no MIT-BIH record of {args.records} in {root} could be scored")
    print(f"{'record':<8}{'Se':>8}{'PPV':>8}{'F1':>8}{'beats':>8}")
    for r in results:
        print(f"{r.record:<8}{r.sensitivity:>8.4f}{r.ppv:>8.4f}{r.f1:>8.4f}{r.tp + r.fn:>8d}")
    total = QrsResult("all", sum(r.tp for r in results), sum(r.fp for r in results), sum(r.fn for r in results))
    print(f"{'all':<8}{total.sensitivity:>8.4f}{total.ppv:>8.4f}{total.f1:>8.4f}{total.tp + total.fn:>8d}")
    print(f"QRS F1 ({args.method}, MIT-BIH {len(results)} records, 150 ms): {total.f1:.4f}")
    return 0


def _axis(args: argparse.Namespace) -> int:
    from .._config import dataset_dir
    from ..errors import UsageError
    from ..grounding import AXIS_METHODS, DEFAULT_AXIS_METHOD
    from ._axis_bench import (
        BENCH_CONVENTIONS,
        parse_folds,
        run_ludb_axis,
        run_ptbxl_axis,
    )

    methods = tuple(m.strip() for m in args.axis_methods.split(",") if m.strip()) or (DEFAULT_AXIS_METHOD,)
    for m in methods:
        if m not in AXIS_METHODS:
            raise UsageError(f"unknown axis method {m!r}; expected one of {', '.join(AXIS_METHODS)}")
    conventions = tuple(c.strip() for c in args.conventions.split(",") if c.strip())
    for c in conventions:
        if c not in BENCH_CONVENTIONS:
            raise UsageError(f"unknown axis convention {c!r}; expected one of {', '.join(BENCH_CONVENTIONS)}")
    if not conventions:
        raise UsageError("--conventions is empty")
    folds = parse_folds(args.folds)
    cache = _cache_dir(args)
    if args.fit:
        return _axis_fit(args, methods, cache)
    if args.learned:
        return _axis_learned(args, folds, cache)
    if args.hybrid:
        return _axis_hybrid(args, folds, cache)
    if args.axis_model:
        return _axis_model(args, folds)
    if not args.skip_ptbxl:
        for r in run_ptbxl_axis(dataset_dir("ptbxl", args.ptbxl), args.fs, None, folds, methods,
                                conventions, cache):
            _print_axis(r, "PTB-XL", "")
    if not args.skip_ludb:
        for k, r in enumerate(run_ludb_axis(dataset_dir("ludb", args.ludb), None, methods, conventions,
                                            args.ludb_records, cache)):
            _print_axis(r, "LUDB", " (paced excluded)")
            if k % len(conventions) == 0:  # once per method: five classes do not depend on the convention
                print(f"LUDB axis agreement ({r.method}, 5 classes, a-priori cuts 0/30/70/90): "
                      f"{r.agreement_five:.3f}")
    return 0


def _print_axis(r, name: str, note: str) -> None:
    require_scored(r.n_scored, f"no {name} record with an axis label and a signal was found for the {r.dataset} "
                   "selection (check the folder, --folds, --fs, --ludb-records)")
    left, right = r.cuts_deg
    print(f"== {r.dataset}, method {r.method}, {r.convention} convention: {r.n_scored} records scored"
          f"{note}, {r.n_unmeasurable} unmeasurable (left < {left:+.0f} <= normal <= {right:+.0f} < right)")
    print(r.table())
    print(f"{name} axis agreement ({r.method}, {r.convention} convention): {r.agreement:.3f}")


def _axis_model(args: argparse.Namespace, folds) -> int:
    from .._config import dataset_dir
    from ._axis_bench import run_axis_model_ptbxl, wilson_interval

    for r in run_axis_model_ptbxl(dataset_dir("ptbxl", args.ptbxl), args.fs, folds, args.filtered):
        require_scored(r.n_scored, f"no PTB-XL record with an axis label was found for {r.dataset} (check --folds, --fs)")
        correct = round(r.agreement * r.n_scored)
        low, high = wilson_interval(correct, r.n_scored)
        print(f"== {r.dataset}, model {r.method} ({r.convention}): {r.n_scored} records scored")
        print(r.table())
        print(f"PTB-XL axis agreement ({r.method}, {r.dataset}): {r.agreement:.3f} ({correct}/{r.n_scored}; "
              f"95% Wilson [{low:.3f}, {high:.3f}])")
    return 0


def _axis_fit(args: argparse.Namespace, methods: tuple[str, ...], cache) -> int:
    from .._config import dataset_dir
    from ._axis_bench import fit_axis_cuts, ludb_axis_records, ptbxl_axis_records
    from ._delineation_bench import pipeline_fingerprint

    print(f"delineation pipeline {pipeline_fingerprint()}")
    for method in methods:
        parts = []
        if not args.skip_ptbxl:
            parts.append(("ptbxl", "PTB-XL folds 1-8, 100 Hz (development part)",
                          ptbxl_axis_records(dataset_dir("ptbxl", args.ptbxl), 100, tuple(range(1, 9)), method, cache)))
        if not args.skip_ludb:
            parts.append(("ludb", "LUDB train records (development part)",
                          ludb_axis_records(dataset_dir("ludb", args.ludb), "train", method, cache)))
        for name, what, recs in parts:
            fit = fit_axis_cuts(recs)
            print(f"== fit {name} on {what}, method {method}: {fit.n_scored} records with an axis, "
                  f"{len(recs) - fit.n_scored} unmeasurable")
            print(fit.table())
            print(f"{name} convention fitted: left {fit.left_deg:+.0f}, right {fit.right_deg:+.0f}, "
                  f"development agreement {fit.accuracy:.3f} ({fit.n_correct}/{fit.n_scored}; "
                  f"{fit.n_tied()} grid pairs tied at the best)")
    return 0


def _axis_learned(args: argparse.Namespace, folds, cache) -> int:
    from .._config import dataset_dir
    from ..errors import UsageError
    from ..grounding import AXIS_CONVENTIONS
    from ._axis_bench import (
        AxisRecord,
        _matrix,
        compare_learned,
        feature_sets,
        fit_softmax,
        ptbxl_learned_rows,
        score_axis,
        select_softmax,
        three_class,
    )
    from ._delineation_bench import pipeline_fingerprint

    dev_folds = _refuse_development_folds(folds, "--learned")
    root = dataset_dir("ptbxl", args.ptbxl)
    print(f"delineation pipeline {pipeline_fingerprint()}")
    rows = ptbxl_learned_rows(root, 100, dev_folds, cache)
    if not rows:
        raise UsageError(f"{root}: no PTB-XL records of folds 1-8 with a heart_axis label and a signal "
                         "at 100 Hz here; --learned needs the development part")
    cmp = compare_learned(rows)
    print(f"== learned PTB-XL class rule vs fitted cut-offs, nested leave-one-strat-fold-out on folds 1-8, "
          f"100 Hz: {cmp.n_records} records")
    for k in sorted(cmp.cut_pairs):
        (left, right), (name, c) = cmp.cut_pairs[k], cmp.chosen[k]
        print(f"  held-out fold {k}: cut-offs {left:+.0f}/{right:+.0f}; learned candidate {name}, C={c:g}")
    print(f"cut-offs:  {cmp.n_cut}/{cmp.n_records} = {cmp.n_cut / cmp.n_records:.3f}")
    print(f"learned:   {cmp.n_learned}/{cmp.n_records} = {cmp.n_learned / cmp.n_records:.3f}")
    print("decision (adopt only if learned > cut-offs): " + ("ADOPT" if cmp.adopt else "REJECT"))
    name, c, counts = select_softmax(rows)
    print("final selection, leave-one-fold-out over all 8 folds (correct of "
          f"{len(rows)}): " + ", ".join(f"{n} C={cc:g}: {v}" for (n, cc), v in counts.items()))
    feats = feature_sets()[name]
    rule = fit_softmax(_matrix(rows, feats), [r.label for r in rows], feats, c)
    print(f"final model: {name}, C={c:g}, refitted on {len(rows)} records")
    print(repr(rule))
    if folds is None:
        return 0
    test = ptbxl_learned_rows(root, args.fs, folds, cache)
    conv = AXIS_CONVENTIONS["ptbxl"]
    cuts = (conv.left_deg, conv.right_deg)
    what = f"PTB-XL records{args.fs} folds {args.folds}"
    cut_res = score_axis([AxisRecord(r.key, r.label, r.axis_deg) for r in test], cuts, what, convention="ptbxl")
    learned = dict(zip((r.key for r in test), rule.predict(_matrix(test, feats))))
    from collections import Counter

    conf = Counter((r.label, learned[r.key]) for r in test)
    n_ok = sum(v for (g, p), v in conf.items() if g == p)
    print(f"== report: {what}, {len(test)} records with features")
    print(f"fitted cut-offs {cuts[0]:+.0f}/{cuts[1]:+.0f}: {cut_res.agreement:.3f} "
          f"({round(cut_res.agreement * cut_res.n_scored)}/{cut_res.n_scored})")
    print(cut_res.table())
    print(f"learned rule ({name}, C={c:g}): {n_ok / max(len(test), 1):.3f} ({n_ok}/{len(test)})")
    print(f"{'label/ours':<14}" + "".join(f"{k:>14}" for k in ("left", "normal", "right")))
    for g in ("left", "normal", "right"):
        print(f"{g:<14}" + "".join(f"{conf.get((g, p), 0):>14d}" for p in ("left", "normal", "right")))
    for r in test:
        if learned[r.key] != r.label or three_class(r.axis_deg, cuts) != r.label:
            print(f"  record {r.key}: label {r.label}, angle {r.axis_deg:+.1f}, cut-offs "
                  f"{three_class(r.axis_deg, cuts)}, learned {learned[r.key]}")
    return 0


def _axis_hybrid(args: argparse.Namespace, folds, cache) -> int:
    from .._config import dataset_dir
    from ..encoders import AXIS_CLASSES, guard_unseen, load_axis_model
    from ..errors import UsageError
    from ..grounding import AXIS_CONVENTIONS, DEFAULT_AXIS_METHOD
    from ..records import Ludb, PtbXl
    from ._axis_bench import (
        convention_cuts,
        ludb_axis_records,
        ptbxl_axis_records,
        score_axis,
        three_class,
        wilson_interval,
    )
    from ._axis_hybrid import (
        HYBRID_CANDIDATES,
        HYBRID_MARGIN,
        compare_hybrid,
        model_probabilities,
        ptbxl_hybrid_dev_rows,
        score_hybrid,
    )
    from ._delineation_bench import pipeline_fingerprint

    dev_folds = _refuse_development_folds(folds, "--hybrid")
    if not args.cnn_dev:
        raise UsageError("--hybrid needs --cnn-dev DIR (<work-dir>/axis_ptbxl/dev of 'ecgqa train axis-ptbxl "
                         "--development-only')")
    root = dataset_dir("ptbxl", args.ptbxl)
    print(f"delineation pipeline {pipeline_fingerprint()}")
    rows = ptbxl_hybrid_dev_rows(root, args.cnn_dev, cache)
    if not rows:
        raise UsageError(f"{root}: no PTB-XL records of folds 1-8 with a heart_axis label and a signal at 100 Hz")
    n_cnn = sum(AXIS_CLASSES[max(range(3), key=lambda i: r.cnn_probs[i])] == r.label for r in rows)
    print(f"CNN alone (session-7 leave-one-fold-out probabilities, check): {n_cnn}/{len(rows)}")
    cmp = compare_hybrid(rows)
    print(f"== hybrid vs fitted cut-offs, nested leave-one-strat-fold-out on folds 1-8, 100 Hz: {cmp.n_records} records")
    for k in sorted(cmp.cut_pairs):
        left, right = cmp.cut_pairs[k]
        print(f"  held-out fold {k}: cut-offs {left:+.0f}/{right:+.0f}; hybrid candidate {cmp.chosen[k]}")
    print("plain leave-one-fold-out counts (information; the best is optimistic): "
          + ", ".join(f"{c.name}: {cmp.flat_counts[c.name]}" for c in HYBRID_CANDIDATES))
    print(f"cut-offs (N_cut): {cmp.n_cut}/{cmp.n_records} = {cmp.n_cut / cmp.n_records:.3f}")
    print(f"hybrid (N_hyb):   {cmp.n_hybrid}/{cmp.n_records} = {cmp.n_hybrid / cmp.n_records:.3f}")
    print(f"decision (adopt only if N_hyb >= N_cut + {HYBRID_MARGIN}): " + ("ADOPT" if cmp.adopt else "REJECT"))
    rule = cmp.final_rule
    print(f"final rule: {rule.name} ({cmp.flat_counts[rule.name]}/{cmp.n_records} by plain leave-one-fold-out)")
    if folds is None:
        return 0
    conv = AXIS_CONVENTIONS["ptbxl"]
    cuts = (conv.left_deg, conv.right_deg)
    model = load_axis_model()
    ptbxl = PtbXl(root)
    recs = ptbxl_axis_records(root, args.fs, folds, None, cache)
    guard_unseen(model.card, [int(r.key) for r in recs], "refuse")
    probs = model_probabilities([int(r.key) for r in recs], lambda i: ptbxl.read(i, fs_hz=args.fs))
    what = f"PTB-XL records{args.fs} folds {args.folds}"
    parts = [(what, recs, probs, cuts, "ptbxl")]
    if not args.skip_ludb:
        ludb = Ludb(dataset_dir("ludb", args.ludb))
        lrecs = ludb_axis_records(ludb.root, args.ludb_records, None, cache)
        lprobs = model_probabilities([int(r.key) for r in lrecs], lambda n: ludb.read(n, gain="uniform"))
        lwhat = f"LUDB {args.ludb_records}"
        res = score_axis(lrecs, convention_cuts("ludb", "ludb"), lwhat, DEFAULT_AXIS_METHOD, "ludb")
        _print_axis(res, "LUDB", " (paced excluded)")
        parts.append((lwhat + " (ptbxl hybrid, transfer: information)", lrecs, lprobs, cuts, "ptbxl"))
    for name, recs_, probs_, cuts_, conv_name in parts:
        cut_res = score_axis(recs_, cuts_, name, convention=conv_name)
        hyb = score_hybrid(recs_, probs_, rule, cuts_, name)
        for label, r in (("fitted cut-offs", cut_res), (f"hybrid {rule.name}", hyb)):
            correct = round(r.agreement * r.n_scored)
            low, high = wilson_interval(correct, r.n_scored)
            print(f"== report: {name}, {label} {cuts_[0]:+.0f}/{cuts_[1]:+.0f}: {r.agreement:.3f} "
                  f"({correct}/{r.n_scored}; 95% Wilson [{low:.3f}, {high:.3f}]; {r.n_unmeasurable} unmeasurable)")
            print(r.table())
        for r in recs_:
            if r.axis_deg is None:
                continue
            a, h = three_class(r.axis_deg, cuts_), rule.classify(r.axis_deg, cuts_, probs_[r.key])
            if a != r.label or h != r.label:
                p = ", ".join(f"{c} {v:.2f}" for c, v in zip(AXIS_CLASSES, probs_[r.key]))
                print(f"  record {r.key}: label {r.label}, angle {r.axis_deg:+.1f}, cut-offs {a}, hybrid {h} (CNN {p})")
    return 0


def _intervals(args: argparse.Namespace) -> int:
    from .._config import dataset_dir
    from ..records import PtbXl
    from ._delineation_intervals import (
        distributions,
        ecgqa_agreement,
        measure_ptbxl,
        reasons_summary,
    )

    ptbxl_root = dataset_dir("ptbxl", args.ptbxl)
    cache = _cache_dir(args)
    cache_file = None if cache is None else cache / f"ptbxl-measure-{args.fs}.jsonl"
    if args.select_convention:
        return _select_convention(args, ptbxl_root, cache)
    ids = sorted(PtbXl(ptbxl_root).present_ids(fs_hz=args.fs))
    if args.limit:
        ids = ids[: args.limit]
    require_scored(len(ids), f"{ptbxl_root} has no PTB-XL record with a signal at {args.fs} Hz (records{args.fs}/)")
    measured = measure_ptbxl(ptbxl_root, ids, args.fs, cache_file)
    print(f"== PTB-XL records{args.fs}: {len(measured)} records")
    print(f"{'measurement':<16}{'n':>6}{'none':>6}{'p5':>8}{'p25':>8}{'p50':>8}{'p75':>8}{'p95':>8}")
    for d in distributions(measured):
        p = d.percentiles
        cells = "".join(f"{p.get(k, float('nan')):>8.0f}" for k in (5, 25, 50, 75, 95))
        print(f"{d.name:<16}{d.n_measured:>6}{d.n_unmeasurable:>6}{cells}")
    for name in ("p_duration", "qt_interval", "qrs_axis"):
        for reason, n in reasons_summary(measured, name):
            print(f"  {name} unmeasurable x{n}: {reason}")
    ecgqa_root = dataset_dir("ecgqa", args.ecgqa, required=False)
    if ecgqa_root is None:
        print("ECG-QA folder not found: agreement skipped")
        return 0
    agr = ecgqa_agreement(ecgqa_root, ptbxl_root, args.fs, cache_file, numeric_convention=args.numeric_convention,
                          cache_dir=cache)
    print(f"numeric convention: {args.numeric_convention}")
    print(f"== ECG-QA numeric comparison samples with both ECGs present: {agr.n_samples}")
    for t, (n, ok) in agr.per_template.items():
        print(f"template {t}: {ok}/{n} = {ok / max(n, 1):.3f}")
    for f, (n, ok) in agr.per_feature.items():
        print(f"feature {f}: membership agrees {ok}/{n} = {ok / max(n, 1):.3f}")
    print(f"(ECG, feature) pairs unmeasurable, answered as within: {agr.n_unmeasured_features}")
    for split, feats in agr.states.items():
        n = sum(v[0] for v in feats.values())
        ok = sum(v[1] for v in feats.values())
        cells = ", ".join(f"{f} {k}/{m}" for f, (m, k) in feats.items())
        print(f"per-ECG state agreement ({split}: states implied by official answers, ECGs with "
              f"signals): {ok}/{n} = {ok / max(n, 1):.3f}  [{cells}]")
    print(f"ECG-QA numeric answer exact match: {agr.n_correct / max(agr.n_samples, 1):.3f}")
    return 0


def _select_convention(args: argparse.Namespace, ptbxl_root, cache) -> int:
    from .._config import dataset_dir
    from ._delineation_intervals import CONVENTION_CANDIDATES, convention_agreement

    ecgqa_root = dataset_dir("ecgqa", args.ecgqa)
    splits = ("train", "valid")
    runs: list[tuple[str, dict]] = []
    if args.fs == 500:
        runs.append(("", convention_agreement(ecgqa_root, ptbxl_root, 500, cache, splits)))
    else:
        ecgqa_only = tuple(c for c in CONVENTION_CANDIDATES if c.startswith("ecgqa-"))
        for tag, mfs in (("@resampled-500", 500.0), ("@native", None)):
            runs.append((tag, convention_agreement(ecgqa_root, ptbxl_root, args.fs, cache, splits, ecgqa_only, mfs,
                                                   same_ecgs_as_fs_hz=500)))
    print(f"== numeric-convention candidates, records{args.fs}, states implied by ECG-QA train + valid answers "
          "(unmeasurable counted as within; measured-only in brackets)")
    best = None
    for tag, res in runs:
        for cand, per_split in res.items():
            n = sum(a.n for a in per_split.values())
            ok = sum(a.ok for a in per_split.values())
            nm = sum(a.n_measured for a in per_split.values())
            okm = sum(a.ok_measured for a in per_split.values())
            cells = "  ".join(f"{sp} {a.ok}/{a.n}" for sp, a in per_split.items())
            feats: dict[str, list[int]] = {}
            for a in per_split.values():
                for f, (fn, fok) in a.per_feature.items():
                    feats.setdefault(f, [0, 0])
                    feats[f][0] += fn
                    feats[f][1] += fok
            fcells = ", ".join(f"{f} {v[1]}/{v[0]}" for f, v in feats.items())
            print(f"{cand + tag:<34} {ok}/{n} = {ok / max(n, 1):.3f}  ({cells})  [measured {okm}/{nm}]  {fcells}")
            if best is None or ok > best[1]:  # strict: a tie keeps the earlier (protocol order)
                best = (cand + tag, ok)
    print(f"rule (most agreeing states, ties to the earlier candidate): {best[0]}")
    if args.fs == 500:
        _print_per_feature_choice(runs[0][1])
    else:  # session-7b: the per-feature mix's sources at 100 Hz, for information only (no choice)
        _print_per_feature_choice(convention_agreement(ecgqa_root, ptbxl_root, args.fs, cache, splits,
                                                       ("ecgqa-median", "clinical+ecgqa-ranges"), 500.0,
                                                       same_ecgs_as_fs_hz=500), info=True)
    return 0


def _print_per_feature_choice(res: dict, info: bool = False) -> None:
    """Session-7b per-feature table: each feature's agreeing states under every candidate, the choice
    (``info``: records read at 100 Hz, printed for information only, nothing is chosen on it)."""
    from ._delineation_intervals import per_feature_choice

    choice = per_feature_choice(res)
    cands = list(res)
    print("== per feature (session-7b rule: most agreeing train + valid states, tie -> ecgqa-median, "
          "else the earlier candidate)" + (" - records100 (ECG-QA-convention values resampled to 500 Hz, "
                                            "clinical values as read), information only" if info else ""))
    print(f"{'feature':<14}{'n':>6}" + "".join(f"{c.removeprefix('ecgqa-').replace('clinical+ecgqa-ranges', 'clin+eq'):>10}"
                                          for c in cands) + "  chosen")
    for f, ch in choice.items():
        print(f"{f:<14}{ch.n:>6}" + "".join(f"{ch.counts.get(c, 0):>10d}" for c in cands) + f"  {ch.candidate}")
    n = sum(ch.n for ch in choice.values())
    ok = sum(ch.ok for ch in choice.values())
    base = res.get("ecgqa-median")
    base_ok = None if base is None else sum(a.ok for a in base.values())
    print(f"per-feature mix: {ok}/{n} = {ok / max(n, 1):.3f}; ecgqa-median: {base_ok}/{n}; "
          f"adopt iff higher: {'yes' if base_ok is not None and ok > base_ok else 'no'}")


def _speed(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from .._config import dataset_dir
    from ..encoders import DelineatorConfig, delineate
    from ..records import Ludb

    ludb = Ludb(dataset_dir("ludb", args.ludb))
    ecgs = [ludb.read(n) for n in sorted(ludb.present_ids())[: args.records]]
    require_scored(len(ecgs), f"{ludb.root} has no LUDB record to time")
    delineate(ecgs[0])  # loads both models once, outside the timing
    delineate(ecgs[0], method="neurokit2")
    rows = []
    for label, method, cfg in (("openecg (full pipeline)", "openecg", DelineatorConfig()),
                               ("openecg without AF gate", "openecg", DelineatorConfig(rhythm_gate=False)),
                               ("openecg-raw (model only)", "openecg-raw", DelineatorConfig()),
                               ("neurokit2 DWT", "neurokit2", DelineatorConfig())):
        times, cpu = [], []
        for e in ecgs:
            t, c = time.perf_counter(), time.process_time()
            delineate(e, method=method, config=cfg)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        ecg_ms, cpu_ms = 1000 * float(np.median(times)), 1000 * float(np.median(cpu))
        rows.append((label, ecg_ms / 12, ecg_ms, cpu_ms / 12, cpu_ms))
    print(f"{'method':<28}{'wall ms/lead/10 s':>19}{'wall ms/ECG':>13}{'CPU ms/lead':>13}{'CPU ms/ECG':>12}")
    for label, lead_ms, ecg_ms, lead_cpu, ecg_cpu in rows:
        print(f"{label:<28}{lead_ms:>19.1f}{ecg_ms:>13.1f}{lead_cpu:>13.1f}{ecg_cpu:>12.1f}")
    import os

    print(f"(load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"(median over {len(ecgs)} LUDB records of 10 s at 500 Hz; shared 2-core CPU)")
    return 0
