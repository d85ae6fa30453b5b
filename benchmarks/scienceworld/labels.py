"""ScienceWorld task lists (AgentBoard's 90 labelled task/variation pairs, or a small fixture) and subgoal matching.

AgentBoard's label file has one row per (task, variation): `goal` (AgentBoard's rewritten task text), `subgoals`
(regular expressions over observation text), `difficulty` and `additional_info` {env_name, var}. Rows are keyed
"{env_name}_{var}", as AgentBoard keys them; that key is the task id.

Subgoal matching (AgentBoard's `_check_temperature_string`): after every action the game answered, each subgoal is
`re.search`ed, case-sensitively, in that one observation; a match latches. Progress is the fraction latched,
success is all latched. Two refinements, both recorded in provenance: a subgoal that is not a valid regular
expression is searched as plain text (AgentBoard would crash on it; the 90 labels have none), and a subgoal is
also matched when its literal text (stripped) occurs in the observation, because a few labels quote the game's
text verbatim with parentheses ("You focus on the book (Sherlock Holmes).") that a regex reads as a group and
could never match. Everything else (which observations count, case, latching) follows AgentBoard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.errors import SuiteError
from benchmarks.taskset import read_label_file

LABEL_FILE = Path("agentboard", "labels", "scienceworld", "test.jsonl")
TASK_ID_PATTERN = re.compile(r"^[a-z0-9-]+$")


@dataclass(frozen=True)
class SWTask:
    task_id: str
    env_name: str
    variation: int
    fixture: bool = False
    label_goal: str | None = None
    subgoals: tuple[str, ...] = ()
    difficulty: str | None = None
    agentboard_index: int | None = None

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"env_name": self.env_name, "variation": self.variation, "fixture": self.fixture}
        if self.fixture:
            info["variation_split"] = "test"  # the package's own test variations (see FIXTURE_TASKS)
        else:
            info.update(difficulty=self.difficulty, subgoals=len(self.subgoals), agentboard_index=self.agentboard_index)
        return info


# Self-chosen offline defaults: ScienceWorld's first built-in *test* variation of 8 tasks that need no electrical
# actions (AgentBoard's noElectricalAction simplification forbids them), have gold paths within the 30-step cap and
# no wandering animals on the way (find-animal's bees move at random: its gold path does not always score 100). Not
# AgentBoard's set; scored by the native score. The variation numbers are the package's own (a test checks them
# against env.get_variations_test(), so a package change that moves them fails loudly instead of drifting).
FIXTURE_TASKS: tuple[tuple[str, int], ...] = (
    ("find-non-living-thing", 225),
    ("find-plant", 225),
    ("lifespan-longest-lived", 93),
    ("lifespan-shortest-lived", 93),
    ("identify-life-stages-2", 6),
    ("chemistry-mix", 24),
    ("chemistry-mix-paint-secondary-color", 27),
    ("use-thermometer", 405),
)


def fixture_tasks() -> list[SWTask]:
    return [SWTask(f"fixture-{name}_{var}", name, var, fixture=True) for name, var in FIXTURE_TASKS]


def _row_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    info = row.get("additional_info")
    if not isinstance(info, dict):
        return "missing additional_info"
    name, var = info.get("env_name"), info.get("var")
    if not isinstance(name, str) or not TASK_ID_PATTERN.match(name):
        return "additional_info.env_name should be a ScienceWorld task name"
    if not isinstance(var, int) or isinstance(var, bool) or var < 0:
        return "additional_info.var should be a variation number >= 0"
    if not isinstance(row.get("goal"), str) or not row["goal"].strip():
        return "missing goal"
    subgoals = row.get("subgoals")
    if not isinstance(subgoals, list) or not subgoals or not all(isinstance(s, str) and s for s in subgoals):
        return "'subgoals' should be a non-empty list of non-empty strings"
    if not isinstance(row.get("difficulty"), str):
        return "missing difficulty"
    return None


def load_labels(path: Path) -> tuple[list[SWTask], dict[str, Any]]:
    """The labelled tasks of AgentBoard's ScienceWorld label file, and its provenance entry (path, sha256, records)."""
    rows, entry = read_label_file(path, "ScienceWorld", _row_problem)
    tasks: list[SWTask] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        name, var = row["additional_info"]["env_name"], row["additional_info"]["var"]
        task_id = f"{name}_{var}"
        if task_id in seen:
            raise SuiteError(f"ScienceWorld label file {path} line {number} repeats {task_id} (line {seen[task_id]})")
        seen[task_id] = number
        tasks.append(
            SWTask(
                task_id=task_id,
                env_name=name,
                variation=var,
                label_goal=row["goal"],
                subgoals=tuple(row["subgoals"]),
                difficulty=row["difficulty"],
                agentboard_index=len(tasks),
            )
        )
    if not tasks:
        raise SuiteError(f"ScienceWorld label file {path} has no rows")
    return tasks, entry


class SubgoalMatcher:
    """AgentBoard's latched subgoal matching over the game's observations (see the module docstring)."""

    def __init__(self, subgoals: tuple[str, ...] | list[str]) -> None:
        self.subgoals = tuple(subgoals)
        self._regexes: list[re.Pattern[str] | None] = []
        for subgoal in self.subgoals:
            try:
                self._regexes.append(re.compile(subgoal))
            except re.error:
                self._regexes.append(None)  # not a regex: plain text only
        self.matched = [False] * len(self.subgoals)

    def update(self, observation: str) -> float:
        """Latch every subgoal found in this observation; returns the fraction latched so far."""
        for index, (subgoal, regex) in enumerate(zip(self.subgoals, self._regexes, strict=True)):
            if self.matched[index]:
                continue
            literal = subgoal.strip()
            if (regex is not None and regex.search(observation)) or (literal and literal in observation):
                self.matched[index] = True
        return self.fraction

    @property
    def fraction(self) -> float:
        return sum(self.matched) / len(self.matched) if self.matched else 0.0

    @property
    def complete(self) -> bool:
        return bool(self.matched) and all(self.matched)
