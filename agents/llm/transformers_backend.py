"""In-process Hugging Face model: the CPU default (embedded SmolLM2) and any HF id or local directory on GPU.

A call to `generate` runs each group of requests as ONE left-padded batch through `model.generate`, so
concurrent episodes (gathered by `BatchingModel`) share the forward passes. Requests in one batch may differ in
`max_new_tokens`, `stop` and `prefix`: the batch decodes up to the largest limit and a stopping criterion
retires each row at its own EOS, stop string or limit. Greedy requests and each distinct sampling temperature go
in separate batches. Sampling seeds the RNG with the first request's seed of its batch, so sampled output is
reproducible for the same batch composition only (best-effort per-request determinism).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.llm import embedded
from agents.llm.api import ChatRequest, Completion, Message, Usage
from agents.llm.loading import serialize_model_loading
from benchmarks.errors import SuiteError
from benchmarks.hub import hub_unavailable_reason

if TYPE_CHECKING:
    import torch

class TransformersModel:
    """ChatModel over `AutoModelForCausalLM`; `name` is an HF id, a local directory or `embedded.NAME`."""

    def __init__(
        self,
        name: str,
        *,
        threads: int = 1,
        dtype: str = "auto",
        device: str = "cpu",
        max_batch_size: int = 16,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-load bars would drown the run's own progress bar

        if threads < 1 or max_batch_size < 1:
            raise SuiteError("transformers options 'threads' and 'max_batch_size' must be >= 1")
        torch.set_num_threads(threads)  # a second core is often busy here: 1 thread is several times faster
        self.spec = f"transformers/{name}"
        self.max_batch_size = max_batch_size
        self.device = _resolve_device(device)
        torch_dtype = _resolve_dtype(dtype, self.device)
        serialize_model_loading()  # before resolve_source: the embedded model's first use converts it
        source, local, self.label = resolve_source(name)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, local_files_only=local)
        except OSError as exc:
            where = "directory" if Path(source).is_dir() else "Hugging Face hub (or its local cache)"
            raise SuiteError(f"cannot load model '{name}' from the {where}: {_first_line(exc)}") from exc
        self.model = model.to(self.device).eval()
        self.eos_ids = _eos_ids(self.tokenizer, self.model)
        pad = self.tokenizer.pad_token_id
        self.pad_id: int = pad if pad is not None else min(self.eos_ids)

    def __repr__(self) -> str:
        return f"TransformersModel(spec={self.spec!r}, device={self.device!r})"

    def prompt_ids(self, messages: Sequence[Message], prefix: str = "") -> list[int]:
        """Token ids of the chat-templated prompt (with generation prompt), followed by the forced prefix.

        Without a chat template the messages are joined as "role: content" lines ending in "assistant:".
        """
        if self.tokenizer.chat_template:
            text = self.tokenizer.apply_chat_template(
                [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
            )
            return list(self.tokenizer(text + prefix, add_special_tokens=False)["input_ids"])
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        if prefix:
            text += " " + prefix
        return list(self.tokenizer(text)["input_ids"])

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.prompt_ids(messages))

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        results: dict[int, Completion] = {}
        groups: dict[float, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(request.temperature, []).append(index)
        for indices in groups.values():
            for start in range(0, len(indices), self.max_batch_size):
                chunk = indices[start : start + self.max_batch_size]
                for index, completion in zip(chunk, self._generate_batch([requests[i] for i in chunk])):
                    results[index] = completion
        return [results[i] for i in range(len(requests))]

    def close(self) -> None:
        """Drop the weights so a long-lived process can load another model."""
        self.model = None

    def _generate_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        import torch

        started = time.perf_counter()
        prompts = [self.prompt_ids(r.messages, r.prefix) for r in requests]
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts], device=self.device)
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        stopper = _RowStopper(width, requests, self.eos_ids, self.tokenizer)
        temperature = requests[0].temperature
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_k": None, "top_p": None}
            if temperature > 0
            else {"do_sample": False}
        )
        with torch.inference_mode(), torch.random.fork_rng(devices=[] if self.device == "cpu" else [self.device]):
            torch.manual_seed(requests[0].seed)
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=max(r.max_new_tokens for r in requests),
                pad_token_id=self.pad_id,
                eos_token_id=sorted(self.eos_ids),
                stopping_criteria=[stopper],
                **sampling,
            )
        generated = output[:, width:].tolist()
        completions = []
        for i, request in enumerate(requests):
            length = stopper.lengths[i] if stopper.lengths[i] is not None else len(generated[i])
            ids = generated[i][: min(length, request.max_new_tokens)]
            text = _cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), request.stop)
            completions.append((request.prefix + text, ids, len(prompts[i]), stopper.reasons[i]))
        share = (time.perf_counter() - started) / len(requests)
        return [
            Completion(text, Usage(n_prompt, len(ids), 1, share), reason, tuple(ids))
            for text, ids, n_prompt, reason in completions
        ]


class _RowStopper:
    """Retires each batch row at its own EOS, stop string or token limit, and records where and why.

    Returning a per-row bool tensor lets `generate` pad finished rows and end early once all rows are done.
    """

    def __init__(self, width: int, requests: list[ChatRequest], eos_ids: set[int], tokenizer: Any) -> None:
        self.width = width
        self.requests = requests
        self.eos_ids = eos_ids
        self.tokenizer = tokenizer
        self.lengths: list[int | None] = [None] * len(requests)
        self.reasons = ["length"] * len(requests)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        import torch

        step = input_ids.shape[1] - self.width
        last = input_ids[:, -1].tolist()
        for i, request in enumerate(self.requests):
            if self.lengths[i] is not None:
                continue
            if last[i] in self.eos_ids or (
                request.stop and _stop_index(self.tokenizer.decode(input_ids[i, self.width :]), request.stop) >= 0
            ):
                self.lengths[i], self.reasons[i] = step, "stop"
            elif step >= request.max_new_tokens:
                self.lengths[i] = step
        return torch.tensor([n is not None for n in self.lengths], device=input_ids.device)


def _stop_index(text: str, stops: Sequence[str]) -> int:
    """Index of the earliest stop string in text, or -1."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else -1


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    index = _stop_index(text, stops)
    return text if index < 0 else text[:index]


def resolve_source(name: str) -> tuple[str, bool, str]:
    """(what to pass to from_pretrained, local_files_only, label); never touches the network for local dirs."""
    if name == embedded.NAME:
        return str(embedded.ensure_cached()), True, embedded.LABEL
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path), True, path.name
    if name.startswith(("/", ".", "~")) or path.exists():
        raise SuiteError(f"model directory not found: {name}")
    return name, hub_unavailable_reason() is not None, name  # offline: the local HF cache only, failing fast


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SuiteError(f"device '{device}' was asked for but CUDA is not available; use device=cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise SuiteError(f"unknown device '{device}'; use cpu, cuda, cuda:N or auto")
    return device


def _resolve_dtype(dtype: str, device: str) -> torch.dtype:
    import torch

    if dtype == "auto":
        return torch.float32 if device == "cpu" else torch.bfloat16
    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise SuiteError(f"unknown dtype '{dtype}'; use auto, float32, bfloat16 or float16")
    return value


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    """EOS ids from both the tokenizer and the generation config (chat models often end turns differently)."""
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, model.generation_config.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(value)
    if not ids:
        raise SuiteError("the model defines no EOS token; it cannot be used for chat")
    return ids


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
