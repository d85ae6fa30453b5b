"""The ScienceWorld adapter: action parsing, subgoal matching, task lists, real episodes on the JVM, its recovery,
and AgentBoard's real 90 labelled task/variation pairs."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.api import StepLimit, TaskRef
from benchmarks.conformance import check_benchmark
from benchmarks.errors import SuiteError
from benchmarks.scienceworld import actions as act
from benchmarks.scienceworld.benchmark import ScienceWorld, ScienceWorldCrash
from benchmarks.scienceworld.labels import FIXTURE_TASKS, LABEL_FILE, SubgoalMatcher, fixture_tasks
from benchmarks.scienceworld.server import JVMPool, Server, ServerDied
from tests.fakes import write_jsonl

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("AGEMEM_DATA") or REPO.parent / "shared" / "data")
LABELS = REAL_DATA / LABEL_FILE


@pytest.fixture(autouse=True)
def _no_env_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests only see a data directory they pass explicitly."""
    monkeypatch.delenv("AGEMEM_DATA", raising=False)


def label_row(name: str = "lifespan-longest-lived", var: int = 5, **overrides: Any) -> dict[str, Any]:
    row = {
        "task": "scienceworld",
        "id": 0,
        "goal": "Your task is to find the animal with the longest life span.",
        "subgoals": ["You move to the outside.", "You focus on the crocodile egg."],
        "difficulty": "easy",
        "additional_info": {"var": var, "env_name": name},
    }
    return {**row, **overrides}


def write_labels(root: Path, rows: list[Any] | str) -> Path:
    return write_jsonl(root / LABEL_FILE, rows)


# --- parsing untrusted actions (no JVM needed) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("go to kitchen", "go to kitchen"),
        ("  Go   To Kitchen. ", "Go To Kitchen"),  # the game itself ignores case
        ("Action: open door to hallway", "open door to hallway"),
        ("> look around", "look around"),
        ("'focus on crocodile egg'", "focus on crocodile egg"),
        ("pick up thermometer\nThought: then go to the kitchen", "pick up thermometer"),
        ("0", "0"),  # the answer to an ambiguous request
        ("close freezer", "close freezer"),  # only doors may not be closed
        ("use heater on metal pot", "use heater on metal pot"),  # 'heat' is not 'eat'
        ("move thermometer to inventory\x00", "move thermometer to inventory"),
    ],
)
def test_parse_cleans_game_commands(text: str, sent: str) -> None:
    assert act.parse(text) == act.Command(sent)


@pytest.mark.parametrize(
    "text", ["check valid actions", "Check valid actions.", "check available actions", "valid actions"]
)
def test_parse_recognizes_the_check(text: str) -> None:
    assert act.parse(text) == act.Command("check valid actions", check=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No action was given"),
        ("  \n\t ", "No action was given"),
        ("teleport to kitchen", "is not allowed in this benchmark"),
        ("connect battery to wire", "is not allowed"),
        ("dunk cup in water", "is not allowed"),
        ("Eat apple", "is not allowed"),
        ("flush toilet", "is not allowed"),
        ("close door to kitchen", "is not allowed"),
        ("reset task", "Resetting the task is not allowed"),
        ("go to " + "x" * 400, "too long"),
        ("y" * 100_000, "too long"),
        (None, "must be text"),
        (["go to kitchen"], "must be text"),
    ],
)
def test_parse_refuses_with_a_reason(text: Any, message: str) -> None:
    refusal = act.parse(text)
    assert isinstance(refusal, act.Refusal) and message in refusal.message and len(refusal.message) < 300


def test_game_replies_decide_validity() -> None:
    assert not act.recognized("No known action matches that input.")
    assert not act.recognized("Unknown action.  Type 'help' for a list of actions")
    assert act.recognized("The door is already open.")
    assert act.recognized("Ambiguous request: Please enter the number for the action you intended")
    assert act.ambiguous("Ambiguous request: Please enter the number") and not act.ambiguous("You move to the hallway.")


# --- AgentBoard's subgoal matching -----------------------------------------------------------------------------------


