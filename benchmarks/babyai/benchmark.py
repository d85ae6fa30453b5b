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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.api import Observation, StepResult, TaskRef
from benchmarks.babyai import actions as act
from benchmarks.babyai.progress import LabelProgress, TreeProgress
from benchmarks.babyai.scene import observe, render
from benchmarks.babyai.tasks import LABEL_FILE, RETIRED_LEVELS, BabyTask, fixture_tasks, load_labels
from benchmarks.errors import SuiteError, require
from benchmarks.taskset import TaskSetBenchmark, package_version

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


class BabyAI(TaskSetBenchmark[BabyTask]):
    name = "babyai"
    version = "babyai-agentboard-v1"
    fixture_version = "babyai-fixture-v1"
    data_path = LABEL_FILE

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
        settings = Settings(max_steps, progress, label_matching, show_valid_actions, failure_ends_episode)
        super().__init__(data_dir, source, settings)
        if progress == "labels" and self.resolved_source == "fixture":
            raise SuiteError(
                "babyai option progress='labels' needs AgentBoard's label file; the fixture tasks have none"
            )

    def _read_real(self) -> tuple[list[BabyTask], list[dict[str, Any]]]:
        tasks, entry = load_labels(self._data_path)  # type: ignore[arg-type]
        return tasks, [entry]

    def _read_fixture(self) -> tuple[list[BabyTask], list[dict[str, Any]]]:
        return fixture_tasks(), []

    def make(self, task: TaskRef, seed: int = 0) -> BabyAIEpisode:
        return BabyAIEpisode(self._task_for(task), self.settings)

    def provenance(self) -> dict[str, Any]:
        return self._provenance(
            packages={name: package_version(name) for name in ("minigrid", "gymnasium")},
            retired_levels=dict(RETIRED_LEVELS),
        )
