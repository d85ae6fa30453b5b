"""Progress for ALFWorld: ordered milestones per task type, checked against the game's PDDL facts.

AgentBoard's ALFWorld subgoal labels are not available, so this project defines its own (documented in
benchmarks/alfworld/benchmark.py). Each task type has an ordered list of milestones, the last one being the goal
itself; with O the target object class, R the target receptacle class and T the lamp class:
  pick_and_place:       [holding an O,  an O in/on an R]
  look_at_obj_in_light: [holding an O,  a T switched on,  holding an O at a switched-on T]
  clean / heat / cool:  [holding an O,  a clean/hot/cool O,  a clean/hot/cool O in/on an R]
  pick_two:             [holding an O,  an O in/on an R,  two Os in/on the same R]
A state's level is the index of the deepest milestone true in it (a later milestone implies the earlier ones were
passed: a placed object was held). Progress = running max over the episode of level / len(milestones); the last
milestone is the goal, so progress is 1.0 exactly when the game is won.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

STATE_CHANGE = {  # task type -> (PDDL predicate, the word used in milestone names)
    "pick_clean_then_place_in_recep": ("isclean", "clean"),
    "pick_heat_then_place_in_recep": ("ishot", "hot"),
    "pick_cool_then_place_in_recep": ("iscool", "cool"),
}


@dataclass
class Facts:
    """The few relations the milestones need, from the env's PDDL facts (lower-cased ids)."""

    object_type: dict[str, str]
    receptacle_type: dict[str, str]
    held: set[str]
    contents: dict[str, set[str]]  # receptacle id -> object ids in/on it
    flags: dict[str, set[str]]  # predicate -> object ids (isclean, ishot, iscool, istoggled)
    agent_locations: set[str]
    receptacle_location: dict[str, str]

    @classmethod
    def parse(cls, facts: Iterable[object]) -> Facts:
        parsed = cls({}, {}, set(), defaultdict(set), defaultdict(set), set(), {})
        for fact in facts:
            name = fact.name.lower()  # type: ignore[attr-defined]
            args = [arg.name.lower() for arg in fact.arguments]  # type: ignore[attr-defined]
            if name == "objecttype":
                parsed.object_type[args[0]] = args[1]
            elif name == "receptacletype":
                parsed.receptacle_type[args[0]] = args[1]
            elif name == "holds":
                parsed.held.add(args[1])
            elif name == "inreceptacle":
                parsed.contents[args[1]].add(args[0])
            elif name in ("isclean", "ishot", "iscool", "istoggled"):
                parsed.flags[name].add(args[0])
            elif name == "atlocation":
                parsed.agent_locations.add(args[1])
            elif name == "receptacleatlocation":
                parsed.receptacle_location[args[0]] = args[1]
        return parsed

    def of_type(self, ids: Iterable[str], kind: str) -> list[str]:
        return [i for i in ids if self.object_type.get(i) == kind]

    def receptacles_of(self, kind: str) -> list[str]:
        return [r for r, t in self.receptacle_type.items() if t == kind]


Check = Callable[[Facts], bool]


def milestones(task_type: str, obj: str, recep: str, toggle: str) -> list[tuple[str, Check]]:
    """The ordered (name, check) milestones of one game; class names as in traj_data (e.g. "Mug", "Desk")."""
    o, r, t = f"{obj.lower()}type", f"{recep.lower()}type", f"{toggle.lower()}type"

    def holding(f: Facts) -> bool:
        return bool(f.of_type(f.held, o))

    def placed(f: Facts, need: int = 1, flag: str | None = None) -> bool:
        for receptacle in f.receptacles_of(r):
            inside = f.of_type(f.contents.get(receptacle, ()), o)
            if flag is not None:
                inside = [i for i in inside if i in f.flags.get(flag, ())]
            if len(inside) >= need:
                return True
        return False

    def lamps_on(f: Facts) -> list[str]:
        return [lamp for lamp in f.of_type(f.flags.get("istoggled", ()), t)]

    def at_lit_lamp(f: Facts) -> bool:
        lit = set(lamps_on(f))
        here = {rec for rec, loc in f.receptacle_location.items() if loc in f.agent_locations}
        return holding(f) and any(lit & f.contents.get(rec, set()) for rec in here)

    name_o = obj.lower()
    if task_type == "pick_and_place_simple":
        return [(f"holding a {name_o}", holding), (f"a {name_o} in/on a {recep.lower()}", placed)]
    if task_type == "look_at_obj_in_light":
        return [
            (f"holding a {name_o}", holding),
            (f"a {toggle.lower()} switched on", lambda f: bool(lamps_on(f))),
            (f"holding a {name_o} at a switched-on {toggle.lower()}", at_lit_lamp),
        ]
    if task_type in STATE_CHANGE:
        flag, word = STATE_CHANGE[task_type]
        return [
            (f"holding a {name_o}", holding),
            (f"a {word} {name_o}", lambda f: bool(f.of_type(f.flags.get(flag, ()), o))),
            (f"a {word} {name_o} in/on a {recep.lower()}", lambda f: placed(f, flag=flag)),
        ]
    if task_type == "pick_two_obj_and_place":
        return [
            (f"holding a {name_o}", holding),
            (f"a {name_o} in/on a {recep.lower()}", placed),
            (f"two {name_o}s in/on the same {recep.lower()}", lambda f: placed(f, need=2)),
        ]
    raise ValueError(f"unknown ALFWorld task type {task_type!r}")


class MilestoneProgress:
    """Running max of the deepest milestone reached, as a fraction of the list."""

    def __init__(self, task_type: str, obj: str, recep: str, toggle: str) -> None:
        self.milestones = milestones(task_type, obj, recep, toggle)
        self.best = 0

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.milestones]

    def level(self, facts: Iterable[object]) -> int:
        parsed = Facts.parse(facts)
        return max((i + 1 for i, (_, check) in enumerate(self.milestones) if check(parsed)), default=0)

    def update(self, facts: Iterable[object], won: bool) -> float:
        top = len(self.milestones)
        # The last milestone restates the goal; the env's own verdict decides it, so 1.0 never comes without a win.
        self.best = top if won else max(self.best, min(self.level(facts), top - 1))
        return self.best / top
