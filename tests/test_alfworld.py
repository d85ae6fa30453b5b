"""The ALFWorld adapter: action/text parsing, milestone progress, fixture games proven solvable, episode rules,
thread safety, one-line errors, and the 134 real json_2.1.1 valid_unseen games."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.alfworld import games as gamefiles
from benchmarks.alfworld.benchmark import (
    INVALID_FEEDBACK,
    ALFWorld,
    clean_text,
    normalize,
    planner_plan,
)
from benchmarks.alfworld.progress import MilestoneProgress
from benchmarks.api import TaskRef
from benchmarks.conformance import check_benchmark
from benchmarks.errors import SuiteError

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("AGEMEM_DATA") or REPO.parent / "shared" / "data")
REAL_GAMES = REAL_DATA / gamefiles.REAL_FOLDER
HAVE_ALFWORLD = all(importlib.util.find_spec(name) is not None for name in ("textworld", "alfworld", "fast_downward"))
needs_alfworld = pytest.mark.skipif(
    not HAVE_ALFWORLD, reason="alfworld is not installed (pip install 'agemem-bench[alfworld]')"
)
SHORT_TYPES = {"pick_and_place", "look_at_obj_in_light", "clean", "heat", "cool", "pick_two"}


@pytest.fixture(autouse=True)
def _no_env_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests only see a data directory they pass explicitly."""
    monkeypatch.delenv("AGEMEM_DATA", raising=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alfworld-cache")


@pytest.fixture(scope="module")
def fixture(cache: Path) -> ALFWorld:
    if not HAVE_ALFWORLD:
        pytest.skip("alfworld is not installed (pip install 'agemem-bench[alfworld]')")
    return ALFWorld(source="fixture", cache_dir=cache)


def play(benchmark: ALFWorld, task: TaskRef, actions: list[str]) -> list[Any]:
    episode = benchmark.make(task)
    episode.reset()
    results = []
    for action in actions:
        results.append(episode.step(action))
        if results[-1].done:
            break
    episode.close()
    return results


def assert_solved(results: list[Any], task_id: str) -> None:
    progress = [r.progress for r in results]
    assert all(r.valid for r in results), task_id
    assert progress == sorted(progress) and progress[-1] == 1.0, (task_id, progress)
    assert results[-1].success and results[-1].terminated and results[-1].reward == 1.0, task_id
    assert not any(r.done or r.success for r in results[:-1]) and all(r.progress < 1.0 for r in results[:-1]), task_id


# --- parsing (no simulator) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "command"),
    [
        ("go to desk 1", "go to desk 1"),
        ("  Go   To  Desk 1.  ", "go to desk 1"),
        ("put mug 1 in/on desk 1!", "put mug 1 in/on desk 1"),
        ("`take mug 1 from shelf 2`", "take mug 1 from shelf 2"),
        ('"check valid actions"', "check valid actions"),
        ("look\n", "look"),
        ("", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_normalize_is_defensive(raw: Any, command: str) -> None:
    assert normalize(raw) == command


def test_clean_text_applies_agentboards_edits() -> None:
    intro = (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room.\n\nYour task is to: put a mug in desk."
    )
    assert clean_text(intro) == "You are in the middle of a room.\n\nYour task is to: put a mug in desk."
    assert clean_text("You arrive at loc 12. On the desk 1, you see a mug 1.") == "On the desk 1, you see a mug 1."
    assert clean_text("You arrive at desk 1. On the desk 1, you see nothing.") == (
        "You arrive at desk 1. On the desk 1, you see nothing."
    )  # the newer grammar names the receptacle: nothing to strip


# --- milestone progress on hand-written facts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Fact:
    name: str
    arguments: tuple[Var, ...]


def facts(*rows: str) -> list[Fact]:
    return [Fact(row.split()[0], tuple(Var(a) for a in row.split()[1:])) for row in rows]


ROOM = (
    "objectType Mug_1 MugType", "objectType Mug_2 MugType", "objectType Cup_1 CupType",
    "objectType Lamp_1 DeskLampType", "receptacleType Desk_1 DeskType", "receptacleType Desk_2 DeskType",
    "receptacleType Shelf_1 ShelfType", "receptacleAtLocation Desk_1 loc_1", "receptacleAtLocation Desk_2 loc_2",
    "receptacleAtLocation Shelf_1 loc_3", "inReceptacle Lamp_1 Desk_2",
)  # fmt: skip


def level(task_type: str, *state: str, obj: str = "Mug", recep: str = "Desk", toggle: str = "DeskLamp") -> int:
    return MilestoneProgress(task_type, obj, recep, toggle).level(facts(*ROOM, *state))


def test_pick_and_place_milestones() -> None:
    assert level("pick_and_place_simple", "atLocation agent1 loc_3", "inReceptacle Mug_1 Shelf_1") == 0
    assert level("pick_and_place_simple", "holds agent1 Cup_1") == 0  # the wrong object
    assert level("pick_and_place_simple", "holds agent1 Mug_1") == 1
    assert level("pick_and_place_simple", "inReceptacle Mug_1 Desk_2") == 2
    assert level("pick_and_place_simple", "inReceptacle Cup_1 Desk_2") == 0


def test_state_change_milestones_need_the_changed_object_in_place() -> None:
    assert level("pick_clean_then_place_in_recep", "inReceptacle Mug_1 Desk_1") == 0  # placed but not clean
    assert level("pick_clean_then_place_in_recep", "holds agent1 Mug_1") == 1
    assert level("pick_clean_then_place_in_recep", "holds agent1 Mug_1", "isClean Mug_1") == 2
    assert level("pick_clean_then_place_in_recep", "isClean Mug_2", "inReceptacle Mug_1 Desk_1") == 2
    assert level("pick_clean_then_place_in_recep", "isClean Mug_1", "inReceptacle Mug_1 Desk_1") == 3
    assert level("pick_heat_then_place_in_recep", "isHot Mug_1", "inReceptacle Mug_1 Desk_1") == 3
    assert level("pick_heat_then_place_in_recep", "isCool Mug_1", "inReceptacle Mug_1 Desk_1") == 0
    assert level("pick_cool_then_place_in_recep", "isCool Mug_1", "inReceptacle Mug_1 Desk_1") == 3


def test_pick_two_needs_both_in_the_same_receptacle() -> None:
    assert level("pick_two_obj_and_place", "holds agent1 Mug_1") == 1
    assert level("pick_two_obj_and_place", "inReceptacle Mug_1 Desk_1") == 2
    assert level("pick_two_obj_and_place", "inReceptacle Mug_1 Desk_1", "inReceptacle Mug_2 Desk_2") == 2
    assert level("pick_two_obj_and_place", "inReceptacle Mug_1 Desk_1", "inReceptacle Mug_2 Desk_1") == 3


def test_look_at_needs_the_held_object_at_a_lit_lamp() -> None:
    kind = "look_at_obj_in_light"
    assert level(kind, "holds agent1 Mug_1", "atLocation agent1 loc_2") == 1
    assert level(kind, "isToggled Lamp_1", "atLocation agent1 loc_1") == 2
    assert level(kind, "holds agent1 Mug_1", "isToggled Lamp_1", "atLocation agent1 loc_1") == 2  # lamp elsewhere
    assert level(kind, "holds agent1 Mug_1", "isToggled Lamp_1", "atLocation agent1 loc_2") == 3


def test_progress_is_a_running_max_and_full_only_on_a_win() -> None:
    tracker = MilestoneProgress("pick_and_place_simple", "Mug", "Desk", "")
    assert tracker.update(facts(*ROOM, "holds agent1 Mug_1"), won=False) == 0.5
    assert tracker.update(facts(*ROOM), won=False) == 0.5  # dropped elsewhere: progress keeps its max
    assert tracker.update(facts(*ROOM, "inReceptacle Mug_1 Desk_1"), won=False) == 0.5  # the env did not say won
    assert tracker.update(facts(*ROOM, "inReceptacle Mug_1 Desk_1"), won=True) == 1.0
    with pytest.raises(ValueError):
        MilestoneProgress("pick_and_slice", "Mug", "Desk", "")


# --- options and missing inputs: one-line errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"source": "web"}, "alfworld source must be one of"),
        ({"max_steps": 0}, "max_steps must be an integer >= 1"),
        ({"max_steps": "30"}, "max_steps must be an integer >= 1"),
        ({"max_steps": True}, "max_steps must be an integer >= 1"),
        ({"show_valid_actions": "yes"}, "show_valid_actions must be true or false"),
        ({"cache_dir": 3}, "cache_dir must be a path"),
        ({"source": "data_dir"}, "no data directory was given"),
    ],
)
def test_bad_options_are_one_line_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteError, match=re.escape(message)) as caught:
        ALFWorld(**options)
    assert "\n" not in str(caught.value)


