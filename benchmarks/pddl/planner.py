"""Reference planners: they prove fixture problems solvable and give oracle plans for tests and reports.

Both search the fully grounded task (ground actions reachable under the delete relaxation, facts as ints):
  bfs     breadth-first, optimal plan length; for the small fixtures;
  gbfs    greedy best-first on the FF heuristic (relaxed plan length); not optimal, but it solves the larger real
          problems within a bounded number of expansions.
  agenda  GBFS on growing goal prefixes (see plan()).
Search gives up after `max_expansions` and returns None: a budget, not a proof of unsolvability.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from itertools import count, islice, permutations

from benchmarks.pddl.parser import Atom
from benchmarks.pddl.strips import Action, Simulator, State


@dataclass(frozen=True)
class _Ground:
    action: Action
    pre: frozenset[int]
    neg: frozenset[int]
    add: frozenset[int]
    delete: frozenset[int]


@dataclass(frozen=True)
class SearchResult:
    plan: list[Action] | None
    expanded: int


STRATEGIES = ("bfs", "gbfs", "agenda")
MAX_AGENDA_ORDERS = 6


class GroundTask:
    """The problem grounded once: every action reachable when delete effects are ignored."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.ids: dict[Atom, int] = {}
        reached = set(simulator.initial_state)
        actions: dict[Action, None] = {}
        while True:  # relaxed reachability fixpoint; negative preconditions are assumed satisfiable
            relaxed = frozenset(reached)
            new = [a for a in simulator.applicable(relaxed, relaxed=True) if a not in actions]
            if not new:
                break
            for action in new:
                actions[action] = None
                reached.update(simulator.apply(action, frozenset()))  # the adds alone
        self.actions = [self._ground(action) for action in actions]
        self.goal = frozenset(self._id(lit.atom) for lit in simulator.problem.goal if lit.positive)
        self.goal_neg = frozenset(self._id(lit.atom) for lit in simulator.problem.goal if not lit.positive)
        self.achievers: dict[int, list[int]] = {}
        self.users: dict[int, list[int]] = {}
        for index, ground in enumerate(self.actions):
            for fact in ground.add:
                self.achievers.setdefault(fact, []).append(index)
            for fact in ground.pre:
                self.users.setdefault(fact, []).append(index)

    def _id(self, atom: Atom) -> int:
        return self.ids.setdefault(atom, len(self.ids))

    def _ground(self, action: Action) -> _Ground:
        operator = self.simulator.domain.operators[action.operator]
        binding = self.simulator.binding(action)

        def ids(atoms: tuple[Atom, ...] | list[Atom]) -> frozenset[int]:
            return frozenset(self._id((atom[0], *(binding.get(t, t) for t in atom[1:]))) for atom in atoms)

        pre = [lit for lit in operator.precondition if lit.predicate != "="]
        return _Ground(
            action,
            ids([lit.atom for lit in pre if lit.positive]),
            ids([lit.atom for lit in pre if not lit.positive]),
            ids(operator.add),
            ids(operator.delete),
        )

    def encode(self, state: State) -> frozenset[int]:
        return frozenset(self._id(atom) for atom in state)

    def is_goal(self, state: frozenset[int], goal: frozenset[int] | None = None) -> bool:
        return (self.goal if goal is None else goal) <= state and not (self.goal_neg & state)

    def successors(self, state: frozenset[int]) -> list[tuple[int, frozenset[int]]]:
        return [
            (index, (state - ground.delete) | ground.add)
            for index, ground in enumerate(self.actions)
            if ground.pre <= state and not (ground.neg & state)
        ]

    def h_ff(self, state: frozenset[int], goal: frozenset[int] | None = None) -> float:
        """Length of a relaxed plan from best (h_add) supporters; inf when the goal is relaxed-unreachable."""
        goal = self.goal if goal is None else goal
        cost: dict[int, float] = {fact: 0.0 for fact in state}
        supporter: dict[int, int] = {}
        missing = [len(ground.pre) for ground in self.actions]
        queue = [(0.0, fact) for fact in state]
        heapq.heapify(queue)
        ready = [index for index, ground in enumerate(self.actions) if not ground.pre]
        done: set[int] = set()

        def fire(index: int) -> None:
            ground = self.actions[index]
            value = 1.0 + sum(cost[p] for p in ground.pre)
            for fact in ground.add:
                if value < cost.get(fact, float("inf")):
                    cost[fact], supporter[fact] = value, index
                    heapq.heappush(queue, (value, fact))

        for index in ready:
            fire(index)
        while queue:
            value, fact = heapq.heappop(queue)
            if fact in done or value > cost[fact]:
                continue
            done.add(fact)
            for index in self.users.get(fact, ()):
                missing[index] -= 1
                if missing[index] == 0:
                    fire(index)
        if any(fact not in cost for fact in goal):
            return float("inf")
        relaxed: set[int] = set()
        stack = [fact for fact in goal if fact not in state]
        seen: set[int] = set()
        while stack:
            fact = stack.pop()
            if fact in seen or fact in state:
                continue
            seen.add(fact)
            index = supporter[fact]
            if index not in relaxed:
                relaxed.add(index)
                stack.extend(self.actions[index].pre)
        return float(len(relaxed))


