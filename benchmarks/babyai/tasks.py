"""The BabyAI task lists: AgentBoard's 112 labelled tasks from a data directory, or a small self-chosen fixture.

AgentBoard's label file holds 28 levels x 4 seeds in file order; like AgentBoard, row i runs level
`additional_info.subtask` with seed 1234 + i % 4 (the rows' own "id" field is not used for seeding). The retired
`BabyAI-GoToObjS6-v0` runs as `BabyAI-GoToObjS6-v1`, a different generator: its labels may describe another layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.errors import SuiteError
from benchmarks.taskset import read_label_file

LABEL_FILE = Path("agentboard", "labels", "babyai", "test.jsonl")
FIRST_SEED = 1234
SEEDS_PER_LEVEL = 4
RETIRED_LEVELS = {"BabyAI-GoToObjS6-v0": "BabyAI-GoToObjS6-v1"}


@dataclass(frozen=True)
class BabyTask:
    task_id: str
    env_id: str
    seed: int
    fixture: bool = False
    label_goal: str | None = None
    subgoals: tuple[str, ...] = ()
    difficulty: str | None = None
    agentboard_index: int | None = None
    agentboard_level: str | None = None

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"level": self.env_id, "seed": self.seed, "fixture": self.fixture}
        if not self.fixture:
            info.update(
                agentboard_index=self.agentboard_index,
                agentboard_level=self.agentboard_level,
                difficulty=self.difficulty,
                subgoals=len(self.subgoals),
            )
        return info


# Self-chosen offline defaults (levels x seeds), one per kind of instruction tree; not AgentBoard's task set.
FIXTURE_LEVELS = (
    ("BabyAI-GoToRedBallGrey-v0", 7),  # GoTo (the ball is in view, behind distractors)
    ("BabyAI-PickupLoc-v0", 2),  # Pickup
    ("BabyAI-OpenRedDoor-v0", 3),  # Open
    ("BabyAI-GoToSeqS5R2-v0", 4),  # And(GoTo, GoTo)
    ("BabyAI-OpenDoorsOrderN4Debug-v0", 1),  # Before(Open, Open)
    ("BabyAI-PutNextLocalS6N4-v0", 1),  # PutNext
    ("BabyAI-UnlockLocalDist-v0", 2),  # Open a locked door (key needed)
)


def fixture_tasks() -> list[BabyTask]:
    return [BabyTask(f"fixture-{env_id}-s{seed}", env_id, seed, fixture=True) for env_id, seed in FIXTURE_LEVELS]


def _row_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    info = row.get("additional_info")
    if not isinstance(info, dict) or not isinstance(info.get("subtask"), str):
        return "missing additional_info.subtask (the level id)"
    if not isinstance(row.get("goal"), str):
        return "missing goal"
    subgoals = row.get("subgoals")
    if not isinstance(subgoals, list) or not subgoals or not all(isinstance(s, str) for s in subgoals):
        return "'subgoals' should be a non-empty list of strings"
    if not isinstance(row.get("difficulty"), str):
        return "missing difficulty"
    return None


def load_labels(path: Path) -> tuple[list[BabyTask], dict[str, Any]]:
    """The labelled tasks of one AgentBoard label file, and its provenance entry (path, sha256, records)."""
    numbered, entry = read_label_file(path, "BabyAI", _row_problem)
    rows = [row for _, row in numbered]
    if not rows or len(rows) % SEEDS_PER_LEVEL:
        raise SuiteError(f"BabyAI label file {path} has {len(rows)} rows, not a multiple of {SEEDS_PER_LEVEL} (> 0)")
    tasks = []
    for index, row in enumerate(rows):
        level = row["additional_info"]["subtask"]
        group_level = rows[index - index % SEEDS_PER_LEVEL]["additional_info"]["subtask"]
        if level != group_level:
            raise SuiteError(
                f"BabyAI label file {path} row {index} has level {level} inside the seed group of {group_level}"
            )
        env_id, seed = RETIRED_LEVELS.get(level, level), FIRST_SEED + index % SEEDS_PER_LEVEL
        tasks.append(
            BabyTask(
                task_id=f"{env_id}-s{seed}",
                env_id=env_id,
                seed=seed,
                label_goal=row["goal"],
                subgoals=tuple(row["subgoals"]),
                difficulty=row["difficulty"],
                agentboard_index=index,
                agentboard_level=level,
            )
        )
    return tasks, entry
