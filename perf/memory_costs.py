"""What one memory write and one retrieval cost in each memory system, side by side in one run.

Every backend gets the same inputs: the stage-1 turns of the first HotpotQA dev tasks, written exactly as the
memory-agent loop writes a step ("Observation: ... / Agent reply: ..."), then each task's question as a
retrieval query. Library LLM calls go through the suite's local OpenAI-compatible endpoint to the same model, so
its ledger gives exact calls and tokens; wall time is measured around each call. AgeMem's row is its own LTM store
(the Add_memory / Retrieve_memory tools): it makes no LLM call of its own — the policy's tool-call round that
decides the write is part of acting and is not counted here.

Usage: python perf/memory_costs.py [--model SPEC] [--tasks 2] [--backends mem0,mem0g,amem,langmem,agemem]
       [--data-dir DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.baselines.agent import _minilm_path, experience
from agents.baselines.api import Endpoint, WriteResult
from agents.llm.batching import BatchingModel
from agents.llm.serve import OpenAIServer
from agents.llm.spec import EMBEDDED_MODEL_SPEC, load_model
from benchmarks.data_dir import data_dir
from benchmarks.hotpotqa.benchmark import HotpotQA

BACKENDS = {  # AgeMem's store (defined below) first: cheapest, so a broken setup shows at once
    "agemem": "",
    "mem0": "agents.baselines.mem0:Mem0Memory",
    "mem0g": "agents.baselines.mem0:Mem0GraphMemory",
    "amem": "agents.baselines.amem:AMemMemory",
    "langmem": "agents.baselines.langmem:LangMemMemory",
}


class AgeMemStore:
    """AgeMem's LTM store behind the baseline protocol: Add_memory and Retrieve_memory, no LLM inside."""

    name = "agemem"

    def open(self, workdir: Path, scope: str, endpoint: Endpoint) -> None:
        from agents.agemem.store import MemoryStore
        from agents.embeddings import load_embedder

        self.store = MemoryStore(workdir / "ltm.sqlite", load_embedder(endpoint.embedder_path))

    def add(self, text: str) -> WriteResult:
        self.store.add(text)
        return WriteResult(added=1)

    def search(self, query: str, k: int) -> list[str]:
        return [item.content for item, _score in self.store.retrieve(query, k)]

    def items(self) -> list[str]:
        return [item.content for item in self.store.items()]

    def close(self) -> None:
        if getattr(self, "store", None) is not None:
            self.store.close()
            self.store = None


@dataclass
class Costs:
    calls: list[int] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    malformed: int = 0  # replies the library asked for as JSON / tool calls that were neither

    def summary(self) -> dict[str, float]:
        mean = lambda xs: statistics.fmean(xs) if xs else float("nan")
        return {"n": len(self.seconds), "calls": mean(self.calls), "prompt_tokens": mean(self.prompt_tokens),
                "completion_tokens": mean(self.completion_tokens), "seconds": mean(self.seconds),
                "errors": self.errors, "malformed": self.malformed}


def workload(tasks: int, root: str | None) -> tuple[list[str], list[str], str]:
    bench = HotpotQA(data_dir=root, max_distractor_turns=0)
    refs = list(bench.tasks("dev"))[:tasks]
    writes, queries = [], []
    for ref in refs:
        episode = bench.make(ref)
        observation = episode.reset()
        for _ in range(episode.layout["stage1"]):
            writes.append(experience(observation, "Noted."))
            observation = episode.step("Noted.").observation
        queries.append(observation.goal or observation.text)
    return writes, queries, bench.resolved_source


def measure(name: str, model: Any, writes: list[str], queries: list[str], k: int) -> dict[str, Any]:
    import importlib

    module, _, cls = BACKENDS[name].partition(":")
    backend = getattr(importlib.import_module(module), cls)() if module else AgeMemStore()
    workdir = Path(tempfile.mkdtemp(prefix=f"costs-{name}-"))
    costs = {"write": Costs(), "retrieve": Costs()}
    try:
        with OpenAIServer(model) as server:
            backend.open(workdir, "bench", Endpoint(server.base_url, model.spec, embedder_path=_minilm_path()))
            for operation, inputs in (("write", writes), ("retrieve", queries)):
                for text in inputs:
                    before, started = server.ledger.snapshot(), time.perf_counter()
                    try:
                        backend.add(text) if operation == "write" else backend.search(text, k)
                    except Exception as exc:  # counted, shown in the table, never hidden
                        costs[operation].errors += 1
                        print(f"  {name} {operation} failed: {type(exc).__name__}: {str(exc)[:160]}")
                    seconds = time.perf_counter() - started
                    delta = server.ledger.snapshot() - before
                    entry = costs[operation]
                    entry.calls.append(delta.usage.calls)
                    entry.prompt_tokens.append(delta.usage.prompt_tokens)
                    entry.completion_tokens.append(delta.usage.completion_tokens)
                    entry.seconds.append(seconds)
                    entry.malformed += delta.counts.get("json_invalid", 0) + delta.counts.get("tool_call_invalid", 0)
            stored = len(backend.items())
    finally:
        backend.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"backend": name, "stored_items": stored, **{op: c.summary() for op, c in costs.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=EMBEDDED_MODEL_SPEC)
    parser.add_argument("--tasks", type=int, default=2, help="HotpotQA dev tasks (their stage-1 turns are written)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = set(names) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    writes, queries, source = workload(args.tasks, data_dir(args.data_dir))
    model = BatchingModel(load_model(args.model, threads=args.threads), max_batch=4)
    print(f"model {model.spec}, HotpotQA {source} dev: {len(writes)} writes, {len(queries)} retrievals per backend")
    rows = []
    try:
        for name in names:
            started = time.perf_counter()
            rows.append(measure(name, model, writes, queries, args.k))
            print(f"  {name}: done in {time.perf_counter() - started:.0f} s", flush=True)
            if args.json:  # after every backend: a crash later loses nothing measured
                args.json.write_text(json.dumps({"model": model.spec, "data": source, "rows": rows}, indent=2))
    finally:
        model.close()
    print("\n| backend | op | n | LLM calls | prompt tok | completion tok | wall s | errors | malformed | items |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        for op in ("write", "retrieve"):
            s = row[op]
            print(f"| {row['backend']} | {op} | {s['n']} | {s['calls']:.1f} | {s['prompt_tokens']:.0f} | "
                  f"{s['completion_tokens']:.0f} | {s['seconds']:.2f} | {s['errors']} | {s['malformed']} | "
                  f"{row['stored_items'] if op == 'write' else ''} |")


if __name__ == "__main__":
    main()
