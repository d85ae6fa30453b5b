"""The PDDL adapter: parser tolerance, STRIPS semantics, fixtures proven solvable, episode rules, and the real 60."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.api import StepLimit, TaskRef
from benchmarks.conformance import check_benchmark
from benchmarks.errors import SuiteError
from benchmarks.pddl import data, generators
from benchmarks.pddl.benchmark import PDDL, PDDLEpisode, Settings
from benchmarks.pddl.parser import PDDLError, parse_domain, parse_problem, parse_sexpr, tokenize
from benchmarks.pddl.planner import plan
from benchmarks.pddl.strips import Action, Simulator
from benchmarks.pddl.text import normalize

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("AGEMEM_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(autouse=True)
def _no_env_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests only see a data directory they pass explicitly."""
    monkeypatch.delenv("AGEMEM_DATA", raising=False)


def fixture_episode(task_id: str, **options: Any) -> PDDLEpisode:
    benchmark = PDDL(source="fixture", **options)
    return benchmark.make(TaskRef("pddl", "test", task_id))


def play_plan(episode: PDDLEpisode, actions: list[Action]) -> list[Any]:
    episode.reset()
    return [episode.step(episode.language.action(action)) for action in actions]


def assert_solves(results: list[Any]) -> None:
    progress = [r.progress for r in results]
    assert all(r.valid for r in results)
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert results[-1].success and results[-1].terminated and results[-1].reward == 1.0
    assert not any(r.done for r in results[:-1]) and all(r.reward == 0.0 for r in results[:-1])


# --- parser ----------------------------------------------------------------------------------------------------------

TOLERANT_DOMAIN = """
; a comment (with parentheses
(DEFINE (DOMAIN Toy)
  (:types thing - object box - thing)
  (:predicates (in ?x - thing ?b - box) (open ?b - box) (held ?x) (Broken ?x))
  (:constants lid - thing)
  (:action Take
    :parameters (?x - thing ?b - box?c - box)
    :precondition (and (in ?x ?b) (open ?b) (not (broken ?x)) (not (= ?b ?c)) (open ?c))
    :effect (and (held ?x) (not (in ?x ?b)))))
"""
TOLERANT_PROBLEM = """
(define (problem p1) (:domain toy)
  (:objects ball - thing b1 B2 - box)
  (:init (in ball b1) (open b1) (open b2) (in lid b1) (broken lid))
  (:goal (and (held ball) (not (in ball b1)))))
"""


FUZZ_SEEDS = [
    "(define (domain d) (:action))",
    "(define (domain d) (:action a :parameters ?x))",
    "(define (domain d) (:predicates (p ?x -)) (:action a))",
    "(define (domain d) (:types - t))",
    "(define (problem p) (:domain toy) (:init (open)) (:goal ()))",
    "(define (problem p) (:domain toy) (:goal (not (not (held ball)))))",
    "(define (problem p) (:domain toy) (:objects x - (either a b)) (:goal (held x)))",
]


def test_normalize_strips_noise() -> None:
    assert normalize("  Action:  (Stack b1, on B2).  ") == "stack b1 on b2"
    assert normalize("> **put down b1**") == "put down b1"
    assert normalize("action-x b1") == "action-x b1"  # only a labelled prefix is stripped


def test_tokenizer_splits_glued_variables_and_drops_comments() -> None:
    assert tokenize("(?l - level?l1 - level) ; gone\n(A)") == [
        "(",
        "?l",
        "-",
        "level",
        "?l1",
        "-",
        "level",
        ")",
        "(",
        "a",
        ")",
    ]


def test_tolerant_domain_constants_after_predicates_case_and_glued_variables() -> None:
    domain = parse_domain(TOLERANT_DOMAIN)
    assert domain.name == "toy" and domain.constants == {"lid": "thing"}
    take = domain.operators["take"]
    assert [var for var, _ in take.params] == ["?x", "?b", "?c"] and take.params[2] == ("?c", "box")
    problem = parse_problem(TOLERANT_PROBLEM, domain)
    assert problem.objects == {"lid": "thing", "ball": "thing", "b1": "box", "b2": "box"}
    assert ("broken", "lid") in problem.init and len(problem.goal) == 2 and not problem.goal[1].positive


