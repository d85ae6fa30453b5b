"""AgeMem end to end: the real embedded SmolLM2 on real three-stage HotpotQA episodes through the CLI."""

import json

import pytest

from harness.cli import main


@pytest.mark.slow
def test_agemem_norl_with_smollm2_produces_tool_calls(tmp_path, embedded_model_dir):
    config = tmp_path / "agemem.toml"
    config.write_text(
        '[agent_options.agemem-norl]\nformat_mode = "tool_prefix"\nmax_new_tokens = 64\nmax_rounds_per_step = 2\n'
        "[benchmark_options.hotpotqa]\nmax_distractor_turns = 1\n"
    )
    code = main(["run", "-a", "agemem-norl", "--source", "fixture", "--limit", "2", "--concurrency", "2",
                 "--config", str(config), "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "lb"),
                 "--no-progress"])
    assert code == 0
    run_dir = next((tmp_path / "runs").iterdir())
    records = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2
    valid_calls = 0
    for record in records:
        stats = record["agent_stats"]
        assert stats["format_mode"] == "tool_prefix" and stats["policy_model"] == record["model"]
        assert stats["rounds"] == record["usage"]["policy"]["calls"] >= record["steps"]
        assert stats["ltm_size"] == len(stats["ltm_items"])
        valid_calls += sum(stats["tool_calls"].values())
        trajectory = [json.loads(line) for line in (run_dir / record["trajectory"]).read_text().splitlines()]
        kinds = [r["kind"] for step in trajectory for r in step["agent"]["rounds"]]
        calls = sum(stats["tool_calls"].values())
        assert kinds.count("tool_calls") <= calls and (kinds.count("tool_calls") > 0) == (calls > 0)
        assert (run_dir / "memory").is_dir()
    # Greedy decoding: with the forced tool prefix, SmolLM2-135M writes at least one valid call on these tasks.
    assert valid_calls >= 1
