"""The ECG-QA benchmark's choice of disease weights: the ``tools``/``llm-agent`` systems answer and are
guarded with the ``ecgqa-split`` models (never saw an ECG-QA test ECG) unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgqa_tools.encoders import DISEASES, active_disease_weights, load_disease_model
from ecgqa_tools.errors import LeakageError
from ecgqa_tools.eval import _ecgqa_bench_systems as systems_module
from ecgqa_tools.eval._ecgqa_bench import run_benchmark, select_samples
from ecgqa_tools.eval._ecgqa_bench_systems import BenchContext, LLMAgentSystem, ToolsSystem


def _ctx(tmp_path: Path, **kwargs) -> BenchContext:
    return BenchContext(ptbxl_dir=tmp_path, ecgqa_dir=tmp_path, **kwargs)


def _seen(weights: str) -> frozenset[int]:
    return frozenset().union(*(load_disease_model(d, weights).card.seen_ids for d in DISEASES))


def test_tools_and_agent_use_the_ecgqa_split_weights_by_default(tmp_path):
    for system in (ToolsSystem(_ctx(tmp_path)), LLMAgentSystem(_ctx(tmp_path))):
        models = system.describe()["models"]
        assert {f"disease_{d}_ecgqa" for d in DISEASES} <= set(models)
        assert not any(name == f"disease_{d}" for d in DISEASES for name in models)
    folds = ToolsSystem(_ctx(tmp_path, disease_weights="ptbxl-folds")).describe()["models"]
    assert {f"disease_{d}" for d in DISEASES} <= set(folds)
    assert ToolsSystem(_ctx(tmp_path)).cache_key == ToolsSystem(_ctx(tmp_path)).cache_key
    assert active_disease_weights() == "ptbxl-folds"  # describing changed nothing outside


def test_answer_time_guard_reads_the_seen_ids_of_the_weights_in_use(tmp_path, monkeypatch):
    monkeypatch.setattr(systems_module, "_LOADER_SEEN", {})
    # an ECG the fold-based models trained on that the ECG-QA-split models never saw, and one the
    # ECG-QA-split models trained on that the fold-based ones never saw
    only_folds = min(_seen("ptbxl-folds") - _seen("ecgqa-split"))
    only_ecgqa = min(_seen("ecgqa-split") - _seen("ptbxl-folds"))
    with pytest.raises(LeakageError, match=f"disease_probabilities.*{only_folds}"):
        systems_module.check_tools_unseen(["disease_probabilities"], [only_folds])
    system = ToolsSystem(_ctx(tmp_path))
    with system.model_context():
        assert active_disease_weights() == "ecgqa-split"
        systems_module.check_tools_unseen(["disease_probabilities"], [only_folds])
        with pytest.raises(LeakageError, match=str(only_ecgqa)):
            systems_module.check_tools_unseen(["attribution_evidence"], [only_ecgqa])
    assert active_disease_weights() == "ptbxl-folds"


def test_the_harness_answers_inside_the_system_model_context(tmp_path):
    from ecgqa_tools.encoders import use_disease_weights

    seen_during: list[str] = []

    class Recorder:
        name, cache_key, persist_cache = "rec", "rec", False

        def describe(self):
            return {"name": self.name}

        def seen_ecg_ids(self):
            return frozenset()

        def model_context(self):
            return use_disease_weights("ecgqa-split")

        def ecg_features(self, ecg_id):
            seen_during.append(active_disease_weights())
            return ecg_id

        def answer(self, sample, features):
            seen_during.append(active_disease_weights())
            return list(sample.answer)

    samples = [{"template_id": 1, "question_id": i, "sample_id": 10 + i, "question_type": "single-verify",
                "attribute_type": "scp_code", "question": "q?", "answer": ["yes"], "ecg_id": [i + 1],
                "attribute": None} for i in range(3)]
    result = run_benchmark([Recorder()], select_samples(samples, frozenset({1, 2, 3})), tmp_path, progress=False)
    assert len(result.predictions["rec"]) == 3 and all(p.correct for p in result.predictions["rec"])
    assert seen_during == ["ecgqa-split"] * 6
    assert active_disease_weights() == "ptbxl-folds"


def test_cli_offers_the_disease_weight_sets():
    from ecgqa_tools.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["bench", "ecgqa"]).disease_weights == "ecgqa-split"
    args = parser.parse_args(["bench", "ecgqa", "--disease-weights", "ptbxl-folds"])
    assert args.disease_weights == "ptbxl-folds"
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "ecgqa", "--disease-weights", "fold10"])
