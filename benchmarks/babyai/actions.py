"""High-level text actions -> MiniGrid primitive actions, planned by BFS over (position, direction).

Actions (AgentBoard's set; objects are named as in the latest observation, e.g. "red ball 1"):
  turn left | turn right | move forward | go to <obj> | pickup <obj> | pickup | drop | toggle
  | toggle and go through <door> | go through <door> | check available actions (also "check valid actions")
"go to" ends next to and facing the object (BabyAI's own GoTo condition); "pickup <obj>" goes there and picks it up;
"toggle and go through" goes to the door, toggles it unless it is open and steps into the doorway; bare
"pickup"/"toggle"/"drop" act on the cell in front. Planning only uses cells the agent sees right now: no route is
ever planned through unseen territory. Model output is untrusted: it is normalised (case, punctuation, articles,
spaces) and matched against a fixed grammar, never evaluated.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from benchmarks.babyai.scene import DIR_VEC, PICKABLE_TYPES, Pos, Scene, Thing, describe_carrying, passable

LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)  # MiniGrid's Actions enum values
MAX_ACTION_CHARS = 300  # anything longer is not an action from this grammar

COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
DOOR_STATES = ("open", "closed", "locked")
TYPES = ("door", "key", "ball", "box", "goal", "lava")
_ALIASES = {"gray": "grey", "opened": "open", "keys": "key", "balls": "ball", "boxes": "box", "doors": "door"}
_FILLER = {"the", "a", "an", "number", "no", "object"}

State = tuple[Pos, int]


@dataclass(frozen=True)
class ObjectRef:
    type: str
    color: str | None = None
    state: str | None = None
    number: int = 1

    @property
    def text(self) -> str:
        return " ".join(str(part) for part in (self.color, self.state, self.type, self.number) if part)


@dataclass(frozen=True)
class Command:
    verb: str  # one of VERBS
    target: ObjectRef | None = None


VERBS = (
    "check", "turn left", "turn right", "move forward", "go to", "pickup", "drop", "toggle",
    "toggle and go through", "go through",
)  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    """Why an action cannot be carried out; the sentence is the agent's feedback."""

    message: str


def normalize(action: str) -> str:
    text = action[:MAX_ACTION_CHARS].lower()
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    return re.sub(r"^(action|next action)\s+", "", text)


def parse_ref(words: list[str]) -> ObjectRef | str:
    """Words naming one object ("red closed door 1"); returns an error sentence when they do not."""
    color = state = type_ = None
    number = None
    for word in (_ALIASES.get(w, w) for w in words if w not in _FILLER):
        if word in COLORS and color is None:
            color = word
        elif word in DOOR_STATES and state is None:
            state = word
        elif word in TYPES and type_ is None:
            type_ = word
        elif word.isdigit() and number is None and type_ is not None:
            number = int(word)
        else:
            return f"'{' '.join(words)}' does not name an object (expected e.g. 'red ball 1' or 'grey closed door 2')."
    if type_ is None:
        return f"'{' '.join(words)}' does not name an object type (door, key, ball or box)."
    if state is not None and type_ != "door":
        return f"'{' '.join(words)}' gives a door state to a {type_}."
    if number is not None and number < 1:
        return f"'{' '.join(words)}' has no valid number (objects are numbered from 1)."
    return ObjectRef(type_, color, state, number or 1)


_SIMPLE = {
    "turn left": "turn left", "left": "turn left", "rotate left": "turn left",
    "turn right": "turn right", "right": "turn right", "rotate right": "turn right",
    "move forward": "move forward", "forward": "move forward", "go forward": "move forward",
    "move ahead": "move forward", "go straight": "move forward", "move forwards": "move forward",
    "drop": "drop", "toggle": "toggle", "pickup": "pickup", "pick up": "pickup",
}  # fmt: skip
_WITH_TARGET = (
    ("toggle and go through ", "toggle and go through"),
    ("toggle and walk through ", "toggle and go through"),
    ("go through ", "go through"),
    ("walk through ", "go through"),
    ("go to ", "go to"),
    ("goto ", "go to"),
    ("pickup ", "pickup"),
    ("pick up ", "pickup"),
    ("drop ", "drop"),
    ("toggle ", "toggle"),
)


