"""ALFWorld (TextWorld engine, alfworld==0.4.2) as AgentBoard-style text episodes, one game per episode.

Per episode (each owns its own TextWorld PDDL env, loaded directly from the game's `game.tw-pddl`):
  - observation: the game's own text with AgentBoard's edits: the "-= Welcome to TextWorld, ALFRED! =-" banner and
    the "You arrive at loc N." prefixes are removed; the first observation is the room overview plus the task line;
  - goal (Observation.goal): the task sentence, e.g. "put a mug in desk.";
  - actions: the game's admissible commands, matched after normalising the action text (strip, lower-case, collapse
    spaces, drop trailing punctuation and surrounding quotes); `check valid actions` lists the admissible commands
    and counts as valid; any other command is invalid: nothing changes, the answer is the game's own
    "Nothing happens." and StepResult.valid is False;
  - success: the env's info["won"] (the PDDL goal holds), which terminates the episode with reward 1.0 (else 0.0).
    The env's `done` is not used (in ALFWorld's gym wrapper it also fires at the env's own step cap); there is no
    failure rule;
  - progress: this project's own milestones (AgentBoard's ALFWorld labels are not available), progress.py:
    pick_and_place [holding O, O in/on R]; look_at_obj_in_light [holding O, lamp on, holding O at the lit lamp];
    clean/heat/cool [holding O, O clean/hot/cool, clean/hot/cool O in/on R]; pick_two [holding O, one O in/on R,
    two Os in/on the same R], checked against the game's PDDL facts after each step. Progress = running max of the
    deepest milestone reached / number of milestones; 1.0 exactly on success;
  - the cap: `max_steps` actions (30, AgentBoard's), then truncated;
  - metrics: milestones reached / total, and expert_plan_length (also in the task info): ALFRED's high-level expert
    plan for the real games (traj_data plan.high_pddl without the closing NoOp), the spec's reference plan for
    fixture games.
The episode seed is unused: the games are deterministic (the name demangler runs without shuffling).

Sources: "data_dir" (the 134 official eval_out_of_distribution games, <data_dir>/alfworld/json_2.1.1/valid_unseen,
split "valid_unseen"; task id = "<task folder>/<trial folder>", lexicographic), "fixture" (6 self-written
ALFWorld-style games, one per task type, built from fixtures/*.json with the wheel's ALFRED domain and grammar;
split "fixture"; never ALFWorld results), "auto" (data_dir when that folder exists, else fixture).

Version drift (recorded in provenance): the json_2.1.1 game files embed ALFWorld's older grammar and domain, where
objects are placed with `put X in/on Y` and arriving says "You arrive at loc N."; the alfworld>=0.4 wheel's grammar
(used by the fixture games) says `move X to Y`, "You arrive at <receptacle>.", adds `help`, and lets only sink
basins clean. Agents tuned on one grammar collapse on the other, so the action grammar is part of the identity.

Threads: textworld's loader runs fast-downward's PDDL translator, which rewrites module-level options and sys.argv;
loading and resetting are therefore serialised by a process-wide lock (sys.argv is restored), and translations are
memoised for the last few problems (textworld translates each problem again on reset). Steps take the same lock:
textworld's text generator shares one module-level parser between envs (concurrent steps crash inside it). Each
episode still owns its env (and its copy of the planner library); only the simulator calls take turns, which costs
little next to the agents' model calls. Closed episodes hand their library copy to the next env (textworld would
load a new 33 MB copy per env and never free it).
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.alfworld import games as gamefiles
from benchmarks.alfworld.games import AlfGame
from benchmarks.alfworld.progress import MilestoneProgress
from benchmarks.api import Observation, StepResult, TaskRef
from benchmarks.errors import SuiteError, require
from benchmarks.taskset import TaskSetBenchmark, package_version

PACKAGES = ("alfworld", "textworld", "fast-downward-textworld")
CHECK_COMMANDS = frozenset({"check valid actions", "check valid action", "check available actions", "valid actions"})
INVALID_FEEDBACK = "Nothing happens."  # what the game itself answers to a command it does not admit
PROGRESS_RULE = "milestones-v1 (benchmarks/alfworld/progress.py)"
GRAMMARS = {
    "data_dir": "ALFWorld json_2.1.1 game files: old grammar, 'put X in/on Y', 'You arrive at loc N.' (stripped)",
    "fixture": "alfworld 0.4.2 wheel grammar: 'move X to Y', 'You arrive at <receptacle>.', 'help'",
}
VERSION_DRIFT = (
    "ALFWorld >= 0.4 games use 'move X to Y'; the json_2.1.1 games use 'put X in/on Y'. Results on one grammar are "
    "not comparable with results on the other."
)
_BANNER = re.compile(r"^\s*-= Welcome to TextWorld, ALFRED! =-\s*")
_ARRIVE_AT_LOC = re.compile(r"You arrive at loc \d+\.\s*")
_TRAILING = re.compile(r"[\s.!?;:,]+$")
_ENV_LOCK = threading.Lock()
_TRANSLATIONS: OrderedDict[str, Any] = OrderedDict()  # guarded by _ENV_LOCK
_TRANSLATION_CACHE_SIZE = 8  # about 1-2 MB each
_LIBRARIES: list[Any] = []  # idle copies of fast-downward's library (see _release_planner), guarded by _ENV_LOCK


@dataclass(frozen=True)
class Settings:
    max_steps: int = 30
    show_valid_actions: bool = False  # also put the admissible commands on every observation (AgentBoard: off)

    def validate(self) -> None:
        if not isinstance(self.max_steps, int) or isinstance(self.max_steps, bool) or self.max_steps < 1:
            raise SuiteError(f"alfworld option max_steps must be an integer >= 1, got {self.max_steps!r}")
        if not isinstance(self.show_valid_actions, bool):
            raise SuiteError(
                f"alfworld option show_valid_actions must be true or false, got {self.show_valid_actions!r}"
            )


def normalize(action: object) -> str:
    """Untrusted model text -> a command to look up among the admissible ones (never evaluated)."""
    if not isinstance(action, str):
        return ""
    text = re.sub(r"\s+", " ", action).strip().strip("`'\"").strip().lower()
    return _TRAILING.sub("", text)


def clean_text(text: str) -> str:
    """AgentBoard's edits of the game text: no banner, no "You arrive at loc N." prefix."""
    return _ARRIVE_AT_LOC.sub("", _BANNER.sub("", text)).strip()


