"""``--epochs N`` overrides the recipe for every N >= 1 (``if args.epochs:`` dropped 0 silently and
started the default 15-epoch run; review M5). 0 and negatives are refused while parsing
(tests/eval/test_badinput_numeric_args.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ecgqa_tools.encoders._cli_encoders import _command, _config


@dataclass(frozen=True)
class _Recipe:
    epochs: int = 15


def _args(epochs: int | None) -> argparse.Namespace:
    return argparse.Namespace(epochs=epochs, data_dir=None, version="1")


def test_override_applies_to_every_given_value() -> None:
    assert _config(_Recipe(), _args(1)).epochs == 1
    assert _config(_Recipe(), _args(None)).epochs == 15
    assert "--epochs 1" in _command(_args(1), "disease")
    assert "--epochs" not in _command(_args(None), "disease")
