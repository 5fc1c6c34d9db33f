"""CLI commands of the records layer: ``ecgqa info`` and ``ecgqa data check``."""

from __future__ import annotations

import argparse
import json

from ..cli import RECORD_HELP, CommandRegistry


def register(cli: CommandRegistry) -> None:
    info = cli.command(
        "info",
        "print a summary of an ECG record (any file format, a bundled example or a dataset record name)",
        _info,
    )
    info.add_argument(
        "record", nargs="?",
        help=RECORD_HELP + "; omit to list the bundled examples",
    )
    info.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    check = cli.subcommand(
        "data", "check",
        "report how many records each dataset lists, holds and lacks, and their splits",
        _check,
    )
    check.add_argument("--ptbxl", metavar="DIR", help="PTB-XL folder (with ptbxl_database.csv)")
    check.add_argument("--ludb", metavar="DIR", help="LUDB folder (with data/ and ludb.csv)")
    check.add_argument("--mimic", metavar="DIR", help="MIMIC-IV-ECG folder (with record_list.csv)")
    check.add_argument("--json", action="store_true", help="print JSON instead of text")


def _info(args: argparse.Namespace) -> int:
    from . import example_info, list_examples
    from ._examples import read_record_or_example

    if args.record is None:
        for name in list_examples():
            record = example_info(name)
            print(f"{name}  ({record.fs_hz} Hz, strat_fold {record.strat_fold}): {record.why}")
        return 0
    from .. import DISCLAIMER
    from ._names import record_display_name

    ecg = read_record_or_example(args.record, fs_hz=args.fs)
    name = record_display_name(args.record)
    if args.json:
        quality = ecg.quality()
        meta = ecg.metadata
        print(json.dumps({
            "record": name, "record_id": ecg.record_id, "source": ecg.source, "path": ecg.path,
            "fs_hz": ecg.fs_hz, "n_samples": ecg.n_samples, "duration_s": ecg.duration_s,
            "lead_names": list(ecg.lead_names), "amplitude_unit": ecg.amplitude_unit,
            "metadata": {
                "age_years": meta.age_years, "sex": meta.sex, "device": meta.device,
                "recording_date": meta.recording_date, "patient_id": meta.patient_id,
                "snomed_ct_codes": list(meta.snomed_ct_codes),
            },
            "quality": {
                "flat_leads": list(quality.flat_leads),
                "implausible_amplitude_leads": list(quality.implausible_amplitude_leads),
                "missing_standard_leads": list(quality.missing_standard_leads),
                "non_standard_leads": list(quality.non_standard_leads),
            },
            "disclaimer": DISCLAIMER,
        }, indent=2))
    else:  # the summary's first line names the record as the other commands do
        first, _, rest = ecg.summary().partition("\n")
        print(f"record {name} ({ecg.source} record {ecg.record_id})\n{rest}" if name != ecg.record_id
              else ecg.summary())
    return 0


def _check(args: argparse.Namespace) -> int:
    import sys

    from .._config import dataset_dir
    from . import Ludb, MimicIvEcg, PtbXl

    requested = {"ptbxl": args.ptbxl, "ludb": args.ludb, "mimic": args.mimic}
    if not any(requested.values()):
        # No folder given: check whatever ECGQA_DATA_DIR holds.
        found = {name: dataset_dir(name, required=False) for name in requested}
        requested = {name: str(path) for name, path in found.items() if path is not None}
        if not requested:
            print("error: pass --ptbxl DIR, --ludb DIR or --mimic DIR (or set ECGQA_DATA_DIR)", file=sys.stderr)
            return 2
    readers = {"ptbxl": PtbXl, "ludb": Ludb, "mimic": MimicIvEcg}
    reports = []
    for name, folder in requested.items():
        if folder:
            reports.append(readers[name](dataset_dir(name, folder)).inventory())
    if args.json:
        print(json.dumps([report.to_dict() for report in reports], indent=2))
    else:
        print("\n\n".join(report.text() for report in reports))
    return 0