def test_negative_preconditions_equality_and_constants() -> None:
    sim = Simulator(parse_problem(TOLERANT_PROBLEM, parse_domain(TOLERANT_DOMAIN)))
    state = sim.initial_state
    # lid is broken (negative precondition) and ?b = ?c is excluded (inequality): only ball from b1 via b2 remains.
    assert sim.applicable(state) == [Action("take", ("ball", "b1", "b2"))]
    unmet = sim.unmet(Action("take", ("lid", "b1", "b2")), state)
    assert [(lit.atom, lit.positive) for lit in unmet] == [(("broken", "lid"), False)]
    episode = PDDLEpisode(sim.problem, Settings())
    episode.reset()
    refused = episode.step("take lid b1 b1")
    assert not refused.valid and "it is not the case that broken lid; b1 is the same as b1" in refused.observation.text
    after = sim.apply(Action("take", ("ball", "b1", "b2")), state)
    assert ("held", "ball") in after and ("in", "ball", "b1") not in after and sim.is_goal(after)
    with pytest.raises(ValueError, match="is not a box"):
        sim.unmet(Action("take", ("ball", "ball", "b1")), state)


def test_delete_then_add_semantics() -> None:
    domain = parse_domain(
        "(define (domain d) (:predicates (p ?x)) (:action flip :parameters (?x) :precondition (p ?x)"
        " :effect (and (not (p ?x)) (p ?x))))"
    )
    sim = Simulator(parse_problem("(define (problem q) (:domain d) (:objects a) (:init (p a)) (:goal (p a)))", domain))
    assert ("p", "a") in sim.apply(Action("flip", ("a",)), sim.initial_state)  # add wins over delete


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "(define (domain d) (:predicates (p)) (:action a :parameters () :precondition (or (p) (p)) :effect (p)))",
            "'or'",
        ),
        ("(define (domain d) (:functions (f)) (:action a :parameters () :effect ()))", ":functions"),
        ("(define (domain d) (:predicates (p)) (:action a :parameters () :effect (and (q))))", "unknown predicate"),
        ("(define (domain d) (:predicates (p ?x)) (:action a :parameters (?x) :effect (p)))", "takes 1 arguments"),
        ("(define (domain d) (:predicates (p ?x)) (:action a :parameters (?x) :effect (p ?y)))", "'?y'"),
        ("(define (domain d) (:predicates (p)) (:action a :parameters () :effect (p))", "unclosed"),
        ("(define (domain d)))", "unbalanced"),
        ("(define (problem d))", "domain"),
    ],
)
def test_unsupported_or_malformed_domains_are_refused(text: str, message: str) -> None:
    with pytest.raises(PDDLError, match=message):
        parse_domain(text)


def test_malformed_problems_are_refused() -> None:
    domain = parse_domain(TOLERANT_DOMAIN)
    head = "(define (problem p) (:domain toy) (:objects ball - thing b1 - box) "
    with pytest.raises(PDDLError, match="unknown object"):
        parse_problem(head + "(:init (open b9)) (:goal (held ball)))", domain)
    with pytest.raises(PDDLError, match="takes 2 arguments"):
        parse_problem(head + "(:init (in ball)) (:goal (held ball)))", domain)
    with pytest.raises(PDDLError, match="no goal"):
        parse_problem(head + "(:init))", domain)
    with pytest.raises(PDDLError, match="not 'toy'"):
        parse_problem("(define (problem p) (:domain other) (:goal (held lid)))", domain)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="()?-:; abxyz\n\t", max_size=60) | st.sampled_from(FUZZ_SEEDS))
def test_parser_fails_only_with_pddl_errors(text: str) -> None:
    toy = parse_domain(TOLERANT_DOMAIN)
    for parse in (parse_sexpr, parse_domain, lambda t: parse_problem(t, toy)):
        try:
            parse(text)
        except PDDLError:
            pass


# --- fixtures --------------------------------------------------------------------------------------------------------


def test_fixture_problems_are_small_deterministic_and_bfs_solvable() -> None:
    """Each fixture is proven solvable by breadth-first search, at the optimal length the spec records (<= 30)."""
    assert {spec.family for spec in generators.FIXTURES} == set(data.FAMILIES)
    for spec in generators.FIXTURES:
        assert spec.make() == spec.make()  # seeded generation
        domain_text, problem_text = generators.fixture_text(spec.task_id)
        sim = Simulator(parse_problem(problem_text, parse_domain(domain_text)))
        result = plan(sim, "bfs", max_expansions=50_000)
        assert result.plan is not None, spec.task_id
        assert len(result.plan) == spec.optimal_steps <= 30, spec.task_id
        assert_solves(play_plan(fixture_episode(spec.task_id), result.plan))


