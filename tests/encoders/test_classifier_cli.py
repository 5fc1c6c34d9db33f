"""CLI of the encoders: ``ecgqa classify``, ``ecgqa models`` (``ecgqa train cv`` summaries: test_cv_summary.py)."""

from __future__ import annotations

import json

from ecgqa_tools import DISCLAIMER
from ecgqa_tools.cli import main
from ecgqa_tools.encoders import DISEASES, load_disease_model
from ecgqa_tools.records import example_path


def test_classify_prints_probabilities_for_every_disease(capsys):
    assert main(["classify", str(example_path("ptbxl-00400")), "--json", "--age-sex"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["diseases"]) == set(DISEASES)
    assert all(0 <= p <= 1 for p in out["diseases"].values()) and 0 < out["age_years"] < 110
    assert main(["classify", str(example_path("ptbxl-00400"))]) == 0
    text = capsys.readouterr().out
    assert DISCLAIMER in text and out["disclaimer"] == DISCLAIMER and all(f"\n{d}" in text or text.startswith(d) for d in DISEASES)


def test_classify_missing_record_is_a_clean_error(tmp_path, capsys):
    assert main(["classify", str(tmp_path / "nothing.hea")]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_models_lists_cards_and_refuses_unknown_names(capsys):
    assert main(["models", "disease_MI", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)["disease_MI"]
    assert card["training_command"].startswith("ecgqa train disease") and card["train_ids"]
    assert main(["models", "nope"]) == 1
    assert "no shipped model 'nope'" in capsys.readouterr().err
    markdown = load_disease_model("MI").card.to_markdown()
    assert "reproduce: `ecgqa train disease" in markdown and "test_fold10" in markdown


def test_train_disease_epochs_option_reaches_the_config_and_the_card_command():
    from ecgqa_tools.cli import build_parser
    from ecgqa_tools.encoders._cli_encoders import _command, _config
    from ecgqa_tools.encoders._jobs import DEFAULT_DISEASE_CONFIG

    args = build_parser().parse_args(["train", "disease", "--disease", "MI", "--seeds", "0,1,2", "--epochs", "30",
                                      "--version", "3", "--data-dir", "../shared/data"])
    config = _config(DEFAULT_DISEASE_CONFIG, args)
    assert config.epochs == 30 and DEFAULT_DISEASE_CONFIG.epochs == 15
    assert {k: v for k, v in vars(config).items() if k != "epochs"} == \
        {k: v for k, v in vars(DEFAULT_DISEASE_CONFIG).items() if k != "epochs"}
    assert _command(args, "disease", "--disease MI --seeds 0,1,2") == \
        "ecgqa train disease --disease MI --seeds 0,1,2 --data-dir ../shared/data --epochs 30 --version 3"
    default = build_parser().parse_args(["train", "disease"])
    assert _config(DEFAULT_DISEASE_CONFIG, default) is DEFAULT_DISEASE_CONFIG
