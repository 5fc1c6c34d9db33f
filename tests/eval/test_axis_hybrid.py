"""Session-8 axis hybrid (angle + learned classifier): the rule family, the fold-file loader, the nested
comparison on synthetic folds and the CLI's refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.eval._axis_hybrid import (
    HYBRID_CANDIDATES,
    HybridRow,
    HybridRule,
    compare_hybrid,
    cut_distance,
    load_dev_cnn_probabilities,
    rule_by_name,
)

LEFT, NORMAL, RIGHT = (0.9, 0.08, 0.02), (0.05, 0.9, 0.05), (0.02, 0.18, 0.8)


def test_candidates_are_the_committed_eighteen_in_tie_break_order():
    names = [c.name for c in HYBRID_CANDIDATES]
    assert names == ["cut", "near-2.5", "near-5", "near-7.5", "near-10", "near-15", "near-20",
                     "conf-0.95", "conf-0.9", "conf-0.8", "conf-0.7", "conf-0.6",
                     "near-5-conf-0.9", "near-5-conf-0.7", "near-10-conf-0.9", "near-10-conf-0.7",
                     "near-20-conf-0.9", "near-20-conf-0.7"]
    assert rule_by_name("near-10-conf-0.7") == HybridRule("near-conf", 10.0, 0.7)
    with pytest.raises(UsageError, match="unknown hybrid rule"):
        rule_by_name("near-3")


def test_cut_distance_wraps_the_angle():
    assert cut_distance(7.0, (5.0, 90.0)) == pytest.approx(2.0)
    assert cut_distance(95.0, (5.0, 90.0)) == pytest.approx(5.0)
    assert cut_distance(-350.0, (5.0, 90.0)) == pytest.approx(5.0)  # -350 is +10


def test_rules_use_the_cnn_only_where_they_say():
    cuts = (5.0, 90.0)
    # +7 degrees: the angle says normal; a confident CNN says left
    assert HybridRule("cut").classify(7.0, cuts, LEFT) == "normal"
    assert HybridRule("near", 2.5).classify(7.0, cuts, LEFT) == "left"
    assert HybridRule("near", 2.5).classify(8.0, cuts, LEFT) == "normal"  # 3 degrees from the cut
    assert HybridRule("conf", None, 0.95).classify(7.0, cuts, LEFT) == "normal"  # 0.9 < 0.95
    assert HybridRule("conf", None, 0.9).classify(60.0, cuts, LEFT) == "left"  # far from a cut, still
    assert HybridRule("near-conf", 5.0, 0.9).classify(7.0, cuts, LEFT) == "left"
    assert HybridRule("near-conf", 5.0, 0.9).classify(7.0, cuts, RIGHT) == "normal"  # 0.8 < 0.9
    assert HybridRule("near-conf", 5.0, 0.7).classify(20.0, cuts, LEFT) == "normal"  # 15 degrees away


def _fold_file(path, fold, select, train, preds):
    path.write_text(json.dumps({"fold": fold, "selection_fold": select, "train_folds": train,
                                "members": [], "predictions": preds}))


def test_load_dev_probabilities_checks_every_fold(tmp_path):
    for k in range(1, 9):
        select = 7 if k == 8 else 8
        _fold_file(tmp_path / f"fold{k}.json", k, select, [f for f in range(1, 9) if f not in (k, select)],
                   {str(100 + k): [0.2, 0.5, 0.3]})
    probs = load_dev_cnn_probabilities(tmp_path)
    assert len(probs) == 8 and probs["103"] == (0.2, 0.5, 0.3)
    _fold_file(tmp_path / "fold3.json", 3, 8, [1, 2, 3, 4, 5, 6], {"103": [0.2, 0.5, 0.3]})  # trained on 3
    with pytest.raises(UsageError, match="not a leave-fold-3-out"):
        load_dev_cnn_probabilities(tmp_path)
    _fold_file(tmp_path / "fold3.json", 3, 8, [1, 2, 4, 5, 6, 7], {"103": [0.2, 0.5, 0.3]})  # repaired
    (tmp_path / "fold5.json").unlink()
    with pytest.raises(UsageError, match="fold5.json: missing"):
        load_dev_cnn_probabilities(tmp_path)


def _synthetic_rows(seed: int = 0) -> list[HybridRow]:
    """Labels with a left border at +10 degrees; the angle is noisy (SD 6 degrees) and the CNN knows the
    true class near the border (confident) and is useless far from it (uniform)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(480):
        true = rng.uniform(-60.0, 80.0)
        label = "left" if true < 10.0 else "normal"
        probs = (LEFT if label == "left" else NORMAL) if abs(true - 10.0) < 12.0 else (0.34, 0.33, 0.33)
        rows.append(HybridRow(str(i), 1 + i % 8, label, float(true + rng.normal(0.0, 6.0)), probs))
    return rows


def test_nested_comparison_finds_a_helpful_cnn_near_the_border():
    rows = _synthetic_rows()
    cmp = compare_hybrid(rows, progress=False)
    assert cmp.n_records == 480 and set(cmp.chosen) == set(range(1, 9))
    assert all(c != "cut" for c in cmp.chosen.values())
    assert cmp.n_hybrid >= cmp.n_cut + 10 and cmp.adopt
    assert cmp.flat_counts["cut"] == cmp.n_cut  # the plain count of "cut" is the leave-one-fold-out baseline
    assert cmp.final_rule.family != "cut"
    for k, (left, right) in cmp.cut_pairs.items():
        assert 0.0 <= left <= 20.0, (k, left, right)


def test_nested_comparison_keeps_the_cut_offs_when_the_cnn_is_useless():
    rows = [HybridRow(r.key, r.fold, r.label, r.axis_deg, RIGHT) for r in _synthetic_rows(1)]  # always wrong
    cmp = compare_hybrid(rows, progress=False)
    assert set(cmp.chosen.values()) == {"cut"} and cmp.n_hybrid == cmp.n_cut and not cmp.adopt
    assert cmp.final_rule.name == "cut"
    with pytest.raises(UsageError, match="at least three folds"):
        compare_hybrid([r for r in rows if r.fold <= 2], progress=False)


def test_cli_hybrid_refuses_development_folds_and_needs_the_cnn_folder(capsys, tmp_path):
    from ecgqa_tools.cli import main

    assert main(["bench", "axis", "--hybrid", "--cnn-dev", str(tmp_path), "--folds", "8-10",
                 "--ptbxl", str(tmp_path)]) != 0
    assert "outside the development part" in capsys.readouterr().err
    assert main(["bench", "axis", "--hybrid", "--folds", "9-10", "--ptbxl", str(tmp_path)]) != 0
    assert "--cnn-dev" in capsys.readouterr().err