def test_fixture_conforms_and_is_labelled() -> None:
    benchmark = PDDL(source="fixture")
    assert check_benchmark(benchmark, n_tasks=len(generators.FIXTURES)) == []
    assert check_benchmark(benchmark, n_tasks=3, actions=("look around", "pick up b1", "check valid actions")) == []
    tasks = benchmark.tasks("test")
    assert len(tasks) == 12 and all(t.info["fixture"] and t.task_id.startswith("fixture-") for t in tasks)
    provenance = benchmark.provenance()
    json.dumps(provenance)
    assert provenance["source"] == "fixture" and provenance["fixture"] is True
    assert benchmark.version == provenance["version"] == "pddl-fixture-v1"
    assert provenance["tasks"] == [t.task_id for t in tasks] and provenance["settings"]["max_steps"] == 30


# --- the episode -----------------------------------------------------------------------------------------------------


def test_reset_shows_state_sentences_and_goal() -> None:
    episode = fixture_episode("fixture-blockworld-1")
    first = episode.reset()
    assert first.goal and first.goal.startswith("The goal is to satisfy the following conditions:")
    assert first.goal in first.text and "the arm is empty." in first.text
    assert "check valid actions" in first.text and first.valid_actions is None
    assert episode.max_steps == 30


def test_invalid_actions_change_nothing_and_say_why() -> None:
    episode = fixture_episode("fixture-blockworld-1")
    episode.reset()
    before = episode.step("look around").observation.text
    cases = {
        "fly to the moon": "not a recognised action",
        "": "empty",
        "pick up b9": "no object named 'b9'",
        "stack b1 on b2": "cannot stack b1 on b2 now, because its precondition is not met: it requires that the arm is holding b1",
    }
    for action, reason in cases.items():
        result = episode.step(action)
        assert not result.valid and reason in result.observation.text, action
        assert (result.progress, result.reward, result.done) == (0.0, 0.0, False)
    assert episode.step("look around").observation.text == before


def test_check_valid_actions_lists_exactly_the_applicable_actions() -> None:
    episode = fixture_episode("fixture-gripper-2")
    episode.reset()
    result = episode.step("check valid actions")
    assert result.valid and result.observation.text.startswith("Valid actions are: ")
    listed = result.observation.text.removeprefix("Valid actions are: ").removesuffix(".").split(", ")
    assert listed == episode.valid_actions() and len(listed) == len(episode.simulator.applicable(episode.state))
    assert any(command.startswith("move from") for command in listed)
    for command in listed:  # every listed command is accepted as written
        fresh = fixture_episode("fixture-gripper-2")
        fresh.reset()
        assert fresh.step(command).valid, command


@pytest.mark.parametrize(
    "spelling",
    ["pick up b2", "  PICK   UP  B2. ", "Pick-up b2!", "pickup b2", "(pickup b2)", "Action: pick up b2", "pick_up b2"],
)
def test_action_parsing_tolerates_case_spacing_and_forms(spelling: str) -> None:
    episode = fixture_episode("fixture-blockworld-1")  # b2 starts clear on the table
    episode.reset()
    assert episode.language.parse(spelling) == [Action("pickup", ("b2",))]
    result = episode.step(spelling)
    assert result.valid and "the arm is holding b2." in result.observation.text


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("x" * 100_000, "not a recognised action"),
        ("pick up b2" * 60, "not a recognised action"),
        ("🧱\x00\udcff", "not a recognised action"),
        ("((((", "not a recognised action"),
        ("stack ? on ?", "no object named '?'"),
        ("pick up", "not a recognised action"),
    ],
)
def test_untrusted_actions_are_answered_not_raised(action: str, reason: str) -> None:
    episode = fixture_episode("fixture-blockworld-1")
    episode.reset()
    result = episode.step(action)
    assert not result.valid and not result.done and reason in result.observation.text


