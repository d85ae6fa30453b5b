"""In-process vLLM engine (GPU): continuous batching with per-request sampling parameters.

Prompts are chat-templated with the engine's own tokenizer and passed as token ids, so the forced `prefix` is
appended after the generation prompt exactly as in the transformers backend, and usage counts are exact.
vLLM is an optional extra with its own torch pin: install it in a separate environment (`agemem-bench[vllm]`).
Greedy requests (temperature 0) ignore the seed; sampled requests are reproducible per seed.

GRPO rollouts (TrainConfig.rollout_engine = "vllm") push the trained policy into the engine after every update:
`load_weights` writes the weights to one safetensors file (in /dev/shm when it exists) and asks every worker,
through `collective_rpc`, to load it with the model's own `load_weights` (which knows its fused and sharded
layouts); then it drops the prefix cache, whose KV entries were computed with the old weights. A file, because
tensors passed as RPC arguments arrive in the workers as plain lists. Exact and simple; a 7B model costs seconds
per sync; NCCL transfer (vLLM's weight_transfer) would be the next step.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from agents.llm.api import ChatRequest, Completion, Message, Usage
from benchmarks.errors import require

WEIGHT_SYNC_EXTENSION = "agents.llm.vllm_backend.PolicyWeightSync"


class PolicyWeightSync:
    """vLLM worker extension (imported inside every worker by its path): receives the policy being trained."""

    model_runner: Any  # set by the vLLM worker this class is mixed into

    def load_policy_weights(self, path: str) -> int:
        import inspect

        from safetensors.torch import load_file

        weights = load_file(path, device="cpu")
        in_place = getattr(self.model_runner, "reload_weights", None)  # the worker's own wrapper takes **kwargs
        if in_place is not None and "weights_iterator" in inspect.signature(in_place).parameters:
            # Recent vLLM: in place, also where kernels repacked the weights after loading (the CPU backend does).
            self.reload_weights(weights_iterator=iter(weights.items()))  # type: ignore[attr-defined]
        else:
            self.model_runner.get_model().load_weights(weights=weights.items())
        return len(weights)


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
            worker_extension_cls=WEIGHT_SYNC_EXTENSION,
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

    def load_weights(self, weights: Iterable[tuple[str, Any]]) -> None:
        """Replace the engine's weights (names as in the Hugging Face checkpoint) with these."""
        import os
        import tempfile

        from safetensors.torch import save_file

        # Copies, so tied tensors (embeddings / lm_head) are separate entries, as safetensors requires.
        state = {name: tensor.detach().to("cpu").clone() for name, tensor in weights}
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        with tempfile.TemporaryDirectory(prefix="agemem-policy-", dir=folder) as tmp:
            path = os.path.join(tmp, "policy.safetensors")
            save_file(state, path)
            self.llm.collective_rpc("load_policy_weights", args=(path,))
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        """Drop the engine; vLLM frees GPU memory when it is garbage-collected."""
        self.llm = None
