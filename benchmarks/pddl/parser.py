"""A tolerant parser for the STRIPS subset of PDDL that AgentBoard's four domains use.

Supported: `:types` (with a hierarchy), `:constants` (in any section order), typed or untyped parameters and objects,
preconditions and goals that are conjunctions of atoms, negated atoms and (in)equalities, and add/delete effects.
Anything beyond that (or, forall, when, functions, ...) is refused with a one-line PDDLError, because silently
ignoring it would simulate a different domain. Everything is lower-cased: PDDL names are case-insensitive.

Tolerated quirks of the real files: tyreworld has no `:typing` requirement and declares its constants after the
predicates; barman writes `?l - level?l1 - level` without a space; tyreworld's init facts `(in jack boot)` contradict
the declared argument types of `in`, so init and goal atoms are checked for arity and known objects only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from benchmarks.errors import SuiteError

ROOT_TYPE = "object"
SExpr = str | list["SExpr"]
Atom = tuple[str, ...]  # (predicate, arg, ...); args of operator schemas may be variables ('?x')

_TOKEN = re.compile(r"[()]|\?[^\s()?]*|[^\s()?]+")


class PDDLError(SuiteError):
    """A PDDL file that this simulator cannot read (syntax error or unsupported feature)."""


@dataclass(frozen=True)
class Literal:
    atom: Atom
    positive: bool = True

    @property
    def predicate(self) -> str:
        return self.atom[0]

    @property
    def args(self) -> tuple[str, ...]:
        return self.atom[1:]


@dataclass(frozen=True)
class Operator:
    name: str
    params: tuple[tuple[str, str], ...]  # (variable, type)
    precondition: tuple[Literal, ...]  # predicate '=' is equality
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]


@dataclass(frozen=True)
class Domain:
    name: str
    requirements: tuple[str, ...]
    parents: Mapping[str, str]  # type -> parent type
    constants: Mapping[str, str]  # object -> type
    predicates: Mapping[str, tuple[tuple[str, str], ...]]  # name -> typed parameters (declaration order)
    operators: Mapping[str, Operator]  # declaration order

    def is_subtype(self, kind: str, ancestor: str) -> bool:
        seen: set[str] = set()
        while kind not in seen:
            if kind == ancestor:
                return True
            seen.add(kind)
            kind = self.parents.get(kind, ROOT_TYPE)
        return ancestor == ROOT_TYPE


@dataclass(frozen=True)
class Problem:
    name: str
    domain: Domain
    objects: Mapping[str, str]  # object -> type, the domain's constants included
    init: frozenset[Atom]
    goal: tuple[Literal, ...]

    def objects_of(self, kind: str) -> tuple[str, ...]:
        return tuple(obj for obj, t in self.objects.items() if self.domain.is_subtype(t, kind))


# --- s-expressions -------------------------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Comments dropped, lower-cased; a '?' always starts a new token (PDDL names cannot contain one)."""
    text = "\n".join(line.split(";", 1)[0] for line in text.lower().splitlines())
    return _TOKEN.findall(text)


