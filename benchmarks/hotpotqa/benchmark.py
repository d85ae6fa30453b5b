"""HotpotQA as AgeMem's three-stage memory episodes.

Each episode replays one question in three stages (docs/agemem-paper.md, "Three-stage trajectories"):
  1. memory construction: the supporting facts (or whole gold paragraphs) arrive as casual conversation turns,
     without the question;
  2. distractors: after a context reset (`new_session=True`), non-gold paragraphs of the same record arrive;
  3. the question: the action answering it ends the episode, scored by EM (success) and token F1 (reward, progress).
Every earlier action is accepted and ignored by the environment: it is the agent's memory work that matters there.

Sources, selected by `source`:
  "data_dir"  files under <data_dir>/hotpotqa/ (data.SPLIT_FILES); only the splits with a file are offered;
  "hub"       datasets.load_dataset("hotpotqa/hotpot_qa", "distractor"): train -> train, validation -> dev;
  "fixture"   the bundled self-written fixture.json (4 train + 4 dev records), not HotpotQA data;
  "auto"      the first of data_dir (when its hotpotqa/ folder holds any split file), hub (only when online),
              fixture; that one source then serves every split, so real and fixture tasks never mix.
provenance() records the source actually used, and each loaded split's files and hashes.
Whenever a training split (train, train_extra) and dev are both loaded they must be disjoint by id and question.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from benchmarks.api import Observation, StepResult, TaskRef, check_owner
from benchmarks.data_dir import data_dir as resolve_data_dir
from benchmarks.errors import SuiteError
from benchmarks.hotpotqa import data
from benchmarks.hotpotqa.data import HotpotRecord, Paragraph
from metrics.answer import exact_match, token_f1

SOURCES = ("auto", "data_dir", "hub", "fixture")
SPLITS = ("train", "dev", "train_extra")
TRAINING_SPLITS = ("train", "train_extra")
STAGE1_MATERIALS = ("supporting_facts", "gold_paragraphs")
MAX_ANSWER_CHARS = 4096  # answers are untrusted text; longer ones are scored on their prefix

_STAGE1_OPENERS = (
    "Something I read earlier:",
    "By the way, a friend mentioned this to me:",
    "Random thing I came across today:",
    "Oh, and I noticed this the other day:",
)
_STAGE2_OPENERS = (
    "Here is some more reading material:",
    "Unrelated, but this came up as well:",
    "Some other notes I found lying around:",
)


@dataclass(frozen=True)
class EpisodeSettings:
    facts_per_turn: int = 2
    stage1_material: str = "supporting_facts"
    distractors_per_turn: int = 2
    max_distractor_turns: int = 4

    def validate(self) -> None:
        for name, minimum in (("facts_per_turn", 1), ("distractors_per_turn", 1), ("max_distractor_turns", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise SuiteError(f"hotpotqa option {name} must be an integer >= {minimum}, got {value!r}")
        if self.stage1_material not in STAGE1_MATERIALS:
            raise SuiteError(
                f"hotpotqa option stage1_material must be one of {', '.join(STAGE1_MATERIALS)}, "
                f"got {self.stage1_material!r}"
            )


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _paragraph_text(paragraph: Paragraph) -> str:
    title, sentences = paragraph
    return f"{title}: {''.join(sentences).strip()}"


class HotpotEpisode:
    """One record's three-stage episode. `layout` gives the stage turn counts; `record` holds the gold answer."""

    def __init__(self, record: HotpotRecord, settings: EpisodeSettings, seed: int = 0) -> None:
        self.record = record
        stage1 = self._stage1(record, settings, seed)
        stage2 = self._stage2(record, settings, seed)
        question = f"Question: {record.question}\nPlease give your final answer."
        self._turns = [
            Observation(text=text, new_session=(index == len(stage1))) for index, text in enumerate([*stage1, *stage2])
        ]
        self._turns.append(Observation(text=question, goal=record.question, new_session=not stage2))
        self.layout = {"stage1": len(stage1), "stage2": len(stage2), "stage3": 1}
        self.max_steps = len(self._turns)
        self._cursor: int | None = None

    @staticmethod
    def _stage1(record: HotpotRecord, settings: EpisodeSettings, seed: int) -> list[str]:
        if settings.stage1_material == "gold_paragraphs":
            bodies = [_paragraph_text((title, record.paragraph(title) or ())) for title in record.gold_titles()]
        else:
            facts, _ = record.gold_sentences()
            bodies = [
                "\n".join(f"- {title}: {sentence}" for title, sentence in chunk)
                for chunk in _chunks(facts, settings.facts_per_turn)
            ]
        return [f"{_STAGE1_OPENERS[(i + seed) % len(_STAGE1_OPENERS)]}\n{body}" for i, body in enumerate(bodies)]

    @staticmethod
    def _stage2(record: HotpotRecord, settings: EpisodeSettings, seed: int) -> list[str]:
        paragraphs = list(record.distractors())
        if seed:
            random.Random(seed).shuffle(paragraphs)
        paragraphs = paragraphs[: settings.max_distractor_turns * settings.distractors_per_turn]
        bodies = [
            "\n".join(map(_paragraph_text, chunk)) for chunk in _chunks(paragraphs, settings.distractors_per_turn)
        ]
        return [f"{_STAGE2_OPENERS[(i + seed) % len(_STAGE2_OPENERS)]}\n{body}" for i, body in enumerate(bodies)]

    def reset(self) -> Observation:
        self._cursor = 0
        return self._turns[0]

    def step(self, action: str) -> StepResult:
        if self._cursor is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        if self._cursor < len(self._turns) - 1:
            self._cursor += 1
            return StepResult(self._turns[self._cursor], 0.0, False, False, False, 0.0)
        self._cursor = None
        answer = action[:MAX_ANSWER_CHARS]
        em, f1 = exact_match(answer, self.record.answer), token_f1(answer, self.record.answer)
        done = Observation(text="Your answer has been recorded. The episode is over.")
        return StepResult(done, f1, True, False, em == 1.0, f1, metrics={"exact_match": em, "f1": f1})

    def close(self) -> None:
        self._cursor = None


