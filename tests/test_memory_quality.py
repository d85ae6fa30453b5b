"""Memory quality, lexical measure: coverage and precision of stored items vs gold supporting sentences."""

from __future__ import annotations

import pytest

from metrics.memory_quality import (
    lexical_memory_quality,
    matches,
    record_memory_metrics,
    stored_items,
    support_sentences,
)

GOLD = [
    "The Corran Footbridge was designed by the architect Ilsa Brandt.",  # content: corran footbridge designed architect ilsa brandt
    "Ilsa Brandt (born 1948) is an architect known for light pedestrian bridges.",
]


def test_matching_is_content_token_recall_of_the_sentence_at_one_half():
    # 3 of the first sentence's 6 content tokens: exactly 0.5 -> a match
    assert matches("Corran footbridge: Brandt", GOLD[0])
    assert not matches("Corran footbridge", GOLD[0])  # 2 of 6
    assert matches("ilsa brandt DESIGNED the corran footbridge!", GOLD[0])  # normalised: case, punctuation
    assert not matches("anything", "the of and")  # a sentence without content tokens matches nothing


def test_coverage_and_precision_on_known_inputs():
    items = ["Ilsa Brandt designed the Corran Footbridge.", "Brandt was born in 1948, an architect of bridges",
             "Paris is the capital of France."]
    got = lexical_memory_quality(items, GOLD)
    assert got == {"memory_coverage": 1.0, "memory_precision": pytest.approx(2 / 3), "memory_items": 3.0}
    one = lexical_memory_quality(["Ilsa Brandt designed the Corran Footbridge."], GOLD)
    assert one == {"memory_coverage": 0.5, "memory_precision": 1.0, "memory_items": 1.0}
    nothing = lexical_memory_quality([], GOLD)  # empty store: covers nothing, precision undefined (missing)
    assert nothing == {"memory_coverage": 0.0, "memory_precision": None, "memory_items": 0.0}


def test_stored_items_from_agemem_and_baseline_records():
    agemem = {"agent_stats": {"ltm_items": [{"id": "m1", "content": " fact one "}, {"id": "m2", "content": ""}]}}
    assert stored_items(agemem).items == ("fact one",) and stored_items(agemem).readable
    baseline = {"agent_stats": {"memory_items": ["a", "b"]}}
    assert stored_items(baseline).items == ("a", "b")
    broken = {"agent_stats": {"memory_items": "unreadable: RuntimeError: boom"}}
    assert stored_items(broken).has_memory and not stored_items(broken).readable
    assert not stored_items({"agent_stats": {"context_tokens_at_end": 5}}).has_memory  # nomem


def test_record_metrics_absent_without_memory_or_gold_facts():
    reference = {"question": "q", "answer": "1948", "support": [["Corran Footbridge", GOLD[0]], ["Ilsa Brandt", GOLD[1]]]}
    assert support_sentences(reference) == GOLD
    assert record_memory_metrics({"reference": reference, "agent_stats": {}}) == {}  # nomem: absent, not 0
    assert record_memory_metrics({"agent_stats": {"memory_items": ["x"]}}) == {}  # no gold facts (e.g. BabyAI)
    unreadable = record_memory_metrics({"reference": reference, "agent_stats": {"memory_items": "unreadable: x"}})
    assert unreadable == {"memory_coverage": None, "memory_precision": None, "memory_items": None}
    stored = record_memory_metrics({"reference": reference,
                                    "agent_stats": {"ltm_items": [{"content": "Brandt born 1948, architect, bridges"}]}})
    assert stored == {"memory_coverage": 0.5, "memory_precision": 1.0, "memory_items": 1.0}