def parse_sexpr(text: str) -> SExpr:
    """The single top-level expression of `text` (iterative, so deep nesting cannot overflow the stack)."""
    stack: list[list[SExpr]] = [[]]
    for token in tokenize(text):
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise PDDLError("PDDL: unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise PDDLError(f"PDDL: {len(stack) - 1} unclosed '('")
    if len(stack[0]) != 1:
        raise PDDLError(f"PDDL: expected one top-level expression, found {len(stack[0])}")
    return stack[0][0]


def _name(expr: SExpr, what: str) -> str:
    if not isinstance(expr, str) or expr.startswith((":", "?")) or expr == "-":
        raise PDDLError(f"PDDL: expected a name for {what}, got {_show(expr)}")
    return expr


def _show(expr: SExpr) -> str:
    if isinstance(expr, str):
        return repr(expr)
    text = "(" + " ".join(_show(e).strip("'") for e in expr) + ")"
    return text if len(text) <= 60 else text[:57] + "..."


def _typed_list(items: Iterable[SExpr], what: str) -> list[tuple[str, str]]:
    """`a b - t c` -> [(a, t), (b, t), (c, object)]; `(either ...)` types are refused."""
    result: list[tuple[str, str]] = []
    pending: list[str] = []
    items = list(items)
    index = 0
    while index < len(items):
        item = items[index]
        if item == "-":
            if index + 1 >= len(items) or not pending:
                raise PDDLError(f"PDDL: dangling '-' in {what}")
            kind = items[index + 1]
            if not isinstance(kind, str):
                raise PDDLError(f"PDDL: unsupported type {_show(kind)} in {what}")
            result += [(name, kind) for name in pending]
            pending = []
            index += 2
            continue
        if not isinstance(item, str):
            raise PDDLError(f"PDDL: unexpected {_show(item)} in {what}")
        pending.append(item)
        index += 1
    return result + [(name, ROOT_TYPE) for name in pending]


def _sections(expr: SExpr, kind: str) -> tuple[str, list[list[SExpr]]]:
    if not isinstance(expr, list) or len(expr) < 2 or expr[0] != "define":
        raise PDDLError(f"PDDL: a {kind} file must start with (define ({kind} NAME) ...)")
    header = expr[1]
    if not isinstance(header, list) or len(header) != 2 or header[0] != kind:
        raise PDDLError(f"PDDL: expected ({kind} NAME), got {_show(header)}")
    sections = []
    for section in expr[2:]:
        if not isinstance(section, list) or not section or not isinstance(section[0], str):
            raise PDDLError(f"PDDL: malformed section {_show(section)} in {kind} {header[1]}")
        sections.append(section)
    return _name(header[1], kind), sections


# --- formulas ------------------------------------------------------------------------------------------------------


def _atom(expr: SExpr, what: str) -> Atom:
    if not isinstance(expr, list) or not expr or not all(isinstance(e, str) for e in expr):
        raise PDDLError(f"PDDL: expected an atom in {what}, got {_show(expr)}")
    return tuple(expr)  # type: ignore[arg-type]


def _conjunction(expr: SExpr, what: str) -> list[Literal]:
    """A conjunction of (possibly negated) atoms; `()` is the empty conjunction."""
    if expr == []:
        return []
    if isinstance(expr, list) and expr and expr[0] == "and":
        return [lit for part in expr[1:] for lit in _conjunction(part, what)]
    if isinstance(expr, list) and expr and expr[0] == "not":
        if len(expr) != 2:
            raise PDDLError(f"PDDL: (not ...) takes one atom in {what}, got {_show(expr)}")
        inner = _conjunction(expr[1], what)
        if len(inner) != 1 or not inner[0].positive:
            raise PDDLError(f"PDDL: only atoms can be negated in {what}, got {_show(expr)}")
        return [Literal(inner[0].atom, False)]
    if isinstance(expr, list) and expr and expr[0] in ("or", "imply", "forall", "exists", "when"):
        raise PDDLError(f"PDDL: '{expr[0]}' in {what} is not supported by this STRIPS simulator")
    return [Literal(_atom(expr, what))]


def _check_atom(atom: Atom, predicates: Mapping[str, tuple], names: Iterable[str] | None, what: str) -> None:
    if atom[0] == "=":
        if len(atom) != 3:
            raise PDDLError(f"PDDL: '=' takes two arguments in {what}")
    elif atom[0] not in predicates:
        raise PDDLError(f"PDDL: unknown predicate '{atom[0]}' in {what}")
    elif len(atom) - 1 != len(predicates[atom[0]]):
        raise PDDLError(f"PDDL: '{atom[0]}' takes {len(predicates[atom[0]])} arguments, got {len(atom) - 1} in {what}")
    if names is not None:
        unknown = [arg for arg in atom[1:] if arg not in names]
        if unknown:
            raise PDDLError(f"PDDL: unknown object or variable '{unknown[0]}' in {what}")


# --- domain and problem --------------------------------------------------------------------------------------------


def _operator(section: list[SExpr], domain: dict) -> Operator:
    name = _name(section[1] if len(section) > 1 else "", "an action")
    fields: dict[str, SExpr] = {}
    rest = section[2:]
    for index in range(0, len(rest), 2):
        key = rest[index]
        if not isinstance(key, str) or not key.startswith(":") or index + 1 >= len(rest):
            raise PDDLError(f"PDDL: malformed action '{name}' near {_show(key)}")
        fields[key] = rest[index + 1]
    unknown = set(fields) - {":parameters", ":precondition", ":effect"}
    if unknown:
        raise PDDLError(f"PDDL: action '{name}' uses unsupported {sorted(unknown)}")
    raw_params = fields.get(":parameters", [])
    if not isinstance(raw_params, list):
        raise PDDLError(f"PDDL: action '{name}' has malformed :parameters")
    params = tuple(_typed_list(raw_params, f"action '{name}' parameters"))
    variables = [var for var, _ in params]
    if any(not var.startswith("?") for var in variables) or len(set(variables)) != len(variables):
        raise PDDLError(f"PDDL: action '{name}' parameters must be distinct ?variables")
    where = f"action '{name}'"
    names = {*variables, *domain["constants"]}
    precondition = _conjunction(fields.get(":precondition", []), f"{where} precondition")
    effect = _conjunction(fields.get(":effect", []), f"{where} effect")
    for literal in [*precondition, *effect]:
        _check_atom(literal.atom, domain["predicates"], names, where)
    if any(literal.predicate == "=" for literal in effect):
        raise PDDLError(f"PDDL: {where} has '=' in its effect")
    add = tuple(dict.fromkeys(lit.atom for lit in effect if lit.positive))
    delete = tuple(dict.fromkeys(lit.atom for lit in effect if not lit.positive))
    return Operator(name, params, tuple(precondition), add, delete)


def parse_domain(text: str) -> Domain:
    name, sections = _sections(parse_sexpr(text), "domain")
    parts: dict = {"requirements": [], "parents": {}, "constants": {}, "predicates": {}}
    actions: list[list[SExpr]] = []
    for section in sections:  # every section but the actions first: constants may come after predicates
        key = section[0]
        if key == ":requirements":
            parts["requirements"] += [str(r) for r in section[1:]]
        elif key == ":types":
            parts["parents"].update(_typed_list(section[1:], "types"))
        elif key == ":constants":
            parts["constants"].update(_typed_list(section[1:], "constants"))
        elif key == ":predicates":
            for predicate in section[1:]:
                if not isinstance(predicate, list) or not predicate:
                    raise PDDLError(f"PDDL: malformed predicate {_show(predicate)}")
                label = _name(predicate[0], "a predicate")
                parts["predicates"][label] = tuple(_typed_list(predicate[1:], f"predicate '{label}'"))
        elif key == ":action":
            actions.append(section)
        else:
            raise PDDLError(f"PDDL: domain section '{key}' is not supported by this STRIPS simulator")
    parts["parents"].pop(ROOT_TYPE, None)
    operators = {}
    for section in actions:
        operator = _operator(section, parts)
        if operator.name in operators:
            raise PDDLError(f"PDDL: action '{operator.name}' is defined twice")
        operators[operator.name] = operator
    if not operators:
        raise PDDLError(f"PDDL: domain '{name}' defines no actions")
    return Domain(
        name, tuple(parts["requirements"]), parts["parents"], parts["constants"], parts["predicates"], operators
    )


def parse_problem(text: str, domain: Domain) -> Problem:
    name, sections = _sections(parse_sexpr(text), "problem")
    objects = dict(domain.constants)
    init: list[Atom] = []
    goal: list[Literal] | None = None
    for section in sections:
        key = section[0]
        if key == ":domain":
            declared = section[1] if len(section) == 2 else None
            if declared != domain.name:
                raise PDDLError(f"PDDL: problem '{name}' is for domain {_show(declared)}, not '{domain.name}'")
        elif key == ":objects":
            objects.update(_typed_list(section[1:], "objects"))  # re-declaring a constant is tolerated
        elif key == ":init":
            init += [_atom(atom, f"problem '{name}' init") for atom in section[1:]]
        elif key == ":goal":
            if len(section) != 2:
                raise PDDLError(f"PDDL: problem '{name}' :goal takes one formula")
            goal = _conjunction(section[1], f"problem '{name}' goal")
        elif key == ":requirements":
            continue
        else:
            raise PDDLError(f"PDDL: problem section '{key}' is not supported by this STRIPS simulator")
    if goal is None or not goal:
        raise PDDLError(f"PDDL: problem '{name}' has no goal")
    for atom in [*init, *(lit.atom for lit in goal)]:
        if atom[0] == "=":
            raise PDDLError(f"PDDL: problem '{name}' uses '=' outside an action")
        _check_atom(atom, domain.predicates, objects, f"problem '{name}'")
    return Problem(name, domain, objects, frozenset(init), tuple(dict.fromkeys(goal)))
