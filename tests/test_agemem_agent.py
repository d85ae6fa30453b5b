import json

import pytest

from agents.agemem.agent import FORCED_ANSWER_PREFIX, AgeMemAgent, agemem, agemem_norl, agemem_rag
from agents.agemem.context import SUMMARY_HEADER
from agents.api import Models
from benchmarks.api import Observation, TaskRef
from benchmarks.errors import SuiteError
from tests.fakes import QueueModel, ScriptedModel, answer, tool_call

TASK = TaskRef("hotpotqa", "dev", "t1")


def _agent(outputs, factory=agemem_norl, workdir=None, **options):
    model = QueueModel(outputs)
    agent = factory(Models(policy=model), **options)
    agent.reset(TASK, workdir=workdir)
    return agent, model


def _tool_results(model, index=-1):
    return [m for m in model.requests[index].messages if m["role"] == "tool"]


def test_add_then_answer_stores_the_item(tmp_path):
    agent, model = _agent([tool_call("Add_memory", content="Paris is in France", metadata={"tags": ["geo"]}),
                           answer("noted")], workdir=tmp_path)
    step = agent.act(Observation("Paris is in France."))
    assert step.action == "noted" and step.usage["policy"].calls == 2
    result = json.loads(_tool_results(model)[0]["content"])[0]
    assert result["status"] == "ok" and result["memory_id"].startswith("m")
    stats = agent.episode_stats()
    assert stats["tool_calls"]["Add_memory"] == 1 and stats["ltm_size"] == 1 and stats["rounds"] == 2
    assert stats["ltm_items"][0]["content"] == "Paris is in France"
    assert (tmp_path / "ltm.sqlite").exists()


def test_update_and_delete_unknown_ids_are_tool_errors_not_invalid_rounds():
    agent, model = _agent([tool_call("Update_memory", memory_id="m0000", content="x"),
                           tool_call("Delete_memory", memory_id="m0000", confirmation=True), answer("ok")])
    agent.act(Observation("hello"))
    results = [json.loads(m["content"])[0] for m in _tool_results(model)]
    assert [r["status"] for r in results] == ["error", "error"] and "m0000" in results[0]["error"]
    stats = agent.episode_stats()
    assert stats["tool_errors"] == 2 and stats["invalid_rounds"] == 0


def test_update_delete_and_confirmation_false():
    agent, model = _agent([tool_call("Add_memory", content="old fact"), answer("ok")])
    agent.act(Observation("x"))
    item_id = agent.store.items()[0].id
    model.outputs = [tool_call("Update_memory", memory_id=item_id, content="new fact"),
                     tool_call("Delete_memory", memory_id=item_id, confirmed=False), answer("ok")]
    agent.act(Observation("y"))
    assert agent.store.get(item_id).content == "new fact"
    assert json.loads(_tool_results(model)[-1]["content"])[0]["status"] == "not deleted"
    model.outputs = [tool_call("Delete_memory", memory_id=item_id, confirmation=True), answer("ok")]
    agent.act(Observation("z"))
    assert len(agent.store) == 0 and agent.episode_stats()["tool_calls"]["Delete_memory"] == 2


def test_invalid_output_gets_an_error_message_and_another_round():
    agent, model = _agent(["I think the answer is Paris", answer("Paris")])
    step = agent.act(Observation("q"))
    assert step.action == "Paris" and agent.episode_stats()["invalid_rounds"] == 1
    error = _tool_results(model)[0]["content"]
    assert "<think>" in error and "answer" in error.lower()


def test_round_cap_forces_an_answer():
    agent, model = _agent(["garbage"], max_rounds_per_step=3)
    step = agent.act(Observation("q"))
    assert model.requests[-1].prefix == FORCED_ANSWER_PREFIX and len(model.requests) == 4
    assert step.action == "garbage" and agent.episode_stats()["forced_answers"] == 1
    assert step.usage["policy"].calls == 4


def test_episode_round_cap():
    agent, model = _agent([tool_call("Retrieve_memory", query="x")], max_rounds_per_step=4, max_rounds_per_episode=5)
    agent.act(Observation("a"))
    agent.act(Observation("b"))
    assert agent.episode_stats()["rounds"] == 6  # 4 tool rounds + a forced answer, then at the cap: forced at once
    assert agent.episode_stats()["forced_answers"] == 2