def _memoised(translate: Callable[..., Any]) -> Callable[..., Any]:
    """fast-downward's PDDL->SAS translation, remembered for the last few problems.

    textworld translates every problem twice when loading a game and twice again on each reset; the result is a
    pure function of the texts and only read afterwards, so a fresh episode's reset costs half as much.
    """

    def cached(domain: str, problem: str, verbose: bool = False, optimize: bool = False) -> Any:
        key = hashlib.sha256(f"{optimize}\0{domain}\0{problem}".encode()).hexdigest()
        if key in _TRANSLATIONS:
            _TRANSLATIONS.move_to_end(key)
            return _TRANSLATIONS[key]
        result = _TRANSLATIONS[key] = translate(domain, problem, verbose=verbose, optimize=optimize)
        while len(_TRANSLATIONS) > _TRANSLATION_CACHE_SIZE:
            _TRANSLATIONS.popitem(last=False)
        return result

    return cached


@contextmanager
def _serialised() -> Iterator[None]:
    """Env calls under the process-wide lock, with the translation memo and library pool in place, sys.argv kept."""
    fast_downward = require("fast_downward", "alfworld")
    with _ENV_LOCK:
        argv, translate, load_lib = sys.argv, fast_downward.pddl2sas, fast_downward.load_lib
        fast_downward.pddl2sas = _memoised(translate)
        fast_downward.load_lib = lambda: _LIBRARIES.pop() if _LIBRARIES else load_lib()
        try:
            yield
        finally:
            fast_downward.pddl2sas, fast_downward.load_lib = translate, load_lib
            sys.argv = argv  # the translator overwrites it


def _release_planner(env: Any) -> None:
    """Return the env's private copy of fast-downward's library to the pool for the next env.

    textworld loads a fresh copy (a 33 MB file copy) for every env and never unloads it (~1.3 MB resident each);
    unloading crashes the interpreter at exit, so idle copies are reused instead. Reuse is what textworld itself
    does on every reset: the next problem is loaded over the previous one.
    """
    while getattr(env, "_wrapped_env", None) is not None:
        env = env._wrapped_env
    library = getattr(env, "downward_lib", None)
    if library is not None:
        env.downward_lib = None
        with _ENV_LOCK:
            _LIBRARIES.append(library)


def start_env(game_file: Path, **infos: Any) -> Any:
    """A TextWorld env on one ALFWorld game file, with ALFWorld's name demangler (no shuffling)."""
    textworld = require("textworld", "alfworld")
    alfred = require("alfworld.agents.environment.alfred_tw_env", "alfworld")
    request = textworld.EnvInfos(won=True, admissible_commands=True, **infos)
    with _serialised():
        try:
            return textworld.start(str(game_file), request, wrappers=[alfred.AlfredDemangler(), alfred.AlfredInfos])
        except ImportError as exc:  # textworld's PDDL backend without fast_downward
            raise SuiteError(f"alfworld needs fast-downward-textworld ({exc}); install agemem-bench[alfworld]") from exc