def test_subgoals_are_searched_as_regexes_and_latch() -> None:
    matcher = SubgoalMatcher(
        [
            "You move to the outside.",
            r"the thermometer measures a temperature of (2[0-9]|[3-9][0-9]) degrees celsius",
            "(?:Blue and yellow|Yellow and blue) paint mix to produce green paint",
        ]
    )
    assert matcher.update("This outside location is called the outside.") == 0.0
    assert matcher.update("You move to the outside.") == pytest.approx(1 / 3)
    assert matcher.update("the thermometer measures a temperature of 12 degrees celsius") == pytest.approx(1 / 3)
    assert matcher.update("the thermometer measures a temperature of 57 degrees celsius") == pytest.approx(2 / 3)
    assert matcher.update("You move to the kitchen.") == pytest.approx(2 / 3)  # latched: never lost
    assert not matcher.complete
    assert matcher.update("Yellow and blue paint mix to produce green paint.") == 1.0 and matcher.complete


def test_subgoal_matching_is_case_sensitive_and_per_observation() -> None:
    matcher = SubgoalMatcher(["You focus on the crocodile egg."])
    assert matcher.update("you focus on the crocodile egg.") == 0.0  # AgentBoard's re.search is case-sensitive
    assert matcher.update("You focus on the crocodile\negg.") == 0.0


def test_literal_subgoals_with_parentheses_and_broken_regexes_still_match() -> None:
    matcher = SubgoalMatcher(["You focus on the book (Sherlock Holmes).", "a [broken (regex", " tortoise"])
    assert matcher.update("You focus on the book (Sherlock Holmes).") == pytest.approx(1 / 3)
    assert matcher.update("There is a [broken (regex here") == pytest.approx(2 / 3)
    assert matcher.update("a giant tortoise egg") == 1.0


# --- task lists and sources ------------------------------------------------------------------------------------------


def test_fixture_tasks_are_labelled_as_fixtures() -> None:
    benchmark = ScienceWorld(source="fixture")
    tasks = benchmark.tasks("test")
    assert len(tasks) == len(fixture_tasks()) == 8
    assert tasks[0].task_id == "fixture-find-non-living-thing_225"
    assert all(t.info["fixture"] is True and t.info["variation_split"] == "test" for t in tasks)
    provenance = benchmark.provenance()
    assert provenance["source"] == "fixture" and provenance["fixture"] is True and provenance["files"] == []
    assert provenance["version"] == benchmark.version == "scienceworld-fixture-v1"
    assert provenance["progress"] == "native_score"
    assert provenance["tasks"] == [t.task_id for t in tasks]
    assert provenance["settings"] == {
        "max_steps": 30,
        "simplifications": "selfWateringFlowerPots,openContainers,openDoors,noElectricalAction",
        "fast_step": True,
        "deterministic": True,
        "jvm_pool_size": 4,
    }
    assert provenance["jvm_options"] == ["-XX:+UnlockExperimentalVMOptions", "-XX:hashCode=2"]
    json.dumps(provenance)


