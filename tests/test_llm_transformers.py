"""TransformersModel on a tiny random model (plumbing, exact numbers) and on the embedded SmolLM2 (real chat)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.llm.api import ChatRequest, chat
from agents.llm.spec import EMBEDDED_MODEL_SPEC, load_model
from agents.llm.transformers_backend import TransformersModel
from benchmarks.errors import SuiteError

QUESTIONS = ["Hi.", "Name three colours of the rainbow, please.", "Why is the sky blue? " * 6, "2+2?"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> Iterator[TransformersModel]:
    model = TransformersModel(str(tiny_model_dir))
    yield model
    model.close()


def ask(text: str, **options: object) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},), **options)  # type: ignore[arg-type]


def test_batched_greedy_equals_one_by_one(tiny: TransformersModel) -> None:
    requests = [ask(q, max_new_tokens=16) for q in QUESTIONS]
    batched = tiny.generate(requests)
    single = [tiny.generate([r])[0] for r in requests]
    assert [c.text for c in batched] == [c.text for c in single]
    assert [c.token_ids for c in batched] == [c.token_ids for c in single]
    assert len({c.usage.prompt_tokens for c in batched}) == len(QUESTIONS)  # unequal lengths: really padded


def test_batches_larger_than_max_batch_size_are_split(tiny_model_dir: Path, tiny: TransformersModel) -> None:
    small = TransformersModel(str(tiny_model_dir), max_batch_size=3)
    requests = [ask(q, max_new_tokens=8) for q in QUESTIONS * 2]
    assert [c.text for c in small.generate(requests)] == [c.text for c in tiny.generate(requests)]


def test_usage_counts_are_exact(tiny: TransformersModel) -> None:
    messages = ({"role": "user", "content": QUESTIONS[1]},)
    templated = tiny.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    expected_prompt = len(tiny.tokenizer(templated, add_special_tokens=False)["input_ids"])
    completion = chat(tiny, messages, max_new_tokens=9)
    assert tiny.count_tokens(messages) == expected_prompt
    assert completion.usage.prompt_tokens == expected_prompt
    assert completion.usage.completion_tokens == len(completion.token_ids) == 9
    assert completion.usage.calls == 1 and completion.usage.seconds > 0
    assert completion.finish_reason == "length"
    assert completion.text == tiny.tokenizer.decode(completion.token_ids, skip_special_tokens=True)


def test_each_request_is_cut_at_its_own_max_new_tokens(tiny: TransformersModel) -> None:
    long, short = tiny.generate([ask(QUESTIONS[0], max_new_tokens=12), ask(QUESTIONS[0], max_new_tokens=4)])
    assert (long.usage.completion_tokens, short.usage.completion_tokens) == (12, 4)
    assert short.token_ids == long.token_ids[:4] and short.finish_reason == "length"


def test_stop_strings_cut_the_text_and_the_token_count(tiny: TransformersModel) -> None:
    full = tiny.generate([ask(QUESTIONS[2], max_new_tokens=16)])[0]
    decode = tiny.tokenizer.decode
    stop = decode(full.token_ids[6:8]).strip() or decode(full.token_ids[6:8])
    tokens_needed = next(k for k in range(1, 17) if stop in decode(full.token_ids[:k]))
    stopped, other = tiny.generate(
        [ask(QUESTIONS[2], max_new_tokens=16, stop=(stop,)), ask(QUESTIONS[3], max_new_tokens=16)]
    )
    assert stopped.text == full.text[: full.text.index(stop)]
    assert stopped.finish_reason == "stop"
    assert stopped.usage.completion_tokens == tokens_needed == len(stopped.token_ids)
    assert other.usage.completion_tokens == 16  # the other row kept going


def test_prefix_is_forced_returned_and_not_counted_as_generated(tiny: TransformersModel) -> None:
    messages = ({"role": "user", "content": QUESTIONS[0]},)
    completion = chat(tiny, messages, max_new_tokens=5, prefix='<tool_call>[{"name": "')
    assert completion.text.startswith('<tool_call>[{"name": "')
    assert completion.text == '<tool_call>[{"name": "' + tiny.tokenizer.decode(completion.token_ids)
    assert completion.usage.completion_tokens == 5
    assert completion.usage.prompt_tokens == len(tiny.prompt_ids(messages, '<tool_call>[{"name": "'))
    assert completion.usage.prompt_tokens > tiny.count_tokens(messages)


def test_sampling_is_reproducible_per_seed_and_keeps_greedy_rows_greedy(tiny: TransformersModel) -> None:
    greedy = ask(QUESTIONS[1], max_new_tokens=8)
    first = tiny.generate([greedy, ask(QUESTIONS[1], max_new_tokens=8, temperature=1.0, seed=7)])
    second = tiny.generate([ask(QUESTIONS[1], max_new_tokens=8, temperature=1.0, seed=7)])
    assert first[1].text == second[0].text
    assert first[0].text == tiny.generate([greedy])[0].text


def test_models_without_chat_template_use_role_lines(tiny_model_dir: Path) -> None:
    model = TransformersModel(str(tiny_model_dir))
    model.tokenizer.chat_template = None
    ids = model.prompt_ids([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert model.tokenizer.decode(ids) == "system: Be brief.\nuser: Hi\nassistant:"
    assert chat(model, [{"role": "user", "content": "Hi"}], max_new_tokens=2).usage.completion_tokens == 2


def test_one_torch_thread_by_default(tiny: TransformersModel) -> None:
    import torch

    assert torch.get_num_threads() == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("transformers/./no/such/dir", "model directory not found"),
        ("transformers/no-such-org/no-such-model", "cannot load model 'no-such-org/no-such-model'"),
    ],
)
def test_unloadable_models_are_one_line_suite_errors(spec: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SuiteError, match=message) as info:
        load_model(spec)
    assert "\n" not in str(info.value)


def test_bad_device_and_dtype_are_suite_errors(tiny_model_dir: Path) -> None:
    with pytest.raises(SuiteError, match="unknown dtype"):
        TransformersModel(str(tiny_model_dir), dtype="float33")
    with pytest.raises(SuiteError, match="unknown device"):
        TransformersModel(str(tiny_model_dir), device="tpu")


def test_embedded_smollm2_answers_a_question(embedded_model_dir: Path) -> None:
    model = load_model(EMBEDDED_MODEL_SPEC)
    try:
        completion = chat(model, [{"role": "user", "content": "What is the capital of France?"}], max_new_tokens=24)
    finally:
        model.close()
    assert model.label == "SmolLM2-135M-Instruct (Q4_1, embedded)"
    assert "Paris" in completion.text
    assert completion.finish_reason == "stop" and completion.token_ids[-1] == 2  # <|im_end|>
    assert completion.usage.completion_tokens == len(completion.token_ids)
