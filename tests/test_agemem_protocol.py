"""The AgeMem output parser and tool validator: every rule and message, plus fuzzing with untrusted output."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.agemem.protocol import (
    PolicyOutput,
    format_error_message,
    parse_policy_output,
    restore_stop,
)
from agents.agemem.tools import (
    ALL_TOOLS,
    LTM_TOOLS,
    STM_TOOLS,
    TOOL_SCHEMAS,
    ToolCall,
    ToolCallError,
    render_tool_docs,
    validate_call,
)
from agents.protocol import MAX_ACTION_CHARS


def calls_output(calls: Any, think: str = "plan") -> str:
    return f"<think>{think}</think>\n<tool_call>{json.dumps(calls)}</tool_call>"


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


ADD = call("Add_memory", content="Paris is in France")

# ---------------------------------------------------------------- tools.validate_call

VALID_CALLS = [
    ("Add_memory", {"content": " fact "}, {"content": "fact", "metadata": {}, "memory_type": "fact"}),
    ("Add_memory", {"content": "x", "metadata": {"tags": ["a"]}, "memory_type": "event"},
     {"content": "x", "metadata": {"tags": ["a"]}, "memory_type": "event"}),
    ("Update_memory", {"memory_id": "m1a2b3c4d", "content": "new"},
     {"memory_id": "m1a2b3c4d", "content": "new", "metadata": {}}),
    ("Delete_memory", {"memory_id": "m1", "confirmation": True}, {"memory_id": "m1", "confirmation": True}),
    ("Delete_memory", {"memory_id": "m1", "confirmation": False}, {"memory_id": "m1", "confirmation": False}),
    ("Delete_memory", {"memory_id": "m1", "confirmed": True}, {"memory_id": "m1", "confirmation": True}),
    ("Delete_memory", {"memory_id": "m1", "confirmed": True, "confirmation": True},
     {"memory_id": "m1", "confirmation": True}),
    ("Retrieve_memory", {"query": "q"}, {"query": "q", "top_k": 3, "metadata_filter": {}}),
    ("Retrieve_memory", {"query": "q", "top_k": 20, "metadata_filter": {"source": "user"}},
     {"query": "q", "top_k": 20, "metadata_filter": {"source": "user"}}),
    ("Summary_context", {"span": "all"}, {"span": "all"}),
    ("Summary_context", {"span": "full"}, {"span": "all"}),
    ("Summary_context", {"span": " ALL "}, {"span": "all"}),
    ("Summary_context", {"span": 4}, {"span": 4}),
    ("Summary_context", {"span": "3"}, {"span": 3}),
    ("Filter_context", {"criteria": "weather chatter"}, {"criteria": "weather chatter"}),
]


@pytest.mark.parametrize(("name", "arguments", "expected"), VALID_CALLS)
def test_valid_calls_are_normalised(name: str, arguments: dict[str, Any], expected: dict[str, Any]) -> None:
    result = validate_call(name, arguments, ALL_TOOLS)
    assert result == ToolCall(name, expected)
    assert validate_call(result.name, result.arguments, ALL_TOOLS) == result  # idempotent


INVALID_CALLS = [
    ("add_memory", {"content": "x"}, ALL_TOOLS, 'unknown tool "add_memory" (did you mean "Add_memory"?); available: '
     "Add_memory, Update_memory, Delete_memory, Retrieve_memory, Summary_context, Filter_context"),
    ("Retrieve_memories", {"query": "x"}, ALL_TOOLS, 'did you mean "Retrieve_memory"?'),
    ("Search", {"query": "x"}, STM_TOOLS, 'unknown tool "Search"; available: Retrieve_memory, Summary_context'),
    ("Add_memory", {"content": "x"}, STM_TOOLS, "tool Add_memory is not available here; available: Retrieve_memory"),
    ("Add_memory", {"content": "x"}, (), "available: none"),
    (3, {}, ALL_TOOLS, 'tool "name" must be a string, got 3 (number)'),
    ("Add_memory", ["x"], ALL_TOOLS, 'Add_memory: "arguments" must be a JSON object such as {"content": ...}'),
    ("Add_memory", '{"content": "x"}', ALL_TOOLS, '"arguments" must be a JSON object'),
    ("Add_memory", {}, ALL_TOOLS, 'Add_memory: missing required argument "content"'),
    ("Add_memory", {"content": "x", "tags": []}, ALL_TOOLS,
     'Add_memory: unknown argument "tags"; accepted: content, metadata, memory_type'),
    ("Retrieve_memory", {"query": "x", "topk": 2}, ALL_TOOLS, 'unknown argument "topk" (did you mean "top_k"?)'),
    ("Add_memory", {"content": "   "}, ALL_TOOLS, '"content" must be a non-empty string, got only whitespace'),
    ("Add_memory", {"content": 5}, ALL_TOOLS, '"content" must be a non-empty string, got 5 (number)'),
    ("Add_memory", {"content": None}, ALL_TOOLS, '"content" must be a non-empty string, got null'),
    ("Add_memory", {"content": "x" * 4001}, ALL_TOOLS, '"content" is too long (4001 chars; at most 4000)'),
    ("Add_memory", {"content": "x", "metadata": "tag"}, ALL_TOOLS, '"metadata" must be a JSON object'),
    ("Add_memory", {"content": "x", "metadata": ["tag"]}, ALL_TOOLS, '"metadata" must be a JSON object'),
    ("Add_memory", {"content": "x", "memory_type": ""}, ALL_TOOLS, '"memory_type" must be a non-empty string'),
    ("Update_memory", {"memory_id": 12, "content": "x"}, ALL_TOOLS,
     'Update_memory: "memory_id" must be a string such as "m1a2b3c4d", got 12 (number)'),
    ("Update_memory", {"memory_id": "m1"}, ALL_TOOLS, 'missing required argument "content"'),
    ("Delete_memory", {"memory_id": "m1"}, ALL_TOOLS, 'missing required argument "confirmation"'),
    ("Delete_memory", {"memory_id": "m1", "confirmation": "true"}, ALL_TOOLS,
     '"confirmation" must be true or false (a JSON boolean), got "true" (string)'),
    ("Delete_memory", {"memory_id": "m1", "confirmation": 1}, ALL_TOOLS, "(a JSON boolean), got 1 (number)"),
    ("Delete_memory", {"memory_id": "m1", "confirmed": 1}, ALL_TOOLS, '"confirmation" must be true or false'),
    ("Delete_memory", {"memory_id": "m1", "confirmed": True, "confirmation": False}, ALL_TOOLS,
     'Delete_memory: "confirmed" and "confirmation" disagree; give only "confirmation"'),
    ("Delete_memory", {"memory_id": "m1", "confirmed": 1, "confirmation": True}, ALL_TOOLS, "disagree"),
    ("Retrieve_memory", {"query": "q", "top_k": 0}, ALL_TOOLS, '"top_k" must be an integer from 1 to 20, got 0'),
    ("Retrieve_memory", {"query": "q", "top_k": 21}, ALL_TOOLS, "from 1 to 20, got 21"),
    ("Retrieve_memory", {"query": "q", "top_k": True}, ALL_TOOLS, "from 1 to 20, got true (boolean)"),
    ("Retrieve_memory", {"query": "q", "top_k": 3.0}, ALL_TOOLS, "from 1 to 20, got 3.0"),
    ("Retrieve_memory", {"query": "q", "top_k": "3"}, ALL_TOOLS, 'from 1 to 20, got "3" (string)'),
    ("Retrieve_memory", {"query": "q", "metadata_filter": []}, ALL_TOOLS, '"metadata_filter" must be a JSON object'),
    ("Retrieve_memory", {"query": ""}, ALL_TOOLS, '"query" must be a non-empty string'),
    ("Summary_context", {"span": 0}, ALL_TOOLS, '"span" must be "all" or a positive integer N'),
    ("Summary_context", {"span": -2}, ALL_TOOLS, "got -2"),
    ("Summary_context", {"span": "0"}, ALL_TOOLS, 'got "0"'),
    ("Summary_context", {"span": "last 3"}, ALL_TOOLS, 'got "last 3"'),
    ("Summary_context", {"span": "٣"}, ALL_TOOLS, "positive integer"),  # non-ASCII digit
    ("Summary_context", {"span": True}, ALL_TOOLS, "got true (boolean)"),
    ("Summary_context", {"span": 2.5}, ALL_TOOLS, "got 2.5"),
    ("Summary_context", {}, ALL_TOOLS, 'missing required argument "span"'),
    ("Filter_context", {"criteria": ["a"]}, ALL_TOOLS, '"criteria" must be a non-empty string'),
]


@pytest.mark.parametrize(("name", "arguments", "allowed", "message"), INVALID_CALLS)
def test_invalid_calls_explain_the_problem(name: Any, arguments: Any, allowed: Collection[str], message: str) -> None:
    with pytest.raises(ToolCallError) as info:
        validate_call(name, arguments, allowed)
    assert message in str(info.value)
    assert len(str(info.value)) < 300


def test_schemas_match_the_paper() -> None:
    assert LTM_TOOLS + STM_TOOLS == ALL_TOOLS and set(TOOL_SCHEMAS) == set(ALL_TOOLS)
    required = {name: schema["parameters"]["required"] for name, schema in TOOL_SCHEMAS.items()}
    assert required == {
        "Add_memory": ["content"],
        "Update_memory": ["memory_id", "content"],
        "Delete_memory": ["memory_id", "confirmation"],
        "Retrieve_memory": ["query"],
        "Summary_context": ["span"],
        "Filter_context": ["criteria"],
    }
    assert TOOL_SCHEMAS["Retrieve_memory"]["parameters"]["properties"]["top_k"]["default"] == 3
    json.dumps(TOOL_SCHEMAS)  # serialisable into a prompt


def test_render_tool_docs() -> None:
    docs = render_tool_docs(STM_TOOLS)
    assert "Retrieve_memory(query: string, top_k?: integer = 3, metadata_filter?: object = {})" in docs
    assert "Add_memory" not in docs and "REMOVE" in docs
    assert render_tool_docs(ALL_TOOLS).count("\n- ") == 5
    with pytest.raises(ValueError, match="unknown tools"):
        render_tool_docs(["Search"])


def test_normalised_arguments_are_fresh_copies() -> None:
    first = validate_call("Add_memory", {"content": "x"}, ALL_TOOLS)
    first.arguments["metadata"]["tag"] = "changed"
    assert validate_call("Add_memory", {"content": "x"}, ALL_TOOLS).arguments["metadata"] == {}
    with pytest.raises(TypeError):
        first.arguments["content"] = "y"  # type: ignore[index]


# ---------------------------------------------------------------- protocol.parse_policy_output

VALID_OUTPUTS = [
    ("<think>x</think><answer>Paris</answer>", "answer", "Paris"),
    ("  \n<think></think>\n\n<answer>\n Paris \n</answer>\n ", "answer", "Paris"),
    ("<think>a < b, 1 <2</think><answer>a <b> tag</answer>", "answer", "a <b> tag"),
    ("<think>\u200f\u200b</think><answer>\u202eשלום 🙂</answer>", "answer", "\u202eשלום 🙂"),
    (calls_output([ADD]), "tool_calls", ""),
    (calls_output([ADD, call("Retrieve_memory", query="q"), call("Summary_context", span="full")]), "tool_calls", ""),
    (calls_output([call("Delete_memory", memory_id="m1", confirmed=True)]), "tool_calls", ""),
]


@pytest.mark.parametrize(("text", "kind", "answer"), VALID_OUTPUTS)
def test_valid_outputs(text: str, kind: str, answer: str) -> None:
    out = parse_policy_output(text)
    assert (out.kind, out.answer, out.error) == (kind, answer, "")


def test_calls_are_parsed_in_order_with_defaults() -> None:
    out = parse_policy_output(calls_output([ADD, call("Summary_context", span="2")], think=" why "))
    assert out.think == "why"
    assert out.calls == (
        ToolCall("Add_memory", {"content": "Paris is in France", "metadata": {}, "memory_type": "fact"}),
        ToolCall("Summary_context", {"span": 2}),
    )


def test_answer_is_cut_to_the_action_limit() -> None:
    out = parse_policy_output(f"<think></think><answer>{'y' * (MAX_ACTION_CHARS + 50)}</answer>")
    assert out.kind == "answer" and out.answer == "y" * MAX_ACTION_CHARS


T = "<think>t</think>"
INVALID_OUTPUTS = [
    ("", "empty output"),
    ("   \n", "empty output"),
    ("Paris", "no tags found: start with <think>...</think>"),
    ("<answer>Paris</answer>", "missing <think> block: the output must start with <think>...</think>, not <answer>"),
    ("Sure! <think>x</think><answer>a</answer>", "text before <think> is outside the tags"),
    ("<think>x", "unclosed <think>: close it with </think>"),
    ("<think>x</answer>", "</answer> does not match the open <think>; close it with </think>"),
    ("<think>x<answer>a</answer></think>", "<answer> inside <think>: tags cannot be nested"),
    ("<think><think>x</think></think><answer>a</answer>", "<think> inside <think>"),
    (T, "missing action: after </think> give exactly one <tool_call>[...]</tool_call> or <answer>...</answer>"),
    (T + " Paris", "missing action"),
    (T + "<think>y</think><answer>a</answer>", "duplicate <think> block"),
    (T + "</answer>", "</answer> has no opening tag"),
    (T + "so: <answer>a</answer>", "text between </think> and <answer> is outside the tags"),
    (T + "<answer>a", "unclosed <answer>: end it with </answer>"),
    (T + "<tool_call>[]", "unclosed <tool_call>: end it with </tool_call>"),
    (T + "<answer>a</tool_call>", "</tool_call> does not match the open <answer>"),
    (T + "<answer>a<answer>b</answer></answer>", "<answer> inside <answer>: tags cannot be nested"),
    (T + "<answer>a</answer><answer>b</answer>", "more than one <answer> block: give exactly one action"),
    (calls_output([ADD]) + calls_output([ADD])[len(T) + 1:], "more than one <tool_call> block"),
    (T + "<answer>a</answer><tool_call>[]</tool_call>", "both <tool_call> and <answer>: give exactly one of them"),
    (calls_output([ADD]) + "<answer>a</answer>", "both <tool_call> and <answer>"),
    (T + "<answer>a</answer><think>b</think>", "<think> must come first and only once"),
    (T + "<answer>a</answer></think>", "</think> has no opening tag"),
    (T + "<answer>a</answer> thanks", "text after </answer> is outside the tags"),
    (T + "<answer>   </answer>", "empty <answer>"),
    ("<THINK>x</THINK><answer>a</answer>", "tags are case-sensitive: write <think>, not <THINK>"),
    (T + "<Answer>a</Answer>", "write <answer>, not <Answer>"),
    (T + "<answer>a</ANSWER>", "write </answer>, not </ANSWER>"),
    (T + "<Tool_Call>[]</Tool_Call>", "write <tool_call>, not <Tool_Call>"),
    (T + "<tool_call> </tool_call>", "empty <tool_call>: put a JSON array inside"),
    (T + f"<tool_call>{json.dumps(ADD)}</tool_call>", "<tool_call> must hold a JSON array: wrap the call in [ ]"),
    (T + "<tool_call>[]</tool_call>", "<tool_call> holds an empty array: give at least one call"),
    (T + '<tool_call>"Add_memory"</tool_call>', '<tool_call> must hold a JSON array of calls, got "Add_memory"'),
    (calls_output([ADD] * 9), "too many calls (9); at most 8 per output"),
    (T + "<tool_call>[{'name': 'Add_memory'}]</tool_call>", "<tool_call> is not valid JSON: Expecting property name"),
    (T + "<tool_call>[NaN]</tool_call>", "<tool_call> is not valid JSON: NaN is not allowed"),
    (T + "<tool_call>[-Infinity]</tool_call>", "-Infinity is not allowed"),
    (T + "<tool_call>[1e999]</tool_call>", "number 1e999 is out of range"),
    (T + f"<tool_call>[{'9' * 5000}]</tool_call>", "has too many digits"),
    (T + '<tool_call>[{"name": "Add_memory", "name": "Delete_memory"}]</tool_call>', 'duplicate key "name"'),
    (T + "<tool_call>" + "[" * 100000 + "</tool_call>", "output too long (100039 characters; at most 20000)"),
    (T + f"<answer>{'x' * 20000}</answer>", "output too long"),
    (calls_output(["Add_memory"]), 'call 1 of 1 must be an object {"name": ..., "arguments": {...}}'),
    (calls_output([{"name": "Add_memory", "parameters": {"content": "x"}}]),
     'call 1 of 1: unexpected key "parameters"; a call has only "name" and "arguments"'),
    (calls_output([{"arguments": {"content": "x"}}]), 'call 1 of 1: missing "name"'),
    (calls_output([{"name": "Filter_context"}]),
     'call 1 of 1: Filter_context: missing required argument "criteria" (the call has no "arguments" key)'),
    (calls_output([ADD, call("add_memory", content="x")]),
     'call 2 of 2: unknown tool "add_memory" (did you mean "Add_memory"?)'),
    (calls_output([ADD, call("Retrieve_memory", query="q", top_k=50), call("Nope")]),
     'call 2 of 3: Retrieve_memory: "top_k" must be an integer from 1 to 20, got 50'),
    (calls_output([{"name": "Add_memory", "arguments": json.dumps({"content": "x"})}]),
     'call 1 of 1: Add_memory: "arguments" must be a JSON object'),
    (calls_output([call("Update_memory", memory_id=7, content="x")]), 'must be a string such as "m1a2b3c4d"'),
]


@pytest.mark.parametrize(("text", "message"), INVALID_OUTPUTS)
def test_invalid_outputs_explain_the_problem(text: str, message: str) -> None:
    out = parse_policy_output(text)
    assert out == PolicyOutput("invalid", "", (), "", out.error)
    assert message in out.error, out.error
    assert len(out.error) < 300


def test_tool_not_allowed_in_the_variant() -> None:
    out = parse_policy_output(calls_output([ADD]), allowed_tools=STM_TOOLS)
    assert out.error == ("call 1 of 1: tool Add_memory is not available here; available: "
                         "Retrieve_memory, Summary_context, Filter_context")


def test_limits_are_configurable() -> None:
    assert parse_policy_output(calls_output([ADD] * 9), max_calls=9).kind == "tool_calls"
    assert parse_policy_output(calls_output([ADD] * 2), max_calls=1).error == "too many calls (2); at most 1 per output"
    deep = T + "<tool_call>" + "[" * 100000 + "</tool_call>"
    assert parse_policy_output(deep, max_chars=len(deep)).error == "<tool_call> JSON is nested too deeply"
    answer = T + "<answer>a</answer>"
    assert parse_policy_output(answer, max_chars=len(answer)).kind == "answer"
    assert parse_policy_output(answer, max_chars=len(answer) - 1).kind == "invalid"


@pytest.mark.parametrize("text", [None, b"<think></think><answer>a</answer>", 3])
def test_non_text_is_invalid(text: Any) -> None:
    assert parse_policy_output(text).error.startswith("the output must be text")


def test_odd_unicode_never_crashes_and_errors_stay_printable() -> None:
    lone = "\ud800"
    assert parse_policy_output(f"<think>{lone}</think><answer>{lone}🙂</answer>").answer == f"{lone}🙂"
    out = parse_policy_output(calls_output([call(f"Add{lone}_memory", content="x")]))
    assert "Add\\ud800_memory" in out.error
    out.error.encode("utf-8")  # no lone surrogate leaks into the message shown to the model
    assert parse_policy_output("<thin\u212a>x</thin\u212a>").error.startswith("no tags found")  # Kelvin sign


def test_tags_inside_json_strings_must_be_escaped() -> None:
    raw = T + '<tool_call>[{"name": "Add_memory", "arguments": {"content": "x</tool_call>"}}]</tool_call>'
    assert parse_policy_output(raw).kind == "invalid"
    escaped = raw.replace('"x</tool_call>"', '"x\\u003c/tool_call>"')
    assert parse_policy_output(escaped).calls[0].arguments["content"] == "x</tool_call>"


RESTORE = [
    ("<think>a</think><tool_call>[1]", "<think>a</think><tool_call>[1]</tool_call>"),
    ("<think>a</think><answer> Paris ", "<think>a</think><answer> Paris </answer>"),
    ("<think>a</think><answer>x</answer>", "<think>a</think><answer>x</answer>"),
    ("<think>a</think><tool_call>[]</tool_call>", "<think>a</think><tool_call>[]</tool_call>"),
    ("<think>a</think><answer>x</answer><tool_call>[", "<think>a</think><answer>x</answer><tool_call>[</tool_call>"),
    ("<think>a</think><tool_call>[]</tool_call><answer>", "<think>a</think><tool_call>[]</tool_call><answer></answer>"),
    ("<think>no action", "<think>no action"),
    ("", ""),
    ("<ANSWER>x", "<ANSWER>x"),
]


@pytest.mark.parametrize(("text", "restored"), RESTORE)
def test_restore_stop(text: str, restored: str) -> None:
    assert restore_stop(text) == restored


def test_restored_stop_parses() -> None:
    assert parse_policy_output(restore_stop("<think>x</think><answer>Paris")).answer == "Paris"
    assert parse_policy_output(restore_stop(calls_output([ADD])[: -len("</tool_call>")])).kind == "tool_calls"


def test_format_error_message() -> None:
    message = format_error_message("empty <answer>.")
    assert message.startswith("Invalid output: empty <answer>. Reply with <think>...</think>")
    assert "<tool_call>[" in message and "<answer>...</answer>" in message


# ---------------------------------------------------------------- fuzzing

def _check(out: PolicyOutput, allowed: Collection[str]) -> None:
    """Invariants that hold for every output, however malformed."""
    assert out.kind in ("tool_calls", "answer", "invalid")
    assert (out.kind == "invalid") == (out.error != "")
    if out.kind == "tool_calls":
        assert 1 <= len(out.calls) <= 8 and out.answer == ""
        for parsed in out.calls:
            assert parsed.name in allowed
            assert validate_call(parsed.name, parsed.arguments, allowed) == parsed
    else:
        assert out.calls == ()
    if out.kind == "answer":
        assert out.answer and out.answer == out.answer.strip() and len(out.answer) <= MAX_ACTION_CHARS
    if out.kind == "invalid":
        assert out.answer == "" and len(out.error) < 400
        out.error.encode("utf-8")


ALL_CHARS = st.characters(codec=None, exclude_categories=())  # every code point, lone surrogates included
ALLOWED = st.sampled_from([ALL_TOOLS, ALL_TOOLS, LTM_TOOLS, STM_TOOLS, ("Retrieve_memory",), ()])

JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(ALL_CHARS, max_size=8))
JSON_KEYS = st.text(max_size=6)
# Two levels of containers, built flat: st.recursive is several times slower and deeper nesting is tested above.
JSON_VALUES = JSON_LEAVES | st.lists(JSON_LEAVES, max_size=3) | st.dictionaries(
    JSON_KEYS, JSON_LEAVES | st.lists(JSON_LEAVES, max_size=2), max_size=3)
TEXT = st.text(ALL_CHARS, min_size=1, max_size=30).filter(str.strip)
OBJECTS = st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=3)
VALID_ARGUMENTS = {
    "Add_memory": st.fixed_dictionaries(
        {"content": TEXT}, optional={"metadata": OBJECTS, "memory_type": TEXT}),
    "Update_memory": st.fixed_dictionaries(
        {"memory_id": TEXT, "content": TEXT}, optional={"metadata": OBJECTS}),
    "Delete_memory": st.fixed_dictionaries({"memory_id": TEXT}).flatmap(
        lambda base: st.sampled_from(["confirmation", "confirmed"]).flatmap(
            lambda key: st.booleans().map(lambda flag: base | {key: flag}))),
    "Retrieve_memory": st.fixed_dictionaries(
        {"query": TEXT}, optional={"top_k": st.integers(1, 20), "metadata_filter": OBJECTS}),
    "Summary_context": st.fixed_dictionaries({"span": st.integers(1, 10**6) | st.integers(1, 999).map(str)
                                              | st.sampled_from(["all", "full", " All "])}),
    "Filter_context": st.fixed_dictionaries({"criteria": TEXT}),
}
VALID_PAIRS = st.sampled_from(ALL_TOOLS).flatmap(lambda name: VALID_ARGUMENTS[name].map(lambda args: (name, args)))
VALID_CALL_LISTS = st.lists(VALID_PAIRS, min_size=1, max_size=4)


def dump_calls(pairs: list[tuple[str, dict[str, Any]]], ensure_ascii: bool = True) -> str:
    """The `<tool_call>` JSON for calls; "<" in strings is escaped, as JSON allows, so no tag closes the block."""
    calls = [{"name": name, "arguments": args} for name, args in pairs]
    return json.dumps(calls, ensure_ascii=ensure_ascii).replace("<", "\\u003c")

ARG_NAMES = st.sampled_from(["content", "metadata", "memory_type", "memory_id", "confirmation", "confirmed",
                             "query", "top_k", "metadata_filter", "span", "criteria", "k", ""])
TOOL_NAMES = st.sampled_from(ALL_TOOLS + ("add_memory", "Search", "", "Retrieve_memory "))
RAW_CALLS = st.lists(
    VALID_PAIRS.map(lambda pair: {"name": pair[0], "arguments": pair[1]})
    | st.fixed_dictionaries({"name": TOOL_NAMES, "arguments": st.dictionaries(ARG_NAMES, JSON_VALUES, max_size=4)})
    | JSON_VALUES,
    max_size=3,
)
TAGS = st.sampled_from(["<think>", "</think>", "<tool_call>", "</tool_call>", "<answer>", "</answer>", "<THINK>",
                "</Answer>", "<tool_", "</", "<", ">", "[", "]", "{", "}", ",", ":", '"name"', '"arguments"',
                " ", "\n", "\u200b", "\u202e", "🙂", "NaN", "[" * 50])
FRAGMENTS = st.one_of(
    TAGS, TAGS,  # twice: tags are what the parser is about
    JSON_VALUES.map(json.dumps),
    RAW_CALLS.map(json.dumps),
    st.text(ALL_CHARS, max_size=6),
)
SKELETONS = st.builds(
    lambda think, tag, body, space: f"{space}<think>{think}</think>{space}<{tag}>{body}</{tag}>{space}",
    st.text(max_size=10), st.sampled_from(["tool_call", "answer"]),
    VALID_CALL_LISTS.map(dump_calls) | RAW_CALLS.map(json.dumps) | st.text(ALL_CHARS, max_size=20),
    st.sampled_from(["", " ", "\n"]),
)
FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(ALL_CHARS, max_size=200), ALLOWED)
def test_fuzz_random_text(text: str, allowed: tuple[str, ...]) -> None:
    _check(parse_policy_output(text, allowed_tools=allowed), allowed)
    restore_stop(text)


@FUZZ
@given(st.lists(FRAGMENTS, max_size=8).map("".join) | SKELETONS, ALLOWED)
def test_fuzz_structured_output(text: str, allowed: tuple[str, ...]) -> None:
    _check(parse_policy_output(text, allowed_tools=allowed), allowed)
    _check(parse_policy_output(restore_stop(text), allowed_tools=allowed), allowed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALID_CALL_LISTS, st.text(max_size=20), st.booleans())
def test_round_trip_of_valid_calls(pairs: list[tuple[str, dict[str, Any]]], think: str, ascii_only: bool) -> None:
    payload = dump_calls(pairs, ensure_ascii=ascii_only)
    think = think.replace("<", " ")
    out = parse_policy_output(f"<think>{think}</think>\n<tool_call>\n{payload}\n</tool_call>")
    assert out.kind == "tool_calls", out.error
    assert out.think == think.strip()
    assert out.calls == tuple(validate_call(name, args, ALL_TOOLS) for name, args in pairs)
