"""CLI commands of the records layer: ``ecgqa info`` (more in ``ecgqa data ...``)."""

from __future__ import annotations

import argparse

from ..cli import CommandRegistry


def register(cli: CommandRegistry) -> None:
    info = cli.command("info", "print a summary of an ECG record (WFDB path or bundled example)", _info)
    info.add_argument("record", help="path to a WFDB record (.hea or base name)")


def _info(args: argparse.Namespace) -> int:
    from . import read_wfdb

    ecg = read_wfdb(args.record)
    print(ecg.summary())
    return 0
