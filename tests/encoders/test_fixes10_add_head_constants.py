"""``scripts/add_head_constants.py`` checks every card before writing any (review s10 nit 7): when
one card's constant differs from its parameters it exits 1 and a card without the field is left
unwritten, as its docstring says."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

from ecgqa_tools.encoders._package import WEIGHTS_DIR

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "add_head_constants.py"


def _script():
    spec = importlib.util.spec_from_file_location("add_head_constants", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_mismatch_means_nothing_is_written(tmp_path, monkeypatch) -> None:
    for path in WEIGHTS_DIR.glob("disease_*"):
        if path.suffix in (".json", ".pt"):
            shutil.copy(path, tmp_path)
    monkeypatch.setenv("ECGQA_WEIGHTS_DIR", str(tmp_path))
    missing, wrong = tmp_path / "disease_STTC.json", tmp_path / "disease_MI_ecgqa.json"
    raw = json.loads(missing.read_text())
    del raw["head_constant"]
    missing.write_text(json.dumps(raw, indent=1))
    raw = json.loads(wrong.read_text())
    raw["head_constant"]["logit"] += 1.0
    wrong.write_text(json.dumps(raw, indent=1))
    before = missing.read_text()
    assert _script().main([]) == 1
    assert missing.read_text() == before  # before the fix: written despite the mismatch
    # without the mismatch, the missing card is written and equals the shipped one's constant
    shutil.copy(WEIGHTS_DIR / "disease_MI_ecgqa.json", wrong)
    assert _script().main([]) == 0
    assert json.loads(missing.read_text())["head_constant"] == json.loads(
        (WEIGHTS_DIR / "disease_STTC.json").read_text())["head_constant"]
