"""Untrusted action text -> a ScienceWorld command, a 'check valid actions' request, or a refusal with a reason.

Parsing is deliberately shallow: ScienceWorld's own parser decides what an action means (it ignores case and
extra spaces). Here the text is only cleaned (first line, "Action:" prefixes, quotes, a trailing period, control
characters), bounded in length, and checked against the actions AgentBoard forbids: teleport, connect, dunk, eat,
flush and close door. `reset task` is refused too: it would reset the game's score and focus behind the episode's
back (AgentBoard drops "reset" from its action list). Forbidden verbs are matched as the first word (AgentBoard's
substring test would also forbid "heat"-like words), "close door" as `close` of anything named a door.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ACTION_CHARS = 300
FORBIDDEN_VERBS = ("teleport", "connect", "dunk", "eat", "flush")
CHECK_PATTERN = re.compile(r"^(?:check |list |show )?(?:the )?(?:valid|available|possible|admissible) actions?$")
PREFIX_PATTERN = re.compile(r"^(?:>\s*|(?:next\s+)?action\s*\d*\s*[:：]\s*)", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")

# ScienceWorld's replies to input its parser cannot map to an action (measured on scienceworld 1.2.3): these
# actions changed nothing, so they count as invalid. Everything else the game answers was a parsed action.
UNRECOGNIZED_REPLIES = ("No known action matches that input.", "Unknown action.")
AMBIGUOUS_REPLY = "Ambiguous request"


@dataclass(frozen=True)
class Command:
    text: str  # what is sent to the game ("" never: see parse)
    check: bool = False  # 'check valid actions': answered by the adapter, not sent


@dataclass(frozen=True)
class Refusal:
    message: str


def _clean(action: str) -> str:
    lines = [line for line in CONTROL.sub(" ", action).splitlines() if line.strip()]
    text = lines[0].strip() if lines else ""
    text = PREFIX_PATTERN.sub("", text).strip()
    text = text.strip("`'\"").strip()
    text = re.sub(r"\s+", " ", text)
    return text.rstrip(".!").strip()


def parse(action: object) -> Command | Refusal:
    if not isinstance(action, str):
        return Refusal(f"The action must be text, got {type(action).__name__}.")
    if len(action) > 20 * MAX_ACTION_CHARS:  # never even clean megabytes of model output
        return Refusal(f"The action is too long ({len(action)} characters); give one short command.")
    text = _clean(action)
    if not text:
        return Refusal("No action was given. Give one command, e.g. 'look around'.")
    if len(text) > MAX_ACTION_CHARS:
        return Refusal(f"The action is too long ({len(text)} characters); give one short command.")
    lowered = text.lower()
    if CHECK_PATTERN.match(lowered):
        return Command("check valid actions", check=True)
    words = lowered.split(" ")
    if words[0] in FORBIDDEN_VERBS or (words[0] == "close" and "door" in words[1:]):
        shown = text if len(text) <= 80 else text[:77] + "..."
        return Refusal(
            f"The action '{shown}' is not allowed in this benchmark "
            "(teleport, connect, dunk, eat, flush and close door are disabled). Choose another action."
        )
    if words[0] == "reset":
        return Refusal("Resetting the task is not allowed. Choose another action.")
    return Command(text)


def recognized(observation: str) -> bool:
    """Whether the game parsed the action (see UNRECOGNIZED_REPLIES)."""
    return not observation.lstrip().startswith(UNRECOGNIZED_REPLIES)


def ambiguous(observation: str) -> bool:
    return observation.lstrip().startswith(AMBIGUOUS_REPLY)