def parse(action: str) -> Command | Refusal:
    text = normalize(action)
    if not text:
        return Refusal("No action was given. Use 'check available actions' to list the valid actions.")
    if text.startswith("check"):  # AgentBoard: any action starting with "check" lists the valid actions
        return Command("check")
    if text in _SIMPLE:
        return Command(_SIMPLE[text])
    for prefix, verb in _WITH_TARGET:
        if text == prefix.strip():
            return Refusal(f"'{verb}' needs an object, e.g. '{verb} red ball 1' (as named in the observation).")
        if text.startswith(prefix):
            ref = parse_ref(text[len(prefix) :].split())
            return Refusal(f"You cannot {verb}: {ref}") if isinstance(ref, str) else Command(verb, ref)
    return Refusal(f"The action '{text}' is not recognized. Use 'check available actions' to list the valid actions.")


class Planner:
    """One BFS over (position, direction) from the agent's state through the cells it sees and can step on."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        start: State = (scene.agent_pos, scene.agent_dir)
        self.parent: dict[State, tuple[State, int] | None] = {start: None}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            for primitive, nxt in self._moves(state):
                if nxt not in self.parent:
                    self.parent[nxt] = (state, primitive)
                    queue.append(nxt)
        self.order = {state: index for index, state in enumerate(self.parent)}  # BFS order = shortest first

    def _moves(self, state: State) -> list[tuple[int, State]]:
        (x, y), d = state
        dx, dy = DIR_VEC[d]
        moves = [(LEFT, ((x, y), (d - 1) % 4)), (RIGHT, ((x, y), (d + 1) % 4))]
        ahead = (x + dx, y + dy)
        if ahead in self.scene.visible and passable(self.scene.cells.get(ahead)):
            moves.insert(0, (FORWARD, (ahead, d)))
        return moves

    def path(self, state: State) -> list[int]:
        steps = []
        link = self.parent[state]
        while link is not None:
            state, primitive = link
            steps.append(primitive)
            link = self.parent[state]
        return steps[::-1]

    def face(self, target: Pos) -> list[int] | None:
        """Shortest primitive sequence that ends next to `target` and facing it; None when unreachable."""
        goals = [((target[0] - dx, target[1] - dy), d) for d, (dx, dy) in enumerate(DIR_VEC)]
        reached = [state for state in goals if state in self.order]
        return self.path(min(reached, key=self.order.__getitem__)) if reached else None


def resolve(ref: ObjectRef, scene: Scene) -> Thing | None:
    """The N-th visible object matching the reference, in listing order (= the observation's numbering)."""
    matches = [
        thing
        for thing in scene.things
        if thing.type == ref.type
        and (ref.color is None or thing.color == ref.color)
        and (ref.state is None or thing.state == ref.state)
    ]
    return matches[ref.number - 1] if ref.number <= len(matches) else None


def _front_text(scene: Scene) -> str:
    thing = scene.thing_at(scene.front_pos)
    if thing is not None:
        return f"the {thing.name}"
    cell = scene.cells.get(scene.front_pos)
    return f"a {cell.type}" if cell is not None else "nothing"


def _key_problem(door: Thing, scene: Scene, verb: str) -> str | None:
    if door.state != "locked":
        return None
    if scene.carrying is None or scene.carrying.type != "key":
        return f"You cannot {verb} {door.name}, as it is locked and you are not carrying a key."
    if scene.carrying.color != door.color:
        return f"You cannot {verb} {door.name}, as the key you are carrying does not match the color of the door."
    return None


def _toggle_front(scene: Scene) -> tuple[int, ...] | Refusal:
    thing = scene.thing_at(scene.front_pos)
    if thing is None or thing.type not in ("door", "box"):
        return Refusal(
            f"You cannot toggle, as there is no door or box right in front of you (there is {_front_text(scene)})."
        )
    problem = _key_problem(thing, scene, "toggle")
    return Refusal(problem) if problem else (TOGGLE,)


def compile_command(command: Command, scene: Scene, planner: Planner | None = None) -> tuple[int, ...] | Refusal:
    """The primitive actions carrying out `command` in `scene`, or why it cannot be done (nothing then happens)."""
    verb, ref = command.verb, command.target
    if verb == "turn left":
        return (LEFT,)
    if verb == "turn right":
        return (RIGHT,)
    if verb == "move forward":
        if passable(scene.cells.get(scene.front_pos)):
            return (FORWARD,)
        return Refusal(f"You cannot move forward, as there is {_front_text(scene)} in front of you.")
    if verb == "drop":
        if scene.carrying is None:
            return Refusal("You cannot drop anything, as you are not carrying anything.")
        held = describe_carrying(scene.carrying)
        if ref is not None and (ref.type != scene.carrying.type or ref.color not in (None, scene.carrying.color)):
            return Refusal(f"You cannot drop {ref.text}, as you are carrying {held}.")
        if scene.cells.get(scene.front_pos) is not None:
            return Refusal(f"You cannot drop {held}, as there is {_front_text(scene)} in front of you.")
        return (DROP,)
    if ref is None and verb == "pickup":
        thing = scene.thing_at(scene.front_pos)
        if thing is None or thing.type not in PICKABLE_TYPES:
            return Refusal(f"You cannot pick up anything, as there is {_front_text(scene)} in front of you.")
        if scene.carrying is not None:
            return Refusal(
                f"You cannot pick up {thing.name}, as you are already carrying {describe_carrying(scene.carrying)}."
            )
        return (PICKUP,)
    if ref is None:
        return _toggle_front(scene) if verb == "toggle" else Refusal(f"You cannot {verb}: no object was named.")
    thing = resolve(ref, scene)
    if verb == "toggle":  # "toggle <obj>" is accepted only for the object right in front
        if thing is None or thing.pos != scene.front_pos:
            return Refusal(f"You cannot toggle {ref.text}, as it is not right in front of you.")
        return _toggle_front(scene)
    shown = "pick up" if verb == "pickup" else verb
    if thing is None:
        return Refusal(f"You cannot {shown} {ref.text}, as you do not see such an object.")
    if verb == "pickup":
        if thing.type not in PICKABLE_TYPES:
            return Refusal(f"You cannot pick up {thing.name}, as only keys, balls and boxes can be picked up.")
        if scene.carrying is not None:
            return Refusal(
                f"You cannot pick up {thing.name}, as you are already carrying {describe_carrying(scene.carrying)}."
            )
    if verb in ("go through", "toggle and go through"):
        if thing.type != "door":
            return Refusal(f"You cannot {verb} {thing.name}, as it is not a door.")
        if verb == "go through" and thing.state != "open":
            return Refusal(f"You cannot go through {thing.name}, as it is {thing.state}. Toggle it first.")
        problem = _key_problem(thing, scene, verb)
        if problem:
            return Refusal(problem)
    path = (planner or Planner(scene)).face(thing.pos)
    if path is None:
        return Refusal(f"You cannot {shown} {thing.name}, as there is no path leading to it.")
    if verb == "go to":
        return tuple(path) or (DONE,)  # already facing it: a no-op lets BabyAI's verifier see the state
    if verb == "pickup":
        return (*path, PICKUP)
    opening = (TOGGLE,) if thing.state != "open" else ()
    return (*path, *opening, FORWARD)


def available(scene: Scene) -> list[str]:
    """Every high-level action that would be carried out now (the reply to 'check available actions')."""
    planner = Planner(scene)
    actions = ["turn left", "turn right"]
    candidates = [Command("move forward"), Command("drop"), Command("toggle")]  # bare "pickup" works but is not listed
    for thing in scene.things:
        ref = ObjectRef(thing.type, thing.color, thing.state, thing.number)
        candidates.append(Command("go to", ref))
        if thing.type in PICKABLE_TYPES:
            candidates.append(Command("pickup", ref))
        if thing.type == "door":
            candidates.append(Command("go through" if thing.state == "open" else "toggle and go through", ref))
    for command in candidates:
        if not isinstance(compile_command(command, scene, planner), Refusal):
            target = f" {command.target.text}" if command.target else ""
            actions.append(f"{command.verb}{target}")
    return [*actions, "check available actions"]
