"""Model spec strings -> ChatModel. Backends import torch/transformers/vllm only when constructed."""

from __future__ import annotations

import inspect
import re

from agents.llm import embedded
from agents.llm.api import ChatModel
from benchmarks.errors import SuiteError

EMBEDDED_MODEL_SPEC = f"transformers/{embedded.NAME}"

VALID_FORMS = "transformers/<hf-id-or-local-path>, openai/<model>@<base_url>, vllm/<hf-id-or-path>"
_OPENAI = re.compile(r"(?P<model>[^@\s]+)@(?P<url>https?://\S+)")


def load_model(spec: str, *, threads: int = 1, **options: object) -> ChatModel:
    """Build the backend a spec names; `threads` only applies to in-process CPU inference."""
    backend, _, rest = spec.partition("/")
    if not rest.strip() or rest != rest.strip():
        raise SuiteError(f"malformed model spec '{spec}'; valid forms: {VALID_FORMS}")
    if backend == "transformers":
        from agents.llm.transformers_backend import TransformersModel

        return _construct(TransformersModel, rest, threads=threads, **options)
    if backend == "openai":
        match = _OPENAI.fullmatch(rest)
        if not match:
            raise SuiteError(f"malformed model spec '{spec}'; valid forms: {VALID_FORMS}")
        from agents.llm.openai_backend import OpenAIModel

        return _construct(OpenAIModel, match["model"], match["url"], **options)
    if backend == "vllm":
        from agents.llm.vllm_backend import VLLMModel

        return _construct(VLLMModel, rest, **options)
    raise SuiteError(f"unknown model backend '{backend}' in spec '{spec}'; valid forms: {VALID_FORMS}")


def _construct(cls: type, *args: object, **options: object) -> ChatModel:
    """Reject option names the backend does not take as a user error, not a TypeError traceback."""
    parameters = inspect.signature(cls).parameters.values()
    accepted = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise SuiteError(
            f"unknown option(s) {', '.join(unknown)} for {cls.__name__}; accepted: {', '.join(sorted(accepted))}"
        )
    return cls(*args, **options)  # type: ignore[no-any-return]