def test_new_session_resets_context_but_not_ltm_and_stage1_auto_retrieval():
    agent, model = _agent([tool_call("Add_memory", content="The code word is heliotrope"), answer("ok")])
    agent.act(Observation("The code word is heliotrope."))
    model.outputs = [answer("ok")]
    agent.act(Observation("What was the code word again?"))
    stage1_prompt = model.requests[-1].messages[-1]["content"]
    assert "Related long-term memories" in stage1_prompt and "heliotrope" in stage1_prompt
    model.outputs = [tool_call("Retrieve_memory", query="code word"), answer("heliotrope")]
    step = agent.act(Observation("Distractor paragraph about trains.", new_session=True))
    first_prompt = model.requests[-2].messages
    assert [m["role"] for m in first_prompt] == ["system", "user"]  # short-term context was reset
    assert "Related long-term memories" not in first_prompt[-1]["content"]  # stage-1 only
    hits = json.loads(_tool_results(model)[-1]["content"])[0]["memories"]
    assert hits[0]["content"] == "The code word is heliotrope" and step.action == "heliotrope"
    assert agent.episode_stats()["auto_retrievals"] == 1


def test_rag_variant_retrieves_every_step_and_has_no_context_tools():
    agent, model = _agent([tool_call("Add_memory", content="Tokyo is in Japan"), answer("ok")], factory=agemem_rag)
    agent.act(Observation("Tokyo is in Japan."))
    model.outputs = [tool_call("Summary_context", span="all"), answer("ok")]
    agent.act(Observation("Where is Tokyo?", new_session=True))
    assert "Tokyo is in Japan" in model.requests[-2].messages[-1]["content"]
    assert "Summary_context is not available" in _tool_results(model)[-1]["content"]
    assert "Summary_context" not in model.requests[-1].messages[0]["content"]


def test_summary_replaces_the_span_and_counts_summarizer_tokens():
    summarizer = ScriptedModel("Alice lives in Oslo; she asked about trains.")
    policy = QueueModel([answer("ok")])
    agent = agemem_norl(Models(policy=policy, others={"summarizer": summarizer}))
    agent.reset(TASK)
    for text in ("Alice lives in Oslo.", "She likes trains.", "It is raining."):
        agent.act(Observation(text))
    policy.outputs = [tool_call("Summary_context", span="all"), answer("done")]
    step = agent.act(Observation("Summarise please"))
    messages = agent.context.messages
    assert messages[0]["content"].startswith(SUMMARY_HEADER) and "Oslo" in messages[0]["content"]
    assert not any("It is raining." in m["content"] for m in messages)
    assert any(m["content"] == "Summarise please" for m in messages)  # the current observation is kept
    assert step.usage["summarizer"].calls == 1 and step.usage["policy"].calls == 2


def test_filter_removes_similar_messages_only():
    agent, model = _agent([answer("ok")])
    for text in ("The stock market fell sharply today.", "Shares and stocks dropped on Wall Street.",
                 "My grandmother bakes apple pie."):
        agent.act(Observation(text))
    model.outputs = [tool_call("Filter_context", criteria="stocks falling on the stock market"), answer("ok")]
    agent.act(Observation("What does grandma bake?"))
    contents = " ".join(m["content"] for m in agent.context.messages)
    assert "apple pie" in contents and "Wall Street" not in contents and "What does grandma bake?" in contents
    assert json.loads(_tool_results(model)[-1]["content"])[0]["messages_removed"] >= 2


def test_context_budget_overflow_is_recorded_and_prompt_fits():
    agent, model = _agent([answer("ok")], context_tokens=600, max_new_tokens=50)
    for i in range(40):
        agent.act(Observation(f"turn {i} " + "filler " * 30))
    assert agent.episode_stats()["context_overflows"] > 0
    assert model.count_tokens(model.requests[-1].messages) <= 600 - 50


def test_variants_and_bad_options():
    with pytest.raises(SuiteError, match="checkpoint"):
        agemem(Models(policy=ScriptedModel()))
    loaded = []
    trained = ScriptedModel(spec="transformers/ckpt")
    agent = agemem(Models(policy=ScriptedModel(), loader=lambda spec: loaded.append(spec) or trained),
                   checkpoint="transformers/ckpt")
    assert loaded == ["transformers/ckpt"] and agent.policy is trained and agent.name == "agemem"
    with pytest.raises(SuiteError, match="format_mode"):
        AgeMemAgent(Models(policy=ScriptedModel()), format_mode="grammar")
    with pytest.raises(SuiteError, match="auto_retrieve"):
        AgeMemAgent(Models(policy=ScriptedModel()), auto_retrieve="sometimes")