def _unwind(parents: dict, state: frozenset[int], task: GroundTask) -> list[Action]:
    plan: list[Action] = []
    while parents[state] is not None:
        state, index = parents[state]
        plan.append(task.actions[index].action)
    return plan[::-1]


def _search(
    task: GroundTask, start: frozenset[int], goal: frozenset[int], strategy: str, budget: int
) -> tuple[list[Action] | None, frozenset[int], int]:
    """(plan, final state, expansions) of one BFS or GBFS run towards the positive facts `goal`."""
    parents: dict[frozenset[int], tuple[frozenset[int], int] | None] = {start: None}
    if task.is_goal(start, goal):
        return [], start, 0
    tie = count()
    queue: deque[frozenset[int]] = deque([start])
    heap: list[tuple[float, int, frozenset[int]]] = [(task.h_ff(start, goal), next(tie), start)]
    expanded = 0
    while expanded < budget and (queue if strategy == "bfs" else heap):
        state = queue.popleft() if strategy == "bfs" else heapq.heappop(heap)[2]
        expanded += 1
        for index, successor in task.successors(state):
            if successor in parents:
                continue
            parents[successor] = (state, index)
            if task.is_goal(successor, goal):
                return _unwind(parents, successor, task), successor, expanded
            if strategy == "bfs":
                queue.append(successor)
            else:
                value = task.h_ff(successor, goal)
                if value != float("inf"):
                    heapq.heappush(heap, (value, next(tie), successor))
    return None, start, expanded


def plan(
    simulator: Simulator, strategy: str = "gbfs", max_expansions: int = 20_000, task: GroundTask | None = None
) -> SearchResult:
    """A plan from the initial state to the goal, or plan=None when the budget runs out first.

    `agenda` runs GBFS on growing prefixes of the goal (g1, then g1+g2, ...) and concatenates the plans: it gets
    past the plateaus that defeat plain GBFS on two-cocktail barman problems. `max_expansions` bounds the total.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown search strategy {strategy!r}; expected one of {STRATEGIES}")
    task = task or GroundTask(simulator)
    start = task.encode(simulator.initial_state)
    if strategy != "agenda":
        found, _, expanded = _search(task, start, task.goal, strategy, max_expansions)
        return SearchResult(found, expanded)
    goals = [task.ids[lit.atom] for lit in simulator.problem.goal if lit.positive]
    expanded = 0
    for ordered in islice(permutations(goals), MAX_AGENDA_ORDERS):  # a later order when one order stalls
        steps, used = _agenda(task, start, ordered, max_expansions - expanded)
        expanded += used
        if steps is not None or expanded >= max_expansions:
            return SearchResult(steps, expanded)
    return SearchResult(None, expanded)


def _agenda(task: GroundTask, start: frozenset[int], ordered: tuple[int, ...], budget: int) -> tuple[list | None, int]:
    steps: list[Action] = []
    expanded = 0
    per_order = max(1, budget // 2)  # leave budget for other orders
    for size in range(1, len(ordered) + 1):
        found, start, used = _search(task, start, frozenset(ordered[:size]), "gbfs", per_order - expanded)
        expanded += used
        if found is None:
            return None, expanded
        steps += found
    if not task.is_goal(start):  # negative goal literals are not on the agenda
        found, start, used = _search(task, start, task.goal, "gbfs", per_order - expanded)
        expanded += used
        return (steps + found if found is not None else None), expanded
    return steps, expanded
