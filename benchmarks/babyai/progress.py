"""Progress rate (running max of the fraction of subgoals reached, 1.0 on success), from labels or the mission.

Labels (AgentBoard's `labels/babyai/test.jsonl`): each subgoal is a sentence pattern; `*` (or `**`) is a wildcard,
and a pattern is reached when all its pieces occur within one sentence of the observation (AgentBoard's rule, applied
to `scene.label_text`, which uses AgentBoard's grammar). By default every pattern that matches counts at once;
`one_per_step=True` reproduces AgentBoard's quirk of crediting at most one new pattern per step.

Instruction tree (no labels, or labels written for another layout): BabyAI's `env.instrs` is a tree of action
instructions (GoTo, Pickup, Open, PutNext) joined by Before/After/And. Each leaf gives one "seen" subgoal per object
description it names (an object matching it was in view) and one "done" subgoal (the leaf is verified complete;
read from the Before/After/And nodes' own bookkeeping, so ordering constraints are BabyAI's). Progress = reached
subgoals / all subgoals.

Both are updated after each executed action only (not at reset, not after 'check' or invalid actions), as in
AgentBoard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.babyai.scene import Scene, label_text


def match_pattern(text: str, pattern: str) -> bool:
    pattern = pattern.strip()
    pieces = [piece.strip(".") for piece in pattern.split("**" if "**" in pattern else "*")]
    return any(all(piece in sentence for piece in pieces) for sentence in text.split("."))


class LabelProgress:
    def __init__(self, patterns: Sequence[str], one_per_step: bool = False) -> None:
        if not patterns:
            raise ValueError("label progress needs at least one pattern")
        self.patterns = list(patterns)
        self.one_per_step = one_per_step
        self.reached: set[int] = set()

    @property
    def total(self) -> int:
        return len(self.patterns)

    def update(self, scene: Scene) -> float:
        text = label_text(scene)
        for index, pattern in enumerate(self.patterns):
            if index not in self.reached and match_pattern(text, pattern):
                self.reached.add(index)
                if self.one_per_step:
                    break
        return len(self.reached) / self.total


def leaves(instr: Any) -> list[Any]:
    """Action instructions of a BabyAI instruction tree, in reading order."""
    if hasattr(instr, "instr_a"):
        return leaves(instr.instr_a) + leaves(instr.instr_b)
    return [instr]


def _descs(leaf: Any) -> list[Any]:
    return [getattr(leaf, attr) for attr in ("desc", "desc_move", "desc_fixed") if hasattr(leaf, attr)]


def completed_leaves(instr: Any, succeeded: bool) -> set[int]:
    """ids of the leaves BabyAI's verifier has marked done (a leaf at the root is done only when the task is)."""
    if succeeded:
        return {id(leaf) for leaf in leaves(instr)}
    if hasattr(instr, "instr_a"):
        return completed_leaves(instr.instr_a, instr.a_done == "success") | completed_leaves(
            instr.instr_b, instr.b_done == "success"
        )
    return set()


class TreeProgress:
    def __init__(self, instrs: Any) -> None:
        self.instrs = instrs
        self.leaves = leaves(instrs)
        self.descs = [desc for leaf in self.leaves for desc in _descs(leaf)]
        self.seen: set[int] = set()  # indexes into self.descs
        self.done: set[int] = set()  # ids of leaves

    @property
    def total(self) -> int:
        return len(self.descs) + len(self.leaves)

    def update(self, scene: Scene, succeeded: bool = False) -> float:
        in_view = {id(thing.obj) for thing in scene.things}
        for index, desc in enumerate(self.descs):
            if any(id(obj) in in_view for obj in desc.obj_set):
                self.seen.add(index)
        self.done |= completed_leaves(self.instrs, succeeded)
        return (len(self.seen) + len(self.done)) / self.total
