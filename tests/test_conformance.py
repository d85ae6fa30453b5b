"""The conformance checker: it passes a correct toy and HotpotQA, and catches each kind of broken benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from benchmarks.api import Observation, StepResult, TaskRef
from benchmarks.builtin import BENCHMARKS
from benchmarks.conformance import assert_conforms, check_benchmark
from benchmarks.errors import SuiteError
from benchmarks.hotpotqa.benchmark import HotpotQA


@dataclass
class CountdownEpisode:
    """Terminates successfully after `length` steps; progress climbs to 1."""

    length: int = 3
    max_steps: int = 5
    progress: list[float] = field(default_factory=lambda: [0.3, 0.6, 1.0])
    t: int = 0

    def reset(self) -> Observation:
        self.t = 0
        return Observation(text="start", goal="count down")

    def step(self, action: str) -> StepResult:
        self.t += 1
        done = self.t >= self.length
        progress = self.progress[min(self.t, len(self.progress)) - 1]
        return StepResult(Observation(text=f"t={self.t} {action}"), float(done), done, False, done, progress)

    def close(self) -> None:
        pass


class ToyBenchmark:
    name = "toy"
    version = "toy-v1"
    default_split = "test"

    def __init__(self, ids: tuple[str, ...] = ("a", "b"), info: Any = None, **episode: Any) -> None:
        self.ids, self.info, self.episode = ids, info if info is not None else {"level": 1}, episode

    def splits(self) -> list[str]:
        return ["test"]

    def tasks(self, split: str) -> list[TaskRef]:
        return [TaskRef(self.name, split, task_id, self.info) for task_id in self.ids]

    def make(self, task: TaskRef, seed: int = 0) -> CountdownEpisode:
        return CountdownEpisode(**self.episode)

    def provenance(self) -> dict[str, Any]:
        return {"source": "toy"}


class RandomTextEpisode(CountdownEpisode):
    calls = 0

    def reset(self) -> Observation:
        RandomTextEpisode.calls += 1
        return Observation(text=f"start #{RandomTextEpisode.calls}")


class NondeterministicBenchmark(ToyBenchmark):
    def make(self, task: TaskRef, seed: int = 0) -> CountdownEpisode:
        return RandomTextEpisode()


def test_correct_toy_conforms() -> None:
    assert check_benchmark(ToyBenchmark()) == []
    assert_conforms(ToyBenchmark(length=100, max_steps=4))  # truncation by the step limit is fine


def test_hotpotqa_fixture_conforms() -> None:
    assert_conforms(HotpotQA(source="fixture"), split="dev", n_tasks=4, seed=2)


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_every_registered_benchmark_conforms_offline(name: str) -> None:
    """Built through the runner's factory convention, on the offline defaults every adapter must ship."""
    assert_conforms(BENCHMARKS.get(name)(data_dir=None, source="fixture"))


@pytest.mark.parametrize(
    ("benchmark", "expected"),
    [
        (ToyBenchmark(progress=[0.5, 0.2, 1.0]), "progress decreased from 0.5 to 0.2"),
        (ToyBenchmark(progress=[0.5, 1.5, 1.0]), "not in [0, 1]"),
        (ToyBenchmark(ids=("a", "a")), "task ids are not unique"),
        (ToyBenchmark(info={"when": object()}), "info is not JSON-serialisable"),
        (ToyBenchmark(info={"x": float("nan")}), "info is not JSON-serialisable"),
        (ToyBenchmark(length=10**9, max_steps=10**9), "exceeds 1000"),
        (ToyBenchmark(max_steps=0), "max_steps 0 is not an int >= 1"),
        (type("NoDefault", (ToyBenchmark,), {"default_split": "dev"})(), "default_split 'dev' is not in splits()"),
        (NondeterministicBenchmark(), "different sequences"),
    ],
)
def test_broken_benchmarks_are_caught(benchmark: Any, expected: str) -> None:
    problems = check_benchmark(benchmark)
    assert any(expected in problem for problem in problems), problems
    with pytest.raises(AssertionError, match="does not conform"):
        assert_conforms(benchmark)


def test_crashing_and_malformed_members_are_reported_not_raised() -> None:
    class Crashing(ToyBenchmark):
        version = ""

        def make(self, task: TaskRef, seed: int = 0) -> CountdownEpisode:
            raise KeyError(task.task_id)

    problems = check_benchmark(Crashing())
    assert "version must be a non-empty string" in problems
    assert any("raised KeyError" in p for p in problems)

    class EmptySplits(ToyBenchmark):
        def splits(self) -> list[str]:
            return []

    assert check_benchmark(EmptySplits()) == ["splits() is empty"]


@pytest.mark.parametrize("name", ["pddl", "babyai", "scienceworld", "alfworld"])
def test_task_set_benchmarks_refuse_unknown_splits_tasks_and_foreign_refs(name: str) -> None:
    """The lookups every task-set benchmark shares (benchmarks/taskset.py), on its fixture."""
    benchmark = BENCHMARKS.get(name)(source="fixture")
    split = benchmark.splits()[0]
    with pytest.raises(SuiteError, match="no split 'dev'"):
        benchmark.tasks("dev")
    with pytest.raises(SuiteError, match="no task 'nope'"):
        benchmark.make(TaskRef(name, split, "nope"))
    with pytest.raises(SuiteError, match="belongs to benchmark"):
        benchmark.make(TaskRef("hotpotqa", split, benchmark.tasks(split)[0].task_id))
