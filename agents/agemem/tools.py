"""The six AgeMem memory tools: schemas for the prompt and strict validation of model-written arguments.

One table of parameters (`_TOOLS`) drives the prompt schemas, the rendered docs and the validation, so they
cannot drift apart. Arguments come from untrusted model output: every problem raises `ToolCallError` with a
short message the model can act on; nothing is evaluated.

Decisions where the paper (arXiv 2601.01885) is inconsistent or silent:
- `Delete_memory`: the schema names the flag `confirmation`, the case study writes `confirmed`. Both are
  accepted; `confirmed` is normalised to `confirmation`, and giving both with different values is an error.
  `confirmation: false` is a valid call: the memory store deletes nothing and says so.
- `Summary_context`: the schema says `span: "all"`, the case study writes `"full"`. "full" is an alias of "all"
  (either matched case-insensitively). A span is otherwise a positive integer N = the last N messages (the
  paper's "rounds", where each system, user, assistant or tool message counts as one); since the schema types
  span as a string, a digit string such as "3" is accepted as 3. The normalised span is "all" or an int.
- `Filter_context`: the main definition removes messages whose similarity to the criteria is >= theta, so the
  criteria describes what to REMOVE (one passage says it may describe what to keep; that reading is rejected).
- Memory ids are strings (the store issues ids such as "m1a2b3c4d"); an integer id is an error.
- Required text arguments must be non-empty after stripping and are stored stripped; every text argument is
  at most MAX_TEXT_CHARS characters (the brief's 4,000-character limit on memory content, applied to all text
  so one argument cannot flood the context).
- Defaults are filled in: top_k=3, metadata={}, memory_type="fact", metadata_filter={}.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

MAX_TEXT_CHARS = 4000
MAX_TOP_K = 20

LTM_TOOLS = ("Add_memory", "Update_memory", "Delete_memory")
STM_TOOLS = ("Retrieve_memory", "Summary_context", "Filter_context")
ALL_TOOLS = LTM_TOOLS + STM_TOOLS


class ToolCallError(ValueError):
    """A model-written tool call that cannot run; the message is shown to the model."""


@dataclass(frozen=True)
class ToolCall:
    """A validated call: arguments normalised (aliases resolved, text stripped) with defaults filled in."""

    name: str
    arguments: Mapping[str, Any]


def show(value: Any, limit: int = 40) -> str:
    """A short, printable rendering of untrusted input for an error message (lone surrogates escaped)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: Any) -> str:
    """The JSON name of a Python value's type, as the model wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _got(value: Any) -> str:
    return "got null" if value is None else f"got {show(value)} ({_json_type(value)})"


def _required_text(arg: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ToolCallError(f'"{arg}" must be a non-empty string, {_got(value)}')
        if not value.strip():
            raise ToolCallError(f'"{arg}" must be a non-empty string, got only whitespace')
        if len(value) > MAX_TEXT_CHARS:
            raise ToolCallError(f'"{arg}" is too long ({len(value)} chars; at most {MAX_TEXT_CHARS})')
        return value.strip()

    return check


def _check_memory_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ToolCallError(f'"memory_id" must be a string such as "m1a2b3c4d", {_got(value)}')
    return _required_text("memory_id")(value)


def _check_memory_type(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ToolCallError(f'"memory_type" must be a non-empty string such as "fact", {_got(value)}')
    if len(value) > MAX_TEXT_CHARS:
        raise ToolCallError(f'"memory_type" is too long ({len(value)} chars; at most {MAX_TEXT_CHARS})')
    return value.strip()


def _object(arg: str) -> Callable[[Any], dict[str, Any]]:
    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise ToolCallError(f'"{arg}" must be a JSON object such as {{"tags": ["travel"]}}, {_got(value)}')
        return dict(value)

    return check


def _check_confirmation(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ToolCallError(f'"confirmation" must be true or false (a JSON boolean), {_got(value)}')
    return value


def _check_top_k(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise ToolCallError(f'"top_k" must be an integer from 1 to {MAX_TOP_K}, {_got(value)}')
    return value


def _check_span(value: Any) -> int | str:
    if isinstance(value, str):
        word = value.strip()
        if word.lower() in ("all", "full"):
            return "all"
        if word.isascii() and word.isdigit() and len(word) <= 9 and int(word) > 0:
            return int(word)
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ToolCallError(f'"span" must be "all" or a positive integer N (the last N messages), {_got(value)}')


def _plain(default: Any) -> Any:
    """A fresh, mutable copy of a default (read-only mappings become dicts)."""
    return dict(default) if isinstance(default, Mapping) else default


@dataclass(frozen=True)
class _Param:
    name: str
    type: str  # JSON-schema type shown to the model
    description: str
    check: Callable[[Any], Any]
    required: bool = False
    default: Any = None  # filled in when the argument is absent (optional parameters only)


@dataclass(frozen=True)
class _Tool:
    description: str
    params: tuple[_Param, ...]
    aliases: tuple[tuple[str, str], ...] = ()  # (alternative argument name, parameter name)


_METADATA = _Param("metadata", "object", "optional tags, e.g. {\"source\": ..., \"tags\": [...]}", _object("metadata"),
                   default=MappingProxyType({}))

_TOOLS: dict[str, _Tool] = {
    "Add_memory": _Tool(
        "Store a new long-term memory item. Returns its id.",
        (
            _Param("content", "string", "the fact to remember, self-contained", _required_text("content"), True),
            _METADATA,
            _Param("memory_type", "string", "kind of item", _check_memory_type, default="fact"),
        ),
    ),
    "Update_memory": _Tool(
        "Replace the content (and metadata) of a stored item; take the id from an earlier retrieval.",
        (
            _Param("memory_id", "string", "id of the item, e.g. \"m1a2b3c4d\"", _check_memory_id, True),
            _Param("content", "string", "the new content", _required_text("content"), True),
            _METADATA,
        ),
    ),
    "Delete_memory": _Tool(
        "Delete a stored item that is wrong or obsolete.",
        (
            _Param("memory_id", "string", "id of the item, e.g. \"m1a2b3c4d\"", _check_memory_id, True),
            _Param("confirmation", "boolean", "must be true to delete", _check_confirmation, True),
        ),
        (("confirmed", "confirmation"),),
    ),
    "Retrieve_memory": _Tool(
        "Search long-term memory; the most similar items are added to the context.",
        (
            _Param("query", "string", "what to look for", _required_text("query"), True),
            _Param("top_k", "integer", f"number of items, 1 to {MAX_TOP_K}", _check_top_k, default=3),
            _Param("metadata_filter", "object", "only items whose metadata match", _object("metadata_filter"),
                   default=MappingProxyType({})),
        ),
    ),
    "Summary_context": _Tool(
        "Replace part of the context by a summary that keeps facts, intentions, decisions and open questions.",
        (_Param("span", "string", "\"all\", or N to summarise the last N messages", _check_span, True),),
    ),
    "Filter_context": _Tool(
        "Remove context messages similar to the criteria (describe what to REMOVE, not what to keep).",
        (_Param("criteria", "string", "description of the messages to remove", _required_text("criteria"), True),),
    ),
}

TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    name: {
        "name": name,
        "description": tool.description,
        "parameters": {
            "type": "object",
            "properties": {
                p.name: {"type": p.type, "description": p.description}
                | ({} if p.required else {"default": _plain(p.default)})
                for p in tool.params
            },
            "required": [p.name for p in tool.params if p.required],
        },
    }
    for name, tool in _TOOLS.items()
}


def render_tool_docs(names: Collection[str]) -> str:
    """A compact listing of the given tools for a system prompt, in the paper's order."""
    unknown = sorted(set(names) - set(ALL_TOOLS))
    if unknown:
        raise ValueError(f"unknown tools {unknown}; known: {', '.join(ALL_TOOLS)}")
    lines = []
    for name in (n for n in ALL_TOOLS if n in names):
        tool = _TOOLS[name]
        signature = ", ".join(
            f"{p.name}: {p.type}" if p.required else f"{p.name}?: {p.type} = {json.dumps(_plain(p.default))}"
            for p in tool.params
        )
        lines.append(f"- {name}({signature}): {tool.description}")
        lines.extend(f"    {p.name}: {p.description}" for p in tool.params)
    return "\n".join(lines)


