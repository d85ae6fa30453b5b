"""The AgeMem policy-output format, parsed strictly: `<think>...</think>` then one `<tool_call>` or `<answer>`.

Model output is untrusted: it may be empty, huge, unclosed, nested, in any script or carry invalid JSON.
Parsing never raises and never evaluates anything. A malformed output is reported with one short, actionable
error that the agent shows to the model as the tool result of that round (the round counts as invalid), and no
call of an invalid output runs. Tags are found with `str.find` (no regex backtracking on model text) and are
case-sensitive lower-case.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from agents.agemem.tools import ALL_TOOLS, ToolCall, ToolCallError, show, validate_call
from agents.protocol import MAX_ACTION_CHARS, restore_stop  # noqa: F401 (part of this module's API)

THINK, END_THINK = "<think>", "</think>"
TOOL_CALL, END_TOOL_CALL = "<tool_call>", "</tool_call>"
ANSWER, END_ANSWER = "<answer>", "</answer>"
_TAGS = (THINK, END_THINK, TOOL_CALL, END_TOOL_CALL, ANSWER, END_ANSWER)
_ACTIONS = (TOOL_CALL, ANSWER)
_CALL_KEYS = ("name", "arguments")


@dataclass(frozen=True)
class PolicyOutput:
    """One parsed output: `calls` are set for "tool_calls", `answer` for "answer", `error` for "invalid"."""

    kind: Literal["tool_calls", "answer", "invalid"]
    think: str
    calls: tuple[ToolCall, ...]
    answer: str
    error: str  # "" unless kind == "invalid"


class _Invalid(Exception):
    """Raised inside the parser with the message for the model; never escapes `parse_policy_output`."""


class _BadJSON(ValueError):
    """A JSON value the parser refuses (NaN, Infinity, a duplicate key), with its own message."""


def parse_policy_output(
    text: str, *, allowed_tools: Collection[str] = ALL_TOOLS, max_calls: int = 8, max_chars: int = 20000
) -> PolicyOutput:
    """Classify one policy output as validated tool calls, a final answer, or invalid with an error."""
    try:
        if not isinstance(text, str):
            raise _Invalid(f"the output must be text, got {type(text).__name__}")
        if len(text) > max_chars:
            raise _Invalid(f"output too long ({len(text)} characters; at most {max_chars})")
        think, action, body = _split(text)
        if action == ANSWER:
            answer = body.strip()
            if not answer:
                raise _Invalid("empty <answer>: put the final answer inside <answer>...</answer>")
            return PolicyOutput("answer", think, (), answer[:MAX_ACTION_CHARS], "")
        return PolicyOutput("tool_calls", think, _parse_calls(body, allowed_tools, max_calls), "", "")
    except _Invalid as exc:
        return PolicyOutput("invalid", "", (), "", str(exc))


def format_error_message(error: str) -> str:
    """The tool result shown to the model after an invalid output."""
    return (
        f"Invalid output: {error.rstrip('.')}. Reply with <think>...</think> followed by exactly one "
        '<tool_call>[{"name": ..., "arguments": {...}}]</tool_call> or <answer>...</answer>, and nothing else.'
    )


def _tags(text: str) -> list[tuple[int, str]]:
    """Every protocol tag with its position; a tag in the wrong letter case is an error."""
    found = []
    start = text.find("<")
    while start != -1:
        for tag in _TAGS:
            candidate = text[start : start + len(tag)]
            if candidate == tag:
                found.append((start, tag))
                break
            if candidate.isascii() and candidate.lower() == tag:
                raise _Invalid(f"tags are case-sensitive: write {tag}, not {candidate}")
        start = text.find("<", start + 1)
    return found


def _split(text: str) -> tuple[str, str, str]:
    """Check the block structure; return (think content, action tag, action content)."""
    tags = _tags(text)
    if not tags:
        raise _Invalid("empty output" if not text.strip() else "no tags found: start with <think>...</think>")
    (think_at, first), rest = tags[0], tags[1:]
    if first != THINK:
        raise _Invalid(f"missing <think> block: the output must start with <think>...</think>, not {first}")
    if text[:think_at].strip():
        raise _Invalid("text before <think> is outside the tags; remove it")
    if not rest:
        raise _Invalid("unclosed <think>: close it with </think>")
    think_end, tag = rest[0]
    if tag != END_THINK:
        raise _Invalid(_misplaced(tag, THINK))
    think = text[think_at + len(THINK) : think_end].strip()
    after_think = think_end + len(END_THINK)
    if len(rest) == 1:
        raise _Invalid("missing action: after </think> give exactly one <tool_call>[...]</tool_call> or "
                       "<answer>...</answer>")
    action_at, action = rest[1]
    if action == THINK:
        raise _Invalid("duplicate <think> block: give one <think> block, then one action")
    if action not in _ACTIONS:
        raise _Invalid(f"{action} has no opening tag")
    if text[after_think:action_at].strip():
        raise _Invalid(f"text between </think> and {action} is outside the tags; remove it")
    closing = "</" + action[1:]
    if len(rest) == 2:
        raise _Invalid(f"unclosed {action}: end it with {closing}")
    close_at, tag = rest[2]
    if tag != closing:
        raise _Invalid(_misplaced(tag, action))
    if len(rest) > 3:
        raise _Invalid(_extra(rest[3][1], action))
    if text[close_at + len(closing) :].strip():
        raise _Invalid(f"text after {closing} is outside the tags; nothing may follow the action")
    return think, action, text[action_at + len(action) : close_at]


def _misplaced(tag: str, inside: str) -> str:
    """The error for `tag` met where the block `inside` should close."""
    if tag.startswith("</"):
        return f"{tag} does not match the open {inside}; close it with </{inside[1:]}"
    return f"{tag} inside {inside}: tags cannot be nested; close </{inside[1:]} first"


def _extra(tag: str, action: str) -> str:
    """The error for a tag after the complete action block."""
    if tag == action:
        return f"more than one {action} block: give exactly one action (several calls go in one JSON array)"
    if tag in _ACTIONS:
        return "both <tool_call> and <answer>: give exactly one of them"
    if tag == THINK:
        return "<think> must come first and only once"
    return f"{tag} has no opening tag"


def _parse_calls(body: str, allowed: Collection[str], max_calls: int) -> tuple[ToolCall, ...]:
    """Decode the `<tool_call>` JSON array and validate every call; the first bad call rejects them all."""
    if not body.strip():
        raise _Invalid('empty <tool_call>: put a JSON array inside, e.g. [{"name": ..., "arguments": {...}}]')
    data = _loads(body)
    if isinstance(data, dict):
        raise _Invalid('<tool_call> must hold a JSON array: wrap the call in [ ], e.g. [{"name": ..., '
                       '"arguments": {...}}]')
    if not isinstance(data, list):
        raise _Invalid(f"<tool_call> must hold a JSON array of calls, got {show(data)}")
    if not data:
        raise _Invalid("<tool_call> holds an empty array: give at least one call")
    if len(data) > max_calls:
        raise _Invalid(f"too many calls ({len(data)}); at most {max_calls} per output")
    return tuple(_parse_call(item, f"call {i} of {len(data)}", allowed) for i, item in enumerate(data, 1))


def _parse_call(item: Any, where: str, allowed: Collection[str]) -> ToolCall:
    if not isinstance(item, dict):
        raise _Invalid(f'{where} must be an object {{"name": ..., "arguments": {{...}}}}, got {show(item)}')
    extra = [key for key in item if key not in _CALL_KEYS]
    if extra:
        raise _Invalid(f'{where}: unexpected key {show(extra[0])}; a call has only "name" and "arguments"')
    if "name" not in item:
        raise _Invalid(f'{where}: missing "name"')
    try:
        return validate_call(item["name"], item.get("arguments", {}), allowed)
    except ToolCallError as exc:
        hint = "" if "arguments" in item else ' (the call has no "arguments" key)'
        raise _Invalid(f"{where}: {exc}{hint}") from None


def _loads(body: str) -> Any:
    """Strict JSON: no NaN/Infinity, no overflowing floats, no duplicate keys; depth and size errors caught."""
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float,
                          parse_int=_short_int, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"<tool_call> is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except _BadJSON as exc:
        raise _Invalid(f"<tool_call> is not valid JSON: {exc}") from None
    except RecursionError:
        raise _Invalid("<tool_call> JSON is nested too deeply") from None
    except ValueError as exc:  # a safety net: json raises nothing else that the hooks do not already catch
        raise _Invalid(f"<tool_call> is not valid JSON: {str(exc)[:80]}") from None


def _reject_constant(name: str) -> Any:
    raise _BadJSON(f"{name} is not allowed; use a finite number or a string")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _BadJSON(f"number {literal[:20]} is out of range")
    return value


def _short_int(literal: str) -> int:
    if len(literal.lstrip("-")) > 100:  # no argument needs more; Python refuses past 4,300 digits anyway
        raise _BadJSON(f"number {literal[:20]}... has too many digits")
    return int(literal)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _BadJSON(f"duplicate key {show(key)}")
        result[key] = value
    return result
