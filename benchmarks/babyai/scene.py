"""What the agent sees: its 7x7 egocentric view turned into a list of named objects, and into text.

`observe(env)` reads a MiniGrid env (duck-typed: no minigrid import here) into a `Scene`. Objects are named
"<colour> [<door state>] <type> <n>" ("red ball 1", "grey closed door 1"), numbered per name in listing order:
nearest first (Manhattan distance), ties broken farthest row first, then left to right. This is AgentBoard's order,
so AgentBoard's subgoal labels (which name objects with these numbers) keep their meaning.

Two renderings of one scene:
  `render(scene)`      the text the agent reads (proper singular/plural, one line per fact);
  `label_text(scene)`  AgentBoard's sentence grammar ("There is a red ball 1 right in front of you 1 steps away."),
                       used only to match AgentBoard's label patterns, never shown to the agent.
Only cells the agent can actually see (MiniGrid's visibility mask) are described.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# MiniGrid's absolute directions: 0 = +x (east), 1 = +y (south), 2 = -x, 3 = -y.
DIR_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
LISTED_TYPES = ("door", "key", "ball", "box", "goal", "lava")  # walls and empty floor are not listed
PICKABLE_TYPES = ("key", "ball", "box")

Pos = tuple[int, int]


@dataclass(frozen=True)
class Thing:
    """One visible object. `forward`/`lateral` are offsets from the agent (lateral > 0 = to the right)."""

    type: str
    color: str
    state: str | None  # doors only: "open", "closed" or "locked"
    number: int
    forward: int
    lateral: int
    pos: Pos  # absolute grid position
    obj: Any = field(default=None, compare=False, repr=False)  # the env's WorldObj (identity matters)

    @property
    def kind(self) -> str:
        return " ".join(part for part in (self.color, self.state, self.type) if part)

    @property
    def name(self) -> str:
        return f"{self.kind} {self.number}"


@dataclass(frozen=True)
class Scene:
    agent_pos: Pos
    agent_dir: int
    things: tuple[Thing, ...]
    visible: frozenset[Pos]  # absolute positions the agent sees (its own cell included)
    cells: dict[Pos, Any]  # visible position -> WorldObj or None (empty)
    carrying: Any  # WorldObj or None
    ahead: tuple[str, int] | None  # nearest blocking thing straight ahead: (description, steps)
    ahead_wall_or_box: tuple[str, int] | None  # AgentBoard's "You are facing a ...": ("wall" or "box", steps)

    @property
    def front_pos(self) -> Pos:
        dx, dy = DIR_VEC[self.agent_dir]
        return self.agent_pos[0] + dx, self.agent_pos[1] + dy

    def thing_at(self, pos: Pos) -> Thing | None:
        return next((thing for thing in self.things if thing.pos == pos), None)


def door_state(obj: Any) -> str:
    return "locked" if obj.is_locked else "open" if obj.is_open else "closed"


def describe_carrying(obj: Any) -> str:
    return f"a {obj.color} {obj.type}"


def passable(cell: Any) -> bool:
    """Cells the agent may step onto when planning (lava is walkable in MiniGrid but deadly, so never planned)."""
    if cell is None:
        return True
    if cell.type == "door":
        return bool(cell.is_open)
    return cell.type in ("goal", "floor")


def observe(env: Any) -> Scene:
    grid, vis_mask = env.gen_obs_grid()
    size = env.agent_view_size
    me_i, me_j = size // 2, size - 1
    ax, ay = int(env.agent_pos[0]), int(env.agent_pos[1])
    direction = int(env.agent_dir)
    fx, fy = DIR_VEC[direction]
    rx, ry = -fy, fx  # MiniGrid's right vector
    seen: list[tuple[tuple[int, int, int], str, str, str | None, int, int, Pos, Any]] = []
    cells: dict[Pos, Any] = {(ax, ay): None}
    ahead: dict[int, Any] = {}
    for j in range(size):  # farthest row first, then left to right: AgentBoard's scan order
        for i in range(size):
            if (i, j) == (me_i, me_j) or not vis_mask[i, j]:
                continue
            forward, lateral = me_j - j, i - me_i
            pos = (ax + forward * fx + lateral * rx, ay + forward * fy + lateral * ry)
            cell = grid.get(i, j)
            cells[pos] = cell
            if lateral == 0:
                ahead[forward] = cell
            if cell is not None and cell.type in LISTED_TYPES:
                state = door_state(cell) if cell.type == "door" else None
                key = (abs(forward) + abs(lateral), j, i)
                seen.append((key, cell.type, cell.color, state, forward, lateral, pos, cell))
    seen.sort(key=lambda item: item[0])
    counts: dict[tuple[str, str, str | None], int] = {}
    things = []
    for _, type_, color, state, forward, lateral, pos, obj in seen:
        counts[(type_, color, state)] = counts.get((type_, color, state), 0) + 1
        things.append(Thing(type_, color, state, counts[(type_, color, state)], forward, lateral, pos, obj))
    scene_things = tuple(things)
    by_pos = {thing.pos: thing for thing in scene_things}

    def first_ahead(blocks: Any) -> tuple[Any, int] | None:
        steps = next((n for n in sorted(ahead) if ahead[n] is not None and blocks(ahead[n])), None)
        return None if steps is None else (ahead[steps], steps)

    blocker = first_ahead(lambda cell: not passable(cell))
    wall_or_box = first_ahead(lambda cell: cell.type in ("wall", "box"))
    blocker_text = None
    if blocker is not None:
        thing = by_pos.get((ax + fx * blocker[1], ay + fy * blocker[1]))
        blocker_text = (thing.name if thing else blocker[0].type), blocker[1]

    return Scene(
        agent_pos=(ax, ay),
        agent_dir=direction,
        things=scene_things,
        visible=frozenset(cells),
        cells=cells,
        carrying=env.carrying,
        ahead=blocker_text,
        ahead_wall_or_box=None if wall_or_box is None else (wall_or_box[0].type, wall_or_box[1]),
    )


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def offset_text(forward: int, lateral: int) -> str:
    """'2 steps in front of you and 1 step to your left' (parts that are zero are left out)."""
    parts = []
    if forward:
        parts.append(f"{_steps(forward)} in front of you")
    if lateral:
        parts.append(f"{_steps(abs(lateral))} to your {'right' if lateral > 0 else 'left'}")
    return " and ".join(parts) or "where you stand"


def render(scene: Scene) -> str:
    lines = []
    if scene.things:
        lines.append("You see:")
        lines += [f"- {thing.name}, {offset_text(thing.forward, thing.lateral)}" for thing in scene.things]
    else:
        lines.append("You do not see any objects.")
    if scene.ahead is None:
        lines.append("Nothing blocks your way straight ahead as far as you can see.")
    else:
        what, steps = scene.ahead
        article = "a " if what == "wall" else "the "
        lines.append(f"Straight ahead of you is {article}{what}, {_steps(steps)} away.")
    carrying = (
        f"You are carrying {describe_carrying(scene.carrying)}." if scene.carrying else "You are not carrying anything."
    )
    lines.append(carrying)
    return "\n".join(lines)


def label_text(scene: Scene) -> str:
    """The same facts in AgentBoard's grammar, for its label patterns only."""
    sentences = []
    for thing in scene.things:
        if thing.lateral == 0:
            where = f"right in front of you {thing.forward} steps away"
        else:
            side = "right" if thing.lateral > 0 else "left"
            where = f"{thing.forward} steps in front of you and {abs(thing.lateral)} steps to your {side}"
        sentences.append(f"There is a {thing.kind} {thing.number} {where}.")
    if scene.ahead_wall_or_box is not None:
        what, steps = scene.ahead_wall_or_box
        sentences.append(f"You are facing a {what} {steps} steps away.")
    if scene.carrying:
        sentences.append(f"You are carrying {describe_carrying(scene.carrying)}.")
    else:
        sentences.append("You are not carrying anything.")
    return " ".join(sentences)
