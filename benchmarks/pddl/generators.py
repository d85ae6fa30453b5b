"""Self-written offline fixtures: the four domain families and seeded problem generators (not AgentBoard data).

The domains below are written for this project from the classic STRIPS formulations (same predicate and operator
names as AgentBoard's files, so the same English templates apply). Problems are generated as PDDL text and go
through the same parser as real files. Every fixture problem is small and proven solvable by breadth-first search
(optimal plan length within the 30-step cap) when the fixture set is built.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from benchmarks.errors import SuiteError

DOMAINS: dict[str, str] = {
    "blockworld": """
(define (domain blocksworld-4ops)
  (:requirements :strips)
  (:predicates (clear ?b) (on-table ?b) (arm-empty) (holding ?b) (on ?top ?bottom))
  (:action pickup :parameters (?ob)
    :precondition (and (clear ?ob) (on-table ?ob) (arm-empty))
    :effect (and (holding ?ob) (not (clear ?ob)) (not (on-table ?ob)) (not (arm-empty))))
  (:action putdown :parameters (?ob)
    :precondition (holding ?ob)
    :effect (and (clear ?ob) (arm-empty) (on-table ?ob) (not (holding ?ob))))
  (:action stack :parameters (?ob ?underob)
    :precondition (and (clear ?underob) (holding ?ob))
    :effect (and (arm-empty) (clear ?ob) (on ?ob ?underob) (not (clear ?underob)) (not (holding ?ob))))
  (:action unstack :parameters (?ob ?underob)
    :precondition (and (on ?ob ?underob) (clear ?ob) (arm-empty))
    :effect (and (holding ?ob) (clear ?underob) (not (on ?ob ?underob)) (not (clear ?ob)) (not (arm-empty)))))
""",
    "gripper": """
(define (domain gripper-strips)
  (:predicates (room ?r) (ball ?b) (gripper ?g) (at-robby ?r) (at ?b ?r) (free ?g) (carry ?o ?g))
  (:action move :parameters (?from ?to)
    :precondition (and (room ?from) (room ?to) (at-robby ?from))
    :effect (and (at-robby ?to) (not (at-robby ?from))))
  (:action pick :parameters (?obj ?room ?gripper)
    :precondition (and (ball ?obj) (room ?room) (gripper ?gripper) (at ?obj ?room) (at-robby ?room) (free ?gripper))
    :effect (and (carry ?obj ?gripper) (not (at ?obj ?room)) (not (free ?gripper))))
  (:action drop :parameters (?obj ?room ?gripper)
    :precondition (and (ball ?obj) (room ?room) (gripper ?gripper) (carry ?obj ?gripper) (at-robby ?room))
    :effect (and (at ?obj ?room) (free ?gripper) (not (carry ?obj ?gripper)))))
""",
    "tyreworld": """
(define (domain tyreworld)
  (:requirements :strips :typing)
  (:types obj container hub - object tool wheel nut - obj)
  (:constants wrench pump jack - tool)
  (:predicates (isopen ?c - container) (closed ?c - container) (have ?o - obj) (in ?o - obj ?c - container)
    (loose ?n - nut ?h - hub) (tight ?n - nut ?h - hub) (unlocked ?c - container) (on-ground ?h - hub)
    (not-on-ground ?h - hub) (inflated ?w - wheel) (not-inflated ?w - wheel) (fastened ?h - hub)
    (unfastened ?h - hub) (free ?h - hub) (on ?w - wheel ?h - hub) (intact ?w - wheel))
  (:action open :parameters (?x - container)
    :precondition (and (unlocked ?x) (closed ?x)) :effect (and (isopen ?x) (not (closed ?x))))
  (:action close :parameters (?x - container)
    :precondition (isopen ?x) :effect (and (closed ?x) (not (isopen ?x))))
  (:action fetch :parameters (?x - obj ?y - container)
    :precondition (and (in ?x ?y) (isopen ?y)) :effect (and (have ?x) (not (in ?x ?y))))
  (:action put-away :parameters (?x - obj ?y - container)
    :precondition (and (have ?x) (isopen ?y)) :effect (and (in ?x ?y) (not (have ?x))))
  (:action loosen :parameters (?x - nut ?y - hub)
    :precondition (and (have wrench) (tight ?x ?y) (on-ground ?y)) :effect (and (loose ?x ?y) (not (tight ?x ?y))))
  (:action tighten :parameters (?x - nut ?y - hub)
    :precondition (and (have wrench) (loose ?x ?y) (on-ground ?y)) :effect (and (tight ?x ?y) (not (loose ?x ?y))))
  (:action jack-up :parameters (?y - hub)
    :precondition (and (on-ground ?y) (have jack))
    :effect (and (not-on-ground ?y) (not (on-ground ?y)) (not (have jack))))
  (:action jack-down :parameters (?y - hub)
    :precondition (not-on-ground ?y) :effect (and (on-ground ?y) (have jack) (not (not-on-ground ?y))))
  (:action undo :parameters (?x - nut ?y - hub)
    :precondition (and (not-on-ground ?y) (fastened ?y) (have wrench) (loose ?x ?y))
    :effect (and (have ?x) (unfastened ?y) (not (fastened ?y)) (not (loose ?x ?y))))
  (:action do-up :parameters (?x - nut ?y - hub)
    :precondition (and (have wrench) (unfastened ?y) (not-on-ground ?y) (have ?x))
    :effect (and (loose ?x ?y) (fastened ?y) (not (unfastened ?y)) (not (have ?x))))
  (:action remove-wheel :parameters (?x - wheel ?y - hub)
    :precondition (and (not-on-ground ?y) (on ?x ?y) (unfastened ?y))
    :effect (and (have ?x) (free ?y) (not (on ?x ?y))))
  (:action put-on-wheel :parameters (?x - wheel ?y - hub)
    :precondition (and (have ?x) (free ?y) (unfastened ?y) (not-on-ground ?y))
    :effect (and (on ?x ?y) (not (free ?y)) (not (have ?x))))
  (:action inflate :parameters (?x - wheel)
    :precondition (and (have pump) (not-inflated ?x) (intact ?x)) :effect (and (inflated ?x) (not (not-inflated ?x)))))
