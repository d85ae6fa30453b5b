"""The HotpotQA adapter: parsing both layouts, sources, split hygiene, the three-stage episode, and the real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks.api import StepResult, TaskRef
from benchmarks.builtin import BENCHMARKS
from benchmarks.conformance import check_benchmark
from benchmarks.data_dir import data_dir
from benchmarks.errors import SuiteError
from benchmarks.hotpotqa.benchmark import HotpotQA
from benchmarks.hotpotqa.data import FIXTURE_PATH, HotpotRecord, parse_hf, parse_official, parse_records

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("AGEMEM_DATA") or REPO.parent / "shared" / "data")
FIXTURE: dict[str, Any] = json.loads(FIXTURE_PATH.read_text())


@pytest.fixture(autouse=True)
def _offline_and_no_env_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach for the network, and only see a data directory they pass explicitly."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("AGEMEM_DATA", raising=False)


def to_hf(raw: dict[str, Any]) -> dict[str, Any]:
    """The Hugging Face column layout of an official-layout record."""
    return {
        "id": raw["_id"],
        **{key: raw[key] for key in ("question", "answer", "type", "level")},
        "supporting_facts": {
            "title": [title for title, _ in raw["supporting_facts"]],
            "sent_id": [sent_id for _, sent_id in raw["supporting_facts"]],
        },
        "context": {"title": [t for t, _ in raw["context"]], "sentences": [s for _, s in raw["context"]]},
    }


def write_split(root: Path, name: str, records: list[Any] | str) -> Path:
    path = root / "hotpotqa" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(records, str):
        path.write_text(records)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        path.write_text(json.dumps(records))
    return path


def play(episode: Any, answer: str) -> list[StepResult]:
    episode.reset()
    results = [episode.step(f"ack {i}") for i in range(episode.max_steps - 1)]
    return [*results, episode.step(answer)]


# --- parsing and sources -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "dev"])
def test_fixture_conforms(split: str) -> None:
    for seed in (0, 3):
        assert check_benchmark(HotpotQA(source="fixture"), split=split, n_tasks=4, seed=seed) == []


def test_fixture_is_self_written_and_well_formed() -> None:
    assert "not hotpotqa data" in FIXTURE["_note"].lower()
    for split in ("train", "dev"):
        records = parse_records(FIXTURE[split], split)
        assert len(records) == 4
        for record in records:
            assert record.gold_sentences()[1] == 0 and len(record.gold_titles()) == 2 and len(record.distractors()) == 4
    answers = [r["answer"] for split in ("train", "dev") for r in FIXTURE[split]]
    assert {"yes", "no"} & set(answers)


def test_official_and_hf_layouts_give_identical_records(tmp_path: Path) -> None:
    for raw in FIXTURE["train"] + FIXTURE["dev"]:
        assert parse_official(raw) == parse_hf(to_hf(raw))
    write_split(tmp_path, "dev_distractor_part1.jsonl", [to_hf(r) for r in FIXTURE["dev"]])
    from_files = HotpotQA(data_dir=tmp_path, source="data_dir")
    from_fixture = HotpotQA(source="fixture")
    assert from_files.splits() == ["dev"]
    for task in from_fixture.tasks("dev"):
        assert from_files.make(task).record == from_fixture.make(task).record


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{not json", "not valid JSON"),
        ('{"_id": "x"}', "expected a JSON list"),
        ([FIXTURE["dev"][0], {k: v for k, v in FIXTURE["dev"][1].items() if k != "answer"}], "record 1 is malformed"),
        ([FIXTURE["dev"][0], {**FIXTURE["dev"][1], "context": [["t", "not a list"]]}], "record 1 is malformed"),
        ([{**FIXTURE["dev"][0], "supporting_facts": [["t", "0"]]}], "record 0 is malformed"),
        ([{**FIXTURE["dev"][0], "level": 3}], "record 0 is malformed: 'level' should be str"),
        ([FIXTURE["dev"][0], FIXTURE["dev"][0]], "record 1 repeats id"),
        (["a string"], "record 0 is malformed"),
    ],
)
def test_malformed_file_names_file_and_record(tmp_path: Path, content: Any, message: str) -> None:
    path = write_split(tmp_path, "dev_distractor_part1.json", content)
    with pytest.raises(SuiteError, match=message) as caught:
        HotpotQA(data_dir=tmp_path, source="data_dir").tasks("dev")
    assert str(path) in str(caught.value)


def test_out_of_range_supporting_facts_are_skipped_and_counted(tmp_path: Path) -> None:
    raw = FIXTURE["dev"][0]
    broken = {**raw, "supporting_facts": raw["supporting_facts"] + [[raw["context"][0][0], 99], ["No Such Title", 0]]}
    write_split(tmp_path, "dev_distractor_part1.json", [broken])
    benchmark = HotpotQA(data_dir=tmp_path, source="data_dir")
    facts, skipped = benchmark.make(benchmark.tasks("dev")[0]).record.gold_sentences()
    assert (len(facts), skipped) == (len(raw["supporting_facts"]), 2)
    assert benchmark.provenance()["splits"]["dev"]["skipped_supporting_facts"] == 2


@pytest.mark.parametrize("leak", ["same_id", "same_question"])
@pytest.mark.parametrize("order", [("train", "dev"), ("dev", "train")])
def test_train_dev_overlap_is_an_error(tmp_path: Path, leak: str, order: tuple[str, str]) -> None:
    dev = FIXTURE["dev"]
    copy = {**dev[1], "_id": "renamed"} if leak == "same_question" else {**FIXTURE["train"][0], "_id": dev[1]["_id"]}
    if leak == "same_question":
        copy["question"] = "  " + copy["question"].upper() + "?"  # still the same question once normalised
    write_split(tmp_path, "train_official_split.json", FIXTURE["train"] + [copy])
    write_split(tmp_path, "dev_distractor_part1.json", dev)
    benchmark = HotpotQA(data_dir=tmp_path, source="data_dir")
    benchmark.tasks(order[0])
    with pytest.raises(SuiteError, match="'train' and 'dev' overlap"):
        benchmark.tasks(order[1])


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data_dir() is None
    monkeypatch.setenv("AGEMEM_DATA", str(tmp_path / "missing"))
    assert data_dir(tmp_path) == tmp_path.resolve()  # the explicit argument wins; the env var is not even checked
    monkeypatch.setenv("AGEMEM_DATA", str(tmp_path))
    assert data_dir() == tmp_path.resolve()


def test_data_dir_resolution_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SuiteError, match="does not exist"):
        HotpotQA(data_dir=tmp_path / "missing")
    monkeypatch.setenv("AGEMEM_DATA", str(tmp_path / "missing"))
    with pytest.raises(SuiteError, match="AGEMEM_DATA"):
        HotpotQA()
    monkeypatch.setenv("AGEMEM_DATA", str(tmp_path))
    with pytest.raises(SuiteError, match="no hotpotqa/ folder"):
        HotpotQA(source="data_dir")
    monkeypatch.delenv("AGEMEM_DATA")
    with pytest.raises(SuiteError, match="no data directory"):
        HotpotQA(source="data_dir")


def test_auto_uses_one_source_for_every_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_split(tmp_path, "hotpot_dev_distractor_v1.json", FIXTURE["dev"][:2])
    benchmark = HotpotQA(data_dir=tmp_path)
    assert benchmark.splits() == ["dev"]  # no fixture train beside real dev data
    assert len(benchmark.tasks("dev")) == 2
    provenance = benchmark.provenance()
    assert provenance["source"] == "data_dir" and provenance["requested_source"] == "auto"
    assert provenance["splits"]["dev"]["files"][0]["sha256"] and provenance["splits"]["dev"]["files"][0]["records"] == 2
    json.dumps(provenance)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    empty = tmp_path / "empty"
    (empty / "hotpotqa").mkdir(parents=True)
    fallback = HotpotQA(data_dir=empty)
    assert fallback.splits() == ["train", "dev"] and fallback.provenance()["source"] == "fixture"


def test_hub_offline_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(SuiteError, match="HF_HUB_OFFLINE"):
        HotpotQA(source="hub").tasks("dev")
    assert time.monotonic() - started < 5


def test_hub_source_converts_the_column_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub is unreachable here, so a stand-in `datasets` serves the fixture in the HF layout."""
    requested: list[tuple[str, ...]] = []

    def load_dataset(name: str, config: str, split: str) -> list[dict[str, Any]]:
        requested.append((name, config, split))
        return [to_hf(raw) for raw in FIXTURE["dev" if split == "validation" else "train"]]

    monkeypatch.setitem(sys.modules, "datasets", SimpleNamespace(load_dataset=load_dataset, __version__="stub"))
    monkeypatch.setattr("benchmarks.hotpotqa.data.hub_unavailable_reason", lambda: None)
    hub, fixture = HotpotQA(source="hub"), HotpotQA(source="fixture")
    assert [hub.make(t).record for t in hub.tasks("dev")] == [fixture.make(t).record for t in fixture.tasks("dev")]
    assert requested == [("hotpotqa/hotpot_qa", "distractor", "validation")]  # train is not loaded until asked
    assert hub.provenance()["source"] == "hub" and hub.provenance()["splits"]["dev"]["records"] == 4


