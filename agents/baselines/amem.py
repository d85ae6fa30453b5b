"""A-Mem through the real PyPI `a-mem` 0.2.6 (`agentic_memory.memory_system.AgenticMemorySystem`).

Write = `add_note(text)`: the library asks the LLM for keywords/context/tags (analysis call), then, once the store
holds a note, shows the model the 5 nearest notes and asks whether to evolve (evolution call: link the new note,
retag it, rewrite the neighbours' context/tags). So an add costs 1 LLM call for the first note and 2 after.
Retrieval = `search_agentic(query, k)` (ChromaDB top-k, no LLM call) with each hit's content read back through
`read(id)`, because `search_agentic` returns only the metadata.

The library swallows every LLM failure: a reply that is not JSON becomes empty keywords/tags and context "General"
(analysis) or "no evolution" (evolution), printed/logged and otherwise invisible. The adapter records each reply
it relays and reports `analysis_failed` / `evolution_failed` in `WriteResult.detail` (the note itself is still
stored, with its raw content, so `added` stays 1). A failed HTTP call (server down, 4xx/5xx) is swallowed the same
way by the library; the adapter re-raises it after `add_note` returns so that a dead endpoint is never mistaken
for a model that writes bad JSON. `updated` counts existing notes whose context or tags the evolution step
actually changed (metadata read back from ChromaDB before and after the add).

Deviations from the paper's A-mem-sys (WujiangXu/A-mem-sys; agiresearch/A-mem is not on PyPI):
- Library: `a-mem` 0.2.6 is a fork (DiaaAj/a-mem-mcp) with the official class and method names and prompts, but
  ChromaDB is the only store (no separate in-RAM note dict / BM25 hybrid retriever) and the `evo_threshold`
  consolidation step is gone (evolution writes through to ChromaDB immediately).
- Storage: a fresh persistent ChromaDB directory per `open()` under `workdir` (library default: ./chroma_db,
  shared and never reset). A-Mem has no user/scope concept: a scope is isolated by its own directory.
- LLM: backend "openai" with the client's `base_url` set to the suite's endpoint; temperature fixed to
  `Endpoint.temperature` and `max_tokens` to `Endpoint.max_tokens` (the library sends temperature 1.0 and no
  token limit). A reply cut at `max_tokens` is bad JSON and is flagged like any other.
- Embeddings: all-MiniLM-L6-v2 from the local `Endpoint.embedder_path` (the paper's model too, but loaded from
  a local directory instead of the hub name the library defaults to).
- Retrieval: the fork's `search_agentic` cuts its list to k, so a hit's linked notes only fill slots left when
  fewer than k notes match; the paper's retrieval (`find_related_memories_raw` in A-mem-sys) appends up to k
  linked notes per hit. With `render="note"` (default) each result is rendered like `find_related_memories_raw`
  renders a note (content, context, keywords, tags) minus its wall-clock timestamp, which would make records
  non-reproducible; `render="content"` returns the raw text only.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agents.baselines.api import Endpoint, WriteResult, prepare_library_env
from benchmarks.errors import SuiteError, require

LIBRARY_LOGGER = "agentic_memory"
ANALYSIS, EVOLUTION, OTHER = "analysis", "evolution", "other"


@dataclass
class _Call:
    """One LLM call the library made through the adapter: which step, the raw reply, or the transport error."""

    kind: str
    reply: str | None = None
    error: BaseException | None = None

    def parsed(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.reply) if isinstance(self.reply, str) else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class _ErrorLog(logging.Handler):
    """Collects the errors the library logs (and then swallows) during one add."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:300])


def _kind(response_format: Any) -> str:
    try:
        properties = response_format["json_schema"]["schema"]["properties"]
    except (TypeError, KeyError):
        return OTHER
    return EVOLUTION if "should_evolve" in properties else ANALYSIS if "keywords" in properties else OTHER


