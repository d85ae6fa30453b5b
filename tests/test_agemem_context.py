from agents.agemem.context import SUMMARY_HEADER, Context
from tests.fakes import ScriptedModel


def _context(n=5):
    context = Context("system prompt", ScriptedModel(), budget_tokens=10_000)
    for i in range(n):
        context.add("user" if i % 2 == 0 else "assistant", f"message {i}")
    return context


def test_summary_of_last_n_replaces_exactly_that_span():
    context = _context(6)  # user 0, assistant 1, ..., assistant 5; newest user = message 4 (protected)
    rewrite = context.summarize(2, ScriptedModel("short note"))
    contents = [m["content"] for m in context.messages]
    # rewritable before the call: 0,1,2,3,5 -> the last two are 3 and 5; the summary sits where 3 was
    assert rewrite.removed == 2 and rewrite.usage.calls == 1
    assert contents == ["message 0", "message 1", "message 2", f"{SUMMARY_HEADER}\nshort note", "message 4"]


def test_summary_all_keeps_the_newest_user_message_and_excludes_the_caller():
    context = _context(5)
    context.add("assistant", "<tool_call>summary</tool_call>")
    rewrite = context.summarize("all", ScriptedModel("note"), exclude_last=1)
    contents = [m["content"] for m in context.messages]
    assert rewrite.removed == 4 and contents == [f"{SUMMARY_HEADER}\nnote", "message 4",
                                                 "<tool_call>summary</tool_call>"]
    assert context.prompt()[0] == {"role": "system", "content": "system prompt"}


def test_nothing_to_rewrite_costs_nothing():
    context = _context(1)
    summarizer = ScriptedModel("x")
    assert context.summarize("all", summarizer).removed == 0 and not summarizer.requests


def test_fit_drops_oldest_and_records_overflow():
    context = Context("sys", ScriptedModel(), budget_tokens=40)
    for i in range(10):
        context.add("user", f"word word word {i}")
    used = context.fit(reserve_tokens=5)
    assert used + 5 <= 40 and context.overflow_events == 1 and context.dropped_messages > 0
    assert context.messages[-1]["content"] == "word word word 9"
    context.reset()
    assert context.messages == [] and context.prompt()[0]["content"] == "sys"
