"""``ecgqa eval xai`` machinery: label mapping, true-positive selection, scoring, resume, CLI."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.eval._xai import Case, aggregate, ludb_cases, ludb_diseases, ptbxl_superclasses, score_cases
from ecgqa_tools.records import ECG, STANDARD_LEADS, Delineation, Wave

FS = 100.0
R_PEAKS = [100 + 80 * k for k in range(10)]


class QrsModel:
    """logit = sum over leads of x * w, with w on the QRS of every beat of V2 (and a bias)."""

    fs_hz = 100.0
    threshold = 0.5

    def __init__(self, bias: float = 0.0, calls: list | None = None) -> None:
        import torch

        w = np.zeros((12, 1000), dtype=np.float32)
        for r in R_PEAKS:
            w[STANDARD_LEADS.index("V2"), r - 2:r + 3] = 1.0
        weights = torch.from_numpy(w)
        self.calls = calls if calls is not None else []
        outer = self

        class M(torch.nn.Module):
            def forward(self, x):
                outer.calls.append(x.shape[0])
                return (x * weights).sum(dim=(1, 2)) + bias

        self.module = M()
        self.card = SimpleNamespace(version="test-1", seen_ids=frozenset({999}))

    def preprocess(self, ecg: ECG) -> np.ndarray:
        return np.ascontiguousarray(ecg.signal_mv[:, :1000])


def _ecg(record_id: str) -> ECG:
    x = np.zeros((12, 1000), dtype=np.float32)
    for r in R_PEAKS:
        x[:, r - 2:r + 3] = 1.0
    return ECG.from_array(x, FS, record_id=record_id)


def _delineation(_ecg) -> Delineation:
    waves = tuple(w for r in R_PEAKS for w in (Wave("QRS", r - 4, r + 4, r), Wave("T", r + 20, r + 35)))
    return Delineation(FS, 1000, {lead: waves for lead in STANDARD_LEADS}, "synthetic")


def _cases(ids=("1", "2", "999")) -> list[Case]:
    return [Case("ptbxl", i, frozenset({"MI", "STTC"}), False, (lambda i=i: _ecg(i)), _delineation) for i in ids]


def test_scores_true_positives_and_resumes(tmp_path):
    results_path = tmp_path / "r.jsonl"
    calls: list = []
    models = {"MI": QrsModel(calls=calls), "STTC": QrsModel(calls=calls)}
    results, labelled, seconds, excluded = score_cases(_cases(), models, results_path=results_path,
                                                        progress=False)
    assert excluded == 2  # record 999 was seen in training, once per disease
    assert labelled == {("ptbxl", "MI"): 2, ("ptbxl", "STTC"): 2}
    rows = {r.disease: r for r in aggregate(results, labelled)}
    assert rows["MI"].pointing_game == 1.0 and rows["MI"].cas == pytest.approx(1.0)
    assert rows["STTC"].pointing_game == 0.0 and rows["STTC"].cas == pytest.approx(0.0)
    assert 0 < rows["MI"].chance < 0.5
    assert rows["MI"].cosine_ig_gradshap > 0.5
    assert seconds > 0
    assert len(results_path.read_text().splitlines()) == 4
    calls.clear()
    again, labelled2, _, _ = score_cases(_cases(), models, results_path=results_path, progress=False)
    assert not calls  # everything came from the results file
    assert aggregate(again, labelled2) == aggregate(results, labelled)


def test_gradshap_background_is_part_of_the_resume_key(tmp_path):
    """A results file written without GradientSHAP (or with the flat-line GradientSHAP of older
    files) is not reused for a run that computes it: the rows are scored again, with the same
    references as IG."""
    results_path = tmp_path / "r.jsonl"
    models = {"MI": QrsModel()}
    first, _, _, _ = score_cases(_cases(("1",)), models, results_path=results_path, compare_gradshap=False,
                                 progress=False, baseline="lowpass")
    assert first[0].cosine_ig_gradshap is None and first[0].gradshap_background is None
    calls: list = []
    again, _, _, _ = score_cases(_cases(("1",)), {"MI": QrsModel(calls=calls)}, results_path=results_path,
                                 progress=False, baseline="lowpass")
    assert calls and again[0].cosine_ig_gradshap is not None and again[0].gradshap_background == "lowpass"


def test_legacy_flat_line_gradshap_rows_are_not_reused_as_new_definition(tmp_path):
    """A row written before ``gradshap_background`` existed carries a flat-line GradientSHAP
    cosine: it is read as background "flat", so a GradientSHAP run scores it again, and a
    ``--no-gradshap`` run reuses only its IG scores (no GradientSHAP field reported)."""
    results_path = tmp_path / "r.jsonl"
    fresh, _, _, _ = score_cases(_cases(("1",)), {"MI": QrsModel()}, results_path=results_path,
                                 progress=False, baseline="lowpass")
    legacy = json.loads(results_path.read_text().splitlines()[0])
    del legacy["gradshap_background"]
    legacy.update(cosine_ig_gradshap=0.073, hit_gradshap=False, cas_gradshap=0.25, cas=0.5)
    results_path.write_text(json.dumps(legacy) + "\n")
    for compare in (False, True):
        calls: list = []
        again, labelled, _, _ = score_cases(_cases(("1",)), {"MI": QrsModel(calls=calls)}, results_path=results_path,
                                            progress=False, baseline="lowpass", compare_gradshap=compare)
        row = aggregate(again, labelled)[0]
        assert row.cosine_ig_gradshap != pytest.approx(0.073)
        if compare:  # scored again with the new background
            assert calls and again[0].gradshap_background == "lowpass"
            assert again[0].cosine_ig_gradshap == pytest.approx(fresh[0].cosine_ig_gradshap)
        else:  # the IG scores are reused, the flat-line GradientSHAP ones are not reported
            assert not calls and again[0].cas == 0.5 and np.isnan(row.cosine_ig_gradshap)
            assert again[0].hit_gradshap is None and again[0].gradshap_background is None


def test_changed_variant_constants_are_not_reused(tmp_path, monkeypatch):
    """The IG-variant constants, the beat-template and QRS-detector constants and the bytes of the
    shipped normal-beat files are part of the resume key (``variant_fingerprint``)."""
    from ecgqa_tools.grounding import _attribution, _baselines

    results_path = tmp_path / "r.jsonl"
    score_cases(_cases(("1",)), {"MI": QrsModel()}, results_path=results_path, progress=False,
                baseline="lowpass", compare_gradshap=False)
    before = _attribution.variant_fingerprint()
    assert _attribution.variant_fingerprint() == before  # deterministic
    changes = [(_baselines, name, getattr(_baselines, name) * 1.1)
               for name in ("TEMPLATE_FS_HZ", "TEMPLATE_PRE_S", "TEMPLATE_POST_S", "PRE_FRACTION", "MIN_RR_S",
                            "BEAT_SMOOTH_S", "BEAT_HEIGHT_FRACTION", "BEAT_HEIGHT_PERCENTILE")]
    for name in ("TEMPLATE_PATH", "REFERENCES_PATH", "REFERENCES_WIDE_PATH"):  # same name, other bytes
        changed = tmp_path / name / getattr(_baselines, name).name
        changed.parent.mkdir()
        changed.write_bytes(getattr(_baselines, name).read_bytes() + b"\0")
        changes.append((_baselines, name, changed))
    for module, name, value in changes:
        with monkeypatch.context() as patch:
            patch.setattr(module, name, value)
            assert _attribution.variant_fingerprint() != before, name
    assert _attribution.variant_fingerprint() == before
    with monkeypatch.context() as patch:  # rows carried to the input rate the old way are redone
        patch.setattr(_attribution, "MAP_ALIGNMENT", "floor")
        assert _attribution.variant_fingerprint() != before
    monkeypatch.setattr(_attribution, "SMOOTH_NOISE_SD", 0.2)
    assert _attribution.variant_fingerprint() != before
    calls: list = []
    score_cases(_cases(("1",)), {"MI": QrsModel(calls=calls)}, results_path=results_path, progress=False,
                baseline="lowpass", compare_gradshap=False)
    assert calls
    calls.clear()  # a resumed run with the same key reuses the row ...
    score_cases(_cases(("1",)), {"MI": QrsModel(calls=calls)}, results_path=results_path, progress=False,
                baseline="lowpass", compare_gradshap=False)
    assert not calls
    monkeypatch.setattr(_baselines, "REFERENCES_PATH", tmp_path / "REFERENCES_PATH" / "normal_refs.npz")
    score_cases(_cases(("1",)), {"MI": QrsModel(calls=calls)}, results_path=results_path, progress=False,
                baseline="lowpass", compare_gradshap=False)
    assert calls  # ... and scores it again once the shipped references' bytes change


def test_negatives_are_not_scored():
    results, labelled, _, _ = score_cases(_cases(("5",)), {"MI": QrsModel(bias=-100.0)},
                                          compare_gradshap=False, progress=False)
    row = aggregate(results, labelled)[0]
    assert row.n_labelled == 1 and row.n_true_positive == 0 and np.isnan(row.pointing_game)


def test_label_mappings():
    statements = pd.DataFrame({"diagnostic_class": ["MI", "STTC", None]}, index=["IMI", "NDT", "SR"])
    assert ptbxl_superclasses({"IMI": 100.0, "SR": 0.0, "XYZ": 1.0}, statements) == {"MI"}
    row = SimpleNamespace(ischemia=("Scar formation: septal",), repolarization=(),
                          conduction_abnormalities=("I degree av block", "Sinoatrial blockade, undefined"),
                          hypertrophies=("Left atrial hypertrophy",))
    assert ludb_diseases(row) == ({"MI", "CD"}, True)
    row2 = SimpleNamespace(ischemia=("Ischemia: inferior wall",), repolarization=(), conduction_abnormalities=(),
                           hypertrophies=("Left ventricular hypertrophy",))
    assert ludb_diseases(row2) == ({"STTC", "HYP"}, False)


def test_ludb_cases_use_gold_masks(ludb_dir):
    cases = ludb_cases(ludb_dir, ("HYP",), limit=2)
    assert len(cases) == 2 and all(c.dataset == "ludb" and "HYP" in c.diseases for c in cases)
    ecg = cases[0].load()
    delineation = cases[0].delineation(ecg)
    assert delineation.source == "ludb-gold" and ecg.fs_hz == 500.0


def test_cli_needs_a_dataset(capsys):
    assert main(["eval", "xai"]) == 1
    assert "--ptbxl" in capsys.readouterr().err


def test_report_table_starts_rows_with_the_disease_code():
    from ecgqa_tools.eval._xai import XaiReport

    results, labelled, seconds, excluded = score_cases(_cases(("1",)), {"MI": QrsModel()}, progress=False)
    report = XaiReport(aggregate(results, labelled), tuple(results), "ig", seconds, excluded)
    row = next(line for line in report.table().splitlines() if line.startswith("MI"))
    assert row.split()[:3] == ["MI", "1.000", "1.000"]
    json.dumps(report.to_dict())


def test_results_are_kept_per_baseline_and_training_only_exclusion(tmp_path):
    results_path = tmp_path / "r.jsonl"
    model = QrsModel()
    model.card = SimpleNamespace(version="test-1", seen_ids=frozenset({2, 999}), train_ids=frozenset({999}))
    flat, labelled, _, excluded = score_cases(_cases(), {"MI": model}, results_path=results_path,
                                              compare_gradshap=False, progress=False)
    assert excluded == 2 and {r.baseline for r in flat} == {"flat"}
    calls: list = []
    model.calls = calls
    iso, labelled_iso, _, excluded_iso = score_cases(
        _cases(), {"MI": model}, results_path=results_path, compare_gradshap=False, progress=False,
        baseline="isoelectric", training_only=True)
    assert excluded_iso == 1 and labelled_iso == {("ptbxl", "MI"): 2}  # record 2 is a selection id only
    assert calls and {r.baseline for r in iso} == {"isoelectric"}  # not taken from the flat results
    assert len(results_path.read_text().splitlines()) == 3


def test_faithfulness_is_run_per_true_positive_and_aggregated():
    results, labelled, _, _ = score_cases(_cases(("1", "2")), {"MI": QrsModel(bias=-5.0)},
                                          compare_gradshap=False, progress=False)
    scored = [r for r in results if r.positive]
    assert len(scored) == 2 and all(r.probability_top_removed is not None for r in scored)
    # the model reads only the V2 QRS complexes, which IG ranks first: removing them drops the
    # probability to the bias alone, while random regions of the same size rarely touch them
    assert all(r.probability_top_removed == pytest.approx(1 / (1 + np.exp(5.0)), abs=1e-3) for r in scored)
    summary = aggregate(results, labelled)[0].faithfulness
    assert summary.n == 2 and summary.faithful_share == 1.0
    assert summary.drop_top > summary.drop_random and summary.difference == pytest.approx(
        summary.drop_top - summary.drop_random)
    assert 0 < summary.removed_fraction <= 0.05  # only regions with positive attribution are removed
    # score_cases' default IG baseline is the flat line: this model reads it as its bias alone,
    # which it calls negative
    row = aggregate(results, labelled, {"MI": 0.5})[0]
    assert row.baseline_probability == pytest.approx(1 / (1 + np.exp(5.0)), abs=1e-4)
    assert row.baseline_positive_share == 0.0


def test_faithfulness_summary_has_a_paired_t_interval():
    from dataclasses import replace

    from ecgqa_tools.eval._xai import summarize_faithfulness

    results, _, _, _ = score_cases(_cases(("1",)), {"MI": QrsModel()}, compare_gradshap=False, progress=False)
    base = results[0]
    made = [replace(base, probability=0.9, probability_top_removed=0.9 - top, probability_random_removed=0.9 - rand)
            for top, rand in ((0.3, 0.2), (0.5, 0.2))]
    summary = summarize_faithfulness(made)
    assert summary.n == 2 and summary.drop_top == pytest.approx(0.4) and summary.drop_random == pytest.approx(0.2)
    # differences 0.1 and 0.3: mean 0.2, sd 0.1414, t(0.975, 1) = 12.706 -> half-width 1.2706
    assert summary.difference == pytest.approx(0.2)
    assert (summary.ci_low, summary.ci_high) == pytest.approx((0.2 - 1.2706, 0.2 + 1.2706), abs=1e-3)
    assert summarize_faithfulness([replace(base, probability_top_removed=None)]) is None


def test_report_prints_faithfulness_and_records_the_ig_steps():
    from ecgqa_tools.eval._xai import XaiReport, default_n_steps

    results, labelled, seconds, excluded = score_cases(_cases(("1", "2")), {"MI": QrsModel()}, progress=False)
    report = XaiReport(aggregate(results, labelled), tuple(results), "ig", seconds, excluded,
                       n_steps=default_n_steps())
    text = report.table()
    assert "faithfulness of IG" in text and f"IG steps {default_n_steps()}" in text
    line = [ln for ln in text.splitlines() if ln.startswith("MI")][-1]
    assert line.split()[1] == "2"  # n of the faithfulness row
    assert json.loads(json.dumps(report.to_dict()))["rows"][0]["faithfulness"]["n"] == 2


def test_faithfulness_variant_fills_removed_regions_with_the_normal_template():
    results, labelled, _, _ = score_cases(_cases(("1", "2")), {"MI": QrsModel(bias=-5.0)},
                                          compare_gradshap=False, progress=False)
    scored = [r for r in results if r.positive]
    assert all(r.probability_top_normalized is not None for r in scored)
    # the template differs from the spikes on the V2 QRS, so the probability changes from the
    # flat-line version, but both variants are aggregated with the same n
    row = aggregate(results, labelled)[0]
    assert row.faithfulness_normal_fill.n == row.faithfulness.n == 2
    assert any(abs(r.probability_top_normalized - r.probability_top_removed) > 1e-6 for r in scored)


def test_results_are_kept_per_ig_step_count(tmp_path):
    results_path = tmp_path / "r.jsonl"
    calls: list = []
    model = QrsModel(calls=calls)
    first, _, _, _ = score_cases(_cases(("1",)), {"MI": model}, results_path=results_path,
                                 compare_gradshap=False, progress=False, n_steps=4)
    assert first[0].n_steps == 4
    calls.clear()
    again, _, _, _ = score_cases(_cases(("1",)), {"MI": model}, results_path=results_path,
                                 compare_gradshap=False, progress=False, n_steps=4)
    assert not calls and (again[0].n_steps, again[0].cas) == (4, first[0].cas)
    other, _, _, _ = score_cases(_cases(("1",)), {"MI": model}, results_path=results_path,
                                 compare_gradshap=False, progress=False, n_steps=6)
    assert calls and other[0].n_steps == 6  # recomputed, not taken from the 4-step result


def test_results_made_with_another_delineator_are_recomputed(tmp_path, monkeypatch):
    from ecgqa_tools.eval import _delineation_bench

    results_path = tmp_path / "r.jsonl"
    calls: list = []
    model = QrsModel(calls=calls)
    first, _, _, _ = score_cases(_cases(("1",)), {"MI": model}, results_path=results_path,
                                 compare_gradshap=False, progress=False)
    assert first[0].pipeline == _delineation_bench.pipeline_fingerprint()
    calls.clear()
    monkeypatch.setattr(_delineation_bench, "pipeline_fingerprint", lambda *m: "another-delineator")
    again, _, _, _ = score_cases(_cases(("1",)), {"MI": model}, results_path=results_path,
                                 compare_gradshap=False, progress=False)
    assert calls and again[0].pipeline == "another-delineator"  # not taken from the old rows
    assert sorted(p.name for p in (tmp_path / "r.jsonl.delineations").iterdir()) == sorted(
        [f"ptbxl_1_{first[0].pipeline}.pkl", "ptbxl_1_another-delineator.pkl"])


def test_cli_rejects_too_few_ig_steps(tmp_path, capsys):
    assert main(["eval", "xai", "--ludb", str(tmp_path), "--steps", "1"]) == 1
    assert "at least 2 steps" in capsys.readouterr().err