class ALFWorldEpisode:
    def __init__(self, game: AlfGame, settings: Settings) -> None:
        self.game = game
        self.settings = settings
        self.max_steps = settings.max_steps
        self._env: Any = None
        self._steps: int | None = None  # None: not reset, or finished
        self.admissible: list[str] = []

    # --- API -------------------------------------------------------------------------------------------------------

    def reset(self) -> Observation:
        if self._env is None:
            self._env = start_env(self.game.game_file)
        with _serialised():
            state = self._env.reset()
        self._tracker = MilestoneProgress(
            self.game.task_type, self.game.object_target, self.game.parent_target, self.game.toggle_target
        )
        self.progress = 0.0
        self._steps = 0
        self._absorb(state)
        intro = clean_text(str(state.feedback))
        self.goal = self.game.goal
        return self._observation(intro)

    def step(self, action: str) -> StepResult:
        if self._steps is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        self._steps += 1
        command = normalize(action)
        if command in CHECK_COMMANDS:
            return self._result(f"Valid actions are: {', '.join(self.admissible)}.", valid=True)
        if command not in self.admissible:
            return self._result(INVALID_FEEDBACK, valid=False)
        with _serialised():  # textworld's text generator shares one parser between envs
            state, _, _ = self._env.step(command)
        won = bool(state["won"])
        self._absorb(state, won)
        return self._result(clean_text(str(state.feedback)), valid=True, success=won)

    def close(self) -> None:
        self._steps = None
        env, self._env = self._env, None
        if env is not None:
            env.close()
            _release_planner(env)

    # --- internals -------------------------------------------------------------------------------------------------

    def _absorb(self, state: Any, won: bool = False) -> None:
        self.admissible = list(state["admissible_commands"])
        self.progress = max(self.progress, self._tracker.update(state["_facts"], won))

    def _observation(self, text: str) -> Observation:
        shown = tuple(self.admissible) if self.settings.show_valid_actions else None
        return Observation(text=text, goal=self.goal, valid_actions=shown)

    def _result(self, text: str, valid: bool, success: bool = False) -> StepResult:
        assert self._steps is not None
        truncated = not success and self._steps >= self.max_steps
        metrics = {
            "milestones_reached": float(self._tracker.best),
            "milestones": float(len(self._tracker.milestones)),
            "expert_plan_length": float(self.game.plan_length),
        }
        result = StepResult(
            observation=self._observation(text),
            reward=1.0 if success else 0.0,
            terminated=success,
            truncated=truncated,
            success=success,
            progress=self.progress,
            valid=valid,
            metrics=metrics,
        )
        if result.done:
            self._steps = None
        return result


class ALFWorld(TaskSetBenchmark[AlfGame]):
    name = "alfworld"
    version = "alfworld-json2.1.1-valid_unseen-v1"
    fixture_version = "alfworld-fixture-v1"
    data_path = gamefiles.REAL_FOLDER
    data_is_folder = True

    def __init__(
        self,
        data_dir: str | Path | None = None,
        source: str = "auto",
        max_steps: int = 30,
        show_valid_actions: bool = False,
        cache_dir: str | Path | None = None,
    ) -> None:
        if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
            raise SuiteError(f"alfworld option cache_dir must be a path, got {cache_dir!r}")
        super().__init__(data_dir, source, Settings(max_steps, show_valid_actions))
        self._cache_dir = cache_dir
        self.default_split = "valid_unseen" if self.resolved_source == "data_dir" else "fixture"
        self._skipped: list[str] = []
        self._build_dir: Path | None = None

    def _read_real(self) -> tuple[list[AlfGame], list[dict[str, Any]]]:
        games, files, self._skipped = gamefiles.load_real(self._root)  # type: ignore[arg-type]
        return games, files

    def _read_fixture(self) -> tuple[list[AlfGame], list[dict[str, Any]]]:
        games, files, self._build_dir = gamefiles.load_fixture(self._cache_dir)
        return games, files

    def _split_owner(self) -> str:
        return f"{self.name} ({self.resolved_source})"

    def game(self, task_id: str) -> AlfGame:
        return self.task(task_id)

    def make(self, task: TaskRef, seed: int = 0) -> ALFWorldEpisode:
        return ALFWorldEpisode(self._task_for(task), self.settings)

    def provenance(self) -> dict[str, Any]:
        self._load()  # sets the files, build folder and skipped games recorded below
        fixture = self.resolved_source == "fixture"
        return self._provenance(
            label="ALFWorld-style fixture (self-written games, not ALFWorld results)" if fixture else "ALFWorld",
            build_dir=str(self._build_dir) if self._build_dir else None,
            game_set_sha256=gamefiles.game_set_digest(self._files),
            skipped_unsolvable=list(self._skipped),
            packages={name: package_version(name) for name in PACKAGES},
            action_grammar=GRAMMARS[self.resolved_source],
            version_drift=VERSION_DRIFT,
            progress=PROGRESS_RULE,
        )


def planner_plan(game: AlfGame) -> list[str]:
    """The built-in planner expert's plan (fast-downward via textworld) from the game's initial state, as commands.

    Used to validate games and to give a reference; it runs on its own env, so it never touches an episode.
    """
    env = start_env(game.game_file, policy_commands=True)
    try:
        with _serialised():  # replanning goes through the same translator
            state = env.reset()
        return list(state["policy_commands"])
    finally:
        env.close()
        _release_planner(env)