def test_missing_or_incomplete_data_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="does not exist"):
        ALFWorld(data_dir=tmp_path / "nowhere")
    with pytest.raises(SuiteError, match=re.escape(f"has no {gamefiles.REAL_FOLDER}/ folder")):
        ALFWorld(data_dir=tmp_path, source="data_dir")
    assert ALFWorld(data_dir=tmp_path, cache_dir=tmp_path / "c").resolved_source == "fixture"  # auto falls back
    (tmp_path / gamefiles.REAL_FOLDER).mkdir(parents=True)
    with pytest.raises(SuiteError, match="holds no games"):
        ALFWorld(data_dir=tmp_path, source="data_dir").tasks("valid_unseen")
    trial = tmp_path / gamefiles.REAL_FOLDER / "pick_and_place_simple-Mug-None-Desk-1" / "trial_T1"
    trial.mkdir(parents=True)
    (trial / "traj_data.json").write_text("{}")
    with pytest.raises(SuiteError, match=r"game\.tw-pddl' is missing"):
        ALFWorld(data_dir=tmp_path, source="data_dir").tasks("valid_unseen")
    (trial / "game.tw-pddl").write_text("{not json")
    with pytest.raises(SuiteError, match="not readable JSON") as caught:
        ALFWorld(data_dir=tmp_path, source="data_dir").tasks("valid_unseen")
    assert "\n" not in str(caught.value)


