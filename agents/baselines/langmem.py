"""LangMem (langmem 0.0.30) as a memory baseline: its store manager writes, the LangGraph store's vector search reads.

Write: `create_memory_store_manager(llm, namespace=("memories", "{langgraph_user_id}"), store=store)` invoked with
the experience as ONE user message, `[{"role": "user", "content": text}]`, under
`config={"configurable": {"langgraph_user_id": <scope>}}` (that is how the manager resolves its namespace outside a
LangGraph graph; the store is passed explicitly, so no graph context is needed). Per invoke the manager embeds the
conversation, searches the store for up to 5 related memories, and makes ONE LLM call (max_steps=1) through
trustcall: with no related memories it offers the tool `Memory {"content": str}` (tool_choice auto); with related
memories it lists them as `<instance id=<uuid5 hex> schema_type="Memory">` and offers `PatchDoc {"json_doc_id",
"planned_edits", "patches": [JSON Patch ops on /content]}` plus `Memory` (tool_choice required), and `RemoveDoc
{"json_doc_id"}` only with enable_deletes=True. Read: `store.search(("memories", scope), query=..., limit=k)`, pure
vector search, no LLM call.

Model and store: `ChatOpenAI(base_url, api_key, model, temperature, max_tokens)` from the Endpoint (library defaults
otherwise, e.g. openai-client retries), `langgraph.store.memory.InMemoryStore(index={"dims": 384, "embed":
<all-MiniLM-L6-v2 via agents.embeddings>, "fields": ["content.content"]})`.

Choices and deviations (the AgeMem paper gives no LangMem configuration):
- enable_deletes keeps the library default (False) unless the constructor asks for it; updates are always on.
- The store lives in memory for the instance only: a fresh one per open(), nothing is written to disk (workdir
  is accepted and unused). A scope id containing "." (illegal in LangGraph namespace labels) has it replaced by "_".
- The default extraction instructions (agent-centric: "What should the agent learn...") are used unchanged.

Failure behaviour, measured: a reply without tool calls (garbage, or prose) is swallowed, 1 call, nothing stored
(WriteResult counts stay 0 and detail["no_tool_calls"] is True). Tool calls the library cannot apply (a PatchDoc for
an unknown id) are logged and dropped (detail["unapplied"]). A tool call whose arguments fail validation starts
trustcall's repair loop: up to 2 more LLM calls (PatchFunctionErrors/PatchFunctionName); if a repair reply has no
tool call, trustcall 0.0.39 raises AttributeError ('ExtractionState' object has no attribute 'tool_call_id') and
the exception propagates to the caller. HTTP errors from the endpoint propagate after the client's retries.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from agents.baselines.api import Endpoint, WriteResult, prepare_library_env
from benchmarks.errors import SuiteError, require

NAMESPACE_TEMPLATE = ("memories", "{langgraph_user_id}")
_PAGE = 1000  # store.search page size when reading every item back


class LangMemMemory:
    """MemoryBackend over langmem's MemoryStoreManager and an InMemoryStore with MiniLM vector search."""

    name = "langmem"

    def __init__(self, *, enable_deletes: bool = False, query_limit: int = 5) -> None:
        self.enable_deletes = enable_deletes
        self.query_limit = query_limit
        self._store: Any = None
        self._manager: Any = None
        self._namespace: tuple[str, str] = ("memories", "")
        self._config: dict[str, Any] = {}

    def open(self, workdir: Path, scope: str, endpoint: Endpoint) -> None:
        if not scope or not scope.strip():
            raise SuiteError("langmem: the memory scope must be a non-empty string")
        prepare_library_env()
        require("langmem", "baselines")
        from langchain_openai import ChatOpenAI
        from langgraph.store.memory import InMemoryStore
        from langmem import create_memory_store_manager

        from agents.embeddings import DEFAULT_EMBEDDER, load_embedder

        embedder = load_embedder(endpoint.embedder_path or DEFAULT_EMBEDDER)
        if embedder.dim != endpoint.embedding_dims:
            raise SuiteError(
                f"langmem: embedder '{embedder.name}' has {embedder.dim} dims, the endpoint says {endpoint.embedding_dims}"
            )

        def embed(texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts)).tolist()

        self.close()
        self._store = InMemoryStore(index={"dims": embedder.dim, "embed": embed, "fields": ["content.content"]})
        llm = ChatOpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            model=endpoint.model,
            temperature=endpoint.temperature,
            max_tokens=endpoint.max_tokens,
        )
        self._manager = create_memory_store_manager(
            llm,
            namespace=NAMESPACE_TEMPLATE,
            store=self._store,
            enable_deletes=self.enable_deletes,
            query_limit=self.query_limit,
        )
        label = scope.strip().replace(".", "_")
        self._namespace = ("memories", label)
        self._config = {"configurable": {"langgraph_user_id": label}}

    def add(self, text: str) -> WriteResult:
        manager = self._require_open()
        before = self._snapshot()
        replies = _recorder_class()()
        puts = manager.invoke(
            {"messages": [{"role": "user", "content": text}]},
            config={**self._config, "callbacks": [replies]},
        )
        after = self._snapshot()
        added = sum(1 for key in after if key not in before)
        deleted = sum(1 for key in before if key not in after)
        updated = sum(1 for key, content in after.items() if key in before and before[key] != content)
        calls = replies.tool_calls
        detail: dict[str, Any] = {
            "llm_replies": replies.count,
            "tool_calls": dict(sorted(calls.items())),
            "no_tool_calls": not calls,  # the library swallows such replies: nothing is written
            "unapplied": bool(calls) and added + updated + deleted == 0,
            "puts": len(puts),
        }
        if replies.invalid:
            detail["invalid_tool_calls"] = replies.invalid
        return WriteResult(added=added, updated=updated, deleted=deleted, detail=detail)

    def search(self, query: str, k: int) -> list[str]:
        self._require_open()
        if k <= 0:
            return []
        return [_render(item.value) for item in self._store.search(self._namespace, query=query, limit=k)]

    def items(self) -> list[str]:
        self._require_open()
        return list(self._snapshot().values())

    def close(self) -> None:
        # The ChatOpenAI http client is langchain-openai's process-wide cached one: drop references, never close it.
        self._manager = None
        self._store = None

    def _require_open(self) -> Any:
        if self._manager is None:
            raise SuiteError("langmem: open() the memory before using it")
        return self._manager

    def _snapshot(self) -> dict[str, str]:
        """key -> rendered content of every item in this scope, in the store's order."""
        out: dict[str, str] = {}
        offset = 0
        while True:
            page = self._store.search(self._namespace, limit=_PAGE, offset=offset)
            out.update((item.key, _render(item.value)) for item in page)
            if len(page) < _PAGE:
                return out
            offset += _PAGE


def _render(value: dict[str, Any]) -> str:
    """The store manager writes {"kind": "Memory", "content": {"content": text}}; anything else as JSON."""
    content = value.get("content")
    if isinstance(content, dict) and isinstance(content.get("content"), str) and len(content) == 1:
        return content["content"]
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@functools.cache
def _recorder_class() -> type:
    """A LangChain callback handler (defined lazily: langchain_core is a heavy optional import)."""
    from langchain_core.callbacks import BaseCallbackHandler

    class ReplyRecorder(BaseCallbackHandler):
        """Sees each chat reply of one invoke (extraction plus any trustcall repairs): which tools the model called."""

        def __init__(self) -> None:
            super().__init__()
            self._lock = threading.Lock()
            self.count = 0
            self.invalid = 0
            self.tool_calls: Counter[str] = Counter()

        def on_llm_end(self, response: Any, **_kwargs: Any) -> None:
            with self._lock:
                for generations in response.generations:
                    for generation in generations:
                        message = getattr(generation, "message", None)
                        self.count += 1
                        self.tool_calls.update(call["name"] for call in getattr(message, "tool_calls", None) or [])
                        self.invalid += len(getattr(message, "invalid_tool_calls", None) or [])

    return ReplyRecorder