@pytest.mark.parametrize(
    "options",
    [
        {"source": "web"},
        {"facts_per_turn": 0},
        {"facts_per_turn": True},
        {"distractors_per_turn": "2"},
        {"max_distractor_turns": -1},
        {"stage1_material": "everything"},
    ],
)
def test_invalid_options(options: dict[str, Any]) -> None:
    with pytest.raises(SuiteError, match="hotpotqa"):
        HotpotQA(**options)


def test_unknown_split_and_task() -> None:
    benchmark = HotpotQA(source="fixture")
    with pytest.raises(SuiteError, match="no split 'train_extra'"):
        benchmark.tasks("train_extra")
    with pytest.raises(SuiteError, match="no task"):
        benchmark.make(TaskRef("hotpotqa", "dev", "nope"))
    with pytest.raises(SuiteError, match="belongs to benchmark"):
        benchmark.make(TaskRef("alfworld", "dev", "fixture-dev-01"))


def test_registry_is_lazy_and_builds_the_adapter() -> None:
    code = (
        "import sys; from benchmarks.builtin import BENCHMARKS as B;"
        " print('hotpotqa' in B.names(), 'benchmarks.hotpotqa' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True False"
    benchmark = BENCHMARKS.get("hotpotqa")(data_dir=None, source="fixture", facts_per_turn=1)
    assert isinstance(benchmark, HotpotQA) and benchmark.settings.facts_per_turn == 1


# --- the three-stage episode ---------------------------------------------------------------------------------------


def fixture_record(task_id: str) -> HotpotRecord:
    benchmark = HotpotQA(source="fixture")
    return benchmark.make(next(t for t in benchmark.tasks("train") if t.task_id == task_id)).record


def test_three_stages_in_order() -> None:
    benchmark = HotpotQA(source="fixture")
    episode = benchmark.make(benchmark.tasks("train")[3])  # 3 supporting facts, 4 distractors
    record = episode.record
    assert episode.layout == {"stage1": 2, "stage2": 2, "stage3": 1} and episode.max_steps == 5
    observations = [episode.reset()] + [r.observation for r in play(episode, "Cello!")[:-1]]
    stage1 = "\n".join(o.text for o in observations[:2])
    for title, sentence in record.gold_sentences()[0]:
        assert sentence in stage1 and title in stage1
    assert all(record.question not in o.text and o.goal is None for o in observations[:-1])
    assert [o.new_session for o in observations] == [False, False, True, False, False]
    for title, _ in record.distractors():
        assert title in "\n".join(o.text for o in observations[2:4])
    assert observations[-1].goal == record.question and record.question in observations[-1].text


def test_answer_scoring() -> None:
    benchmark = HotpotQA(source="fixture")
    task = benchmark.tasks("train")[0]  # gold: "Port Quillan"
    steps = play(benchmark.make(task), "the port quillan.")
    assert all((r.reward, r.progress, r.done, r.valid) == (0.0, 0.0, False, True) for r in steps[:-1])
    last = steps[-1]
    assert (last.terminated, last.truncated, last.success, last.reward) == (True, False, True, 1.0)
    assert dict(last.metrics) == {"exact_match": 1.0, "f1": 1.0}
    partial = play(benchmark.make(task), "Quillan, a town")[-1]
    assert not partial.success and partial.metrics["exact_match"] == 0.0 and partial.reward == pytest.approx(0.5)
    tagged = play(benchmark.make(task), "<answer>Port Quillan</answer>")[-1]
    assert tagged.metrics["exact_match"] == 0.0  # tags are the agent's to strip, not the benchmark's


@pytest.mark.parametrize("answer", ["", " ", "x" * 1_000_000, "Port Quillan" + "\u200b" * 10, "🚢\x00\udcff"])
def test_untrusted_answers_are_scored(answer: str) -> None:
    benchmark = HotpotQA(source="fixture")
    last = play(benchmark.make(benchmark.tasks("train")[0]), answer)[-1]
    assert last.terminated and 0.0 <= last.reward <= 1.0


def test_yes_no_question_scores_exactly() -> None:
    benchmark = HotpotQA(source="fixture")
    task = benchmark.tasks("train")[1]  # gold: "no"
    assert play(benchmark.make(task), "No.")[-1].success
    assert play(benchmark.make(task), "no, they are not")[-1].reward == 0.0


@pytest.mark.parametrize(
    ("options", "layout"),
    [
        ({}, (2, 2)),
        ({"facts_per_turn": 1}, (3, 2)),
        ({"facts_per_turn": 5}, (1, 2)),
        ({"stage1_material": "gold_paragraphs"}, (2, 2)),
        ({"distractors_per_turn": 1}, (2, 4)),
        ({"distractors_per_turn": 3}, (2, 2)),
        ({"distractors_per_turn": 1, "max_distractor_turns": 3}, (2, 3)),
        ({"max_distractor_turns": 0}, (2, 0)),
    ],
)
def test_chunking_options_change_turn_counts(options: dict[str, Any], layout: tuple[int, int]) -> None:
    benchmark = HotpotQA(source="fixture", **options)
    episode = benchmark.make(benchmark.tasks("train")[3])
    assert (episode.layout["stage1"], episode.layout["stage2"]) == layout
    assert episode.max_steps == sum(layout) + 1
    observations = [episode.reset()] + [r.observation for r in play(episode, "cello")[:-1]]
    assert sum(o.new_session for o in observations) == 1
    assert observations[layout[0]].new_session  # the first stage-2 turn, or the question when stage 2 is skipped


def test_gold_paragraphs_material_shows_whole_paragraphs() -> None:
    benchmark = HotpotQA(source="fixture", stage1_material="gold_paragraphs")
    episode = benchmark.make(benchmark.tasks("train")[3])
    first = episode.reset().text
    assert first.count("Greywater Trio:") == 1 and "It performs mostly new music." in first


def test_seed_shuffles_distractors_deterministically() -> None:
    benchmark = HotpotQA(source="fixture", distractors_per_turn=1)
    task = benchmark.tasks("dev")[0]
    record = benchmark.make(task).record

    def distractor_order(seed: int) -> list[str]:
        episode = benchmark.make(task, seed=seed)
        texts = [episode.reset().text] + [r.observation.text for r in play(episode, "")[:-1]]
        stage2 = texts[episode.layout["stage1"] : -1]
        return [next(t for t, _ in record.distractors() if f"\n{t}:" in text) for text in stage2]

    assert distractor_order(0) == [title for title, _ in record.distractors()]
    assert distractor_order(7) == distractor_order(7)
    assert sorted(distractor_order(7)) == sorted(distractor_order(0))
    assert {tuple(distractor_order(seed)) for seed in range(1, 6)} != {tuple(distractor_order(0))}


# --- the real data ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> HotpotQA:
    if not (REAL_DATA / "hotpotqa").is_dir():
        pytest.skip(f"real HotpotQA data not found at {REAL_DATA / 'hotpotqa'} (set AGEMEM_DATA to the shared data)")
    return HotpotQA(data_dir=REAL_DATA, source="data_dir")


def test_real_splits_sizes_and_disjointness(real: HotpotQA) -> None:
    assert real.splits() == ["train", "dev", "train_extra"]
    dev = real.tasks("dev")
    assert len(dev) == 600 and len({t.task_id for t in dev}) == 600
    assert [t.task_id for t in HotpotQA(data_dir=REAL_DATA).tasks("dev")] == [t.task_id for t in dev]
    assert len(real.tasks("train")) == 100 and len(real.tasks("train_extra")) == 300  # loading checks disjointness
    dev_records = [real.make(t).record for t in dev]
    for split in ("train", "train_extra"):
        records = [real.make(t).record for t in real.tasks(split)]
        assert not {r.id for r in records} & {r.id for r in dev_records}
        assert not {r.question.lower() for r in records} & {r.question.lower() for r in dev_records}
    provenance = real.provenance()["splits"]
    assert {s: provenance[s]["records"] for s in provenance} == {"dev": 600, "train": 100, "train_extra": 300}
    assert all(len(provenance[s]["files"][0]["sha256"]) == 64 for s in provenance)


def test_real_dev_episode_plays_all_three_stages(real: HotpotQA) -> None:
    assert check_benchmark(real, split="dev", n_tasks=3) == []
    episode = real.make(real.tasks("dev")[0], seed=1)
    assert episode.layout["stage1"] >= 1 and episode.layout["stage2"] >= 1
    results = play(episode, episode.record.answer)
    assert sum(r.observation.new_session for r in results) == 1
    assert results[-1].success and results[-1].metrics == {"exact_match": 1.0, "f1": 1.0}