def test_missing_alfworld_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "alfworld.info", None)  # makes the import raise ImportError
    with pytest.raises(SuiteError, match=re.escape("agemem-bench[alfworld]")):
        ALFWorld(source="fixture", cache_dir=tmp_path).tasks("fixture")


@needs_alfworld
def test_missing_textworld_names_the_extra(monkeypatch: pytest.MonkeyPatch, fixture: ALFWorld) -> None:
    task = fixture.tasks("fixture")[0]
    monkeypatch.setitem(sys.modules, "textworld", None)
    with pytest.raises(SuiteError, match=re.escape("agemem-bench[alfworld]")):
        fixture.make(task).reset()


# --- fixture games -----------------------------------------------------------------------------------------------------


@needs_alfworld
def test_fixture_task_list_and_labels(fixture: ALFWorld, cache: Path) -> None:
    assert fixture.default_split == "fixture" and fixture.splits() == ["fixture"]
    assert fixture.version == "alfworld-fixture-v1"
    tasks = fixture.tasks("fixture")
    ids = [t.task_id for t in tasks]
    assert ids == sorted(ids) and len(ids) == 6 and len(set(ids)) == 6
    assert {t.info["task_type"] for t in tasks} == SHORT_TYPES
    assert all(t.info["fixture"] and t.info["source"] == "ALFWorld-style fixture (self-written)" for t in tasks)
    assert all(t.info["expert_plan_length"] >= 4 and t.info["goal"] for t in tasks)
    provenance = fixture.provenance()
    assert provenance["fixture"] is True and provenance["source"] == "fixture"
    assert "not ALFWorld results" in provenance["label"] and "move X to Y" in provenance["action_grammar"]
    assert provenance["packages"]["alfworld"] == "0.4.2" and provenance["packages"]["textworld"]
    assert provenance["tasks"] == ids and len(provenance["game_set_sha256"]) == 64
    assert {Path(f["path"]).name for f in provenance["files"]} >= {"alfred.pddl", "alfred.twl2"}
    assert Path(provenance["build_dir"]).parent == cache
    json.dumps(provenance)  # JSON-safe


@needs_alfworld
def test_fixture_build_is_cached_and_keyed_by_its_inputs(fixture: ALFWorld, cache: Path) -> None:
    first = fixture.provenance()["build_dir"]
    again = ALFWorld(source="fixture", cache_dir=cache)
    assert again.provenance()["build_dir"] == first and len(list(cache.iterdir())) == 1
    game = json.loads((Path(first) / fixture.tasks("fixture")[0].task_id / "game.tw-pddl").read_text())
    assert game["solvable"] is True and "UNKNOWN GOAL" not in game["grammar"]


