import pytest

from benchmarks.errors import SuiteError
from harness.config import build_config, load_file, load_preset, presets


def test_presets_load_and_validate():
    assert {"default", "full"} <= set(presets())
    config = build_config(load_preset("default"))
    assert config.benchmarks == ("hotpotqa",) and config.agents == ("nomem", "agemem-norl")
    assert config.limit and config.limit <= 50  # the main job stays small enough for CPU


def test_flags_override_and_none_ignored():
    config = build_config(load_preset("default"), {"limit": 3, "model": None, "seeds": [1, 2]})
    assert config.limit == 3 and config.seeds == (1, 2)
    assert config.model == build_config(load_preset("default")).model


def test_hash_ignores_limit_and_concurrency_but_not_model():
    base = build_config({"limit": 2})
    data = {"hotpotqa": {"source": "fixture"}}
    assert base.config_hash(data) == build_config({"limit": 9, "concurrency": 7}).config_hash(data)
    assert base.config_hash(data) != build_config({"model": "openai/x@http://h"}).config_hash(data)
    assert base.config_hash(data) != base.config_hash({"hotpotqa": {"source": "data_dir"}})
    here = {"hotpotqa": {"data_dir": "/a", "files": [{"path": "/a/dev.json", "sha256": "1"}]}}
    there = {"hotpotqa": {"data_dir": "/b", "files": [{"path": "/b/dev.json", "sha256": "1"}]}}
    assert base.config_hash(here) == base.config_hash(there)  # the same data anywhere: the same run
    assert base.config_hash(here) != base.config_hash({"hotpotqa": {"files": [{"sha256": "2"}]}})


@pytest.mark.parametrize("layer, message", [
    ({"bogus": 1}, "unknown setting 'bogus'"),
    ({"limit": 0}, "limit"),
    ({"agents": []}, "at least one"),
    ({"concurrency": 0}, "concurrency"),
    ({"limit": "ten"}, "config"),
])
def test_bad_settings_are_one_line_errors(layer, message):
    with pytest.raises(SuiteError, match=message):
        build_config(layer)


def test_config_files(tmp_path):
    good = tmp_path / "c.toml"
    good.write_text('agents = ["nomem"]\nlimit = 4\n[agent_options.nomem]\nmax_new_tokens = 8\n')
    assert build_config(load_file(good)).agent_options == {"nomem": {"max_new_tokens": 8}}
    bad = tmp_path / "bad.toml"
    bad.write_text("limit = = 3")
    with pytest.raises(SuiteError, match="not valid TOML"):
        load_file(bad)
    with pytest.raises(SuiteError, match="not found"):
        load_file(tmp_path / "missing.toml")
    with pytest.raises(SuiteError, match="unknown preset"):
        load_preset("nope")
