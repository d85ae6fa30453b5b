"""HotpotQA records: one typed model, strict parsers for both public layouts, and the three data sources.

Data arrives in two layouts (the official JSON files and the Hugging Face column layout); both are parsed into the
same `HotpotRecord` so the episode code never sees the difference. Parsing is strict: a malformed record stops the
run with the file and record index, because silently skipping records would change the task set under the same
benchmark version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import hub
from benchmarks.errors import SuiteError
from metrics.answer import normalize_answer

# Accepted file names per split, in preference order; a `.jsonl` twin of each name is accepted too.
SPLIT_FILES: Mapping[str, tuple[str, ...]] = {
    "train": ("train_official_split.json", "hotpot_train_v1.1.json"),
    "dev": ("dev_distractor_part1.json", "hotpot_dev_distractor_v1.json"),
    "train_extra": ("train_from_validation_rpt.json",),
}
HUB_DATASET, HUB_CONFIG = "hotpotqa/hotpot_qa", "distractor"
HUB_SPLITS: Mapping[str, str] = {"train": "train", "dev": "validation"}
FIXTURE_PATH = Path(__file__).with_name("fixture.json")

Paragraph = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class HotpotRecord:
    id: str
    question: str
    answer: str
    type: str
    level: str
    supporting_facts: tuple[tuple[str, int], ...]
    context: tuple[Paragraph, ...]

    def paragraph(self, title: str) -> tuple[str, ...] | None:
        return next((sentences for name, sentences in self.context if name == title), None)

    def gold_titles(self) -> tuple[str, ...]:
        """Titles of the supporting paragraphs, in order of first mention, that the context actually holds."""
        titles = dict.fromkeys(title for title, _ in self.supporting_facts)
        return tuple(title for title in titles if self.paragraph(title) is not None)

    def gold_sentences(self) -> tuple[tuple[tuple[str, str], ...], int]:
        """(title, sentence) per supporting fact, plus how many facts pointed outside the context and were skipped."""
        found: list[tuple[str, str]] = []
        for title, sent_id in self.supporting_facts:
            sentences = self.paragraph(title)
            if sentences is not None and 0 <= sent_id < len(sentences):
                found.append((title, sentences[sent_id].strip()))
        return tuple(found), len(self.supporting_facts) - len(found)

    def distractors(self) -> tuple[Paragraph, ...]:
        gold = {title for title, _ in self.supporting_facts}
        return tuple(paragraph for paragraph in self.context if paragraph[0] not in gold)


class _Malformed(Exception):
    """Internal: one record is malformed; turned into a SuiteError naming the file and index."""


def _field(raw: Mapping[str, Any], key: str, kind: type) -> Any:
    if key not in raw:
        raise _Malformed(f"missing key '{key}'")
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Malformed(f"'{key}' should be {kind.__name__}, got {type(value).__name__}")
    return value


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Malformed(f"{what} should be a list of strings")
    return tuple(value)


def _facts(titles: Sequence[Any], sent_ids: Sequence[Any]) -> tuple[tuple[str, int], ...]:
    if len(titles) != len(sent_ids):
        raise _Malformed("supporting_facts titles and sent_ids differ in length")
    for title, sent_id in zip(titles, sent_ids, strict=True):
        if not isinstance(title, str) or not isinstance(sent_id, int) or isinstance(sent_id, bool):
            raise _Malformed("each supporting fact should be a (title string, sentence index int) pair")
    return tuple(zip(titles, sent_ids, strict=True))


def _base(raw: Mapping[str, Any], id_key: str) -> dict[str, str]:
    return {
        "id": _field(raw, id_key, str),
        "question": _field(raw, "question", str),
        "answer": _field(raw, "answer", str),
        "type": _field(raw, "type", str),
        "level": _field(raw, "level", str),
    }


def parse_official(raw: Mapping[str, Any]) -> HotpotRecord:
    """The official layout: `_id`, `context: [[title, [sentences]]]`, `supporting_facts: [[title, sent_id]]`."""
    pairs = _field(raw, "supporting_facts", list)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise _Malformed("supporting_facts should be a list of [title, sent_id] pairs")
    paragraphs = _field(raw, "context", list)
    if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in paragraphs):
        raise _Malformed("context should be a list of [title, [sentences]] pairs")
    context = tuple((title, _str_list(sentences, f"context '{title}'")) for title, sentences in paragraphs)
    facts = _facts([title for title, _ in pairs], [sent_id for _, sent_id in pairs])
    return HotpotRecord(**_base(raw, "_id"), supporting_facts=facts, context=context)


def parse_hf(raw: Mapping[str, Any]) -> HotpotRecord:
    """The Hugging Face layout: `id`, column-wise `context {title, sentences}`, `supporting_facts {title, sent_id}`."""
    columns = _field(raw, "context", dict)
    titles = _str_list(columns.get("title"), "context.title")
    sentence_lists = columns.get("sentences")
    if not isinstance(sentence_lists, list) or len(sentence_lists) != len(titles):
        raise _Malformed("context.sentences should be a list with one entry per title")
    context = tuple(
        (title, _str_list(s, f"context '{title}'")) for title, s in zip(titles, sentence_lists, strict=True)
    )
    support = _field(raw, "supporting_facts", dict)
    fact_titles, sent_ids = support.get("title"), support.get("sent_id")
    if not isinstance(fact_titles, list) or not isinstance(sent_ids, list):
        raise _Malformed("supporting_facts should hold 'title' and 'sent_id' lists")
    return HotpotRecord(**_base(raw, "id"), supporting_facts=_facts(fact_titles, sent_ids), context=context)


def parse_records(items: Iterable[Any], origin: str) -> list[HotpotRecord]:
    """Parse records of either layout (detected per record); the first bad record raises, naming `origin`."""
    records: list[HotpotRecord] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        try:
            if not isinstance(raw, Mapping):
                raise _Malformed(f"expected an object, got {type(raw).__name__}")
            record = parse_hf(raw) if isinstance(raw.get("context"), Mapping) else parse_official(raw)
        except _Malformed as exc:
            raise SuiteError(f"{origin}: record {index} is malformed: {exc}") from None
        if record.id in seen:
            raise SuiteError(f"{origin}: record {index} repeats id '{record.id}'")
        seen.add(record.id)
        records.append(record)
    return records


def _decode(raw_bytes: bytes, path: Path) -> Any:
    try:
        text = raw_bytes.decode("utf-8")
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: not valid JSON ({exc})") from None


def load_file(path: Path) -> tuple[list[HotpotRecord], dict[str, Any]]:
    """Records of one data file plus its provenance entry (path, sha256, record count)."""
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"cannot read {path}: {exc.strerror}") from None
    items = _decode(raw_bytes, path)
    if not isinstance(items, list):
        raise SuiteError(f"{path}: expected a JSON list of records, got {type(items).__name__}")
    records = parse_records(items, str(path))
    entry = {"path": str(path), "sha256": hashlib.sha256(raw_bytes).hexdigest(), "records": len(records)}
    return records, entry


def split_file(folder: Path, split: str) -> Path | None:
    """The first accepted file for `split` in a data directory's hotpotqa/ folder, if any."""
    for name in SPLIT_FILES[split]:
        for candidate in (folder / name, (folder / name).with_suffix(".jsonl")):
            if candidate.is_file():
                return candidate
    return None


