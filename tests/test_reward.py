"""The AgeMem trajectory reward: every term and penalty, weights, missing judge terms, entities and extraction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import pytest

from agents.agemem.train.reward import (
    EpisodeFacts,
    RewardBreakdown,
    RewardWeights,
    compute_reward,
    facts_from_episode,
    key_entities,
)
from agents.llm.api import Usage
from metrics.judges import LexicalJudge
from tests.fakes import answer, tool_call

QUESTION = "Were Scott Derrickson and Ed Wood of the same nationality?"


class FixedJudge:
    """Returns set scores and records every call."""

    name = "fixed"

    def __init__(self, answer: float | None = 1.0, items: dict[str, float | None] | None = None,
                 relevance: float | None = 0.5) -> None:
        self._answer, self._items, self._relevance = answer, items or {}, relevance
        self.calls: list[tuple] = []

    def answer(self, question: str, gold: str, prediction: str) -> float | None:
        self.calls.append(("answer", question, gold, prediction))
        return self._answer

    def memory_item(self, question: str, gold: str, item: str, support: Sequence[str] = ()) -> float | None:
        self.calls.append(("memory_item", item, tuple(support)))
        return self._items.get(item, 0.0)

    def relevance(self, question: str, items: Sequence[str]) -> float | None:
        self.calls.append(("relevance", tuple(items)))
        return self._relevance

    @property
    def usage(self) -> Usage:
        return Usage()


def make_facts(**changes: object) -> EpisodeFacts:
    base = EpisodeFacts(
        question=QUESTION, gold_answer="yes", support=("Scott Derrickson is an American director.",),
        answer="yes", context_tokens_at_answer=2048, token_budget=8192,
        context_text_at_answer="notes: scott derrickson is American; Ed Wood was American too",
        reduced_before_limit=True, stage1_adds=("good", "bad", "ok"), maintenance_ops=1,
        retrieved=("Ed Wood was American",), rounds=10, max_rounds=40, overflowed=False,
    )
    return replace(base, **changes)


ITEMS = {"good": 0.9, "bad": 0.2, "ok": 0.5}


def test_full_reward_known_values() -> None:
    judge = FixedJudge(answer=0.9, items=ITEMS, relevance=0.6)
    r = compute_reward(make_facts(), judge)
    assert r.task == 0.9
    assert r.compression == pytest.approx(0.75)
    assert r.preventive == 1.0
    assert r.preservation == 1.0
    assert r.context == pytest.approx((0.75 + 1 + 1) / 3)
    assert r.storage == pytest.approx(2 / 3)  # 0.9 and 0.5 are >= 0.5, 0.2 is not
    assert r.maintenance == 1.0
    assert r.relevance == 0.6
    assert r.memory == pytest.approx((2 / 3 + 1 + 0.6) / 3)
    assert r.rounds_penalty == 0.0 and r.overflow_penalty == 0.0
    assert r.total == pytest.approx((0.9 + r.context + r.memory) / 3)
    assert r.missing == ()
    assert ("answer", QUESTION, "yes", "yes") in judge.calls
    assert ("memory_item", "good", ("Scott Derrickson is an American director.",)) in judge.calls
    assert ("relevance", ("Ed Wood was American",)) in judge.calls


def test_weights_one_each_is_the_plain_sum() -> None:
    judge = FixedJudge(answer=0.9, items=ITEMS, relevance=0.6)
    r = compute_reward(make_facts(), judge, RewardWeights(task=1.0, context=1.0, memory=1.0))
    assert r.total == pytest.approx(0.9 + r.context + r.memory)
    r2 = compute_reward(make_facts(), judge, RewardWeights(task=1.0, context=0.0, memory=0.0))
    assert r2.total == pytest.approx(0.9)


def test_default_weights_are_a_third() -> None:
    w = RewardWeights()
    assert (w.task, w.context, w.memory) == (1 / 3, 1 / 3, 1 / 3)
    assert (w.overflow_penalty, w.rounds_penalty) == (-0.5, -1.0)


def test_no_answer_is_minus_one_without_a_judge_call() -> None:
    judge = FixedJudge(answer=1.0)
    r = compute_reward(make_facts(answer=None), judge)
    assert r.task == -1.0
    assert not [c for c in judge.calls if c[0] == "answer"]


def test_compression() -> None:
    judge = FixedJudge()
    assert compute_reward(make_facts(context_tokens_at_answer=0), judge).compression == 1.0
    assert compute_reward(make_facts(context_tokens_at_answer=8192), judge).compression == 0.0
    r = compute_reward(make_facts(context_tokens_at_answer=9000), judge)
    assert r.compression == 0.0 and r.overflow_penalty == -0.5


def test_preventive_and_preservation() -> None:
    judge = FixedJudge()
    assert compute_reward(make_facts(reduced_before_limit=False), judge).preventive == 0.0
    # "Ed Wood" is gone from the context
    r = compute_reward(make_facts(context_text_at_answer="Scott Derrickson is American"), judge)
    assert r.preservation == 0.0
    # a question without entities: preserved trivially
    r = compute_reward(make_facts(question="who is he?", context_text_at_answer=""), judge)
    assert r.preservation == 1.0


def test_storage_rules() -> None:
    judge = FixedJudge(items={"a": 1.0})
    r = compute_reward(make_facts(stage1_adds=()), judge)
    assert r.storage == 0.0  # N_high / max(1, 0)
    assert not [c for c in judge.calls if c[0] == "memory_item"]
    assert compute_reward(make_facts(stage1_adds=("a", "a")), judge).storage == 1.0
    assert compute_reward(make_facts(stage1_adds=("a", "zzz")), judge).storage == 0.5


def test_maintenance_and_relevance_zero_cases() -> None:
    judge = FixedJudge(relevance=0.9)
    r = compute_reward(make_facts(maintenance_ops=0, retrieved=()), judge)
    assert r.maintenance == 0.0
    assert r.relevance == 0.0  # nothing retrieved: no judge call
    assert not [c for c in judge.calls if c[0] == "relevance"]
    assert compute_reward(make_facts(maintenance_ops=3), judge).maintenance == 1.0


def test_penalties() -> None:
    judge = FixedJudge()
    base = compute_reward(make_facts(), judge)
    at_cap = compute_reward(make_facts(rounds=40), judge)
    assert at_cap.rounds_penalty == 0.0
    over = compute_reward(make_facts(rounds=41), judge)
    assert over.rounds_penalty == -1.0
    assert over.total == pytest.approx(base.total - 1.0)
    overflowed = compute_reward(make_facts(overflowed=True), judge)
    assert overflowed.overflow_penalty == -0.5
    assert overflowed.total == pytest.approx(base.total - 0.5)
    both = compute_reward(make_facts(overflowed=True, rounds=50), judge, RewardWeights(overflow_penalty=-0.2))
    assert both.total == pytest.approx(base.total - 1.2)


def test_missing_task_is_excluded_and_listed() -> None:
    judge = FixedJudge(answer=None, items=ITEMS, relevance=0.6)
    r = compute_reward(make_facts(), judge)
    assert r.task is None
    assert r.missing == ("task",)
    # the remaining two terms keep the full weight: (1/3 + 1/3) rescaled to 1
    assert r.total == pytest.approx((r.context + r.memory) / 2)


def test_missing_memory_terms_are_excluded_from_the_mean() -> None:
    judge = FixedJudge(answer=0.5, items={"good": 0.9, "bad": None, "ok": None}, relevance=None)
    r = compute_reward(make_facts(), judge)
    assert r.relevance is None
    assert r.storage == 1.0  # only "good" was judged
    assert r.memory == pytest.approx((1.0 + 1.0) / 2)  # storage, maintenance
    assert r.missing == ("storage_item:1", "storage_item:2", "relevance")

    all_missing = FixedJudge(answer=0.5, items={"good": None, "bad": None, "ok": None}, relevance=0.3)
    r = compute_reward(make_facts(), all_missing)
    assert r.storage is None
    assert r.missing == ("storage",)
    assert r.memory == pytest.approx((1.0 + 0.3) / 2)


def test_breakdown_as_dict() -> None:
    r = compute_reward(make_facts(), FixedJudge(answer=None))
    d = r.as_dict()
    assert set(d) == {f for f in RewardBreakdown.__dataclass_fields__}
    assert d["missing"] == ["task"] and d["task"] is None
    json.dumps(d)


def test_lexical_judge_end_to_end() -> None:
    facts = make_facts(answer="Yes", stage1_adds=("Scott Derrickson is an American director", "I like tea"))
    r = compute_reward(facts, LexicalJudge())
    assert r.task == 1.0
    assert r.storage == 0.5
    assert r.missing == ()


def test_token_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        make_facts(token_budget=0)


@pytest.mark.parametrize(("question", "expected"), [
    (QUESTION, ["Scott Derrickson", "Ed Wood"]),
    ("What government position was held by the woman who portrayed Corliss Archer in the film Kiss and Tell?",
     ["Corliss Archer", "Kiss", "Tell"]),
    ('Which band released "Abbey Road" in 1969?', ["Abbey Road", "1969"]),
    ("Is the Bank of America older than Paris, France?", ["Bank of America", "Paris", "France"]),
    ("Scott Derrickson's film came out in 2001. Who directed it?", ["Derrickson", "2001"]),
    ("how many towns have 10,000 people or 3.5 km?", ["10,000", "3.5"]),
    ("Did I see the film “The Shining” in 1980?", ["The Shining", "1980"]),
    ("what is this?", []),
    ("", []),
])
def test_key_entities(question: str, expected: list[str]) -> None:
    assert key_entities(question) == expected


# -- facts from a hand-written record ---------------------------------------------------------------------------


def _calls(*calls: tuple[str, dict]) -> str:
    body = json.dumps([{"name": name, "arguments": args} for name, args in calls])
    return f"<think>t</think><tool_call>{body}</tool_call>"


def _round(output: str, kind: str = "tool_calls", results: list | None = None) -> dict:
    out = {"output": output, "kind": kind, "error": ""}
    if results is not None:
        out["results"] = results
    return out


def _step(index: int, observation: str, action: str, rounds: list, *, new_session: bool = False,
          stage1: bool | None = None, tokens: int = 100) -> dict:
    trace: dict = {"rounds": rounds, "context_tokens": tokens}
    if stage1 is not None:
        trace["stage1"] = stage1
    return {"step": index, "observation": observation, "goal": None, "new_session": new_session, "action": action,
            "valid": True, "reward": 0.0, "progress": 0.0, "agent": trace}


FACT1 = "Scott Derrickson is an American director."
FACT2 = "Edward Davis Wood Jr. was an American filmmaker."
QUESTION_TURN = f"Question: {QUESTION}\nPlease give your final answer."


def episode(*, final_action: str = "yes", overflows: int = 0, stage1_key: bool = True) -> tuple[dict, list[dict]]:
    s1 = (lambda v: v) if stage1_key else (lambda v: None)
    steps = [
        _step(0, f"Something I read earlier:\n- Scott Derrickson: {FACT1}", "noted", [
            _round(tool_call("Add_memory", content=FACT1), results=[
                {"tool": "Add_memory", "status": "ok", "memory_id": "m1"}]),
            _round(answer("noted"), kind="answer"),
        ], stage1=s1(True)),
        _step(1, f"Random thing:\n- Ed Wood: {FACT2}", "ok", [
            _round(_calls(("Add_memory", {"content": FACT2}), ("Add_memory", {"content": "x" * 10}),
                          ("Update_memory", {"memory_id": "m1", "content": FACT1 + " Born 1966."}),
                          ("Delete_memory", {"memory_id": "m9", "confirmation": False})), results=[
                {"tool": "Add_memory", "status": "ok", "memory_id": "m2"},
                {"tool": "Add_memory", "status": "error", "error": "store full"},
                {"tool": "Update_memory", "status": "ok", "memory_id": "m1"},
                {"tool": "Delete_memory", "status": "not deleted", "reason": "confirmation was false"}]),
            _round("garbage", kind="invalid"),
            _round(answer("ok"), kind="answer"),
        ], stage1=s1(True)),
        _step(2, "Here is some more reading material:\nPulp Fiction: a 1994 film.", "ok", [
            _round(tool_call("Add_memory", content="Pulp Fiction is from 1994"), results=[
                {"tool": "Add_memory", "status": "ok", "memory_id": "m3"}]),  # stage 2: not a stage-1 add
            _round(tool_call("Filter_context", criteria="Pulp Fiction"), results=[
                {"tool": "Filter_context", "status": "ok", "messages_removed": 2}]),
            _round(answer("ok"), kind="answer"),
        ], new_session=True, stage1=s1(False)),
        _step(3, QUESTION_TURN, final_action, [
            _round(tool_call("Retrieve_memory", query="Ed Wood nationality"), results=[
                {"tool": "Retrieve_memory", "status": "ok", "memories": [
                    {"memory_id": "m2", "content": FACT2, "score": 0.8},
                    {"memory_id": "m1", "content": FACT1, "score": 0.5}]}]),
            _round(tool_call("Retrieve_memory", query="Derrickson"), results=[
                {"tool": "Retrieve_memory", "status": "ok", "memories": [
                    {"memory_id": "m1", "content": FACT1, "score": 0.9}]}]),
            _round(answer(final_action or "x"), kind="answer" if final_action else "forced_answer"),
        ], stage1=s1(False), tokens=345),
    ]
    record = {
        "key": "k", "benchmark": "hotpotqa", "steps": len(steps), "terminated": True, "truncated": False,
        "agent_stats": {
            "tool_calls": {"Add_memory": 4, "Update_memory": 1, "Delete_memory": 1, "Retrieve_memory": 2,
                           "Summary_context": 0, "Filter_context": 1},
            "rounds": 11, "context_tokens_at_answer": 345, "context_overflows": overflows,
        },
    }
    return record, steps


def _facts(record: dict, steps: list[dict]) -> EpisodeFacts:
    return facts_from_episode(record, steps, question=QUESTION, gold_answer="yes", support=(FACT1, FACT2),
                              token_budget=1000, max_rounds=40)


@pytest.mark.parametrize("stage1_key", [True, False])
def test_facts_from_episode(stage1_key: bool) -> None:
    facts = _facts(*episode(stage1_key=stage1_key))
    assert facts.question == QUESTION and facts.gold_answer == "yes" and facts.support == (FACT1, FACT2)
    assert facts.answer == "yes"
    assert facts.stage1_adds == (FACT1, FACT2)  # the failed Add and the stage-2 Add do not count
    assert facts.maintenance_ops == 1  # the Update; the unconfirmed Delete deleted nothing
    assert facts.retrieved == (FACT2, FACT1)  # m1 once
    assert facts.reduced_before_limit is True
    assert facts.context_tokens_at_answer == 345
    assert facts.token_budget == 1000
    assert facts.rounds == 11 and facts.max_rounds == 40
    assert facts.overflowed is False
    text = facts.context_text_at_answer
    assert "Pulp Fiction" in text  # the last session's observation
    assert "Something I read earlier" not in text  # stage 1 was reset away
    assert QUESTION.lower() not in text.lower()  # the question's own text is removed
    assert "Ed Wood" in text and "Scott Derrickson" in text  # through the retrieved items
    assert "<answer>ok</answer>" in text  # earlier answers of the session are context
    assert "<answer>yes</answer>" not in text  # the final answer round is not


def test_facts_feed_the_reward() -> None:
    facts = _facts(*episode())
    r = compute_reward(facts, FixedJudge(answer=1.0, items={FACT1: 1.0, FACT2: 0.3}, relevance=1.0))
    assert r.preservation == 1.0 and r.preventive == 1.0
    assert r.compression == pytest.approx(1 - 345 / 1000)
    assert r.storage == 0.5 and r.maintenance == 1.0 and r.relevance == 1.0


def test_facts_empty_final_action_is_no_answer() -> None:
    facts = _facts(*episode(final_action=""))
    assert facts.answer is None
    assert compute_reward(facts, FixedJudge()).task == -1.0


def test_facts_truncated_episode_has_no_answer() -> None:
    record, steps = episode()
    record.update(terminated=False, truncated=True)
    assert _facts(record, steps).answer is None
    assert _facts(record, []).answer is None


def test_facts_overflow_makes_reduction_unproven_unless_recorded() -> None:
    record, steps = episode(overflows=2)
    facts = _facts(record, steps)
    assert facts.overflowed is True
    assert facts.reduced_before_limit is False  # no per-step overflow record: conservative
    for step in steps[:2]:
        step["agent"]["context_overflows"] = 0
    assert _facts(record, steps).reduced_before_limit is True
    steps[1]["agent"]["context_overflows"] = 1
    assert _facts(record, steps).reduced_before_limit is False


def test_facts_recorded_context_text_wins() -> None:
    record, steps = episode()
    record["agent_stats"]["context_text_at_answer"] = f"{QUESTION_TURN}\n[Summary] Scott Derrickson: American."
    facts = _facts(record, steps)
    assert "Scott Derrickson: American" in facts.context_text_at_answer
    assert QUESTION not in facts.context_text_at_answer
    assert compute_reward(facts, FixedJudge()).preservation == 0.0  # Ed Wood is not in the context


def test_facts_without_traces_fall_back_to_stats() -> None:
    record, _ = episode()
    steps = [{"step": 0, "observation": QUESTION_TURN, "new_session": False, "action": "yes", "agent": {}}]
    facts = _facts(record, steps)
    assert facts.maintenance_ops == 2  # from the tool-call counts
    assert facts.stage1_adds == () and facts.retrieved == ()
    assert facts.answer == "yes"
