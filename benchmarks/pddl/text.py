"""English for PDDL: facts as short sentences, ground actions as commands, and a defensive command parser.

Each of AgentBoard's four domain families has hand-written templates (family chosen from the domain name). Any
other domain, or a predicate/operator a template table lacks, falls back to generic text:
  fact    "<predicate words> <arg> <arg>"       e.g. (on-table b1) -> "on table b1"
  action  "<operator words> <arg> <arg> ..."    e.g. (put-away r1 boot) -> "put away r1 boot"
where "words" are the name with '-'/'_' read as spaces. The parser accepts the template form, the generic form
(args in parameter order) and the PDDL form "(put-away r1 boot)", case- and spacing-insensitively, with trailing
punctuation, quotes and an "Action:" prefix stripped. Nothing is evaluated: text is matched against regexes built
from the templates, and object names must be objects of the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.pddl.parser import Atom, Domain, Literal
from benchmarks.pddl.strips import Action

# Fact templates name arguments by position: {0}, {1}, ...
FACTS: Mapping[str, Mapping[str, str]] = {
    "blockworld": {
        "clear": "{0} is clear",
        "on-table": "{0} is on the table",
        "arm-empty": "the arm is empty",
        "holding": "the arm is holding {0}",
        "on": "{0} is on {1}",
    },
    "gripper": {
        "room": "{0} is a room",
        "ball": "{0} is a ball",
        "gripper": "{0} is a gripper",
        "at-robby": "the robot is in {0}",
        "at": "{0} is in {1}",
        "free": "gripper {0} is free",
        "carry": "gripper {1} is carrying {0}",
    },
    "tyreworld": {
        "isopen": "{0} is open",
        "closed": "{0} is closed",
        "have": "you have {0}",
        "in": "{0} is in {1}",  # the real problems write (in OBJ CONTAINER), against the predicate's declaration
        "loose": "{0} is loose on {1}",
        "tight": "{0} is tight on {1}",
        "unlocked": "{0} is unlocked",
        "on-ground": "{0} is on the ground",
        "not-on-ground": "{0} is jacked up",
        "inflated": "{0} is inflated",
        "not-inflated": "{0} is not inflated",
        "fastened": "{0} is fastened",
        "unfastened": "{0} is unfastened",
        "free": "{0} is free",
        "on": "{0} is on {1}",
        "intact": "{0} is intact",
    },
    "barman": {
        "ontable": "{0} is on the table",
        "holding": "hand {0} is holding {1}",
        "handempty": "hand {0} is empty",
        "empty": "{0} is empty",
        "contains": "{0} contains {1}",
        "clean": "{0} is clean",
        "used": "{0} has been used for {1}",
        "dispenses": "{0} dispenses {1}",
        "shaker-empty-level": "{0} is empty at level {1}",
        "shaker-level": "{0} is at level {1}",
        "next": "level {1} is next after level {0}",
        "unshaked": "{0} is not shaken",
        "shaked": "{0} is shaken",
        "cocktail-part1": "the first ingredient of {0} is {1}",
        "cocktail-part2": "the second ingredient of {0} is {1}",
    },
}

# Action templates name arguments by parameter (without '?').
ACTIONS: Mapping[str, Mapping[str, str]] = {
    "blockworld": {
        "pickup": "pick up {ob}",
        "putdown": "put down {ob}",
        "stack": "stack {ob} on {underob}",
        "unstack": "unstack {ob} from {underob}",
    },
    "gripper": {
        "move": "move from {from} to {to}",
        "pick": "pick {obj} in {room} with {gripper}",
        "drop": "drop {obj} in {room} with {gripper}",
    },
    "tyreworld": {
        "open": "open {x}",
        "close": "close {x}",
        "fetch": "fetch {x} from {y}",
        "put-away": "put away {x} in {y}",
        "loosen": "loosen {x} on {y}",
        "tighten": "tighten {x} on {y}",
        "jack-up": "jack up {y}",
        "jack-down": "jack down {y}",
        "undo": "undo {x} on {y}",
        "do-up": "do up {x} on {y}",
        "remove-wheel": "remove wheel {x} from {y}",
        "put-on-wheel": "put on wheel {x} on {y}",
        "inflate": "inflate {x}",
    },
    "barman": {
        "grasp": "grasp {c} with {h}",
        "leave": "leave {c} with {h}",
        "fill-shot": "fill {s} with {i} using {h1} and {h2} from {d}",
        "refill-shot": "refill {s} with {i} using {h1} and {h2} from {d}",
        "empty-shot": "empty {p} of {b} with {h}",
        "clean-shot": "clean {s} of {b} using {h1} and {h2}",
        "pour-shot-to-clean-shaker": "pour {s} of {i} into clean shaker {d} with {h1} from level {l} to level {l1}",
        "pour-shot-to-used-shaker": "pour {s} of {i} into used shaker {d} with {h1} from level {l} to level {l1}",
        "empty-shaker": "empty shaker {s} of {b} with {h} from level {l} to level {l1}",
        "clean-shaker": "clean shaker {s} using {h1} and {h2}",
        "shake": "shake {s} to make {b} from {d1} and {d2} using {h1} and {h2}",
        "pour-shaker-to-shot": "pour {b} from shaker {s} into {d} with {h} from level {l} to level {l1}",
    },
}

_SLOT = re.compile(r"\{([^{}]+)\}")
_WORD_GAP = r"[ \-_]"
_NOISE = re.compile(r"[()\[\],;\"'`*]")
_PREFIX = re.compile(r"^(?:(?:next )?action|command)\s*:\s*|^>\s*")
MAX_COMMAND_CHARS = 500  # a longer string cannot be a command; it is rejected without matching


def family(domain_name: str) -> str | None:
    """Template family of a domain, by name: 'blocksworld-4ops' -> 'blockworld', 'gripper-strips' -> 'gripper'."""
    name = domain_name.lower().replace("blocksworld", "blockworld")
    return next((fam for fam in FACTS if fam in name), None)


def _words(name: str) -> str:
    return re.sub(r"[-_]+", " ", name).strip()


@dataclass(frozen=True)
class _Pattern:
    operator: str
    regex: re.Pattern[str]
    order: tuple[int, ...]  # regex group -> parameter index


class Language:
    """Rendering and parsing for one domain. Parsing only shapes text into actions; the simulator judges them."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        fam = family(domain.name)
        self._facts = FACTS.get(fam, {}) if fam else {}
        self._actions = ACTIONS.get(fam, {}) if fam else {}
        self._patterns = [p for op in domain.operators.values() for p in self._compile(op.name)]

    # --- rendering -------------------------------------------------------------------------------------------------

    def fact(self, atom: Atom) -> str:
        if atom[0] == "=":
            return f"{atom[1]} is the same as {atom[2]}"
        template = self._facts.get(atom[0])
        if template is not None and len(_SLOT.findall(template)) <= len(atom) - 1:
            return template.format(*atom[1:])
        return " ".join((_words(atom[0]), *atom[1:]))

    def literal(self, literal: Literal) -> str:
        return self.fact(literal.atom) if literal.positive else f"it is not the case that {self.fact(literal.atom)}"

    def action(self, action: Action) -> str:
        operator = self.domain.operators[action.operator]
        template = self._actions.get(action.operator)
        names = [var.lstrip("?") for var, _ in operator.params]
        if template is not None and set(_SLOT.findall(template)) == set(names):
            return template.format(**dict(zip(names, action.args)))
        return " ".join((_words(action.operator), *action.args))

    def describe(self, state: frozenset[Atom]) -> str:
        """All true facts, one sentence each, ordered by predicate declaration then arguments."""
        order = {name: index for index, name in enumerate(self.domain.predicates)}
        atoms = sorted(state, key=lambda atom: (order.get(atom[0], len(order)), atom))
        return " ".join(_sentence(self.fact(atom)) for atom in atoms)

    def goal(self, goal: tuple[Literal, ...]) -> str:
        return "The goal is to satisfy the following conditions: " + " ".join(
            _sentence(self.literal(lit)) for lit in goal
        )

    # --- parsing ---------------------------------------------------------------------------------------------------

    def _compile(self, name: str) -> list[_Pattern]:
        operator = self.domain.operators[name]
        names = [var.lstrip("?") for var, _ in operator.params]
        forms = [" ".join((_words(name), *(f"{{{n}}}" for n in names)))]
        template = self._actions.get(name)
        if template is not None and set(_SLOT.findall(template)) == set(names):
            forms.insert(0, template)
        patterns = []
        for form in forms:
            regex, order, previous_literal = "", [], False
            for token in form.split():
                slot = _SLOT.fullmatch(token)
                if slot:
                    piece, literal = r"(\S+)", False
                    order.append(names.index(slot.group(1)))
                else:
                    piece, literal = _WORD_GAP.join(re.escape(w) for w in re.split(r"[-_]+", token) if w), True
                # between two words, '-'/'_' are interchangeable with a space: "put-away" = "put away" = "put_away"
                regex += ("" if not regex else _WORD_GAP if literal and previous_literal else " ") + piece
                previous_literal = literal
            patterns.append(_Pattern(name, re.compile(regex), tuple(order)))
        return patterns

    def parse(self, text: str) -> list[Action]:
        """Every ground action the command can mean (usually one); [] when it matches no action form."""
        command = normalize(text)
        if not command:
            return []
        found: dict[Action, None] = {}
        for pattern in self._patterns:
            match = pattern.regex.fullmatch(command)
            if match is None:
                continue
            args = [""] * len(pattern.order)
            for group, index in enumerate(pattern.order):
                args[index] = match.group(group + 1)
            found[Action(pattern.operator, tuple(args))] = None
        return list(found)


def normalize(text: str) -> str:
    """Lower-case, strip an 'Action:' prefix, brackets, quotes and trailing punctuation, collapse spaces."""
    if not isinstance(text, str) or len(text) > MAX_COMMAND_CHARS:
        return ""
    command = text.strip().lower()
    command = _PREFIX.sub("", command)
    command = _NOISE.sub(" ", command)
    command = re.sub(r"\s+", " ", command).strip(" .!?:")
    return command


def _sentence(text: str) -> str:
    return text + "."  # not capitalised: a sentence often starts with an object name, spelled as the agent must
