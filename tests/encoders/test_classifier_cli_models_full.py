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


def test_models_list_shortens_long_metrics_at_a_word_boundary(capsys):
    import json

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    cards = model_cards()
    long = [(k, json.dumps(v, default=float)) for c in cards.values() for k, v in c.metrics.items()
            if len(json.dumps(v, default=float)) > 200 and k not in ("thresholds", "threshold_rule")]
    assert long, "no long metric to check"
    for key, text in long:
        line = next(x for x in listing.splitlines() if x.startswith(f"{key}: "))
        shown = line[len(key) + 2:]
        assert shown.endswith(" ...") and len(shown) <= 200
        assert text.startswith(shown[:-4]) and text[len(shown) - 4] == " "  # cut where a space was
