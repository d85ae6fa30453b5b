"""The one episode API every benchmark adapter implements (Gymnasium-style, text in, text out).

An agent sees `Observation`s and answers each with an action string. `new_session=True` marks a boundary where the
agent's short-term context resets while its long-term memory persists (HotpotQA stage 2). Episodes end either
`terminated` (the task ended: solved, failed or answered) or `truncated` (the step limit hit first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from benchmarks.errors import SuiteError


@dataclass(frozen=True)
class Observation:
    text: str
    goal: str | None = None
    valid_actions: tuple[str, ...] | None = None
    new_session: bool = False


@dataclass(frozen=True)
class StepResult:
    observation: Observation
    reward: float
    terminated: bool
    truncated: bool
    success: bool
    progress: float  # running max over the episode, in [0, 1]
    valid: bool = True  # False when the action was not understood or not allowed (grounding accuracy)
    metrics: Mapping[str, float] = field(default_factory=dict)  # benchmark-specific, e.g. exact_match, f1

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


@dataclass(frozen=True)
class TaskRef:
    """A stable handle on one task: ids never change between runs of the same data."""

    benchmark: str
    split: str
    task_id: str
    info: Mapping[str, Any] = field(default_factory=dict)  # small, JSON-safe facts recorded with the episode


@runtime_checkable
class Episode(Protocol):
    max_steps: int

    def reset(self) -> Observation: ...

    def step(self, action: str) -> StepResult: ...

    def close(self) -> None: ...


@runtime_checkable
class Benchmark(Protocol):
    name: str
    version: str  # changes whenever the task set or scoring changes, so old and new results never mix
    default_split: str  # the evaluation split used when a run names none

    def splits(self) -> Sequence[str]: ...

    def tasks(self, split: str) -> Sequence[TaskRef]: ...

    def make(self, task: TaskRef, seed: int = 0) -> Episode: ...

    def provenance(self) -> Mapping[str, Any]:
        """Where the tasks came from (data source, files and their hashes, package versions, settings)."""
        ...


def check_owner(benchmark: Benchmark, task: TaskRef) -> None:
    """The guard at the top of every `make`: a task from another benchmark is the caller's mistake, said in one line."""
    if task.benchmark != benchmark.name:
        raise SuiteError(f"task '{task.task_id}' belongs to benchmark '{task.benchmark}', not '{benchmark.name}'")


class StepLimit:
    """Wraps any episode with a step cap (Gymnasium's TimeLimit): the step that reaches it is `truncated`."""

    def __init__(self, episode: Episode, max_steps: int) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        self.episode = episode
        self.max_steps = max_steps
        self.steps = 0
        self._done = False

    def reset(self) -> Observation:
        self.steps = 0
        self._done = False
        return self.episode.reset()

    def step(self, action: str) -> StepResult:
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        result = self.episode.step(action)
        self.steps += 1
        if not result.terminated and self.steps >= self.max_steps:
            result = replace(result, truncated=True)
        self._done = result.done
        return result

    def close(self) -> None:
        self.episode.close()
