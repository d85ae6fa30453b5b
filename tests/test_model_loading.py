"""Concurrent model loads must not corrupt later loads (transformers patches global state while loading)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys, threading, torch
from transformers import AutoModelForCausalLM
if sys.argv[2] == "locked":
    from agents.llm.loading import serialize_model_loading
    serialize_model_loading()
path = sys.argv[1]
reference = AutoModelForCausalLM.from_pretrained(path)
def load():
    for _ in range(4):
        AutoModelForCausalLM.from_pretrained(path)
threads = [threading.Thread(target=load) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
after = AutoModelForCausalLM.from_pretrained(path)
tied = after.lm_head.weight.data_ptr() == after.model.embed_tokens.weight.data_ptr()
same = all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), after.state_dict().values()))
print("OK" if tied and same else "CORRUPT")
"""


@pytest.mark.slow
def test_concurrent_loads_leave_later_loads_intact(tiny_model_dir: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_model_dir), "locked"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().endswith("OK"), out.stdout + out.stderr[-2000:]