def validate_call(name: Any, arguments: Any, allowed: Collection[str]) -> ToolCall:
    """Check one call against its schema and the variant's allowed tools; return it normalised."""
    offered = [n for n in ALL_TOOLS if n in allowed]
    if not isinstance(name, str):
        raise ToolCallError(f'tool "name" must be a string, {_got(name)}; available: {", ".join(offered)}')
    if name not in _TOOLS:
        raise ToolCallError(f"unknown tool {show(name)}{_suggest(name, offered)}; available: {', '.join(offered)}")
    if name not in offered:
        raise ToolCallError(f"tool {name} is not available here; available: {', '.join(offered) or 'none'}")
    tool = _TOOLS[name]
    if not isinstance(arguments, Mapping):
        raise ToolCallError(f'{name}: "arguments" must be a JSON object such as {{"{tool.params[0].name}": ...}}, '
                            f"{_got(arguments)}")
    given = _resolve_aliases(name, tool, arguments)
    params = {p.name: p for p in tool.params}
    for key in given:
        if key not in params:
            raise ToolCallError(f"{name}: unknown argument {show(key)}{_suggest(str(key), list(params))}; "
                                f"accepted: {', '.join(params)}")
    normalised: dict[str, Any] = {}
    for param in tool.params:
        if param.name in given:
            try:
                normalised[param.name] = param.check(given[param.name])
            except ToolCallError as exc:
                raise ToolCallError(f"{name}: {exc}") from None
        elif param.required:
            raise ToolCallError(f'{name}: missing required argument "{param.name}"')
        else:
            normalised[param.name] = _plain(param.default)
    return ToolCall(name, MappingProxyType(normalised))


def _resolve_aliases(name: str, tool: _Tool, arguments: Mapping[Any, Any]) -> dict[Any, Any]:
    """Rename alias keys to their parameter; an alias that contradicts its parameter is an error."""
    given = dict(arguments)
    for alias, target in tool.aliases:
        if alias in given:
            value = given.pop(alias)
            if target in given and (type(given[target]), given[target]) != (type(value), value):
                raise ToolCallError(f'{name}: "{alias}" and "{target}" disagree; give only "{target}"')
            given[target] = value
    return given


def _suggest(word: str, choices: list[str]) -> str:
    """A difflib 'did you mean' hint, matched case-insensitively."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.strip().lower()[:100], list(by_lower), n=1, cutoff=0.6)
    return f' (did you mean "{by_lower[close[0]]}"?)' if close else ""
