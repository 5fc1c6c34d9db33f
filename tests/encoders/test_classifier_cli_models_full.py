"""``ecgqa models NAME`` shows the full card, not the list's summary."""

from ecgqa_tools import DISCLAIMER
from ecgqa_tools.cli import main
from ecgqa_tools.encoders import model_cards


def test_models_name_shows_the_full_card(capsys):
    card = model_cards()["disease_MI"]
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert main(["models", "disease_MI"]) == 0
    full = capsys.readouterr().out
    assert full.strip() not in listing
    assert f"trained on: {len(card.train_ids)} records (ecg_id {min(card.train_ids)}-{max(card.train_ids)})" in full
    assert f"selected on: {len(card.selection_ids)} records (ecg_id {min(card.selection_ids)}" in full
    assert card.training_command in full and "## Data" in full and "## Intended use" in full
    assert DISCLAIMER in full
    for key, value in card.data.items():
        assert f"- {key}: " in full
    for key in card.metrics:
        if key not in ("thresholds", "threshold_rule"):
            assert f"- {key}: " in full
