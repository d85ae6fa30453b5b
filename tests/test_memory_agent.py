"""The shared memory-agent loop, with an in-test memory backend that calls its LLM through the local endpoint."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from agents.api import Models
from agents.baselines.agent import MemoryAgent
from agents.baselines.api import Endpoint, WriteResult
from agents.episode import Job, play_episode
from agents.nomem import STOPS, NoMemoryAgent
from benchmarks.api import Observation, TaskRef
from benchmarks.errors import SuiteError
from benchmarks.hotpotqa.benchmark import HotpotQA
from tests.fakes import ScriptedModel

TASK = TaskRef("hotpotqa", "dev", "t1")
ANSWER = "<think>t</think><answer>ok</answer>"


class NoteMemory:
    """Stores each experience as one note in a JSON file under its workdir; one LLM call per add (a 'summary')."""

    name = "notes"

    def __init__(self, fail_on: str = "") -> None:
        self.fail_on, self.path, self.endpoint, self.closed = fail_on, None, None, 0

    def open(self, workdir: Path, scope: str, endpoint: Endpoint) -> None:
        self.path, self.endpoint = workdir / f"{scope}.json", endpoint
        if not self.path.exists():
            self.path.write_text("[]")

    def add(self, text: str) -> WriteResult:
        if self.fail_on and self.fail_on in text:
            raise RuntimeError("library exploded")
        from openai import OpenAI

        client = OpenAI(base_url=self.endpoint.base_url, api_key="local", max_retries=0)
        client.chat.completions.create(model=self.endpoint.model, messages=[{"role": "user", "content": text}],
                                       response_format={"type": "json_object"})
        notes = json.loads(self.path.read_text()) + [text]
        self.path.write_text(json.dumps(notes))
        return WriteResult(added=1, detail={"summary_failed": True})

    def search(self, query: str, k: int) -> list[str]:
        words = set(query.lower().split())
        notes = json.loads(self.path.read_text())
        return sorted(notes, key=lambda n: -len(words & set(n.lower().split())))[:k]

    def items(self) -> list[str]:
        return json.loads(self.path.read_text())

    def close(self) -> None:
        self.closed += 1


def reply(messages) -> str:
    last = messages[-1]["content"]
    return "not json" if last.startswith("Observation:") else ANSWER  # the memory call gets garbage JSON


def policy_requests(model: ScriptedModel) -> list:
    return [r for r in model.requests if r.stop == STOPS]  # the memory library's calls go to the same model


def agent(backend: NoteMemory | None = None, **options: object) -> MemoryAgent:
    return MemoryAgent(Models(policy=ScriptedModel(reply)), backend or NoteMemory(), **options)


def test_memories_prefix_the_message_and_the_rest_matches_the_no_memory_prompt(tmp_path: Path) -> None:
    memory = agent()
    memory.reset(TASK, workdir=tmp_path)
    memory.act(Observation("The canary is 5512."))
    memory.act(Observation("Question: what is the canary?", goal="what is the canary?", new_session=True))
    plain = NoMemoryAgent(Models(policy=ScriptedModel(reply)))
    plain.reset(TASK)
    plain.act(Observation("The canary is 5512."))
    plain.act(Observation("Question: what is the canary?", goal="what is the canary?", new_session=True))
    with_memory, without = (policy_requests(a.policy)[-1].messages for a in (memory, plain))
    assert with_memory[0] == without[0] and len(with_memory) == len(without) == 2
    block, rest = with_memory[-1]["content"].split("\n\n", 1)
    assert block.startswith("Relevant memories:\n- Observation: The canary is 5512.")
    assert rest == without[-1]["content"]


def test_every_memory_call_is_counted_by_operation(tmp_path: Path) -> None:
    memory = agent()
    memory.reset(TASK, workdir=tmp_path)
    steps = [memory.act(Observation(f"fact {i}")) for i in range(3)]
    assert all(s.usage["memory"].calls == 1 and s.usage["memory"].prompt_tokens > 0 for s in steps)
    assert steps[0].trace["write_cost"]["calls"] == 1 and steps[0].trace["retrieve_cost"]["calls"] == 0
    assert steps[0].trace["write_cost"]["json_invalid"] == 1  # the scripted memory reply was not JSON
    stats = memory.episode_stats()
    assert stats["memory"]["writes"] == 3 and stats["memory"]["retrievals"] == 3
    assert stats["memory"]["json_invalid"] == 3 and stats["memory"]["summary_failed"] == 3
    assert stats["memory_cost"]["write"]["calls"] == 3 and stats["memory_cost"]["retrieve"]["calls"] == 0
    assert len(stats["memory_items"]) == 3 and stats["memory_items"][0].startswith("Observation: fact 0")


def test_library_failure_is_counted_recorded_and_the_episode_goes_on(tmp_path: Path) -> None:
    memory = agent(NoteMemory(fail_on="boom"))
    memory.reset(TASK, workdir=tmp_path)
    failed = memory.act(Observation("boom"))
    assert failed.action == "ok" and failed.trace["write_error"] == "RuntimeError: library exploded"
    memory.act(Observation("fine"))
    stats = memory.episode_stats()
    assert stats["memory"]["write_errors"] == 1 and stats["memory"]["writes"] == 2
    assert stats["memory_errors"] == ["write: RuntimeError: library exploded"]
    assert len(stats["memory_items"]) == 1


def test_episode_scope_isolates_and_run_scope_shares(tmp_path: Path) -> None:
    bench = HotpotQA(source="fixture", max_distractor_turns=1)
    tasks = list(bench.tasks("dev"))[:2]
    for scope, shared in (("episode", False), ("run", True)):
        records = []
        for task in tasks:
            job = Job("hotpotqa", task, "notes", seed=0)
            records.append(play_episode(bench, job, agent(memory_scope=scope), None,
                                        tmp_path / scope / task.task_id)[0])
        first_items, second_items = (r["agent_stats"]["memory_items"] for r in records)
        assert set(first_items) <= set(second_items) if shared else not set(first_items) & set(second_items)
        assert records[1]["agent_stats"]["memory_scope"] == scope


def test_endpoint_and_store_are_released_even_when_the_episode_fails(tmp_path: Path) -> None:
    backend = NoteMemory()
    memory = agent(backend)

    class Exploding(HotpotQA):
        def make(self, task, seed=0):
            episode = super().make(task, seed)
            episode.step = lambda action: (_ for _ in ()).throw(RuntimeError("env died"))
            return episode

    bench = Exploding(source="fixture")
    task = next(iter(bench.tasks("dev")))
    memory.reset(task, workdir=tmp_path / "probe")
    port = urlparse(memory._server.base_url).port
    memory.close()
    with pytest.raises(RuntimeError, match="env died"):
        play_episode(bench, Job("hotpotqa", task, "notes", 0), memory, None, tmp_path / "run")
    assert backend.closed >= 2 and memory._server is None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_without_a_workdir_the_scratch_store_is_removed() -> None:
    memory = agent()
    memory.reset(TASK)
    scratch = memory._scratch
    assert scratch is not None and scratch.is_dir()
    memory.close()
    assert not scratch.exists()


@pytest.mark.parametrize("options", [{"top_k": 0}, {"memory_scope": "global"}, {"memory_max_tokens": 0}])
def test_bad_options_are_one_line_errors(options: dict) -> None:
    with pytest.raises(SuiteError):
        agent(**options)
