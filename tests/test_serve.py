"""The OpenAI-compatible endpoint the memory libraries talk to, exercised through the real `openai` client."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from agents.llm.serve import OpenAIServer, parse_tool_calls
from tests.fakes import ScriptedModel, openai_tool_call

openai = pytest.importorskip("openai")

TOOLS = [{"type": "function", "function": {"name": "add_memory", "description": "store a fact",
                                           "parameters": {"type": "object", "properties": {"fact": {"type": "string"}}}}}]


def client(server: OpenAIServer):
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


def test_plain_chat_round_trip_with_usage_and_ledger() -> None:
    model = ScriptedModel("Hello there")
    with OpenAIServer(model) as server:
        reply = client(server).chat.completions.create(
            model="any", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi you"}],
            max_tokens=7, temperature=0.3, stop="END", seed=5)
        snapshot = server.ledger.snapshot()
    assert reply.choices[0].message.content == "Hello there" and reply.choices[0].finish_reason == "stop"
    request = model.requests[0]
    assert request.max_new_tokens == 7 and request.temperature == 0.3 and request.stop == ("END",) and request.seed == 5
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert reply.usage.prompt_tokens == model.count_tokens(request.messages) and reply.usage.completion_tokens == 2
    assert snapshot.usage.calls == 1 and snapshot.usage.prompt_tokens == reply.usage.prompt_tokens
    assert snapshot.counts == {}


def test_json_format_is_described_forced_and_checked() -> None:
    replies = iter(['{"facts": ["Paris is in France"]}', "sorry"])
    model = ScriptedModel(lambda _m: next(replies))
    with OpenAIServer(model) as server:
        api = client(server)
        good = api.chat.completions.create(model="m", messages=[{"role": "user", "content": "extract"}],
                                           response_format={"type": "json_object"})
        bad = api.chat.completions.create(model="m", messages=[{"role": "user", "content": "extract"}],
                                          response_format={"type": "json_schema", "json_schema": {
                                              "name": "x", "schema": {"type": "object"}}})
        counts = server.ledger.snapshot().counts
    assert json.loads(good.choices[0].message.content) == {"facts": ["Paris is in France"]}
    assert bad.choices[0].message.content == "{sorry"  # the forced "{" plus what the model said
    assert model.requests[0].prefix == "{" and "single JSON object" in model.requests[0].messages[0]["content"]
    assert '"type": "object"' in model.requests[1].messages[0]["content"]
    assert counts == {"json_invalid": 1}


def test_tools_become_tool_calls_and_a_named_choice_forces_the_opening() -> None:
    model = ScriptedModel(openai_tool_call("add_memory", {"fact": "a"}) + openai_tool_call("add_memory", {"fact": "b"}))
    with OpenAIServer(model) as server:
        reply = client(server).chat.completions.create(
            model="m", messages=[{"role": "system", "content": "You manage memory."},
                                 {"role": "user", "content": "remember a and b"}],
            tools=TOOLS, tool_choice={"type": "function", "function": {"name": "add_memory"}})
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls" and message.content is None
    assert [json.loads(c.function.arguments) for c in message.tool_calls] == [{"fact": "a"}, {"fact": "b"}]
    assert len({c.id for c in message.tool_calls}) == 2
    request = model.requests[0]
    assert request.prefix == '<tool_call>{"name": "add_memory", "arguments": '
    system = request.messages[0]["content"]  # one system message: the caller's, then the tool descriptions
    assert system.startswith("You manage memory.") and '"name": "add_memory"' in system and len(request.messages) == 2


def test_tool_history_is_rendered_as_text_and_invalid_calls_are_counted() -> None:
    model = ScriptedModel("<tool_call>{not json</tool_call> and no valid call")
    history = [
        {"role": "user", "content": [{"type": "text", "text": "remember "}, {"type": "text", "text": "a"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add_memory", "arguments": '{"fact": "a"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "stored"},
    ]
    with OpenAIServer(model) as server:
        reply = client(server).chat.completions.create(model="m", messages=history, tools=TOOLS)
        counts = server.ledger.snapshot().counts
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.content == "and no valid call"
    assert counts == {"tool_call_invalid": 1}
    rendered = model.requests[0].messages
    assert rendered[1]["content"] == "remember a"
    assert rendered[2] == {"role": "assistant",
                           "content": '<tool_call>{"name": "add_memory", "arguments": {"fact": "a"}}</tool_call>'}
    assert rendered[3] == {"role": "user", "content": "Tool result (c1):\nstored"}


def test_parse_tool_calls_is_defensive() -> None:
    text = ('a<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>b<tool_call>[1]</tool_call>'
            '<tool_call>{"name": "", "arguments": {}}</tool_call><tool_call>{"name": "g", "arguments": "s"}'
            '</tool_call><tool_call>{"name": "h"}')
    rest, calls, invalid = parse_tool_calls(text)
    assert rest == "ab" and [c["function"]["name"] for c in calls] == ["f", "h"] and invalid == 3
    assert calls[1]["function"]["arguments"] == "{}"


@pytest.mark.parametrize("body, message", [
    ({"messages": [{"role": "user", "content": "x"}], "stream": True}, "streaming"),
    ({"messages": []}, "non-empty list"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "role"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "text content"),
    ({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "grammar"}}, "response_format"),
    ({"messages": [{"role": "user", "content": "x"}], "tools": TOOLS,
      "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "unknown function"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "sampling parameter"),
])
def test_bad_requests_get_400_with_an_openai_error(body: dict, message: str) -> None:
    model = ScriptedModel()
    with OpenAIServer(model) as server:
        with pytest.raises(openai.BadRequestError, match=message):
            client(server).chat.completions.create(model="m", **body)
        raw = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
        assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
        assert httpx.get(f"{server.base_url}/models").json()["data"][0]["id"] == "scripted/test"
        assert httpx.post(f"{server.base_url}/embeddings", json={}).status_code == 404
        assert server.ledger.snapshot().counts == {"bad_request": 2}
    assert model.requests == []


def test_model_failure_is_a_500_and_counted() -> None:
    def explode(_messages):
        raise RuntimeError("out of memory")

    with OpenAIServer(ScriptedModel(explode)) as server:
        with pytest.raises(openai.InternalServerError, match="out of memory"):
            client(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert server.ledger.snapshot().counts == {"error": 1}


def test_concurrent_clients_are_all_served_and_counted() -> None:
    model = ScriptedModel(lambda messages: messages[-1]["content"].upper())
    with OpenAIServer(model) as server:
        api = client(server)
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda i: api.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"call {i}"}]).choices[0].message.content, range(24)))
        assert server.ledger.snapshot().usage.calls == 24
    assert replies == [f"CALL {i}" for i in range(24)]


def test_closed_server_refuses_connections() -> None:
    server = OpenAIServer(ScriptedModel()).start()
    url = server.base_url
    server.close()
    server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models", timeout=2)