@needs_alfworld
def test_fixture_builder_rejects_impossible_specs() -> None:
    base = {"task_type": "pick_and_place_simple", "object_target": "Mug", "parent_target": "Desk", "task": "put a mug"}
    bad = [
        ({"receptacles": ["Desk"], "objects": [{"type": "Unicorn", "in": "desk 1"}]}, "not an ALFRED"),
        ({"receptacles": ["Desk"], "objects": [{"type": "Mug", "in": "desk 2"}]}, "unknown receptacle"),
        ({"receptacles": ["Toilet"], "objects": [{"type": "Mug", "in": "toilet 1"}]}, "cannot be in a Toilet"),
        ({"receptacles": ["Desk"], "objects": [], "task_type": "slice_it"}, "unknown task_type"),
        ({"receptacles": ["Desk"], "objects": [], "task": " "}, "no task sentence"),
    ]
    for change, message in bad:
        with pytest.raises(SuiteError, match=message):
            gamefiles.build_fixture({**base, **change}, "bad")


@needs_alfworld
def test_fixture_reference_plans_win_with_monotone_progress(fixture: ALFWorld) -> None:
    for task in fixture.tasks("fixture"):
        game = fixture.game(task.task_id)
        results = play(fixture, task, list(game.reference_plan))
        assert_solved(results, task.task_id)
        assert len(results) == task.info["expert_plan_length"] == len(game.reference_plan)
        assert results[-1].metrics["milestones_reached"] == results[-1].metrics["milestones"] >= 2


@needs_alfworld
@pytest.mark.slow
def test_planner_expert_solves_every_fixture_game(fixture: ALFWorld) -> None:
    """ALFWorld's built-in planner expert (fast-downward) validates each self-written game."""
    for task in fixture.tasks("fixture"):
        plan = planner_plan(fixture.game(task.task_id))
        assert 0 < len(plan) <= task.info["expert_plan_length"], (task.task_id, plan)
        assert_solved(play(fixture, task, plan), task.task_id)


@needs_alfworld
def test_fixture_conforms(fixture: ALFWorld) -> None:
    assert check_benchmark(fixture, n_tasks=2, actions=("check valid actions", "look", "inventory", "noop")) == []


# --- episode rules -----------------------------------------------------------------------------------------------------


def _fixture_task(fixture: ALFWorld, kind: str) -> TaskRef:
    return next(t for t in fixture.tasks("fixture") if t.info["task_type"] == kind)


@needs_alfworld
def test_observation_goal_and_valid_actions(fixture: ALFWorld) -> None:
    episode = fixture.make(_fixture_task(fixture, "pick_and_place"))
    first = episode.reset()
    assert first.goal == "put a cellphone in bed."
    assert first.text.startswith("You are in the middle of a room.") and "Welcome to TextWorld" not in first.text
    assert first.text.endswith("Your task is to: put a cellphone in bed.") and first.valid_actions is None
    listing = episode.step("Check valid actions.")
    assert listing.valid and not listing.done and listing.progress == 0.0
    assert listing.observation.text.startswith("Valid actions are: ") and "go to drawer 2" in listing.observation.text
    assert set(episode.admissible) >= {"go to bed 1", "go to drawer 2", "look", "inventory"}
    episode.close()


@needs_alfworld
def test_invalid_actions_change_nothing_and_say_so(fixture: ALFWorld) -> None:
    episode = fixture.make(_fixture_task(fixture, "pick_and_place"))
    episode.reset()
    before = list(episode.admissible)
    for action in ("take cellphone 1 from drawer 2", "fly to the moon", "", "put cellphone 1 in/on bed 1"):
        result = episode.step(action)
        assert (result.valid, result.observation.text, result.progress, result.done) == (
            False, INVALID_FEEDBACK, 0.0, False,
        )  # fmt: skip
    assert episode.admissible == before
    moved = episode.step("  GO TO drawer 2. ")
    assert moved.valid and "drawer 2 is closed" in moved.observation.text
    episode.close()


