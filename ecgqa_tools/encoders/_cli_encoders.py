"""CLI of the encoders: ``ecgqa train disease|attributes|age-sex|cv``, ``ecgqa classify RECORD``,
``ecgqa models``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .._io import folder_option
from ..cli import RECORD_HELP, CommandRegistry, int_at_least

if TYPE_CHECKING:
    from ._cards import ModelCard

DEFAULT_WORK_DIR = "~/.cache/ecgqa-tools/train"


def _common_train_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with ptb-xl/, ptb-xl-filtered-subset/, ecg-qa/ "
                        "(default: $ECGQA_DATA_DIR)")
    parser.add_argument("--work-dir", default=DEFAULT_WORK_DIR, type=folder_option,
                        help=f"cache + per-epoch checkpoints; rerunning resumes (default: {DEFAULT_WORK_DIR})")
    parser.add_argument("--epochs", type=int_at_least(1), help="override the number of epochs (>= 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _weights_args(parser: argparse.ArgumentParser) -> None:
    """Where a trained model goes (train disease / attributes / age-sex; ``train cv`` writes no model)."""
    parser.add_argument("--out-dir", type=folder_option, help="where to write the weights + card (default: <work-dir>/weights; "
                        "the shipped models are never touched without --install)")
    parser.add_argument("--install", action="store_true", help="for maintainers: write into the package's weights "
                        "folder ($ECGQA_WEIGHTS_DIR if set), replacing the shipped model; refused when the shipped "
                        "card's recipe (version, epochs, seeds, network...) differs, unless --force")
    parser.add_argument("--force", action="store_true", help="with --install: replace the shipped model even when "
                        "its recipe differs")
    parser.add_argument("--version", default="1", help="version string written in the model card (default: 1)")


def register(cli: CommandRegistry) -> None:
    from ._install import shipped_recipes_help

    d = cli.subcommand("train", "disease", "train the per-disease lead-wise CNN(s) on PTB-XL folds 1-8 "
                       "(selection on fold 9, test on fold 10)", _train_disease)
    d.add_argument("--disease", default="all", help="MI, STTC, CD, HYP or all (default: all)")
    d.add_argument("--seeds", default="0", help="comma-separated seeds; more than one makes a mean-logit ensemble "
                   "(default: 0)")
    d.add_argument("--split", choices=("ptbxl-folds", "ecgqa"), default="ptbxl-folds",
                   help="ptbxl-folds: folds 1-8 / 9 / 10 -> disease_<code> (default); ecgqa: ECG-QA's ptbxl "
                   "train / valid / test ECGs -> disease_<code>_ecgqa (the weights the ECG-QA benchmark uses)")
    d.add_argument("--multitask", action="store_true", help="one network per seed with a logit per disease, trained "
                   "on every labelled record of folds 1-8 and selected on fold 9 per disease; saves disease_<code> "
                   "for each --disease as that network restricted to its logit (ptbxl-folds split only)")
    d.add_argument("--variant", default="baseline", help="training recipe from `train cv`'s variants except "
                   "multitask: baseline (15 epochs, default; each shipped model's recipe is listed below), "
                   "epochs30, aug30 (epochs30 + amplitude scaling, baseline wander, time masking), ema30 (epochs30 + an "
                   "EMA of the weights, half-life one epoch, selected on), ema15 (baseline + the same EMA), aux30 (epochs30 + "
                   "training-only sex and device heads, loss weight 0.05 each; the saved network is unchanged), emaaux30 "
                   "(ema30 + aux30's heads), wide, noaug")
    _common_train_args(d)
    _weights_args(d)
    d.epilog = shipped_recipes_help("disease")
    a = cli.subcommand("train", "attributes", "train the ECG-QA attribute (upper-bound) model on ECG-QA's "
                       "train ECGs (selection on its valid ECGs)", _train_attributes)
    a.add_argument("--seed", type=int, default=0, help="random seed of the run (default: 0)")
    _common_train_args(a)
    _weights_args(a)
    a.epilog = shipped_recipes_help("attributes")
    s = cli.subcommand("train", "age-sex", "train the age (regression) and sex (classifier) model on PTB-XL "
                       "folds 1-8", _train_age_sex)
    s.add_argument("--seed", type=int, default=0, help="random seed of the run (default: 0)")
    _common_train_args(s)
    _weights_args(s)
    s.epilog = shipped_recipes_help("age-sex")
    v = cli.subcommand("train", "cv", "10-fold out-of-fold cross-validation of the disease models (strat_fold "
                       "folds, one selection fold each); resumable, predictions in <work-dir>/cv_<variant>.jsonl", _train_cv)
    v.add_argument("--variant", default="baseline", help="training variant: baseline, wide, noaug, epochs30, aug30, ema30, ema15, aux30, emaaux30, "
                   "multitask (one network for the four diseases; --disease is ignored) (default: baseline)")
    v.add_argument("--disease", default="all", help="MI, STTC, CD, HYP, a comma list, or all")
    v.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    v.add_argument("--folds", default="1,2,3,4,5,6,7,8,9,10", help="test folds to run (default: all ten)")
    v.add_argument("--summary-only", action="store_true", help="only summarise the predictions already written")
    _common_train_args(v)
    c = cli.command("classify", "disease probabilities (MI, STTC, CD, HYP) of an ECG record from its signal; "
                    "research use only", _classify)
    c.add_argument("record", help=RECORD_HELP)
    c.add_argument("--attributes", action="store_true", help="also print the ECG-QA attribute predictions")
    c.add_argument("--age-sex", action="store_true", help="also print the age/sex estimate")
    c.add_argument("--backend", choices=("onnx", "torch"), default="onnx", help="inference engine (default: onnx)")
    c.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")
    c.add_argument("--json", action="store_true", help="print JSON")
    m = cli.command("models", "list the shipped models with their cards (data, training command, numbers)",
                    _models)
    m.add_argument("name", nargs="?", help="one model (e.g. disease_MI) to show in full: record ids, data, "
                   "training command, every metric, intended use")
    m.add_argument("--json", action="store_true", help="print the card(s) as JSON")


def _data_dir(args: argparse.Namespace) -> Path:
    from .._config import data_dir
    from ..errors import DatasetError

    chosen = Path(args.data_dir).expanduser() if args.data_dir else data_dir()
    if chosen is None or not chosen.is_dir():
        raise DatasetError(f"data folder not found: {chosen or 'none given'}; pass --data-dir or set ECGQA_DATA_DIR")
    return chosen


def _config(base, args: argparse.Namespace):  # noqa: ANN001, ANN202
    from dataclasses import replace

    return replace(base, epochs=args.epochs) if args.epochs is not None else base


def _int_list(text: str, option: str, allowed: range | None = None) -> tuple[int, ...]:
    """``--seeds 0,1,2`` / ``--folds 1,2``: comma-separated integers, checked before any data is read."""
    from ..errors import UsageError

    try:
        values = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise UsageError(f"{option} must be comma-separated integers, got {text!r}") from None
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise UsageError(f"{option}: {bad[0]} is out of range; expected {allowed.start}..{allowed.stop - 1}")
    return values


def _command(args: argparse.Namespace, head: str, extra: str = "") -> str:
    parts = [f"ecgqa train {head}", extra, f"--data-dir {args.data_dir or '$ECGQA_DATA_DIR'}"]
    if args.epochs is not None:
        parts.append(f"--epochs {args.epochs}")
    if args.version != "1":
        parts.append(f"--version {args.version}")
    return " ".join(p for p in parts if p)


def _out_dir(args: argparse.Namespace, planned: list[tuple[str, dict]]) -> Path:
    """Where the weights go: --out-dir, else <work-dir>/weights; the package's weights folder only with
    --install, after checking each planned (model name, card train_config) against the installed card."""
    from ..errors import UsageError
    from ._install import check_install, user_weights_dir
    from ._package import WEIGHTS_DIR, weights_dir

    if args.force and not args.install:
        raise UsageError("--force only applies with --install")
    if args.install and args.out_dir:
        raise UsageError("--install writes into the package's weights folder; drop --out-dir (or --install)")
    if not args.install:
        out = Path(args.out_dir).expanduser() if args.out_dir else user_weights_dir(Path(args.work_dir).expanduser())
        if out.resolve() in {WEIGHTS_DIR.resolve(), weights_dir().resolve()}:
            raise UsageError(f"--out-dir {out} is the folder the shipped models are loaded from; use --install")
        return out
    for name, train_config in planned:
        check_install(weights_dir(), name, train_config, args.version, args.force)
    return weights_dir()


def _print_written(name: str, out: Path, installed: bool) -> None:
    """Say where a trained model's files went (and, for a user folder, how to look at its card)."""
    where = f"{name}: wrote {out / name}.pt, .onnx and .json"
    print(where if installed else f"{where} (the shipped {name} is unchanged; its card: "
          f"ECGQA_WEIGHTS_DIR={out} ecgqa models {name})")


