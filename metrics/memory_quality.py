"""Memory quality: the long-term-memory items an agent holds at the end of an episode vs the gold supporting facts.

Two measures (HotpotQA; any record with a `reference` holding supporting sentences):

- lexical (offline, judge-independent; always computed):
    an item MATCHES a gold sentence when it contains at least MATCH_THRESHOLD (50%) of the sentence's content
    tokens (`metrics.judges.content_tokens`: HotpotQA normalisation, stopwords removed), i.e. content-token
    recall of the sentence in the item >= 0.5 -- the same rule LexicalJudge uses for a high-quality item.
    memory_coverage  = matched gold sentences / gold sentences with content tokens (a sentence is matched when
                       some stored item matches it);
    memory_precision = stored items matching some gold sentence / stored items (an item without content tokens
                       matches nothing);
    memory_items     = number of stored items.
- judge (`metrics.scoring`): the share of stored items a Judge scores >= HIGH_QUALITY given question, gold answer
  and supporting sentences.

An agent without long-term memory (no-memory) has no memory-quality metrics at all (absent, never 0). An empty
store gives coverage 0 and precision undefined (None = missing: no item was wrong, none was right). A store
the agent could not read back ("unreadable: ...") gives None for both: unknown, not empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metrics.judges import content_tokens

MATCH_THRESHOLD = 0.5


@dataclass(frozen=True)
class StoredItems:
    """What an episode record says about the agent's long-term memory at the end of the episode."""

    has_memory: bool  # False: the agent keeps no long-term memory (memory metrics are absent)
    readable: bool  # False: the agent has a memory but could not list it (metrics are missing)
    items: tuple[str, ...] = ()


def stored_items(record: Mapping[str, Any]) -> StoredItems:
    """AgeMem records `agent_stats.ltm_items` (dicts with `content`); the memory baselines `agent_stats.memory_items`
    (strings, or "unreadable: ..." when the library failed to list them). Anything else: no long-term memory."""
    stats = record.get("agent_stats") or {}
    raw = stats.get("ltm_items", stats.get("memory_items"))
    if raw is None:
        return StoredItems(False, False)
    if not isinstance(raw, list):
        return StoredItems(True, False)
    items = []
    for entry in raw:
        text = entry.get("content") if isinstance(entry, Mapping) else entry
        if isinstance(text, str) and text.strip():
            items.append(text.strip())
    return StoredItems(True, True, tuple(items))


def support_sentences(reference: Mapping[str, Any]) -> list[str]:
    """The gold supporting sentences of a record's reference: `support` is a list of [title, sentence] or strings."""
    out = []
    for entry in reference.get("support") or ():
        sentence = entry[-1] if isinstance(entry, list | tuple) and entry else entry
        if isinstance(sentence, str) and sentence.strip():
            out.append(sentence.strip())
    return out


def matches(item: str, sentence: str, threshold: float = MATCH_THRESHOLD) -> bool:
    """Whether `item` holds at least `threshold` of the content tokens of `sentence`."""
    wanted = content_tokens(sentence)
    return bool(wanted) and len(wanted & content_tokens(item)) / len(wanted) >= threshold


def lexical_memory_quality(items: Sequence[str], support: Sequence[str]) -> dict[str, float | None]:
    """memory_coverage, memory_precision and memory_items for one episode (definitions in the module docstring)."""
    gold = [sentence for sentence in support if content_tokens(sentence)]
    coverage = (sum(any(matches(item, s) for item in items) for s in gold) / len(gold)) if gold else None
    precision = (sum(any(matches(item, s) for s in gold) for item in items) / len(items)) if items else None
    return {"memory_coverage": coverage, "memory_precision": precision, "memory_items": float(len(items))}


def record_memory_metrics(record: Mapping[str, Any]) -> dict[str, float | None]:
    """The lexical memory metrics of an episode record; {} for agents without memory or records without gold facts."""
    reference = record.get("reference")
    memory = stored_items(record)
    if not memory.has_memory or not isinstance(reference, Mapping):
        return {}
    support = support_sentences(reference)
    if not support:
        return {}
    if not memory.readable:
        return {"memory_coverage": None, "memory_precision": None, "memory_items": None}
    return lexical_memory_quality(memory.items, support)