@needs_alfworld
def test_step_cap_truncates(cache: Path) -> None:
    benchmark = ALFWorld(source="fixture", cache_dir=cache, max_steps=3)
    episode = benchmark.make(_fixture_task(benchmark, "pick_and_place"))
    assert episode.max_steps == 3
    episode.reset()
    results = [episode.step(action) for action in ("look", "noop", "inventory")]
    assert [r.truncated for r in results] == [False, False, True] and not any(r.terminated for r in results)
    with pytest.raises(RuntimeError):
        episode.step("look")
    episode.reset()  # a finished episode can be played again
    assert episode.step("look").valid
    episode.close()
    default = ALFWorld(source="fixture", cache_dir=cache)
    assert default.make(default.tasks("fixture")[0]).max_steps == 30


@needs_alfworld
def test_show_valid_actions_option(cache: Path) -> None:
    benchmark = ALFWorld(source="fixture", cache_dir=cache, show_valid_actions=True)
    episode = benchmark.make(benchmark.tasks("fixture")[0])
    first = episode.reset()
    assert first.valid_actions and "look" in first.valid_actions
    after = episode.step(first.valid_actions[0])
    assert after.observation.valid_actions == tuple(episode.admissible)
    episode.close()


def test_foreign_or_unknown_tasks_are_refused(tmp_path: Path) -> None:
    benchmark = ALFWorld(source="fixture", cache_dir=tmp_path)
    with pytest.raises(SuiteError, match="belongs to benchmark 'pddl'"):
        benchmark.make(TaskRef("pddl", "fixture", "x"))
    with pytest.raises(SuiteError, match="has no split 'valid_unseen'"):
        benchmark.make(TaskRef("alfworld", "valid_unseen", "x"))
    with pytest.raises(SuiteError, match="has no split 'test'"):
        benchmark.tasks("test")
    if HAVE_ALFWORLD:
        with pytest.raises(SuiteError, match="has no task 'nope'"):
            benchmark.make(TaskRef("alfworld", "fixture", "nope"))


@needs_alfworld
def test_concurrent_episodes_match_sequential_ones(fixture: ALFWorld) -> None:
    """The runner plays episodes in threads: each owns its env; loads are serialised; sys.argv survives."""
    tasks = fixture.tasks("fixture")[:3]
    plans = {t.task_id: list(fixture.game(t.task_id).reference_plan) for t in tasks}

    def transcript(task: TaskRef) -> list[tuple[str, float, bool]]:
        return [(r.observation.text, r.progress, r.success) for r in play(fixture, task, plans[task.task_id])]

    sequential = {t.task_id: transcript(t) for t in tasks}
    argv = list(sys.argv)
    concurrent: dict[str, Any] = {}
    errors: list[BaseException] = []

    def worker(task: TaskRef) -> None:
        try:
            concurrent[task.task_id] = transcript(task)
        except Exception as exc:  # noqa: BLE001 -- collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and concurrent == sequential and sys.argv == argv
    assert all(rows[-1][2] for rows in concurrent.values())


# --- the data_dir path on a hand-made folder (runs without the shared data) ------------------------------------------


@needs_alfworld
def test_data_dir_layout_ids_hashes_and_unsolvable_games(fixture: ALFWorld, tmp_path: Path) -> None:
    build = Path(fixture.provenance()["build_dir"])
    base = tmp_path / gamefiles.REAL_FOLDER
    for task in fixture.tasks("fixture")[:3]:
        shutil.copytree(build / task.task_id, base / task.task_id / "trial_T0")
    marked = base / fixture.tasks("fixture")[2].task_id / "trial_T0" / "game.tw-pddl"
    marked.write_text(json.dumps({**json.loads(marked.read_text()), "solvable": False}))
    benchmark = ALFWorld(data_dir=tmp_path)  # auto picks the data dir
    assert benchmark.resolved_source == "data_dir" and benchmark.default_split == "valid_unseen"
    ids = [t.task_id for t in benchmark.tasks("valid_unseen")]
    assert ids == [f"{t.task_id}/trial_T0" for t in fixture.tasks("fixture")[:2]]
    provenance = benchmark.provenance()
    assert provenance["skipped_unsolvable"] == [f"{fixture.tasks('fixture')[2].task_id}/trial_T0"]
    assert len(provenance["files"]) == 4 and all(len(f["sha256"]) == 64 for f in provenance["files"])
    assert provenance["version"] == "alfworld-json2.1.1-valid_unseen-v1" and provenance["fixture"] is False
    before = provenance["game_set_sha256"]
    traj = base / ids[0] / "traj_data.json"
    traj.write_text(traj.read_text() + " ")
    assert ALFWorld(data_dir=tmp_path).provenance()["game_set_sha256"] != before