""",
    "barman": """
(define (domain barman)
  (:requirements :strips :typing)
  (:types hand level beverage dispenser container - object ingredient cocktail - beverage shot shaker - container)
  (:predicates (ontable ?c - container) (holding ?h - hand ?c - container) (handempty ?h - hand)
    (empty ?c - container) (contains ?c - container ?b - beverage) (clean ?c - container)
    (used ?c - container ?b - beverage) (dispenses ?d - dispenser ?i - ingredient)
    (shaker-empty-level ?s - shaker ?l - level) (shaker-level ?s - shaker ?l - level) (next ?l1 ?l2 - level)
    (unshaked ?s - shaker) (shaked ?s - shaker)
    (cocktail-part1 ?c - cocktail ?i - ingredient) (cocktail-part2 ?c - cocktail ?i - ingredient))
  (:action grasp :parameters (?h - hand ?c - container)
    :precondition (and (ontable ?c) (handempty ?h))
    :effect (and (not (ontable ?c)) (not (handempty ?h)) (holding ?h ?c)))
  (:action leave :parameters (?h - hand ?c - container)
    :precondition (holding ?h ?c) :effect (and (not (holding ?h ?c)) (handempty ?h) (ontable ?c)))
  (:action fill-shot :parameters (?s - shot ?i - ingredient ?h1 ?h2 - hand ?d - dispenser)
    :precondition (and (holding ?h1 ?s) (handempty ?h2) (dispenses ?d ?i) (empty ?s) (clean ?s))
    :effect (and (not (empty ?s)) (contains ?s ?i) (not (clean ?s)) (used ?s ?i)))
  (:action refill-shot :parameters (?s - shot ?i - ingredient ?h1 ?h2 - hand ?d - dispenser)
    :precondition (and (holding ?h1 ?s) (handempty ?h2) (dispenses ?d ?i) (empty ?s) (used ?s ?i))
    :effect (and (not (empty ?s)) (contains ?s ?i)))
  (:action empty-shot :parameters (?h - hand ?p - shot ?b - beverage)
    :precondition (and (holding ?h ?p) (contains ?p ?b)) :effect (and (not (contains ?p ?b)) (empty ?p)))
  (:action clean-shot :parameters (?s - shot ?b - beverage ?h1 ?h2 - hand)
    :precondition (and (holding ?h1 ?s) (handempty ?h2) (empty ?s) (used ?s ?b))
    :effect (and (not (used ?s ?b)) (clean ?s)))
  (:action pour-shot-to-clean-shaker :parameters (?s - shot ?i - ingredient ?d - shaker ?h1 - hand ?l ?l1 - level)
    :precondition (and (holding ?h1 ?s) (contains ?s ?i) (empty ?d) (clean ?d) (shaker-level ?d ?l) (next ?l ?l1))
    :effect (and (not (contains ?s ?i)) (empty ?s) (contains ?d ?i) (not (empty ?d)) (not (clean ?d)) (unshaked ?d)
      (not (shaker-level ?d ?l)) (shaker-level ?d ?l1)))
  (:action pour-shot-to-used-shaker :parameters (?s - shot ?i - ingredient ?d - shaker ?h1 - hand ?l ?l1 - level)
    :precondition (and (holding ?h1 ?s) (contains ?s ?i) (unshaked ?d) (shaker-level ?d ?l) (next ?l ?l1))
    :effect (and (not (contains ?s ?i)) (contains ?d ?i) (empty ?s) (not (shaker-level ?d ?l))
      (shaker-level ?d ?l1)))
  (:action empty-shaker :parameters (?h - hand ?s - shaker ?b - cocktail ?l ?l1 - level)
    :precondition (and (holding ?h ?s) (contains ?s ?b) (shaked ?s) (shaker-level ?s ?l) (shaker-empty-level ?s ?l1))
    :effect (and (not (shaked ?s)) (not (shaker-level ?s ?l)) (shaker-level ?s ?l1) (not (contains ?s ?b))
      (empty ?s)))
  (:action clean-shaker :parameters (?h1 ?h2 - hand ?s - shaker)
    :precondition (and (holding ?h1 ?s) (handempty ?h2) (empty ?s)) :effect (clean ?s))
  (:action shake :parameters (?b - cocktail ?d1 ?d2 - ingredient ?s - shaker ?h1 ?h2 - hand)
    :precondition (and (holding ?h1 ?s) (handempty ?h2) (contains ?s ?d1) (contains ?s ?d2)
      (cocktail-part1 ?b ?d1) (cocktail-part2 ?b ?d2) (unshaked ?s))
    :effect (and (not (unshaked ?s)) (not (contains ?s ?d1)) (not (contains ?s ?d2)) (shaked ?s) (contains ?s ?b)))
  (:action pour-shaker-to-shot :parameters (?b - beverage ?d - shot ?h - hand ?s - shaker ?l ?l1 - level)
    :precondition (and (holding ?h ?s) (shaked ?s) (empty ?d) (clean ?d) (contains ?s ?b) (shaker-level ?s ?l)
      (next ?l1 ?l))
    :effect (and (not (clean ?d)) (not (empty ?d)) (contains ?d ?b) (shaker-level ?s ?l1)
      (not (shaker-level ?s ?l)))))
