"""``encoders._cv.summarize_cv``: pooled out-of-fold AUC per seed with CIs, and the seeds' ensemble."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders._cv import ensemble_oof, summarize_cv
from ecgqa_tools.encoders._metrics import roc_auc
from ecgqa_tools.errors import UsageError


def _write_cv(path, seeds=(0, 1, 2), folds=range(1, 6), per_fold=40, drop=None):
    """Synthetic predictions: every seed scores the same records; each seed's logit is the label's
    signal plus independent noise, so averaging seeds must raise the AUC. ``drop`` = (seed, fold) to leave out."""
    rng = np.random.default_rng(1)
    ids = {fold: list(range(fold * 1000, fold * 1000 + per_fold)) for fold in folds}
    labels = {fold: rng.integers(0, 2, per_fold) for fold in folds}
    truth = {}
    with open(path, "w") as fh:
        for seed in seeds:
            for fold in folds:
                if (seed, fold) == drop:
                    continue
                y = labels[fold]
                logits = y * 1.0 + rng.standard_normal(per_fold) * 1.5
                for i, l, z in zip(ids[fold], y, logits):
                    truth.setdefault(i, [int(l), {}])[1][seed] = float(z)
                fh.write(json.dumps({"disease": "MI", "seed": seed, "fold": fold, "ecg_ids": ids[fold],
                                     "labels": y.tolist(), "logits": logits.tolist()}) + "\n")
    return truth


def test_ensemble_is_the_mean_logit_over_records_every_seed_predicted(tmp_path):
    path = tmp_path / "cv_baseline.jsonl"
    truth = _write_cv(path, drop=(2, 3))  # seed 2 misses fold 3: those 40 records are not in the ensemble
    ens = ensemble_oof([json.loads(line) for line in path.read_text().splitlines()], "MI", [0, 1, 2])
    assert ens["seeds"] == [0, 1, 2]
    ids = sorted(i for i, (_, z) in truth.items() if len(z) == 3)
    assert ens["n_records"] == len(ids) == 160 and ens["n_pos"] + ens["n_neg"] == 160
    y = np.array([truth[i][0] for i in ids]) > 0
    z = np.array([[truth[i][1][s] for s in (0, 1, 2)] for i in ids])
    assert ens["oof_auc_mean_logit"] == pytest.approx(roc_auc(y, z.mean(1)))
    assert ens["oof_auc_mean_prob"] == pytest.approx(roc_auc(y, (1 / (1 + np.exp(-z))).mean(1)))
    lo, hi = ens["ci_mean_logit"]
    assert lo < ens["oof_auc_mean_logit"] < hi
    # the summary leaves the unfinished seed 2 out of the mean, the sd and the ensemble, but lists it
    (row,) = summarize_cv(path)
    assert row["folds_per_seed"] == [5, 5, 4] and row["complete_seeds"] == [0, 1]
    assert row["oof_auc_mean"] == pytest.approx(np.mean(row["oof_auc_per_seed"][:2]))
    assert row["ensemble"]["seeds"] == [0, 1] and row["ensemble"]["n_records"] == 200 == row["n_pos"] + row["n_neg"]
    # independent noise per seed: the ensemble ranks better than the average single seed
    assert row["ensemble"]["oof_auc_mean_logit"] > row["oof_auc_mean"]
    for auc, (lo, hi) in zip(row["oof_auc_per_seed"], row["oof_auc_ci_per_seed"]):
        assert lo < auc < hi


def test_one_seed_has_no_ensemble_and_conflicting_labels_are_refused(tmp_path):
    path = tmp_path / "cv_baseline.jsonl"
    _write_cv(path, seeds=(0,))
    (row,) = summarize_cv(path)
    assert row["ensemble"] is None and row["oof_auc_sd"] == 0.0
    rows = [{"disease": "MI", "seed": s, "fold": 1, "ecg_ids": [1, 2], "labels": [0, s], "logits": [0.1, 0.2]}
            for s in (0, 1)]
    with pytest.raises(UsageError, match="record 2 has two different MI labels"):
        ensemble_oof(rows, "MI", [0, 1])


def test_summary_pools_folds_per_seed_and_the_cli_prints_the_ensemble_row(tmp_path, capsys):
    path = tmp_path / "cv_baseline.jsonl"
    _write_cv(path, folds=range(1, 11), per_fold=30)
    (row,) = summarize_cv(path)
    assert row["disease"] == "MI" and row["seeds"] == [0, 1, 2] and row["folds_per_seed"] == [10, 10, 10]
    assert row["n_pos"] + row["n_neg"] == 300 and 0.5 < row["oof_auc_mean"] <= 1.0
    assert row["oof_auc_sd"] == pytest.approx(np.std(row["oof_auc_per_seed"], ddof=1))  # sample sd over seeds
    assert main(["train", "cv", "--summary-only", "--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"MI\tensemble of seeds 0,1,2 (mean logit)\t{row['ensemble']['oof_auc_mean_logit']:.4f} [" in out
    assert main(["train", "cv", "--summary-only", "--variant", "noaug", "--work-dir", str(tmp_path)]) == 1
    assert "no cross-validation predictions yet" in capsys.readouterr().err


def test_a_line_cut_by_an_interruption_is_skipped_and_that_fold_reruns(tmp_path):
    from ecgqa_tools.encoders._cv import _done

    path = tmp_path / "cv_baseline.jsonl"
    _write_cv(path, seeds=(0, 1), folds=range(1, 11), per_fold=30)
    complete = summarize_cv(path)
    with open(path, "a") as fh:
        fh.write('{"disease": "MI", "seed": 2, "fold": 1, "ecg_ids": [1, 2')  # killed mid-write
    assert summarize_cv(path) == complete
    assert ("MI", 2, 1) not in _done(path) and ("MI", 1, 10) in _done(path)