def test_labels_give_stable_ids_and_info(tmp_path: Path) -> None:
    path = write_labels(tmp_path, [label_row(var=5), label_row("use-thermometer", 21, difficulty="hard")])
    benchmark = ScienceWorld(data_dir=tmp_path)
    tasks = benchmark.tasks("test")
    assert [t.task_id for t in tasks] == ["lifespan-longest-lived_5", "use-thermometer_21"]
    assert tasks[1].info == {
        "env_name": "use-thermometer", "variation": 21, "fixture": False, "difficulty": "hard", "subgoals": 2,
        "agentboard_index": 1,
    }  # fmt: skip
    provenance = benchmark.provenance()
    assert provenance["source"] == "data_dir" and provenance["requested_source"] == "auto"
    assert provenance["version"] == "scienceworld-agentboard-v1" and provenance["progress"] == "agentboard_subgoals"
    assert provenance["files"] == [
        {"path": str(path), "sha256": __import__("hashlib").sha256(path.read_bytes()).hexdigest(), "records": 2}
    ]
    assert set(provenance["packages"]) == {"scienceworld", "py4j"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("{not json\n", "line 1 is not valid JSON"),
        ("", "has no rows"),
        ([label_row(), label_row()], "line 2 repeats lifespan-longest-lived_5 (line 1)"),
        ([label_row(subgoals=[])], "line 1 is malformed: 'subgoals'"),
        ([label_row(subgoals="You move")], "'subgoals' should be"),
        ([label_row(var=-1)], "additional_info.var"),
        ([label_row(var=True)], "additional_info.var"),
        ([label_row(name="../etc")], "additional_info.env_name"),
        ([label_row(goal=" ")], "missing goal"),
        ([label_row(difficulty=None)], "missing difficulty"),
        ([{**label_row(), "additional_info": "x"}], "missing additional_info"),
        (["a string"], "not a JSON object"),
    ],
)
def test_malformed_label_file_names_file_and_line(tmp_path: Path, rows: Any, message: str) -> None:
    path = write_labels(tmp_path, rows)
    with pytest.raises(SuiteError, match=re.escape(message)) as caught:
        ScienceWorld(data_dir=tmp_path, source="data_dir").tasks("test")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_source_resolution_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ScienceWorld().provenance()["source"] == "fixture"  # no data directory at all
    assert ScienceWorld(data_dir=tmp_path).provenance()["source"] == "fixture"  # one without the label file
    with pytest.raises(SuiteError, match="has no agentboard/labels/scienceworld/test.jsonl"):
        ScienceWorld(data_dir=tmp_path, source="data_dir")
    with pytest.raises(SuiteError, match="no data directory was given"):
        ScienceWorld(source="data_dir")
    with pytest.raises(SuiteError, match="does not exist"):
        ScienceWorld(data_dir=tmp_path / "missing")
    write_labels(tmp_path, [label_row()])
    monkeypatch.setenv("AGEMEM_DATA", str(tmp_path))
    assert ScienceWorld().provenance()["source"] == "data_dir"
    assert ScienceWorld(source="fixture").provenance()["source"] == "fixture"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"source": "hub"}, "source must be one of"),
        ({"max_steps": 0}, "max_steps must be an integer >= 1"),
        ({"max_steps": True}, "max_steps"),
        ({"max_steps": "30"}, "max_steps"),
        ({"fast_step": "yes"}, "fast_step must be true or false"),
        ({"deterministic": 1}, "deterministic must be true or false"),
        ({"jvm_pool_size": -1}, "jvm_pool_size must be an integer >= 0"),
        ({"simplifications": "easy,teleport"}, "unknown 'easy', 'teleport'"),
        ({"simplifications": None}, "simplifications must be a string"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteError, match=re.escape(message)) as caught:
        ScienceWorld(**options)
    assert str(caught.value).startswith("scienceworld") and "\n" not in str(caught.value)


