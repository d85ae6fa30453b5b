"""ScienceWorld (scienceworld 1.2.x, a Scala simulator on Java 17) as AgentBoard-style text episodes.

Each task is one (ScienceWorld task, variation) pair, loaded with AgentBoard's simplifications
(selfWateringFlowerPots,openContainers,openDoors,noElectricalAction). The agent sees the game's own observation
text and answers with game commands. Per episode:
  - two recorded definitions of progress and success:
      AgentBoard's (primary when labels are present: StepResult.progress/success): the label's subgoal regexes are
      searched in each observation the game returns, latched (labels.py has the exact rule); progress = fraction
      latched, success = all latched;
      native (primary for fixture tasks; always in metrics): ScienceWorld's score, native_progress = running max of
      max(0, score)/100, native_success = score == 100, native_score = the current score;
  - termination: all subgoals latched, or the game's task is over: score 100 (solved natively; with labels the
    episode's success is still AgentBoard's) or a negative score (a failure action, e.g. focusing on the wrong
    thing, scores -100). The game itself would play on after both; ending there is this adapter's rule;
  - grounding: text the game's parser cannot map to an action ("No known action matches that input.", "Unknown
    action. ...") and the forbidden actions (actions.py) are answered with a sentence and valid=False. An ambiguous
    command is valid: the game lists numbered choices and the next action should be a number, as in the game;
  - 'check valid actions' (counts as valid, costs no game time): the game's action templates (forbidden ones and
    'reset task' left out) and the objects the agent can refer to, one compact line each; while the game waits
    for a choice number, the numbers. The full valid action/object list (often hundreds) is not computed: it is
    what makes env.step() slow;
  - fast_step (default): a step is three py4j calls (step, score, completed, ~5-30 ms) instead of env.step()
    (~250 ms: it also recomputes look, inventory and the valid action list); fast_step=False uses env.step();
  - the cap: `max_steps` actions (30, AgentBoard's), counting refusals and checks, then truncated;
  - a dead JVM (killed, crashed) mid-episode is replaced: the task is reloaded on a fresh JVM, the episode's game
    actions are replayed and the step is retried; metrics["jvm_restarts"] counts it, metrics["replay_mismatches"]
    counts replays whose score or last observation differed (wandering animals move at random in ScienceWorld,
    so a replay can differ in what it shows). A second death in the same step raises ScienceWorldCrash (the
    runner records the episode as an error).
  - determinism (default): ScienceWorld seeds its random generator with the variation number on load, but orders
    a room's contents (and its wandering animals' moves) by identity hash codes, so two runs of a task differ.
    deterministic=True starts the JVMs with a constant identity hash (server.py), which makes every run of a task
    identical, within and across JVMs, so replays restore the state exactly; deterministic=False is the stock JVM.
The goal is AgentBoard's rewritten goal text for labelled tasks, else the game's task description. The episode
seed is unused.

Sources: "data_dir" (AgentBoard's 90 labelled pairs, <data_dir>/agentboard/labels/scienceworld/test.jsonl),
"fixture" (the first built-in test variation of 8 tasks, labels.FIXTURE_TASKS, native scoring), "auto" (data_dir
when the label file is there, else fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.api import Observation, StepResult, TaskRef
from benchmarks.errors import SuiteError
from benchmarks.scienceworld import actions as act
from benchmarks.scienceworld.labels import LABEL_FILE, SubgoalMatcher, SWTask, fixture_tasks, load_labels
from benchmarks.scienceworld.server import DETERMINISTIC_JVM_OPTIONS, JVMPool, Server, ServerDied, java_version
from benchmarks.taskset import TaskSetBenchmark, package_version

AGENTBOARD_SIMPLIFICATIONS = "selfWateringFlowerPots,openContainers,openDoors,noElectricalAction"
KNOWN_SIMPLIFICATIONS = ("teleportAction", *AGENTBOARD_SIMPLIFICATIONS.split(","))
HIDDEN_TEMPLATES = ("reset task",)
T = TypeVar("T")


class ScienceWorldCrash(RuntimeError):
    """The JVM died twice within one step (or while restoring): the episode cannot go on."""


@dataclass(frozen=True)
class Settings:
    max_steps: int = 30
    simplifications: str = AGENTBOARD_SIMPLIFICATIONS
    fast_step: bool = True
    deterministic: bool = True
    jvm_pool_size: int = 4

    def validate(self) -> None:
        for name in ("max_steps", "jvm_pool_size"):
            value, least = getattr(self, name), 1 if name == "max_steps" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SuiteError(f"scienceworld option {name} must be an integer >= {least}, got {value!r}")
        for name in ("fast_step", "deterministic"):
            if not isinstance(getattr(self, name), bool):
                raise SuiteError(f"scienceworld option {name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.simplifications, str):
            raise SuiteError(f"scienceworld option simplifications must be a string, got {self.simplifications!r}")
        unknown = [s for s in self.simplifications.split(",") if s and s not in KNOWN_SIMPLIFICATIONS]
        if unknown:
            raise SuiteError(
                f"scienceworld option simplifications has unknown {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(KNOWN_SIMPLIFICATIONS)}"
            )


class ScienceWorldEpisode:
    def __init__(self, task: SWTask, settings: Settings, pool: JVMPool) -> None:
        self.task = task
        self.settings = settings
        self.max_steps = settings.max_steps
        self.pool = pool
        self.server: Server | None = None
        self.jvm_restarts = 0
        self.replay_mismatches = 0
        self._steps: int | None = None  # None: not reset, or finished

    # --- the JVM, with recovery -------------------------------------------------------------------------------------

    def _acquire(self) -> Server:
        if self.server is None:
            self.server = self.pool.acquire()
        return self.server

    def _drop_server(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()

    def _load(self, server: Server) -> str:
        """Load the task on `server` and return the first observation ('look around', as env.reset() does)."""
        try:
            server.load(self.task.env_name, self.task.variation, self.settings.simplifications)
        except ValueError as exc:  # scienceworld's own checks: unknown task, simplification not allowed for it
            raise SuiteError(f"scienceworld task {self.task.task_id}: {exc}") from exc
        limit = int(server._call(server.env.get_max_variations, self.task.env_name))
        if self.task.variation >= limit:
            raise SuiteError(
                f"scienceworld task {self.task.task_id}: {self.task.env_name} has variations 0-{limit - 1}, "
                f"not {self.task.variation}"
            )
        return server.look_first()

    def _restore(self) -> Server:
        """A fresh JVM in the state the episode had: reload the task and replay its game actions."""
        self._drop_server()
        server = self._acquire()
        self._load(server)
        observation, score = self._first_text, 0
        for action in self._history:
            observation, score, _ = server.step(action, fast=True)
        if score != self._score or observation != self._last_game_text:
            self.replay_mismatches += 1
        return server

    def _with_recovery(self, call: Callable[[Server], T]) -> T:
        try:
            return call(self._acquire())
        except ServerDied as first:
            self.jvm_restarts += 1
            try:
                return call(self._restore())
            except ServerDied as second:
                raise ScienceWorldCrash(
                    f"scienceworld task {self.task.task_id}: the JVM died again while restoring step "
                    f"{self._steps} ({first}; then {second})"
                ) from second

    # --- the episode -------------------------------------------------------------------------------------------------

    def reset(self) -> Observation:
        self._history: list[str] = []
        self._first_text = ""
        self._score = 0
        self._last_game_text = ""
        try:
            text = self._load(self._acquire())
        except ServerDied:
            self.jvm_restarts += 1
            self._drop_server()
            try:
                text = self._load(self._acquire())
            except ServerDied as exc:
                raise ScienceWorldCrash(f"scienceworld task {self.task.task_id}: the JVM died twice on reset") from exc
        self._first_text = self._last_game_text = text
        assert self.server is not None
        self.goal = self.task.label_goal or self.server.task_description()
        self.matcher = SubgoalMatcher(self.task.subgoals) if self.task.subgoals else None
        self.label_progress = 0.0
        self.native_progress = 0.0
        self.native_success = False
        self._pending_choice = False
        self._steps = 0
        return Observation(text=text, goal=self.goal)

    def step(self, action: str) -> StepResult:
        if self._steps is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = act.parse(action)
        if isinstance(command, act.Refusal):
            return self._result(command.message, valid=False)
        if command.check:
            return self._result(self._with_recovery(self._listing), valid=True)
        text, score, completed = self._with_recovery(lambda server: server.step(command.text, self.settings.fast_step))
        self._history.append(command.text)
        self._score, self._last_game_text = score, text
        self._pending_choice = act.ambiguous(text)
        if self.matcher is not None:
            self.label_progress = self.matcher.update(text)
        self.native_progress = max(self.native_progress, max(0, min(score, 100)) / 100)
        self.native_success = self.native_success or score >= 100
        failed = score < 0
        solved = not failed and (self.matcher.complete if self.matcher is not None else score >= 100)
        terminated = solved or failed or score >= 100 or completed
        if solved:
            text += "\n(The task is completed.)"
        elif failed:
            text += "\n(The task has failed.)"
        elif terminated:
            text += "\n(The game's task is over.)"
        return self._result(text, valid=act.recognized(text), terminated=terminated, success=solved)

    def _listing(self, server: Server) -> str:
        if self._pending_choice:
            choices = [a for a in server.valid_actions() if a.strip().isdigit()]
            if choices:
                return (
                    "The game is waiting for the number of the action you meant (see the choices above): "
                    f"{', '.join(choices)}."
                )
        templates = [
            t for t in server.templates() if t not in HIDDEN_TEMPLATES and t.split(" ")[0] not in act.FORBIDDEN_VERBS
        ]
        objects = sorted(set(server.objects()))
        return (
            f"Valid actions (OBJ is one of the objects): {', '.join([*templates, 'check valid actions'])}.\n"
            f"Objects: {', '.join(objects)}."
        )

    def _result(self, text: str, valid: bool, terminated: bool = False, success: bool = False) -> StepResult:
        assert self._steps is not None
        truncated = not terminated and self._steps >= self.max_steps
        primary = self.label_progress if self.matcher is not None else self.native_progress
        metrics = {
            "native_score": float(self._score),
            "native_progress": self.native_progress,
            "native_success": float(self.native_success),
            "jvm_restarts": float(self.jvm_restarts),
            "replay_mismatches": float(self.replay_mismatches),
        }
        if self.matcher is not None:
            metrics["label_progress"] = self.label_progress
        result = StepResult(
            observation=Observation(text=text, goal=self.goal),
            reward=1.0 if success else 0.0,
            terminated=terminated,
            truncated=truncated,
            success=success,
            progress=1.0 if success else primary,
            valid=valid,
            metrics=metrics,
        )
        if result.done:
            self._steps = None
        return result

    def gold_actions(self) -> list[str]:
        """ScienceWorld's gold action sequence for this task (a test oracle); call reset() afterwards."""
        self._steps = None
        server = self._acquire()
        server.load(self.task.env_name, self.task.variation, self.settings.simplifications, gold=True)
        return server.gold_actions()

    def close(self) -> None:
        self._steps = None
        server, self.server = self.server, None
        if server is not None:
            self.pool.release(server)