# --- the 134 real games --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> ALFWorld:
    if not HAVE_ALFWORLD:
        pytest.skip("alfworld is not installed (pip install 'agemem-bench[alfworld]')")
    if not REAL_GAMES.is_dir():
        pytest.skip(f"ALFWorld json_2.1.1 games not found at {REAL_GAMES} (set AGEMEM_DATA)")
    return ALFWorld(data_dir=REAL_DATA, source="data_dir")


def test_real_task_list(real: ALFWorld) -> None:
    tasks = real.tasks("valid_unseen")
    ids = [t.task_id for t in tasks]
    assert len(ids) == 134 and ids == sorted(ids) and len(set(ids)) == 134
    assert ids[0] == "look_at_obj_in_light-AlarmClock-None-DeskLamp-308/trial_T20190908_222917_366542"
    counts = Counter(t.info["task_type"] for t in tasks)
    assert counts == {"pick_and_place": 24, "look_at_obj_in_light": 18, "clean": 31, "heat": 23, "cool": 21,
                      "pick_two": 17}  # fmt: skip
    assert all(not t.info["fixture"] and t.info["expert_plan_length"] > 0 for t in tasks)
    provenance = real.provenance()
    assert provenance["version"] == "alfworld-json2.1.1-valid_unseen-v1" and provenance["skipped_unsolvable"] == []
    assert len(provenance["files"]) == 268 and "put X in/on Y" in provenance["action_grammar"]
    assert provenance["tasks"] == ids


def test_real_games_conform(real: ALFWorld) -> None:
    assert check_benchmark(real, n_tasks=2, actions=("check valid actions", "look", "inventory", "noop")) == []


def test_real_game_text_uses_the_old_grammar(real: ALFWorld) -> None:
    task = next(t for t in real.tasks("valid_unseen") if t.task_id.startswith("pick_and_place_simple-Mug-None-Desk"))
    episode = real.make(task)
    first = episode.reset()
    assert first.goal == "put a mug in desk." and "Welcome" not in first.text
    assert "go to desk 1" in episode.admissible
    arrived = episode.step("go to shelf 5")
    assert arrived.valid and not arrived.observation.text.startswith("You arrive at loc")
    assert episode.step("move mug 1 to desk 1").valid is False  # the newer grammar is not understood
    episode.close()


# The planner's plans for a sample of real games: at least one per task type, replayed through the adapter.
REAL_SAMPLE_PER_TYPE = 2


@pytest.mark.slow
def test_planner_expert_solves_real_games_of_every_type(real: ALFWorld) -> None:
    picked: Counter[str] = Counter()
    solved = 0
    for task in real.tasks("valid_unseen"):
        kind = task.info["task_type"]
        if picked[kind] >= REAL_SAMPLE_PER_TYPE:
            continue
        picked[kind] += 1
        plan = planner_plan(real.game(task.task_id))
        assert 0 < len(plan) <= real.settings.max_steps, task.task_id
        results = play(real, task, plan)
        assert_solved(results, task.task_id)
        solved += 1
    assert set(picked) == SHORT_TYPES and solved == 6 * REAL_SAMPLE_PER_TYPE


@pytest.mark.slow
def test_all_real_games_reset(real: ALFWorld) -> None:
    """Every one of the 134 games loads and resets; none starts with a milestone already reached."""
    started = time.perf_counter()
    for task in real.tasks("valid_unseen"):
        episode = real.make(task)
        first = episode.reset()
        assert first.goal and first.text.startswith("You are in the middle of a room"), task.task_id
        assert episode.admissible and episode.progress == 0.0, task.task_id
        assert first.goal == task.info["goal"]
        episode.close()
    elapsed = time.perf_counter() - started
    assert elapsed < 134 * 10, f"resetting the 134 games took {elapsed:.0f} s"