def _slug(scope: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", scope)[:40] or "scope"


def render_note(content: str, context: Any, keywords: Any, tags: Any) -> str:
    """A note as `find_related_memories_raw` shows it to the answering model, without the wall-clock time."""
    return f"memory content: {content}\tmemory context: {context}\tmemory keywords: {keywords}\tmemory tags: {tags}"


class AMemMemory:
    """`MemoryBackend` over `agentic_memory.AgenticMemorySystem` (a-mem 0.2.6)."""

    name = "amem"

    def __init__(self, *, render: Literal["note", "content"] = "note") -> None:
        if render not in ("note", "content"):
            raise SuiteError(f"amem: render must be 'note' or 'content', not {render!r}")
        self.render = render
        self.storage_path: Path | None = None
        self._system: Any = None
        self._calls: list[_Call] = []

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def open(self, workdir: Path, scope: str, endpoint: Endpoint) -> None:
        if self._system is not None:
            raise SuiteError("amem: open() called twice; close() the backend first")
        if not isinstance(scope, str) or not scope:
            raise SuiteError("amem: scope must be a non-empty string")
        if not endpoint.embedder_path or not Path(endpoint.embedder_path).is_dir():
            # the library's default is the hub name 'all-MiniLM-L6-v2', which must never be resolved online
            raise SuiteError(f"amem: endpoint.embedder_path must be a local sentence-transformers directory, "
                             f"got {endpoint.embedder_path!r}")
        prepare_library_env()
        require("agentic_memory", "baselines")
        memory_system = require("agentic_memory.memory_system", "baselines")
        openai = require("openai", "baselines")

        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.storage_path = Path(tempfile.mkdtemp(prefix=f"amem-{_slug(scope)}-", dir=workdir))
        system = memory_system.AgenticMemorySystem(
            model_name=str(Path(endpoint.embedder_path).resolve()),  # chroma's SentenceTransformer EF loads it
            llm_backend="openai",
            llm_model=endpoint.model,
            api_key=endpoint.api_key or "local",
            storage_path=str(self.storage_path),
        )
        llm = system.llm_controller.llm
        llm.client.close()  # built for api.openai.com; never used
        llm.client = openai.OpenAI(api_key=endpoint.api_key or "local", base_url=endpoint.base_url)
        library_call = llm.get_completion

        def get_completion(prompt: str, response_format: dict | None = None, temperature: float = 1.0,
                           max_tokens: int | None = None) -> str:
            """The library's own call with the suite's sampling settings; every reply and error recorded."""
            call = _Call(_kind(response_format))
            self._calls.append(call)
            try:
                call.reply = library_call(prompt, response_format, temperature=endpoint.temperature,
                                          max_tokens=endpoint.max_tokens)
            except Exception as exc:
                call.error = exc
                raise
            return call.reply

        llm.get_completion = get_completion
        self._system = system

    def close(self) -> None:
        system, self._system = self._system, None
        if system is None:
            return
        with contextlib.suppress(Exception):
            system.llm_controller.llm.client.close()
        with contextlib.suppress(Exception):
            system.retriever.client.close()  # releases chroma's sqlite files (refcounted per path)
        system.cache.clear()

    # -- memory operations -------------------------------------------------------------------------------------
    def _require_open(self) -> Any:
        if self._system is None:
            raise SuiteError("amem: backend is not open; call open() first")
        return self._system

    def _metadata(self) -> dict[str, dict[str, Any]]:
        retriever = self._require_open().retriever
        ids = retriever.get_all_ids()
        return retriever.get_by_ids(ids) if ids else {}

    def add(self, text: str) -> WriteResult:
        system = self._require_open()
        if not isinstance(text, str):
            raise SuiteError(f"amem: add() takes text, not {type(text).__name__}")
        before = self._metadata()
        self._calls = []
        errors = _ErrorLog()
        logger = logging.getLogger(LIBRARY_LOGGER)
        logger.addHandler(errors)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):  # the library print()s its analysis failures
                note_id = system.add_note(text)
        finally:
            logger.removeHandler(errors)
        failed = next((c.error for c in self._calls if c.error is not None), None)
        if failed is not None:
            raise failed  # swallowed by the library; a transport failure is not a model failure

        after = self._metadata()
        note = after.get(note_id) or {}
        updated = sum(1 for i, old in before.items() if i in after and
                      (after[i].get("context"), after[i].get("tags")) != (old.get("context"), old.get("tags")))
        analysis = next((c for c in self._calls if c.kind == ANALYSIS), None)
        evolution = next((c for c in self._calls if c.kind == EVOLUTION), None)
        parsed = analysis.parsed() if analysis else None
        analysis_failed = parsed is None or not (
            parsed.get("keywords") or parsed.get("tags") or parsed.get("context") not in (None, "", "General"))
        decision = evolution.parsed() if evolution else None
        evolution_failed = evolution is not None and (decision is None or any("evolution" in m for m in errors.messages))
        messages = errors.messages + [line[:300] for line in printed.getvalue().splitlines() if line.strip()]
        detail = {
            "id": note_id,
            "llm_calls": len(self._calls),
            "analysis_failed": analysis_failed,
            "evolution_called": evolution is not None,
            "evolution_failed": evolution_failed,
            "evolved": bool(decision.get("should_evolve")) if decision and not evolution_failed else False,
            "links": len(note.get("links") or []),
            "keywords": len(note.get("keywords") or []),
            "library_errors": messages,
        }
        return WriteResult(added=int(note.get("content") == text), updated=updated, detail=detail)

    def search(self, query: str, k: int) -> list[str]:
        system = self._require_open()
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise SuiteError(f"amem: k must be a positive integer, got {k!r}")
        out = []
        for hit in system.search_agentic(str(query), k):
            note = system.read(hit["id"])
            if note is None:
                continue
            out.append(note.content if self.render == "content" else
                       render_note(note.content, note.context, note.keywords, note.tags))
        return out

    def items(self) -> list[str]:
        # raw ChromaDB metadata (the library's source of truth); read() would bump the notes' retrieval counts
        return [str(meta.get("content", "")) for meta in self._metadata().values()]