def test_generic_form_for_every_operator_and_multi_word_templates() -> None:
    episode = fixture_episode("fixture-tyreworld-1")
    episode.reset()
    language = episode.language
    assert (
        language.parse("put-away r1 boot")
        == language.parse("put away r1 in boot")
        == [Action("put-away", ("r1", "boot"))]
    )
    assert language.parse("open boot") == [Action("open", ("boot",))]
    assert language.action(Action("remove-wheel", ("w1", "the-hub1"))) == "remove wheel w1 from the-hub1"


def test_progress_is_a_running_max_and_only_valid_actions_count() -> None:
    episode = fixture_episode("fixture-gripper-1")  # two balls to carry to roomb
    result = plan(episode.simulator, "bfs")
    episode.reset()
    history = []
    for action in result.plan:  # type: ignore[union-attr]
        history.append(episode.step("drop everything").progress)  # invalid: progress stays
        history.append(episode.step(episode.language.action(action)).progress)
    assert history == sorted(history) and history[-1] == 1.0 and history.count(1.0) == 1
    undo = fixture_episode("fixture-gripper-1")
    undo.reset()
    steps = [undo.language.action(a) for a in result.plan]  # type: ignore[union-attr]
    drop = next(i for i, s in enumerate(steps) if s.startswith("drop"))
    for command in steps[: drop + 1]:
        reached = undo.step(command)
    assert reached.progress == 0.5 and reached.metrics["goal_fraction"] == 0.5
    ball = steps[drop].split()[1]
    again = undo.step(f"pick {ball} in roomb with left")  # undo the delivered ball: the fraction drops, progress not
    assert again.valid and again.metrics["goal_fraction"] == 0.0 and again.progress == 0.5


def test_step_cap_option_and_episode_lifecycle() -> None:
    episode = fixture_episode("fixture-blockworld-1", max_steps=3)
    assert episode.max_steps == 3
    with pytest.raises(RuntimeError):
        episode.step("look around")
    limited = StepLimit(episode, episode.max_steps)
    limited.reset()
    results = [limited.step("look around") for _ in range(3)]
    assert results[-1].truncated and not results[-1].terminated
    solved = fixture_episode("fixture-barman-1")
    assert_solves(play_plan(solved, plan(solved.simulator, "bfs").plan))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        solved.step("look around")


def test_show_valid_actions_option() -> None:
    episode = fixture_episode("fixture-blockworld-1", show_valid_actions=True)
    first = episode.reset()
    assert first.valid_actions and list(first.valid_actions) == episode.valid_actions()


@pytest.mark.parametrize(
    "options", [{"source": "web"}, {"max_steps": 0}, {"max_steps": True}, {"show_valid_actions": "yes"}]
)
def test_invalid_options(options: dict[str, Any]) -> None:
    with pytest.raises(SuiteError, match="pddl"):
        PDDL(**options)


def test_sources_and_unknown_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert PDDL().resolved_source == "fixture"
    assert PDDL(data_dir=tmp_path).resolved_source == "fixture"  # no agentboard/pddl folder there
    with pytest.raises(SuiteError, match="no data directory"):
        PDDL(source="data_dir")
    with pytest.raises(SuiteError, match="has no agentboard/pddl"):
        PDDL(source="data_dir", data_dir=tmp_path)
    benchmark = PDDL(source="fixture")
    with pytest.raises(SuiteError, match="no task"):
        benchmark.make(TaskRef("pddl", "test", "gripper-1"))
    with pytest.raises(SuiteError, match="belongs to benchmark"):
        benchmark.make(TaskRef("babyai", "test", "fixture-gripper-1"))
    with pytest.raises(SuiteError, match="no split"):
        benchmark.tasks("train")


# --- a data folder laid out like AgentBoard's (built here from fixtures, so it runs offline) ---------------------------


def write_folder(root: Path, labels: list[dict[str, Any]] | None) -> Path:
    folder = root / data.FOLDER
    for family in data.FAMILIES:
        (folder / family).mkdir(parents=True)
        (folder / f"{family}.pddl").write_text(generators.DOMAINS[family])
    for number, seed in ((1, 5), (10, 3), (2, 2)):
        (folder / "blockworld" / f"problem{number}.pddl").write_text(generators.blockworld(3 + number % 3, seed))
    (folder / "gripper" / "prob01.pddl").write_text(generators.gripper(2, 1))
    if labels is not None:
        (folder / data.LABEL_FILE).write_text(json.dumps(labels))
    return root