def _train_disease(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ._install import card_train_config
    from ._jobs import disease_model_name, train_disease
    from ._labels import DISEASES

    diseases = DISEASES if args.disease == "all" else tuple(args.disease.split(","))
    for disease in diseases:
        if disease not in DISEASES:
            raise UsageError(f"unknown disease {disease!r}; expected one of {', '.join(DISEASES)} or all")
    seeds = _int_list(args.seeds, "--seeds")
    split_flag = "" if args.split == "ptbxl-folds" else f" --split {args.split}"
    if args.multitask:
        return _train_disease_multitask(args, diseases, seeds)
    base = _variant_config(args.variant)
    split_flag += "" if args.variant == "baseline" else f" --variant {args.variant}"
    out = _out_dir(args, [(disease_model_name(d, args.split), card_train_config(_config(base, args), seeds))
                          for d in diseases])
    for disease in diseases:
        command = _command(args, "disease", f"--disease {disease} --seeds {args.seeds}{split_flag}")
        card = train_disease(disease, _data_dir(args), Path(args.work_dir).expanduser(),
                             _config(base, args), seeds, out, command,
                             args.version, not args.quiet, split=args.split)
        _print_disease_card(card)
        _print_written(card.name, out, args.install)
    return 0


def _variant_config(variant: str):  # noqa: ANN202
    """The per-disease training config of a CV variant (``multitask`` has its own flag)."""
    from ..errors import UsageError
    from ._cv import VARIANTS

    if variant not in VARIANTS or VARIANTS[variant].task != "disease":
        names = ", ".join(k for k, v in VARIANTS.items() if v.task == "disease")
        raise UsageError(f"unknown --variant {variant!r} for train disease; expected one of {names} "
                         "(use --multitask for the multi-task network)")
    return VARIANTS[variant]


def _print_disease_card(card: ModelCard) -> None:
    val, test = (card.metrics[k] for k in card.metrics if k.startswith(("val_", "test_")))
    print(f"{card.name}\tval AUC {val['auc']:.4f}\ttest AUC {test['auc']:.4f} "
          f"[{test['ci95'][0]:.3f}, {test['ci95'][1]:.3f}]\t{card.train_seconds / 60:.1f} min")


def _train_disease_multitask(args: argparse.Namespace, diseases: tuple[str, ...], seeds: tuple[int, ...]) -> int:
    from ..errors import UsageError
    from dataclasses import replace

    from ._install import card_train_config
    from ._jobs import MULTITASK_DISEASE_CONFIG, train_diseases_multitask
    from ._labels import DISEASES

    if args.split != "ptbxl-folds":
        raise UsageError("--multitask trains the PTB-XL fold models only (--split ptbxl-folds)")
    if args.variant != "baseline":
        raise UsageError(f"--variant {args.variant} does not apply to --multitask (one recipe: the multitask variant)")
    command = _command(args, "disease", f"--multitask --disease {','.join(diseases)} --seeds {args.seeds}")
    config = _config(MULTITASK_DISEASE_CONFIG, args)
    out = _out_dir(args, [(f"disease_{d}", card_train_config(
        replace(config, hparams={**config.hparams, "select_output": DISEASES.index(d)}), seeds)) for d in diseases])
    for card in train_diseases_multitask(diseases, _data_dir(args), Path(args.work_dir).expanduser(),
                                         config, seeds, out, command,
                                         args.version, not args.quiet):
        _print_disease_card(card)
        _print_written(card.name, out, args.install)
    return 0


def _train_attributes(args: argparse.Namespace) -> int:
    from ._install import card_train_config
    from ._jobs import DEFAULT_ATTRIBUTE_CONFIG, train_attributes

    config = _config(DEFAULT_ATTRIBUTE_CONFIG, args)
    out = _out_dir(args, [("attributes", card_train_config(config, (args.seed,)))])
    card = train_attributes(_data_dir(args), Path(args.work_dir).expanduser(), config,
                            args.seed, out, _command(args, "attributes", f"--seed {args.seed}"),
                            args.version, not args.quiet)
    print(f"attributes\tvalid macro AUC {card.metrics['valid_macro_auc']:.4f}\t"
          f"test macro AUC {card.metrics['test']['macro_auc']:.4f}\t{card.train_seconds / 60:.1f} min")
    _print_written(card.name, out, args.install)
    return 0


def _train_age_sex(args: argparse.Namespace) -> int:
    from ._install import card_train_config
    from ._jobs import DEFAULT_AGE_SEX_CONFIG, train_age_sex

    config = _config(DEFAULT_AGE_SEX_CONFIG, args)
    out = _out_dir(args, [("age_sex", card_train_config(config, (args.seed,)))])
    card = train_age_sex(_data_dir(args), Path(args.work_dir).expanduser(), config,
                         args.seed, out, _command(args, "age-sex", f"--seed {args.seed}"),
                         args.version, not args.quiet)
    test = card.metrics["test_fold10"]
    print(f"age_sex\ttest age MAE {test['age_mae_years']:.2f} years\tsex AUC {test['sex_auc']:.4f}\t"
          f"{card.train_seconds / 60:.1f} min")
    _print_written(card.name, out, args.install)
    return 0


def _train_cv(args: argparse.Namespace) -> int:
    from ._cv import run_cv, summarize_cv
    from ._labels import DISEASES

    diseases = DISEASES if args.disease == "all" else tuple(args.disease.split(","))
    work = Path(args.work_dir).expanduser()
    seeds, folds = _int_list(args.seeds, "--seeds"), _int_list(args.folds, "--folds", allowed=range(1, 11))
    if args.summary_only:
        path = work / f"cv_{args.variant}{'' if args.epochs is None else f'_e{args.epochs}'}.jsonl"
    else:
        path = run_cv(_data_dir(args), work, args.variant, diseases, seeds, folds, args.epochs, not args.quiet)
    if not path.is_file():
        from ..errors import DatasetError

        raise DatasetError(f"{path}: no cross-validation predictions yet")
    print(f"# out-of-fold AUC, variant {args.variant} ({path})")
    print("disease	OOF AUC mean	sd	per seed [95% CI]	folds per seed	n_pos	n_neg	(mean, sd, n and ensemble: "
          "complete seeds only)")
    for row in summarize_cv(path):
        per_seed = ",".join(f"{a:.4f} [{lo:.4f}, {hi:.4f}]"
                            for a, (lo, hi) in zip(row["oof_auc_per_seed"], row["oof_auc_ci_per_seed"]))
        print(f"{row['disease']}	{row['oof_auc_mean']:.4f}	{row['oof_auc_sd']:.4f}	{per_seed}	"
              f"{row['folds_per_seed']}	{row['n_pos']}	{row['n_neg']}")
        ens = row["ensemble"]
        if ens is not None:
            lo, hi = ens["ci_mean_logit"]
            print(f"{row['disease']}	ensemble of seeds {','.join(map(str, ens['seeds']))} (mean logit)	"
                  f"{ens['oof_auc_mean_logit']:.4f} [{lo:.4f}, {hi:.4f}]	mean probability "
                  f"{ens['oof_auc_mean_prob']:.4f}	{ens['n_records']} records	{ens['n_pos']}	{ens['n_neg']}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from .. import DISCLAIMER
    from ..records import read_record_or_example, record_display_name
    from . import estimate_age_sex, predict_attributes, predict_diseases

    ecg = read_record_or_example(args.record, fs_hz=args.fs)
    name = record_display_name(args.record)
    diseases = predict_diseases(ecg, backend=args.backend)  # RecordError when every lead is flat
    out: dict = {"record": name, "diseases": dict(diseases.probabilities),
                 "thresholds": dict(diseases.thresholds), "positive": list(diseases.positive),
                 "warnings": list(diseases.warnings), "notes": list(diseases.notes + diseases.flat_notes),
                 "flat_heads": list(diseases.flat_heads)}
    attrs = predict_attributes(ecg, backend=args.backend) if args.attributes else None
    age_sex = estimate_age_sex(ecg, backend=args.backend) if args.age_sex else None
    if attrs is not None:
        out["attributes"] = dict(attrs.probabilities)
        out["attributes_present"] = list(attrs.present)
    if age_sex is not None:
        out["age_years"], out["female_probability"] = age_sex.age_years, age_sex.female_probability
    out["disclaimer"] = DISCLAIMER
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"record {name}")
    print(DISCLAIMER)
    print(diseases.summary())
    if attrs is not None:
        print("attributes (top 10, * = above threshold):")
        print(attrs.summary())
    if age_sex is not None:
        print(age_sex.summary())
    return 0


INTENDED_USE: dict[str, str] = {
    "disease": "research on grounded ECG question answering: a probability that the 12-lead ECG shows the "
               "PTB-XL diagnostic superclass, with Integrated-Gradients evidence (ecgqa ask/classify/plot)",
    "attributes": "research on ECG-QA: the upper-bound attribute predictions (statements, rhythm, form, "
                  "axis, noise...) the offline answerer and the LLM tools read",
    "age_sex": "research: age and sex estimated from the ECG signal (ECG-QA questions about the patient)",
}
"""What each kind of shipped model is for (``ecgqa models NAME``)."""


def _full_card(card: ModelCard) -> str:
    """Everything ``ecgqa models NAME`` shows: the Markdown card (record id counts and ranges, data,
    command, every metric, thresholds) followed by the intended use and the research-use notice."""
    from .. import DISCLAIMER

    use = INTENDED_USE.get(card.task, "research on ECG question answering")
    return "\n".join([
        card.to_markdown().rstrip(), "", "## Intended use", "",
        f"- {use}.", "- trained and evaluated on PTB-XL records only (one German cohort); other populations, "
        "devices and datasets were not tested here.", f"- {DISCLAIMER}",
    ])


def _models(args: argparse.Namespace) -> int:
    from ..errors import ModelError
    from . import model_cards

    cards = model_cards()
    if args.name:
        if args.name not in cards:
            raise ModelError(f"no shipped model {args.name!r}; shipped: {', '.join(cards) or 'none'}")
        cards = {args.name: cards[args.name]}
    if args.json:
        print(json.dumps({n: json.loads(c.to_json()) for n, c in cards.items()}, indent=1))
        return 0
    for name, card in cards.items():
        print(_full_card(card) if args.name else card.summary())
        print()
    if not cards:
        print("no shipped models found", file=sys.stderr)
        return 1
    return 0