class ScienceWorld(TaskSetBenchmark[SWTask]):
    name = "scienceworld"
    version = "scienceworld-agentboard-v1"
    fixture_version = "scienceworld-fixture-v1"
    data_path = LABEL_FILE

    def __init__(
        self,
        data_dir: str | Path | None = None,
        source: str = "auto",
        max_steps: int = 30,
        simplifications: str = AGENTBOARD_SIMPLIFICATIONS,
        fast_step: bool = True,
        deterministic: bool = True,
        jvm_pool_size: int = 4,
    ) -> None:
        super().__init__(
            data_dir, source, Settings(max_steps, simplifications, fast_step, deterministic, jvm_pool_size)
        )
        self.pool = JVMPool(max_idle=jvm_pool_size, deterministic=deterministic)

    def _read_real(self) -> tuple[list[SWTask], list[dict[str, Any]]]:
        tasks, entry = load_labels(self._data_path)  # type: ignore[arg-type]
        return tasks, [entry]

    def _read_fixture(self) -> tuple[list[SWTask], list[dict[str, Any]]]:
        return fixture_tasks(), []

    def make(self, task: TaskRef, seed: int = 0) -> ScienceWorldEpisode:
        return ScienceWorldEpisode(self._task_for(task), self.settings, self.pool)

    def close(self) -> None:
        """Stop the idle JVMs now (atexit does it anyway)."""
        self.pool.close()

    def provenance(self) -> dict[str, Any]:
        return self._provenance(
            packages={name: package_version(name) for name in ("scienceworld", "py4j")},
            java=java_version(),
            jvm_options=list(DETERMINISTIC_JVM_OPTIONS) if self.settings.deterministic else [],
            progress="agentboard_subgoals" if self.resolved_source == "data_dir" else "native_score",
            subgoal_matching="re.search per observation, latched; literal-text fallback (labels.py)",
            forbidden_actions=[*act.FORBIDDEN_VERBS, "close door", "reset task"],
        )