def test_problem_numbering_follows_the_sorted_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGEMEM_DATA", str(write_folder(tmp_path, labels=None)))
    benchmark = PDDL()  # auto: the data directory from $AGEMEM_DATA holds agentboard/pddl
    tasks = benchmark.tasks("test")
    assert [(t.task_id, t.info["problem_file"]) for t in tasks] == [
        ("gripper-1", "gripper/prob01.pddl"),
        ("blockworld-1", "blockworld/problem1.pddl"),
        ("blockworld-2", "blockworld/problem10.pddl"),
        ("blockworld-3", "blockworld/problem2.pddl"),
    ]
    provenance = benchmark.provenance()
    assert (
        benchmark.version == "pddl-agentboard-v1" and provenance["source"] == "data_dir" and not provenance["fixture"]
    )
    assert [f["path"] for f in provenance["files"]][:2] == [
        "agentboard/pddl/gripper.pddl",
        "agentboard/pddl/gripper/prob01.pddl",
    ]
    assert check_benchmark(benchmark, n_tasks=4) == []


def test_a_label_file_that_disagrees_with_the_listing_is_refused(tmp_path: Path) -> None:
    wrong = [{"subtask": "blockworld", "problem_index": 1, "domain_file": "blockworld.pddl",
              "problem_file": "blockworld/problem2.pddl"}]  # fmt: skip
    with pytest.raises(SuiteError, match="sorted folder has 'blockworld/problem10.pddl'"):
        PDDL(source="data_dir", data_dir=write_folder(tmp_path, labels=wrong)).tasks("test")


# --- the real AgentBoard problems -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> PDDL:
    if not (REAL_DATA / data.FOLDER).is_dir():
        pytest.skip(f"real AgentBoard PDDL data not found at {REAL_DATA / data.FOLDER} (set AGEMEM_DATA)")
    return PDDL(source="data_dir", data_dir=REAL_DATA)


def test_real_sixty_problems_parse_with_agentboard_numbering(real: PDDL) -> None:
    tasks = real.tasks("test")
    assert len(tasks) == 60 and len({t.task_id for t in tasks}) == 60
    counts = {family: sum(t.info["family"] == family for t in tasks) for family in data.FAMILIES}
    assert counts == data.EXPECTED_COUNTS
    by_id = {t.task_id: t for t in tasks}
    assert by_id["blockworld-1"].info["problem_file"] == "blockworld/problem1.pddl"
    assert by_id["blockworld-2"].info["problem_file"] == "blockworld/problem10.pddl"
    for task in tasks:
        episode = real.make(task)
        assert len(episode.problem.goal) == task.info["n_subgoals"], task.task_id  # AgentBoard's subgoal count
        first = episode.reset()
        assert first.goal and first.text and episode.valid_actions(), task.task_id
    provenance = real.provenance()
    json.dumps(provenance)
    assert provenance["source"] == "data_dir" and provenance["tasks"] == [t.task_id for t in tasks]
    assert len(provenance["files"]) == 65 and all(len(f["sha256"]) == 64 for f in provenance["files"])


# Oracle plans within a bounded search (budget in expansions). Larger two-cocktail barman problems (barman-8,
# barman-12) defeat these heuristic searches within budget; the sample below is solvable in well under a second each.
ORACLE_SAMPLE = {
    "gripper-1": "gbfs",
    "gripper-6": "gbfs",
    "blockworld-1": "gbfs",
    "blockworld-2": "agenda",
    "barman-1": "gbfs",
    "barman-6": "agenda",
    "tyreworld-1": "gbfs",
    "tyreworld-5": "gbfs",
}


def test_real_oracle_plans_reach_success(real: PDDL) -> None:
    by_id = {t.task_id: t for t in real.tasks("test")}
    for task_id, strategy in ORACLE_SAMPLE.items():
        episode = real.make(by_id[task_id])
        result = plan(episode.simulator, strategy, max_expansions=2_000)
        assert result.plan is not None, task_id
        assert_solves(play_plan(episode, result.plan))


def test_real_conforms(real: PDDL) -> None:
    assert check_benchmark(real, n_tasks=3) == []
    tyre = real.make(next(t for t in real.tasks("test") if t.task_id == "tyreworld-1"))
    tyre.reset()
    assert tyre.step("check valid actions").observation.text == "Valid actions are: open boot."
    result = tyre.step("fetch jack from boot")
    assert not result.valid and "boot is open" in result.observation.text
