"""STRIPS semantics over parsed PDDL: typed grounding, applicability, successor states, goal fractions.

A state is a frozenset of ground atoms. Applicable actions are found by joining the positive preconditions against
the state (backtracking over facts, not over all object tuples), so listing them stays cheap even where blind
grounding would not be (gripper's 3-parameter untyped `pick` over 40+ objects).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from benchmarks.pddl.parser import Atom, Literal, Operator, Problem

State = frozenset[Atom]


@dataclass(frozen=True, order=True)
class Action:
    """A ground action: operator name + object arguments in parameter order."""

    operator: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"({' '.join((self.operator, *self.args))})"


def _substitute(atom: Atom, binding: Mapping[str, str]) -> Atom:
    return (atom[0], *(binding.get(term, term) for term in atom[1:]))


def _holds(literal: Literal, binding: Mapping[str, str], state: State) -> bool:
    atom = _substitute(literal.atom, binding)
    true = atom[1] == atom[2] if atom[0] == "=" else atom in state
    return true == literal.positive


class Simulator:
    """The dynamics of one problem. Stateless: every method takes the state it works on."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.domain = problem.domain
        self._typed = {
            (op.name, var): frozenset(problem.objects_of(kind))
            for op in self.domain.operators.values()
            for var, kind in op.params
        }

    @property
    def initial_state(self) -> State:
        return self.problem.init

    # --- single actions ------------------------------------------------------------------------------------------

    def binding(self, action: Action) -> dict[str, str]:
        """Parameter binding of `action`; ValueError says why it is not a well-formed ground action."""
        operator = self.domain.operators.get(action.operator)
        if operator is None:
            raise ValueError(f"there is no action named '{action.operator}'")
        if len(action.args) != len(operator.params):
            raise ValueError(f"'{action.operator}' takes {len(operator.params)} arguments, got {len(action.args)}")
        for (var, kind), arg in zip(operator.params, action.args):
            if arg not in self.problem.objects:
                raise ValueError(f"there is no object named '{arg}'")
            if arg not in self._typed[(operator.name, var)]:
                raise ValueError(f"'{arg}' is not a {kind}")
        return {var: arg for (var, _), arg in zip(operator.params, action.args)}

    def unmet(self, action: Action, state: State) -> list[Literal]:
        """Ground precondition literals of a well-formed `action` that do not hold in `state`."""
        operator = self.domain.operators[action.operator]
        binding = self.binding(action)
        return [
            Literal(_substitute(lit.atom, binding), lit.positive)
            for lit in operator.precondition
            if not _holds(lit, binding, state)
        ]

    def apply(self, action: Action, state: State) -> State:
        """Successor state (delete effects first, then adds: the standard STRIPS order). Assumes applicability."""
        operator = self.domain.operators[action.operator]
        binding = self.binding(action)
        deleted = {_substitute(atom, binding) for atom in operator.delete}
        return frozenset((state - deleted) | {_substitute(atom, binding) for atom in operator.add})

    # --- all applicable actions ----------------------------------------------------------------------------------

    def applicable(self, state: State, relaxed: bool = False) -> list[Action]:
        """Every applicable ground action, in operator declaration order, then argument order.

        `relaxed` ignores negated atoms in preconditions (the planner's delete-relaxation reachability)."""
        by_predicate: dict[str, list[Atom]] = defaultdict(list)
        for atom in state:
            by_predicate[atom[0]].append(atom)
        found: set[Action] = set()
        for operator in self.domain.operators.values():
            bindings = self._bindings(operator, state, by_predicate, relaxed)
            found.update(Action(operator.name, args) for args in bindings)
        order = {name: index for index, name in enumerate(self.domain.operators)}
        return sorted(found, key=lambda a: (order[a.operator], a.args))

    def _bindings(
        self, operator: Operator, state: State, by_predicate: Mapping[str, list[Atom]], relaxed: bool
    ) -> Iterator[tuple[str, ...]]:
        positive = [lit for lit in operator.precondition if lit.positive and lit.predicate != "="]
        positive.sort(key=lambda lit: len(by_predicate.get(lit.predicate, ())))  # most selective first
        others = [lit for lit in operator.precondition if lit not in positive and (lit.predicate == "=" or not relaxed)]
        variables = [var for var, _ in operator.params]

        def candidates(var: str) -> frozenset[str]:
            return self._typed[(operator.name, var)]

        def join(index: int, binding: dict[str, str]) -> Iterator[dict[str, str]]:
            if index == len(positive):
                yield binding
                return
            pattern = positive[index].atom
            for fact in by_predicate.get(pattern[0], ()):
                if len(fact) != len(pattern):
                    continue
                extended = dict(binding)
                for term, value in zip(pattern[1:], fact[1:]):
                    if term.startswith("?"):
                        bound = extended.get(term)
                        if bound is None:
                            if value not in candidates(term):
                                break
                            extended[term] = value
                        elif bound != value:
                            break
                    elif term != value:
                        break
                else:
                    yield from join(index + 1, extended)

        def fill(binding: dict[str, str], rest: list[str]) -> Iterator[dict[str, str]]:
            if not rest:
                yield binding
                return
            for value in sorted(candidates(rest[0])):
                yield from fill({**binding, rest[0]: value}, rest[1:])

        for partial in join(0, {}):
            for full in fill(partial, [var for var in variables if var not in partial]):
                if all(_holds(lit, full, state) for lit in others):
                    yield tuple(full[var] for var in variables)

    # --- goals ---------------------------------------------------------------------------------------------------

    def goal_fraction(self, state: State) -> float:
        goal = self.problem.goal
        return sum((lit.atom in state) == lit.positive for lit in goal) / len(goal)

    def is_goal(self, state: State) -> bool:
        return all((lit.atom in state) == lit.positive for lit in self.problem.goal)