def test_listing_tasks_starts_no_jvm(tmp_path: Path) -> None:
    write_labels(tmp_path, [label_row()])
    code = (
        "import sys; from benchmarks.scienceworld.benchmark import ScienceWorld;"
        f" b = ScienceWorld(data_dir={str(tmp_path)!r}); n = len(b.tasks('test')); b.provenance();"
        " b.make(b.tasks('test')[0]);"
        " print(n, 'scienceworld' in sys.modules, 'py4j' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1 False False"


def test_missing_scienceworld_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scienceworld", None)  # makes `import scienceworld` raise ImportError
    benchmark = ScienceWorld(source="fixture")
    episode = benchmark.make(benchmark.tasks("test")[0])
    with pytest.raises(SuiteError, match=re.escape("agemem-bench[scienceworld]")):
        episode.reset()


# --- real episodes on the JVM ----------------------------------------------------------------------------------------

needs_scienceworld = pytest.mark.skipif(
    importlib.util.find_spec("scienceworld") is None or shutil.which("java") is None,
    reason="scienceworld or java is missing (pip install 'agemem-bench[scienceworld]'; Java 17+)",
)


@pytest.fixture(scope="module")
def fixture_benchmark() -> Any:
    if importlib.util.find_spec("scienceworld") is None or shutil.which("java") is None:
        pytest.skip("scienceworld or java is missing (pip install 'agemem-bench[scienceworld]'; Java 17+)")
    benchmark = ScienceWorld(source="fixture", jvm_pool_size=2)
    yield benchmark
    benchmark.close()


def task(benchmark: ScienceWorld, env_name: str) -> TaskRef:
    return next(t for t in benchmark.tasks("test") if t.info["env_name"] == env_name)


def play_gold(benchmark: ScienceWorld, task_ref: TaskRef) -> list[Any]:
    """ScienceWorld's own gold action sequence, played through the adapter until the episode ends."""
    episode = benchmark.make(task_ref)
    gold = episode.gold_actions()
    episode.reset()
    results = []
    try:
        for action in gold:
            results.append(episode.step(action))
            if results[-1].done:
                break
    finally:
        episode.close()
    return results


def assert_solved(results: list[Any]) -> None:
    progress = [r.progress for r in results]
    assert all(r.valid for r in results), [r.observation.text for r in results if not r.valid]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert results[-1].success and results[-1].terminated and results[-1].reward == 1.0
    assert not any(r.done for r in results[:-1])


@needs_scienceworld
def test_fixture_variations_are_the_packages_first_test_variations(fixture_benchmark: ScienceWorld) -> None:
    server = fixture_benchmark.pool.acquire()
    try:
        assert [(name, server.variations(name, "test")[0]) for name, _ in FIXTURE_TASKS] == list(FIXTURE_TASKS)
    finally:
        fixture_benchmark.pool.release(server)


@needs_scienceworld
def test_fixture_conforms(fixture_benchmark: ScienceWorld) -> None:
    assert check_benchmark(fixture_benchmark, n_tasks=2) == []


@needs_scienceworld
@pytest.mark.parametrize("env_name", ["lifespan-longest-lived", "chemistry-mix-paint-secondary-color"])
def test_gold_path_solves_fixture_tasks_natively(fixture_benchmark: ScienceWorld, env_name: str) -> None:
    results = play_gold(fixture_benchmark, task(fixture_benchmark, env_name))
    assert_solved(results)
    assert results[-1].metrics["native_score"] == 100.0 and results[-1].metrics["native_success"] == 1.0
    assert "label_progress" not in results[-1].metrics  # fixture tasks: native progress is the progress
    assert [r.progress for r in results] == [r.metrics["native_progress"] for r in results]
    assert results[-1].observation.text.endswith("(The task is completed.)")


@needs_scienceworld
@pytest.mark.slow
def test_gold_path_solves_every_fixture_task(fixture_benchmark: ScienceWorld) -> None:
    for task_ref in fixture_benchmark.tasks("test"):
        results = play_gold(fixture_benchmark, task_ref)
        assert_solved(results)
        assert results[-1].metrics["native_score"] == 100.0, task_ref.task_id


@needs_scienceworld
def test_invalid_forbidden_and_check_actions(fixture_benchmark: ScienceWorld) -> None:
    episode = fixture_benchmark.make(task(fixture_benchmark, "lifespan-longest-lived"))
    first = episode.reset()
    assert first.text.startswith("This room is called") and first.goal and first.goal.startswith("Your task is to")
    unknown = episode.step("fly to the moon")
    assert (unknown.valid, unknown.observation.text) == (False, "No known action matches that input.")
    forbidden = episode.step("eat apple")
    assert not forbidden.valid and "is not allowed in this benchmark" in forbidden.observation.text
    listing = episode.step("check valid actions")
    assert listing.valid and listing.observation.text.startswith("Valid actions (OBJ is one of the objects): ")
    templates = listing.observation.text.splitlines()[0]
    assert "look around" in templates and "check valid actions" in templates and "focus on OBJ" in templates
    assert not re.search(r"\b(eat|dunk|flush|teleport|connect|reset)\b", templates)
    assert listing.observation.text.splitlines()[1].startswith("Objects: agent, air")
    assert episode.step("check valid actions").observation.text == listing.observation.text  # costs no game time
    moved = episode.step("go to hallway")
    assert moved.valid and moved.observation.text == "You move to the hallway."
    assert [r.progress for r in (unknown, forbidden, listing, moved)] == [0.0, 0.0, 0.0, 0.25]  # native 25
    episode.close()


@needs_scienceworld
def test_ambiguous_commands_ask_for_a_number(fixture_benchmark: ScienceWorld) -> None:
    episode = fixture_benchmark.make(task(fixture_benchmark, "chemistry-mix-paint-secondary-color"))
    episode.reset()
    asked = episode.step("look at wood cup")  # the art studio holds several wood cups
    assert asked.valid and act.ambiguous(asked.observation.text), asked.observation.text
    listing = episode.step("check valid actions")
    assert listing.valid and listing.observation.text.startswith("The game is waiting for the number")
    assert "0, 1, 2" in listing.observation.text
    chosen = episode.step("1")
    assert chosen.valid and chosen.observation.text.startswith("a wood cup (containing")
    episode.step("look at wood cup")
    other = episode.step("look around")  # anything but a number cancels the choice: the game's own rule
    assert not other.valid and other.observation.text.startswith("Unknown action.")
    episode.close()


@needs_scienceworld
def test_failure_action_ends_the_episode(fixture_benchmark: ScienceWorld) -> None:
    episode = fixture_benchmark.make(task(fixture_benchmark, "lifespan-shortest-lived"))
    episode.reset()
    outside = episode.step("go to outside")
    assert outside.metrics["native_score"] == 50.0 and outside.progress == 0.5
    result = episode.step("focus on crocodile egg")  # not the shortest-lived animal: ScienceWorld scores -100
    assert result.terminated and not result.success and result.valid and result.reward == 0.0
    assert result.metrics["native_score"] == -100.0 and result.progress == 0.5  # progress is a running max
    assert result.observation.text == "You focus on the crocodile egg.\n(The task has failed.)"
    with pytest.raises(RuntimeError):
        episode.step("look around")
    episode.close()


@needs_scienceworld
def test_step_cap_truncates_and_finished_episodes_refuse_steps(fixture_benchmark: ScienceWorld) -> None:
    benchmark = ScienceWorld(source="fixture", max_steps=3)
    benchmark.pool = fixture_benchmark.pool  # share the warm JVMs
    episode = benchmark.make(benchmark.tasks("test")[0])
    assert episode.max_steps == 3
    with pytest.raises(RuntimeError):
        episode.step("look around")
    episode.reset()
    results = [episode.step(a) for a in ("look around", "check valid actions", "fly")]
    assert [r.truncated for r in results] == [False, False, True] and not any(r.terminated for r in results)
    with pytest.raises(RuntimeError):
        episode.step("look around")
    episode.reset()  # a reset starts over
    assert not episode.step("look around").done
    episode.close()
    episode.close()


@needs_scienceworld
def test_fast_and_plain_steps_agree(fixture_benchmark: ScienceWorld) -> None:
    plain = ScienceWorld(source="fixture", fast_step=False)
    plain.pool = fixture_benchmark.pool
    task_ref = task(fixture_benchmark, "lifespan-shortest-lived")
    fast_results, plain_results = play_gold(fixture_benchmark, task_ref), play_gold(plain, task_ref)
    assert [(r.observation.text, r.metrics["native_score"], r.terminated) for r in fast_results] == [
        (r.observation.text, r.metrics["native_score"], r.terminated) for r in plain_results
    ]
    assert fast_results[-1].success


@needs_scienceworld
def test_runs_are_identical_across_loads_and_jvms(fixture_benchmark: ScienceWorld) -> None:
    """Wandering animals and room contents in the same order every time (the constant identity hash, server.py)."""
    task_ref = task(fixture_benchmark, "lifespan-longest-lived")
    actions = ["go to hallway", "go to greenhouse", "go to outside", "look around", "wait", "look around"]
    runs, pids = [], set()
    for _ in range(2):
        first, other = fixture_benchmark.make(task_ref), fixture_benchmark.make(task_ref)
        for episode in (first, other):  # two live episodes: two JVMs
            texts = [episode.reset().text] + [episode.step(a).observation.text for a in actions]
            runs.append(texts)
            pids.add(episode.server.pid if episode.server else None)
        first.close()
        other.close()
    assert len(pids) >= 2 and all(run == runs[0] for run in runs)
    assert "egg" in runs[0][-1]  # the animals' eggs are there to see


def _kill(server: Server) -> None:
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    assert not server.alive()


@needs_scienceworld
def test_a_killed_jvm_is_replaced_and_the_episode_replayed(fixture_benchmark: ScienceWorld) -> None:
    episode = fixture_benchmark.make(task(fixture_benchmark, "chemistry-mix-paint-secondary-color"))
    gold = episode.gold_actions()
    episode.reset()
    results = [episode.step(action) for action in gold[:3]]
    assert episode.server is not None
    killed = episode.server
    _kill(killed)
    for action in gold[3:]:
        results.append(episode.step(action))
        if results[-1].done:
            break
    assert episode.server is not killed and episode.server.alive()
    assert_solved(results)
    assert [r.metrics["jvm_restarts"] for r in results[2:4]] == [0.0, 1.0]
    assert results[-1].metrics["replay_mismatches"] == 0.0 and results[-1].metrics["native_score"] == 100.0
    episode.close()


@needs_scienceworld
def test_a_jvm_that_dies_again_in_the_same_step_is_an_error(
    fixture_benchmark: ScienceWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    episode = fixture_benchmark.make(task(fixture_benchmark, "find-plant"))
    episode.reset()
    episode.step("look around")

    def dead(self: Server, action: str, fast: bool = True) -> Any:
        raise ServerDied("simulated")

    monkeypatch.setattr(Server, "step", dead)
    with pytest.raises(ScienceWorldCrash, match="the JVM died again while restoring step 2") as caught:
        episode.step("look around")
    assert not isinstance(caught.value, SuiteError)  # the runner records it as an episode error, and goes on
    monkeypatch.undo()
    episode.close()


@needs_scienceworld
def test_a_dead_idle_jvm_is_not_handed_out(fixture_benchmark: ScienceWorld) -> None:
    pool = fixture_benchmark.pool
    server = pool.acquire()
    pool.release(server)
    _kill(server)
    episode = fixture_benchmark.make(task(fixture_benchmark, "find-plant"))
    assert episode.reset().text.startswith("This room is called")
    assert episode.server is not server and episode.jvm_restarts == 0
    episode.close()


@needs_scienceworld
def test_pool_reuses_bounds_and_closes_jvms(fixture_benchmark: ScienceWorld) -> None:
    pool = JVMPool(max_idle=1)
    first, second = pool.acquire(), pool.acquire()
    assert first.pid != second.pid and pool.started == 2
    pool.release(first)
    pool.release(second)  # over the bound: stopped
    assert pool.idle == 1 and first.alive() and not second.alive()
    assert pool.acquire() is first and pool.started == 2  # reused, no new JVM
    pool.release(first)
    pool.close()
    assert pool.idle == 0 and not first.alive()


@needs_scienceworld
def test_concurrent_episodes_each_get_their_own_jvm(fixture_benchmark: ScienceWorld) -> None:
    task_ref = task(fixture_benchmark, "lifespan-longest-lived")
    outcomes: dict[int, Any] = {}

    def play(slot: int) -> None:
        episode = fixture_benchmark.make(task_ref)
        episode.reset()
        outcomes[slot] = (episode.server.pid if episode.server else None, episode.step("go to hallway"))
        time.sleep(0.5)  # both episodes live at once
        outcomes[slot] += (episode.step("go to greenhouse"),)
        episode.close()

    threads = [threading.Thread(target=play, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 2 and outcomes[0][0] != outcomes[1][0]
    for _, moved, greenhouse in outcomes.values():
        assert moved.observation.text == "You move to the hallway."
        assert greenhouse.observation.text == "You move to the greenhouse."


@needs_scienceworld
def test_unknown_task_or_variation_is_a_one_line_error(fixture_benchmark: ScienceWorld, tmp_path: Path) -> None:
    write_labels(tmp_path, [label_row("use-thermometer", 100_000), label_row("no-such-task", 1)])
    benchmark = ScienceWorld(data_dir=tmp_path)
    benchmark.pool = fixture_benchmark.pool
    too_big, unknown = (benchmark.make(t) for t in benchmark.tasks("test"))
    with pytest.raises(SuiteError, match=r"use-thermometer has variations 0-\d+, not 100000"):
        too_big.reset()
    with pytest.raises(SuiteError, match="scienceworld task no-such-task_1: Unknown taskName"):
        unknown.reset()
    too_big.close()
    unknown.close()


# --- AgentBoard's real label set -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Any:
    if not LABELS.is_file():
        pytest.skip(f"AgentBoard ScienceWorld labels not found at {LABELS} (set AGEMEM_DATA to the shared data)")
    benchmark = ScienceWorld(data_dir=REAL_DATA, source="data_dir", jvm_pool_size=1)
    yield benchmark
    benchmark.close()


def test_real_task_list(real: ScienceWorld) -> None:
    tasks = real.tasks("test")
    assert len(tasks) == 90 and len({t.task_id for t in tasks}) == 90
    assert tasks[0].task_id == "lifespan-longest-lived_5" and tasks[-1].task_id == "use-thermometer_22"
    assert len({t.info["env_name"] for t in tasks}) == 16
    assert sum(t.info["difficulty"] == "easy" for t in tasks) == 34
    assert sum(t.info["difficulty"] == "hard" for t in tasks) == 56
    provenance = real.provenance()
    assert provenance["files"][0]["records"] == 90 and len(provenance["files"][0]["sha256"]) == 64
    assert provenance["tasks"] == [t.task_id for t in tasks]


needs_real = pytest.mark.skipif(
    importlib.util.find_spec("scienceworld") is None or shutil.which("java") is None,
    reason="scienceworld or java is missing",
)


@needs_real
def test_real_tasks_conform(real: ScienceWorld) -> None:
    assert check_benchmark(real, n_tasks=2) == []


# Label tasks whose subgoals ScienceWorld's gold path meets (54 of the 90 do; the others label another solution,
# e.g. another animal, or texts the simplifications never show, e.g. "The freezer is now open.").
GOLD_SAMPLE = ("lifespan-longest-lived-then-shortest-lived_5", "chemistry-mix-paint-secondary-color_6")
SLOW_GOLD_SAMPLE = ("measure-melting-point-known-substance_5", "use-thermometer_5", "identify-life-stages-1_7")


def assert_gold_reaches_agentboard_success(real: ScienceWorld, task_ids: tuple[str, ...]) -> None:
    benchmark = ScienceWorld(data_dir=REAL_DATA, source="data_dir", max_steps=100)
    benchmark.pool = real.pool
    for task_id in task_ids:
        task_ref = next(t for t in benchmark.tasks("test") if t.task_id == task_id)
        results = play_gold(benchmark, task_ref)
        assert_solved(results)
        progress = [r.progress for r in results]
        assert progress == [r.metrics["label_progress"] for r in results]
        assert len(set(progress)) >= 3  # it rises in steps, not only at the end
        n = len(benchmark.task(task_id).subgoals)
        assert all(round(p * n, 9) == int(round(p * n, 9)) for p in progress)  # fractions of the labels
        assert results[-1].metrics["native_score"] == 100.0, task_id


@needs_real
def test_gold_paths_reach_agentboard_success(real: ScienceWorld) -> None:
    assert_gold_reaches_agentboard_success(real, GOLD_SAMPLE)


@needs_real
@pytest.mark.slow
def test_more_gold_paths_reach_agentboard_success(real: ScienceWorld) -> None:
    assert_gold_reaches_agentboard_success(real, SLOW_GOLD_SAMPLE)


@needs_real
def test_labelled_goal_and_diverging_definitions(real: ScienceWorld) -> None:
    """find-living-thing_6: the gold path solves it natively (the butterfly) but the labels name the dove."""
    episode = real.make(next(t for t in real.tasks("test") if t.task_id == "find-living-thing_6"))
    first = episode.reset()
    assert first.goal == real.task("find-living-thing_6").label_goal
    episode.close()
    benchmark = ScienceWorld(data_dir=REAL_DATA, source="data_dir", max_steps=100)
    benchmark.pool = real.pool
    results = play_gold(benchmark, next(t for t in benchmark.tasks("test") if t.task_id == "find-living-thing_6"))
    last = results[-1]
    assert last.terminated and not last.success and last.progress < 1.0
    assert last.metrics["native_score"] == 100.0 and last.metrics["native_success"] == 1.0
    assert last.observation.text.endswith("(The game's task is over.)")


@needs_real
@pytest.mark.slow
def test_every_real_task_loads_in_the_simulator(real: ScienceWorld) -> None:
    started = time.perf_counter()
    for task_ref in real.tasks("test"):
        episode = real.make(task_ref)
        first = episode.reset()
        assert first.text.startswith("This ") and first.goal == real.task(task_ref.task_id).label_goal
        limited = StepLimit(episode, 1)
        assert limited.step("look around").observation.text.startswith("This "), task_ref.task_id
        episode.close()
    print(f"90 ScienceWorld tasks loaded in {time.perf_counter() - started:.1f} s")