""",
}


def _problem(name: str, domain: str, objects: str, init: list[str], goal: list[str]) -> str:
    lines = "\n    ".join(init)
    goals = "\n      ".join(goal)
    return (
        f"(define (problem {name})\n  (:domain {domain})\n  (:objects {objects})\n"
        f"  (:init\n    {lines})\n  (:goal (and\n      {goals})))\n"
    )


def _towers(items: list[str], rng: random.Random) -> list[list[str]]:
    """A random partition of `items` into towers (bottom first)."""
    rng.shuffle(items)
    towers: list[list[str]] = []
    for item in items:
        if towers and rng.random() < 0.6:
            rng.choice(towers).append(item)
        else:
            towers.append([item])
    return towers


def blockworld(blocks: int, seed: int) -> str:
    rng = random.Random(seed)
    names = [f"b{i}" for i in range(1, blocks + 1)]
    while True:
        start, goal = _towers(list(names), rng), _towers(list(names), rng)
        goal_on = [f"(on {top} {bottom})" for tower in goal for bottom, top in itertools.pairwise(tower)]
        start_on = [f"(on {top} {bottom})" for tower in start for bottom, top in itertools.pairwise(tower)]
        if goal_on and not set(goal_on) <= set(start_on):
            break
    init = ["(arm-empty)"]
    init += [f"(on-table {tower[0]})" for tower in start] + start_on + [f"(clear {tower[-1]})" for tower in start]
    return _problem(f"fixture-bw-{blocks}-{seed}", "blocksworld-4ops", " ".join(names), init, sorted(goal_on))


def gripper(balls: int, seed: int) -> str:
    rng = random.Random(seed)
    rooms = ["rooma", "roomb"]
    names = [f"ball{i}" for i in range(1, balls + 1)]
    start = {ball: rng.choice(rooms) for ball in names}
    goal = {ball: "roomb" if start[ball] == "rooma" else rng.choice(rooms) for ball in names}
    init = [f"(room {room})" for room in rooms] + [f"(ball {ball})" for ball in names]
    init += ["(gripper left)", "(gripper right)", "(free left)", "(free right)", f"(at-robby {rng.choice(rooms)})"]
    init += [f"(at {ball} {start[ball]})" for ball in names]
    objects = " ".join([*rooms, *names, "left", "right"])
    return _problem(
        f"fixture-gripper-{balls}-{seed}", "gripper-strips", objects, init, [f"(at {b} {goal[b]})" for b in names]
    )


def tyreworld(hubs: int, seed: int, fix: int = 1) -> str:
    """`hubs` flat wheels on hubs; the goal swaps in the spare on `fix` random hubs (the rest is scenery)."""
    rng = random.Random(seed)
    indices = list(range(1, hubs + 1))
    init = ["(in jack boot)", "(in pump boot)", "(in wrench boot)", "(unlocked boot)", "(closed boot)"]
    for i in indices:
        init += [f"(intact r{i})", f"(in r{i} boot)", f"(not-inflated r{i})"]
        init += [f"(on w{i} the-hub{i})", f"(on-ground the-hub{i})", f"(tight nuts{i} the-hub{i})"]
        init.append(f"(fastened the-hub{i})")
    goal = []
    for i in sorted(rng.sample(indices, fix)):
        goal += [f"(on r{i} the-hub{i})", f"(inflated r{i})", f"(in w{i} boot)"]
    objects = (
        "wrench jack pump - tool "
        + " ".join(f"the-hub{i}" for i in indices)
        + " - hub "
        + " ".join(f"nuts{i}" for i in indices)
        + " - nut boot - container "
        + " ".join(f"r{i} w{i}" for i in indices)
        + " - wheel"
    )
    return _problem(f"fixture-tyreworld-{hubs}-{seed}", "tyreworld", objects, init, goal)


def barman(shots: int, seed: int, cocktails: int = 1, ingredients: int = 1) -> str:
    """One shaker, two hands, three ingredients and cocktails; the goal fills some shots with cocktails or
    plain ingredients."""
    rng = random.Random(seed)
    shot_names = [f"shot{i}" for i in range(1, shots + 1)]
    kinds = ["ingredient1", "ingredient2", "ingredient3"]
    recipes = [rng.sample(kinds, 2) for _ in range(3)]
    init = ["(ontable shaker1)", "(clean shaker1)", "(empty shaker1)", "(handempty left)", "(handempty right)"]
    init += ["(shaker-empty-level shaker1 l0)", "(shaker-level shaker1 l0)", "(next l0 l1)", "(next l1 l2)"]
    init += [f"(dispenses dispenser{i} ingredient{i})" for i in (1, 2, 3)]
    for shot in shot_names:
        init += [f"(ontable {shot})", f"(clean {shot})", f"(empty {shot})"]
    for index, (first, second) in enumerate(recipes, start=1):
        init += [f"(cocktail-part1 cocktail{index} {first})", f"(cocktail-part2 cocktail{index} {second})"]
    targets = rng.sample(shot_names, cocktails + ingredients)
    goal = [f"(contains {shot} cocktail{rng.randint(1, 3)})" for shot in targets[:cocktails]]
    goal += [f"(contains {shot} {rng.choice(kinds)})" for shot in targets[cocktails:]]
    objects = (
        "shaker1 - shaker left right - hand " + " ".join(shot_names) + " - shot "
        "ingredient1 ingredient2 ingredient3 - ingredient cocktail1 cocktail2 cocktail3 - cocktail "
        "dispenser1 dispenser2 dispenser3 - dispenser l0 l1 l2 - level"
    )
    return _problem(f"fixture-barman-{shots}-{seed}", "barman", objects, init, goal)


@dataclass(frozen=True)
class FixtureSpec:
    task_id: str
    family: str
    make: Callable[[], str]
    optimal_steps: int  # BFS-optimal plan length, re-proved by the tests


# Fixed sizes and seeds: changing any of them changes the fixture task set (bump the benchmark version).
FIXTURES: tuple[FixtureSpec, ...] = (
    FixtureSpec("fixture-gripper-1", "gripper", lambda: gripper(2, seed=1), 6),
    FixtureSpec("fixture-gripper-2", "gripper", lambda: gripper(3, seed=2), 10),
    FixtureSpec("fixture-gripper-3", "gripper", lambda: gripper(4, seed=3), 10),
    FixtureSpec("fixture-blockworld-1", "blockworld", lambda: blockworld(3, seed=5), 6),
    FixtureSpec("fixture-blockworld-2", "blockworld", lambda: blockworld(4, seed=3), 8),
    FixtureSpec("fixture-blockworld-3", "blockworld", lambda: blockworld(5, seed=2), 8),
    FixtureSpec("fixture-barman-1", "barman", lambda: barman(2, seed=1, cocktails=0, ingredients=2), 5),
    FixtureSpec("fixture-barman-2", "barman", lambda: barman(2, seed=2, cocktails=1, ingredients=0), 10),
    FixtureSpec("fixture-barman-3", "barman", lambda: barman(3, seed=3, cocktails=1, ingredients=1), 11),
    FixtureSpec("fixture-tyreworld-1", "tyreworld", lambda: tyreworld(1, seed=1), 12),
    FixtureSpec("fixture-tyreworld-2", "tyreworld", lambda: tyreworld(2, seed=2), 12),
    FixtureSpec("fixture-tyreworld-3", "tyreworld", lambda: tyreworld(3, seed=3), 12),
)


@cache
def fixture_text(task_id: str) -> tuple[str, str]:
    """(domain text, problem text) of one fixture task."""
    spec = next((spec for spec in FIXTURES if spec.task_id == task_id), None)
    if spec is None:
        raise SuiteError(f"pddl fixture has no task '{task_id}'")
    return DOMAINS[spec.family], spec.make()