@dataclass
class _LoadedSplit:
    records: list[HotpotRecord]
    by_id: dict[str, HotpotRecord]
    tasks: tuple[TaskRef, ...]
    provenance: dict[str, Any]


class HotpotQA:
    name = "hotpotqa"
    version = "hotpotqa-3stage-v1"
    default_split = "dev"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        source: str = "auto",
        facts_per_turn: int = 2,
        stage1_material: str = "supporting_facts",
        distractors_per_turn: int = 2,
        max_distractor_turns: int = 4,
    ) -> None:
        if source not in SOURCES:
            raise SuiteError(f"hotpotqa source must be one of {', '.join(SOURCES)}, got {source!r}")
        self.settings = EpisodeSettings(facts_per_turn, stage1_material, distractors_per_turn, max_distractor_turns)
        self.settings.validate()
        self.source = source
        self._root = resolve_data_dir(data_dir) if source in ("auto", "data_dir") else None
        folder = self._root / "hotpotqa" if self._root else None
        self._folder = folder if folder and folder.is_dir() else None
        if source == "data_dir" and self._folder is None:
            where = f"'{self._root}' has no hotpotqa/ folder" if self._root else "no data directory was given"
            raise SuiteError(f"hotpotqa source 'data_dir': {where} (pass data_dir or set AGEMEM_DATA)")
        self._loaded: dict[str, _LoadedSplit] = {}

    @cached_property
    def resolved_source(self) -> str:
        """The one source serving every split (see the module docstring for how "auto" chooses)."""
        if self.source != "auto":
            return self.source
        if self._folder is not None and any(data.split_file(self._folder, split) for split in SPLITS):
            return "data_dir"
        return "fixture" if self._hub_unavailable else "hub"

    def splits(self) -> list[str]:
        source = self.resolved_source
        if source == "data_dir":
            return [split for split in SPLITS if self._folder and data.split_file(self._folder, split)]
        if source == "hub":
            self._require_hub()
            return [split for split in SPLITS if split in data.HUB_SPLITS]
        return ["train", "dev"]

    def tasks(self, split: str) -> Sequence[TaskRef]:
        return self._load(split).tasks

    def make(self, task: TaskRef, seed: int = 0) -> HotpotEpisode:
        check_owner(self, task)
        record = self._load(task.split).by_id.get(task.task_id)
        if record is None:
            raise SuiteError(f"hotpotqa split '{task.split}' has no task '{task.task_id}'")
        return HotpotEpisode(record, self.settings, seed)

    def provenance(self) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "version": self.version,
            "source": self.resolved_source,
            "requested_source": self.source,
            "data_dir": str(self._root) if self._root else None,
            "settings": asdict(self.settings),
            "splits": {split: loaded.provenance for split, loaded in self._loaded.items()},
        }

    @cached_property
    def _hub_unavailable(self) -> str | None:
        """Probed once per instance: the probe may take up to 2 s."""
        return data.hub_unavailable_reason()

    def _require_hub(self) -> None:
        if self._hub_unavailable:
            raise SuiteError(f"hotpotqa source 'hub' is unavailable: {self._hub_unavailable}")

    def _fetch(self, split: str) -> tuple[list[HotpotRecord], dict[str, Any]]:
        source = self.resolved_source
        if source == "data_dir":
            records, entry = data.load_file(data.split_file(self._folder, split))  # type: ignore[arg-type]
            return records, {"files": [entry]}
        if source == "hub":
            records, entry = data.load_hub(split)
            return records, entry
        fixture, entry = data.load_fixture()
        return fixture[split], {"files": [{**entry, "records": len(fixture[split])}]}

    def _load(self, split: str) -> _LoadedSplit:
        if split in self._loaded:
            return self._loaded[split]
        offered = self.splits()
        if split not in offered:
            raise SuiteError(f"hotpotqa has no split '{split}' from source '{self.resolved_source}'; offered: {offered}")
        records, provenance = self._fetch(split)
        self._check_disjoint(split, records)
        skipped = sum(record.gold_sentences()[1] for record in records)
        provenance.update(records=len(records), skipped_supporting_facts=skipped)
        tasks = tuple(TaskRef(self.name, split, r.id, {"type": r.type, "level": r.level}) for r in records)
        loaded = _LoadedSplit(records, {r.id: r for r in records}, tasks, provenance)
        self._loaded[split] = loaded
        return loaded

    def _check_disjoint(self, split: str, records: list[HotpotRecord]) -> None:
        if split == "dev":
            pairs = [
                (other, self._loaded[other].records, records) for other in TRAINING_SPLITS if other in self._loaded
            ]
        elif "dev" in self._loaded:
            pairs = [(split, records, self._loaded["dev"].records)]
        else:
            pairs = []
        for training, train, dev in pairs:
            leak = data.overlap(train, dev)
            if leak:
                raise SuiteError(f"hotpotqa splits '{training}' and 'dev' overlap: {leak} is in both")
