"""Judges: the score parser, the lexical fallback's documented rules, and the LLM judge's prompting and retries."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.llm.api import Usage
from metrics.judges import ANSWER_PROMPT, Judge, LexicalJudge, LLMJudge, content_tokens, parse_score
from tests.fakes import QueueModel, ScriptedModel


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1.0),
    ("0", 0.0),
    ("0.8", 0.8),
    (".8", 0.8),
    ("1.0", 1.0),
    ("0.8/1", 0.8),
    ("8/10", 0.8),
    ("0.7 / 1.0", 0.7),
    ("Score: 0.7", 0.7),
    ("score = 0.35.", 0.35),
    ("80%", 0.8),
    ("100 %", 1.0),
    ("0.8-0.9", 0.8),  # a range: the first number
    ("  0.6\n", 0.6),
    ("<think>the score could be 7 or 0.2</think>0.9", 0.9),  # reasoning before </think> is ignored
    ("0.9 because the answer matches", 0.9),
    ("", None),
    ("   ", None),
    ("excellent", None),
    ("7", None),  # out of range: never clipped
    ("1.5", None),
    ("150%", None),
    ("-0.2", None),
    ("Score: -0.5", None),
    ("3/0", None),
    ("nan", None),
    ("inf", None),
    ("１", None),  # non-ASCII digits are not read
    ("<think>0.5", 0.5),  # an unclosed think block is just text: the first number counts
])
def test_parse_score_table(text: str, expected: float | None) -> None:
    result = parse_score(text)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_parse_score_rejects_non_text() -> None:
    assert parse_score(None) is None  # type: ignore[arg-type]
    assert parse_score(0.5) is None  # type: ignore[arg-type]


def test_parse_score_huge_input_is_fast_and_safe() -> None:
    assert parse_score("1" * 100_000) is None  # a giant number is out of range
    assert parse_score(" " * 100_000 + "0.5") is None  # beyond the first 2,000 characters
    assert parse_score("0.5" + " " * 100_000) == 0.5


_score_text = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.-/% eE:,<>/thinkScore", max_size=40),
    st.builds(lambda a, b: f"{a}{b}", st.floats(allow_nan=True, allow_infinity=True).map(str), st.text(max_size=10)),
)


@settings(max_examples=500, deadline=None)
@given(_score_text)
def test_parse_score_fuzz_never_raises(text: str) -> None:
    result = parse_score(text)
    assert result is None or (isinstance(result, float) and math.isfinite(result) and 0.0 <= result <= 1.0)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_parse_score_reads_back_any_score(value: float) -> None:
    assert parse_score(f"{value:.4f}") == pytest.approx(round(value, 4))


# -- lexical judge ------------------------------------------------------------------------------------------------


def test_lexical_judge_is_a_judge() -> None:
    judge = LexicalJudge()
    assert isinstance(judge, Judge)
    assert judge.name == "lexical"
    assert judge.usage == Usage()


def test_lexical_answer_is_exact_match_then_token_f1() -> None:
    judge = LexicalJudge()
    assert judge.answer("q?", "The Eiffel Tower", "eiffel tower!") == 1.0
    # F1 of "paris france" vs "paris": precision 1/2, recall 1 -> 2/3
    assert judge.answer("q?", "Paris", "Paris France") == pytest.approx(2 / 3)
    assert judge.answer("q?", "yes", "no") == 0.0
    assert judge.answer("q?", "London", "Paris") == 0.0


def test_content_tokens_drop_stopwords_and_normalise() -> None:
    assert content_tokens("The director of Ed Wood, was he American?") == {"director", "ed", "wood", "american"}


def test_lexical_memory_item_rules() -> None:
    judge = LexicalJudge()
    support = ["Scott Derrickson is an American director.", "Ed Wood was an American filmmaker."]
    # contains the gold answer as a whole phrase -> 1.0
    assert judge.memory_item("q?", "American", "Derrickson is american", support) == 1.0
    # covers >= 50% of one supporting sentence's content tokens {scott, derrickson, american, director}
    assert judge.memory_item("q?", "Chicago", "Scott Derrickson directs", support) == 1.0
    # covers 1/4 -> half of it
    assert judge.memory_item("q?", "Chicago", "Derrickson", support) == pytest.approx(0.125)
    # nothing in common
    assert judge.memory_item("q?", "Chicago", "bananas are yellow", support) == 0.0
    # no support: only the gold-answer rule
    assert judge.memory_item("q?", "Chicago", "born in Chicago, Illinois") == 1.0
    assert judge.memory_item("q?", "Chicago", "Scott Derrickson directs") == 0.0
    # a closed answer (yes/no) in an item earns nothing by itself; a partial word is not the phrase
    assert judge.memory_item("q?", "yes", "yes, I think so") == 0.0
    assert judge.memory_item("q?", "Wood", "Hollywood sign") == 0.0


def test_lexical_relevance_rule() -> None:
    judge = LexicalJudge()
    question = "Where was Scott Derrickson born?"  # content tokens {scott, derrickson, born}
    assert judge.relevance(question, []) == 0.0
    assert judge.relevance(question, ["Scott Derrickson was born in Denver"]) == 1.0
    assert judge.relevance(question, ["Scott Derrickson was born in Denver", "bananas"]) == pytest.approx(0.5)
    assert judge.relevance(question, ["Derrickson"]) == pytest.approx(1 / 3)
    assert judge.relevance("Who is he?", ["anything"]) == 0.0  # no content tokens in the question


# -- LLM judge ----------------------------------------------------------------------------------------------------


def test_llm_judge_prompt_and_parsing() -> None:
    model = ScriptedModel("Score: 0.8")
    judge = LLMJudge(model)
    assert isinstance(judge, Judge)
    assert judge.name == "llm:scripted/test"
    assert judge.answer("Who wrote Hamlet?", "William Shakespeare", "Shakespeare") == 0.8
    (request,) = model.requests
    assert request.temperature == 0.0
    system, user = request.messages
    assert system["role"] == "system" and system["content"] == ANSWER_PROMPT
    assert "number" in system["content"] and "0.8-0.9" in system["content"]
    assert "Who wrote Hamlet?" in user["content"]
    assert "William Shakespeare" in user["content"]
    assert "Shakespeare" in user["content"]


def test_llm_judge_memory_item_and_relevance_prompts() -> None:
    model = ScriptedModel("0.6")
    judge = LLMJudge(model)
    assert judge.memory_item("Where was X born?", "Paris", "X was born in Paris", ["X was born in Paris."]) == 0.6
    user = model.requests[-1].messages[1]["content"]
    assert "Where was X born?" in user and "Paris" in user and "X was born in Paris" in user
    assert "Supporting facts" in user
    assert judge.relevance("Where was X born?", ["item one", "item two"]) == 0.6
    user = model.requests[-1].messages[1]["content"]
    assert "1. item one" in user and "2. item two" in user
    calls = len(model.requests)
    assert judge.relevance("Where was X born?", []) == 0.0  # nothing to judge: no call
    assert len(model.requests) == calls


def test_llm_judge_retries_on_garbage_then_succeeds() -> None:
    model = QueueModel(["I think it is good", "0.7"])
    judge = LLMJudge(model, retries=2)
    assert judge.answer("q?", "a", "b") == 0.7
    assert len(model.requests) == 2
    retry = model.requests[1].messages
    assert retry[-2] == {"role": "assistant", "content": "I think it is good"}
    assert "number" in retry[-1]["content"]


def test_llm_judge_gives_none_after_retries() -> None:
    model = ScriptedModel("very good answer")
    judge = LLMJudge(model, retries=2)
    assert judge.answer("q?", "a", "b") is None
    assert len(model.requests) == 3  # first try + 2 retries
    assert LLMJudge(ScriptedModel("7 out of 10"), retries=0).answer("q?", "a", "b") is None


def test_llm_judge_accumulates_usage() -> None:
    model = QueueModel(["garbage", "0.5", "1"])
    judge = LLMJudge(model)
    judge.answer("q?", "a", "b")
    judge.memory_item("q?", "a", "item")
    usage = judge.usage
    assert usage.calls == 3
    expected_prompt = sum(model.count_tokens(r.messages) for r in model.requests)
    assert usage.prompt_tokens == expected_prompt
    assert usage.completion_tokens == 3  # one word per reply


def test_llm_judge_cuts_huge_fields() -> None:
    model = ScriptedModel("1")
    LLMJudge(model).answer("q?", "gold", "x" * 50_000)
    assert len(model.requests[0].messages[1]["content"]) < 5_000


def test_llm_judge_rejects_negative_retries() -> None:
    with pytest.raises(ValueError):
        LLMJudge(ScriptedModel("1"), retries=-1)
