"""The agent side of the episode loop: an agent turns each observation into one environment action.

Inside one `act` an agent may call its models several times (AgeMem's tool rounds); everything it spent is
returned with the step, by model role, so every cost is visible in the records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agents.llm.api import ROLES, ChatModel, Usage
from benchmarks.api import Observation, TaskRef
from benchmarks.errors import SuiteError


@dataclass(frozen=True)
class AgentStep:
    action: str  # what goes to the environment
    usage: Mapping[str, Usage] = field(default_factory=dict)  # by role: policy, judge, memory, summarizer
    trace: Mapping[str, Any] = field(default_factory=dict)  # per-step detail for trajectories (raw output...)


@runtime_checkable
class Agent(Protocol):
    name: str
    policy: ChatModel  # the model whose spec is published with the agent's results
    # Optional `cross_episode: bool` (default False): memory carried from episode to episode; the runner then plays
    # this agent's episodes one at a time, in order, on one worker.

    def reset(self, task: TaskRef, seed: int = 0, workdir: Path | None = None) -> None:
        """Start a new episode. `workdir` is a fresh, empty directory for this episode's stores (memory
        scope = episode: nothing carries over), kept with the run's records; None = keep stores in memory."""
        ...

    def act(self, observation: Observation) -> AgentStep: ...

    def episode_stats(self) -> Mapping[str, Any]:
        """Per-episode statistics kept with the record (tool calls, context tokens, memory contents...)."""
        ...


@dataclass(frozen=True)
class Models:
    """The models an agent may use, by role. Roles left unset fall back to the policy model."""

    policy: ChatModel
    others: Mapping[str, ChatModel] = field(default_factory=dict)
    loader: Callable[[str], ChatModel] | None = None  # loads (and shares) another spec, e.g. a trained checkpoint

    def __post_init__(self) -> None:
        unknown = set(self.others) - set(ROLES)
        if unknown:
            raise SuiteError(f"unknown model role(s) {sorted(unknown)}; known: {', '.join(ROLES)}")

    def for_role(self, role: str) -> ChatModel:
        if role == "policy":
            return self.policy
        return self.others.get(role, self.policy)

    def load(self, spec: str) -> ChatModel:
        if self.loader is None:
            raise SuiteError(f"cannot load model '{spec}' here: no model loader was given")
        return self.loader(spec)


class AgentFactory(Protocol):
    def __call__(self, models: Models, **options: Any) -> Agent: ...
