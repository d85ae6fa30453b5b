"""AgentBoard's PDDL games (gripper, blockworld, barman, tyreworld) on the in-project STRIPS simulator.

Episode rules (AgentBoard's, docs: ../shared/docs/benchmarks.md):
  - observation: the true facts as short sentences; the goal (goal literals as sentences) is Observation.goal and
    is spelled out in the first observation;
  - actions: English commands, one per ground PDDL action (text.py has the per-domain templates, e.g. "pick up b1",
    "move from rooma to roomb", plus a generic "<operator words> <args>" form); `check valid actions` lists the
    applicable actions and `look around` re-describes the state; both count as valid actions;
  - invalid actions (unknown command or object, wrong type, unmet precondition) change nothing, come back with
    valid=False and a sentence saying why;
  - progress: after each valid action, max(progress, fraction of goal literals true); success = every goal literal
    true, which terminates the episode with reward 1.0 (all other steps: 0.0). There is no failure rule;
  - the cap: `max_steps` actions (30, AgentBoard's), applied by StepLimit as for every benchmark.
The episode seed is unused: the problems are deterministic.

Sources: "data_dir" (AgentBoard's 60 problems from <data_dir>/agentboard/pddl, data.py), "fixture" (12 self-written
generated problems, generators.py; labelled fixture in provenance and task info), "auto" (data_dir when that folder
exists, else fixture). One split: "test".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmarks.api import Observation, StepResult, TaskRef
from benchmarks.errors import SuiteError
from benchmarks.pddl import data
from benchmarks.pddl.parser import Domain, Problem, parse_domain, parse_problem
from benchmarks.pddl.strips import Action, Simulator, State
from benchmarks.pddl.text import Language, normalize
from benchmarks.taskset import TaskSetBenchmark

SIMULATOR = "agemem-bench STRIPS simulator (benchmarks/pddl) v1"
CHECK_COMMANDS = frozenset({"check valid actions", "check valid action", "check available actions", "valid actions"})
LOOK_COMMANDS = frozenset({"look around", "look"})
HINT = "Say 'check valid actions' to list the actions you can take, or 'look around' to see the state again."


@dataclass(frozen=True)
class Settings:
    max_steps: int = 30
    show_valid_actions: bool = False  # also put the applicable commands on every observation (AgentBoard: off)

    def validate(self) -> None:
        if not isinstance(self.max_steps, int) or isinstance(self.max_steps, bool) or self.max_steps < 1:
            raise SuiteError(f"pddl option max_steps must be an integer >= 1, got {self.max_steps!r}")
        if not isinstance(self.show_valid_actions, bool):
            raise SuiteError(f"pddl option show_valid_actions must be true or false, got {self.show_valid_actions!r}")


@lru_cache(maxsize=16)
def _domain(text: str) -> Domain:
    return parse_domain(text)


def load_problem(task: data.PDDLTask) -> Problem:
    return parse_problem(task.problem_text, _domain(task.domain_text))


class PDDLEpisode:
    def __init__(self, problem: Problem, settings: Settings) -> None:
        self.problem = problem
        self.settings = settings
        self.max_steps = settings.max_steps
        self.simulator = Simulator(problem)
        self.language = Language(problem.domain)
        self.goal = self.language.goal(problem.goal)
        self.state: State | None = None
        self.progress = 0.0

    # --- API -------------------------------------------------------------------------------------------------------

    def reset(self) -> Observation:
        self.state = self.simulator.initial_state
        self.progress = 0.0
        return self._observe(f"{self.language.describe(self.state)}\n{self.goal}\n{HINT}")

    def step(self, action: str) -> StepResult:
        if self.state is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        command = normalize(action)
        if command in CHECK_COMMANDS:
            listed = ", ".join(self.valid_actions()) or "none"
            return self._valid(f"Valid actions are: {listed}.")
        if command in LOOK_COMMANDS:
            return self._valid(self.language.describe(self.state))
        if not command:
            empty = not isinstance(action, str) or not action.strip()
            why = "it is empty" if empty else "it is not a recognised action"
            return self._invalid(f"The action is not valid: {why}. {HINT}")
        chosen, problem = self._resolve(command)
        if chosen is None:
            return self._invalid(problem)
        self.state = self.simulator.apply(chosen, self.state)
        return self._valid(f"You {self.language.action(chosen)}. {self.language.describe(self.state)}")

    def close(self) -> None:
        self.state = None

    def valid_actions(self) -> list[str]:
        """The commands of every action applicable now (for agents' tools and tests)."""
        if self.state is None:
            return []
        return [self.language.action(action) for action in self.simulator.applicable(self.state)]

    # --- internals -------------------------------------------------------------------------------------------------

    def _resolve(self, command: str) -> tuple[Action | None, str]:
        """The ground action a command means, or None and why it cannot be taken."""
        candidates = self.language.parse(command)
        if not candidates:
            return None, f"The action is not valid: '{command}' is not a recognised action. {HINT}"
        reasons: list[str] = []
        blocked: list[tuple[Action, list]] = []
        for candidate in candidates:
            try:
                unmet = self.simulator.unmet(candidate, self.state)  # type: ignore[arg-type]
            except ValueError as exc:  # unknown object or wrong type
                reasons.append(str(exc))
                continue
            if not unmet:
                return candidate, ""
            blocked.append((candidate, unmet))
        if blocked:
            candidate, unmet = blocked[0]
            missing = [self.language.fact(lit.atom) for lit in unmet if lit.positive]
            forbidden = [self.language.fact(lit.atom) for lit in unmet if not lit.positive]
            parts = [f"it requires that {'; '.join(missing)}" if missing else ""]
            parts.append(f"it requires that it is not the case that {'; '.join(forbidden)}" if forbidden else "")
            why = " and ".join(part for part in parts if part)
            action = self.language.action(candidate)
            return (
                None,
                f"The action is not valid: you cannot {action} now, because its precondition is not met: {why}.",
            )
        return None, f"The action is not valid: {reasons[0]}. {HINT}"

    def _observe(self, text: str) -> Observation:
        shown = tuple(self.valid_actions()) if self.settings.show_valid_actions else None
        return Observation(text=text, goal=self.goal, valid_actions=shown)

    def _valid(self, text: str) -> StepResult:
        fraction = self.simulator.goal_fraction(self.state)  # type: ignore[arg-type]
        self.progress = max(self.progress, fraction)
        success = fraction == 1.0
        if success:
            text += " You have reached the goal."
        observation = self._observe(text)
        if success:
            self.state = None
        return StepResult(
            observation, float(success), success, False, success, self.progress, metrics={"goal_fraction": fraction}
        )

    def _invalid(self, text: str) -> StepResult:
        fraction = self.simulator.goal_fraction(self.state)  # type: ignore[arg-type]
        metrics = {"goal_fraction": fraction}
        return StepResult(self._observe(text), 0.0, False, False, False, self.progress, valid=False, metrics=metrics)


class PDDL(TaskSetBenchmark[data.PDDLTask]):
    name = "pddl"
    version = "pddl-agentboard-v1"
    fixture_version = "pddl-fixture-v1"
    data_path = data.FOLDER
    data_is_folder = True

    def __init__(
        self,
        data_dir: str | Path | None = None,
        source: str = "auto",
        max_steps: int = 30,
        show_valid_actions: bool = False,
    ) -> None:
        super().__init__(data_dir, source, Settings(max_steps, show_valid_actions))

    def _read_real(self) -> tuple[list[data.PDDLTask], list[dict[str, Any]]]:
        return data.load_real(self._root)  # type: ignore[arg-type]

    def _read_fixture(self) -> tuple[list[data.PDDLTask], list[dict[str, Any]]]:
        return data.load_fixture(), []

    def _info(self, task: data.PDDLTask) -> dict[str, Any]:
        return dict(task.info)

    def make(self, task: TaskRef, seed: int = 0) -> PDDLEpisode:
        return PDDLEpisode(load_problem(self._task_for(task)), self.settings)

    def provenance(self) -> dict[str, Any]:
        return self._provenance(
            simulator=SIMULATOR,
            packages={},  # no environment package: the simulator is part of this project
        )
