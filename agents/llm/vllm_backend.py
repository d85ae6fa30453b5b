"""In-process vLLM engine (GPU): continuous batching with per-request sampling parameters.

Prompts are chat-templated with the engine's own tokenizer and passed as token ids, so the forced `prefix` is
appended after the generation prompt exactly as in the transformers backend, and usage counts are exact.
vLLM is an optional extra with its own torch pin: install it in a separate environment (`agemem-bench[vllm]`).
Greedy requests (temperature 0) ignore the seed; sampled requests are reproducible per seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from agents.llm.api import ChatRequest, Completion, Message, Usage
from benchmarks.errors import require


class VLLMModel:
    def __init__(
        self,
        name: str,
        *,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
    ) -> None:
        vllm = require("vllm", "vllm")
        self.spec = f"vllm/{name}"
        self.label = name
        self._sampling_params = vllm.SamplingParams
        self.llm: Any = vllm.LLM(
            model=name,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def __repr__(self) -> str:
        return f"VLLMModel(spec={self.spec!r})"

    def prompt_ids(self, messages: Sequence[Message], prefix: str = "") -> list[int]:
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return list(self.tokenizer(text + prefix, add_special_tokens=False)["input_ids"])

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.prompt_ids(messages))

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        if not requests:
            return []
        started = time.perf_counter()
        prompts = [{"prompt_token_ids": self.prompt_ids(r.messages, r.prefix)} for r in requests]
        params = [
            self._sampling_params(
                max_tokens=r.max_new_tokens,
                temperature=r.temperature,
                stop=list(r.stop) or None,
                seed=r.seed if r.temperature > 0 else None,
            )
            for r in requests
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        share = (time.perf_counter() - started) / len(requests)
        completions = []
        for request, output in zip(requests, outputs):
            sample = output.outputs[0]
            usage = Usage(len(output.prompt_token_ids), len(sample.token_ids), 1, share)
            finish = "length" if sample.finish_reason == "length" else "stop"
            completions.append(Completion(request.prefix + sample.text, usage, finish, tuple(sample.token_ids)))
        return completions

    def close(self) -> None:
        """Drop the engine; vLLM frees GPU memory when it is garbage-collected."""
        self.llm = None
