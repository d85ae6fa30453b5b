"""BabyAI (MiniGrid 3.x) as AgentBoard-style text episodes with high-level actions.

Each task is one BabyAI level with a fixed seed. The agent reads a text rendering of its 7x7 view (scene.py) and
answers with high-level actions that are compiled to primitive moves by BFS (actions.py). Per episode:
  - success: BabyAI itself terminates the episode with reward > 0 (the mission is verified complete). BabyAI's
    "failure" verdicts (strict "Debug" levels: wrong object picked up or wrong door opened) do not end the episode
    by default, as in AgentBoard (which undid them): MiniGrid's Before/After verifiers re-check the action that
    completes the first part against the second, so in strict levels such as OpenDoorsOrderN4Debug the correct
    first toggle is itself judged a failure (3 of AgentBoard's 112 tasks would be unwinnable).
    `failure_ends_episode=True` restores BabyAI's rule; failures are counted in metrics["verifier_failures"];
  - progress: running max of the fraction of subgoals reached, 1.0 on success (progress.py: AgentBoard's labels
    when the task has them and the level still generates the labelled mission, else the instruction tree);
  - reward: 1.0 on the successful step, else 0.0 (the env's own time-discounted reward is not used: its step
    budget is lifted, since 30 high-level actions may take hundreds of primitive moves);
  - grounding: unparseable or impossible actions change nothing, answer with a specific sentence, valid=False;
    'check available actions' (or 'check valid actions') lists the valid actions and counts as valid;
  - the cap: `max_steps` high-level actions (30, AgentBoard's) then truncated.
The goal is BabyAI's mission text as generated (AgentBoard rewrote "then"/"after you" to "and", losing the order).
The episode seed is unused: a task's layout is fixed by its own seed, and the env is deterministic.

Sources: "data_dir" (AgentBoard's 112 labelled tasks, <data_dir>/agentboard/labels/babyai/test.jsonl), "fixture"
(7 self-chosen level x seed pairs, no labels: instruction-tree progress), "auto" (data_dir when the label file is
there, else fixture).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.api import Observation, StepResult, TaskRef, check_owner
from benchmarks.babyai import actions as act
from benchmarks.babyai.progress import LabelProgress, TreeProgress
from benchmarks.babyai.scene import observe, render
from benchmarks.babyai.tasks import LABEL_FILE, RETIRED_LEVELS, BabyTask, fixture_tasks, load_labels
from benchmarks.data_dir import data_dir as resolve_data_dir
from benchmarks.errors import SuiteError, require

SOURCES = ("auto", "data_dir", "fixture")
PROGRESS_RULES = ("auto", "labels", "tree")
LABEL_MATCHING = ("all", "one_per_step")
UNLIMITED_ENV_STEPS = 10**9  # the env's own step budget, lifted (see the module docstring)


@dataclass(frozen=True)
class Settings:
    max_steps: int = 30
    progress: str = "auto"
    label_matching: str = "all"
    show_valid_actions: bool = False
    failure_ends_episode: bool = False

    def validate(self) -> None:
        if not isinstance(self.max_steps, int) or isinstance(self.max_steps, bool) or self.max_steps < 1:
            raise SuiteError(f"babyai option max_steps must be an integer >= 1, got {self.max_steps!r}")
        for name, allowed in (("progress", PROGRESS_RULES), ("label_matching", LABEL_MATCHING)):
            if getattr(self, name) not in allowed:
                raise SuiteError(
                    f"babyai option {name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        for name in ("show_valid_actions", "failure_ends_episode"):
            if not isinstance(getattr(self, name), bool):
                raise SuiteError(f"babyai option {name} must be true or false, got {getattr(self, name)!r}")


def _same_goal(a: str, b: str) -> bool:
    return re.sub(r"\s+", " ", a).strip().lower() == re.sub(r"\s+", " ", b).strip().lower()


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class BabyAIEpisode:
    def __init__(self, task: BabyTask, settings: Settings) -> None:
        require("minigrid", "babyai")  # importing it registers the BabyAI levels with gymnasium
        gymnasium = require("gymnasium", "babyai")
        self.task = task
        self.settings = settings
        self.max_steps = settings.max_steps
        try:  # Gymnasium 1.x wrappers no longer forward attributes such as `mission`: use the bare env
            self.env = gymnasium.make(task.env_id).unwrapped
        except gymnasium.error.Error as exc:
            raise SuiteError(f"babyai level {task.env_id} cannot be made with this minigrid: {exc}") from exc
        self._steps: int | None = None  # None: not reset, or finished

    def reset(self) -> Observation:
        with contextlib.redirect_stdout(io.StringIO()):  # level generation prints its rejected samples
            self.env.reset(seed=self.task.seed)
        self.env_max_steps = self.env.max_steps
        self.env.max_steps = UNLIMITED_ENV_STEPS
        self.goal = str(self.env.mission)
        self.labels_used = self._use_labels()
        self._tracker: LabelProgress | TreeProgress = (
            LabelProgress(self.task.subgoals, one_per_step=self.settings.label_matching == "one_per_step")
            if self.labels_used
            else TreeProgress(self.env.instrs)
        )
        self.scene = observe(self.env)
        self.progress = 0.0
        self.primitives = 0
        self.verifier_failures = 0
        self._steps = 0
        return self._observation(render(self.scene))

    def _use_labels(self) -> bool:
        rule = self.settings.progress
        if rule == "tree":
            return False
        if not self.task.subgoals:
            if rule == "labels":
                raise SuiteError(f"babyai task {self.task.task_id} has no subgoal labels (progress='labels')")
            return False
        return rule == "labels" or _same_goal(self.goal, self.task.label_goal or "")

    def _observation(self, text: str) -> Observation:
        valid = tuple(act.available(self.scene)) if self.settings.show_valid_actions else None
        return Observation(text=text, goal=self.goal, valid_actions=valid)

    def step(self, action: str) -> StepResult:
        if self._steps is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = act.parse(action)
        if isinstance(command, act.Command) and command.verb == "check":
            listing = ", ".join(act.available(self.scene))
            return self._result(f"You can take the following actions: {listing}.", valid=True)
        primitives = command if isinstance(command, act.Refusal) else act.compile_command(command, self.scene)
        if isinstance(primitives, act.Refusal):
            return self._result(primitives.message, valid=False)
        terminated, success = self._execute(primitives)
        self.scene = observe(self.env)
        reached = (
            self._tracker.update(self.scene)
            if isinstance(self._tracker, LabelProgress)
            else self._tracker.update(self.scene, success)
        )
        self.progress = 1.0 if success else max(self.progress, reached)
        text = render(self.scene)
        if terminated:
            text += "\nThe task is completed." if success else "\nThe task has failed."
        return self._result(text, valid=True, terminated=terminated, success=success)

    def _execute(self, primitives: Sequence[int]) -> tuple[bool, bool]:
        """Run primitive actions until done or the env ends the episode; returns (terminated, success)."""
        for primitive in primitives:
            before = (tuple(self.env.agent_pos), self.env.agent_dir)
            _, reward, terminated, _, _ = self.env.step(primitive)
            self.primitives += 1
            if terminated and reward > 0:
                return True, True
            if terminated:  # BabyAI's failure verdict (see the module docstring)
                self.verifier_failures += 1
                if self.settings.failure_ends_episode:
                    return True, False
            if primitive == act.FORWARD and tuple(self.env.agent_pos) == before[0]:
                break  # blocked after all (cannot happen in static levels): stop rather than act on a stale plan
        return False, False

    def _result(self, text: str, valid: bool, terminated: bool = False, success: bool = False) -> StepResult:
        assert self._steps is not None
        truncated = not terminated and self._steps >= self.max_steps
        metrics = {
            "primitive_actions": float(self.primitives),
            "verifier_failures": float(self.verifier_failures),
            "label_progress": float(self.labels_used),
        }
        result = StepResult(
            observation=self._observation(text),
            reward=1.0 if success else 0.0,
            terminated=terminated,
            truncated=truncated,
            success=success,
            progress=self.progress,
            valid=valid,
            metrics=metrics,
        )
        if result.done:
            self._steps = None
        return result

    def close(self) -> None:
        self._steps = None
        env, self.env = getattr(self, "env", None), None
        if env is not None:
            env.close()


class BabyAI:
    name = "babyai"
    version = "babyai-agentboard-v1"
    default_split = "test"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        source: str = "auto",
        max_steps: int = 30,
        progress: str = "auto",
        label_matching: str = "all",
        show_valid_actions: bool = False,
        failure_ends_episode: bool = False,
    ) -> None:
        if source not in SOURCES:
            raise SuiteError(f"babyai source must be one of {', '.join(SOURCES)}, got {source!r}")
        self.settings = Settings(max_steps, progress, label_matching, show_valid_actions, failure_ends_episode)
        self.settings.validate()
        self.source = source
        self._root = resolve_data_dir(data_dir) if source in ("auto", "data_dir") else None
        label_path = self._root / LABEL_FILE if self._root else None
        self._label_path = label_path if label_path and label_path.is_file() else None
        if source == "data_dir" and self._label_path is None:
            where = f"'{self._root}' has no {LABEL_FILE}" if self._root else "no data directory was given"
            raise SuiteError(f"babyai source 'data_dir': {where} (pass data_dir or set AGEMEM_DATA)")
        self.resolved_source = "data_dir" if self._label_path else "fixture"
        if progress == "labels" and self.resolved_source == "fixture":
            raise SuiteError(
                "babyai option progress='labels' needs AgentBoard's label file; the fixture tasks have none"
            )
        self._tasks: list[BabyTask] | None = None
        self._files: list[dict[str, Any]] = []

    def _load(self) -> list[BabyTask]:
        if self._tasks is None:
            if self._label_path is not None:
                tasks, entry = load_labels(self._label_path)
                self._files = [entry]
            else:
                tasks = fixture_tasks()
            self._tasks = tasks
            self._by_id = {task.task_id: task for task in tasks}
        return self._tasks

    def splits(self) -> list[str]:
        return ["test"]

    def tasks(self, split: str) -> Sequence[TaskRef]:
        if split not in self.splits():
            raise SuiteError(f"babyai has no split '{split}'; offered: {self.splits()}")
        return tuple(TaskRef(self.name, split, task.task_id, task.info()) for task in self._load())

    def task(self, task_id: str) -> BabyTask:
        self._load()
        if task_id not in self._by_id:
            raise SuiteError(f"babyai ({self.resolved_source}) has no task '{task_id}'")
        return self._by_id[task_id]

    def make(self, task: TaskRef, seed: int = 0) -> BabyAIEpisode:
        check_owner(self, task)
        if task.split not in self.splits():
            raise SuiteError(f"babyai has no split '{task.split}'")
        return BabyAIEpisode(self.task(task.task_id), self.settings)

    def provenance(self) -> dict[str, Any]:
        tasks = self._load()
        return {
            "benchmark": self.name,
            "version": self.version,
            "source": self.resolved_source,
            "requested_source": self.source,
            "fixture": self.resolved_source == "fixture",
            "data_dir": str(self._root) if self._root else None,
            "files": self._files,
            "packages": {name: _package_version(name) for name in ("minigrid", "gymnasium")},
            "settings": asdict(self.settings),
            "retired_levels": dict(RETIRED_LEVELS),
            "tasks": [task.task_id for task in tasks],
        }