def load_fixture() -> tuple[dict[str, list[HotpotRecord]], dict[str, Any]]:
    """The bundled, self-written fixture ({"train": [...], "dev": [...]}), for offline smoke runs and tests."""
    raw_bytes = FIXTURE_PATH.read_bytes()
    document = _decode(raw_bytes, FIXTURE_PATH)
    splits = {split: parse_records(document[split], f"{FIXTURE_PATH}[{split}]") for split in ("train", "dev")}
    entry = {"path": FIXTURE_PATH.name, "sha256": hashlib.sha256(raw_bytes).hexdigest()}
    return splits, entry


def hub_unavailable_reason() -> str | None:
    return hub.hub_unavailable_reason("HF_DATASETS_OFFLINE")


def load_hub(split: str) -> tuple[list[HotpotRecord], dict[str, Any]]:
    import datasets  # a core dependency, imported late: it is slow to import and only the hub source needs it
    hub_split = HUB_SPLITS[split]
    try:
        table = datasets.load_dataset(HUB_DATASET, HUB_CONFIG, split=hub_split)
    except Exception as exc:  # any hub/cache failure is an environment problem the user must fix
        raise SuiteError(f"could not load {HUB_DATASET} ({HUB_CONFIG}/{hub_split}) from the hub: {exc}") from None
    records = parse_records(table, f"hub:{HUB_DATASET}[{HUB_CONFIG}/{hub_split}]")
    entry = {
        "dataset": HUB_DATASET,
        "config": HUB_CONFIG,
        "hub_split": hub_split,
        "fingerprint": getattr(table, "_fingerprint", None),
        "datasets_version": datasets.__version__,
        "records": len(records),
    }
    return records, entry


def overlap(train: Sequence[HotpotRecord], dev: Sequence[HotpotRecord]) -> str | None:
    """Describe the first train/dev leak (same id, or same question after normalisation), or None."""
    dev_ids = {record.id for record in dev}
    dev_questions = {normalize_answer(record.question) for record in dev}
    for record in train:
        if record.id in dev_ids:
            return f"id '{record.id}'"
        if normalize_answer(record.question) in dev_questions:
            return f"question {record.question!r} (id '{record.id}')"
    return None
