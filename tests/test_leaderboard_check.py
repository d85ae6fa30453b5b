"""`agemem-bench leaderboard check`: the tolerance/CI maths, pass and fail cases, unusable input, the CI baseline."""

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.errors import SuiteError
from harness.cli import main
from metrics.leaderboard import COLUMNS
from metrics.regression import allowed_change, compare, read_rows
from tests.test_leaderboard_views import row, synthetic_rows

ROOT = Path(__file__).resolve().parent.parent
CI_BASELINE = ROOT / "leaderboards" / "ci-baseline.csv"


def write(path: Path, rows) -> Path:
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(path, index=False)
    return path


def changed(rows, agent, name, benchmark=None, **fields):
    """A copy of `rows` where the (agent, metric[, benchmark]) row(s) get `fields`."""
    out = []
    for r in rows:
        r = dict(r)
        if r["agent"] == agent and r["metric"] == name and benchmark in (None, r["benchmark"]):
            r.update(fields)
        out.append(r)
    return out


def check(tmp_path, baseline, current, *extra):
    a, b = write(tmp_path / "a.csv", baseline), write(tmp_path / "b.csv", current)
    return main(["leaderboard", "check", "--baseline", str(a), "--current", str(b), *extra])


def test_allowed_change_is_max_of_tolerance_and_ci_half_width():
    rows = read_rows_of([row("hotpotqa", "nomem", "f1", 0.25, 0.1, 0.4),
                         row("hotpotqa", "nomem", "exact_match", 0.5, 0.49, 0.51),
                         row("hotpotqa", "nomem", "total_tokens", 3000.0, 2900.0, 3100.0),
                         row("hotpotqa", "nomem", "llm_calls", 4.0, 2.0, 10.0)])
    by = {k[4]: v for k, v in rows.items()}
    assert allowed_change("f1", by["f1"], 0.05, 0.1) == pytest.approx(0.15)  # CI half-width (0.4 - 0.1) / 2
    assert allowed_change("exact_match", by["exact_match"], 0.05, 0.1) == pytest.approx(0.05)  # tolerance wins
    assert allowed_change("total_tokens", by["total_tokens"], 0.05, 0.1) == pytest.approx(300.0)  # 10% of 3000
    assert allowed_change("llm_calls", by["llm_calls"], 0.05, 0.1) == pytest.approx(4.0)  # half-width of [2, 10]


def read_rows_of(rows):
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        return read_rows(write(Path(directory) / "x.csv", rows))


def test_identical_leaderboards_pass(tmp_path, capsys):
    assert check(tmp_path, synthetic_rows(), synthetic_rows()) == 0
    out = capsys.readouterr().out
    assert out.startswith("leaderboard check: PASS: 0 failure(s)") and "new in current" in out


def test_drop_beyond_tolerance_and_ci_fails_with_one_line_per_regression(tmp_path, capsys):
    current = changed(synthetic_rows(), "nomem", "f1", value=0.09, ci_low=0.0, ci_high=0.2)  # -0.16 > 0.15
    current = changed(current, "agemem-norl", "total_tokens", "hotpotqa", value=11000.0)  # +2000 > max(900, 1000)
    assert check(tmp_path, synthetic_rows(), current) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("REGRESSION hotpotqa/dev/agemem-norl/transformers/tiny total_tokens [judge none]")
    assert lines[1].startswith("REGRESSION hotpotqa/dev/nomem/transformers/tiny f1 [judge none]: 0.25 -> 0.09")
    assert lines[-1].startswith("leaderboard check: FAIL: 2 failure(s)") and len(lines) == 3


def test_changes_inside_the_allowance_or_for_the_better_pass(tmp_path):
    current = changed(synthetic_rows(), "nomem", "f1", value=0.11)  # -0.14 < CI half-width 0.15
    current = changed(current, "nomem", "exact_match", value=0.0)
    current = changed(current, "agemem-norl", "progress_rate", value=0.9)  # better
    current = changed(current, "nomem", "total_tokens", value=500.0)  # fewer tokens: better
    current = changed(current, "nomem", "wall_seconds", value=9999.0)  # no direction: never a regression
    current = changed(current, "nomem", "custom_thing", value=-5.0)  # unknown metric: not checked
    assert check(tmp_path, synthetic_rows(), current) == 0


def test_tolerance_flag_changes_the_verdict(tmp_path):
    base = [row("pddl", "nomem", "progress_rate", 0.5)]  # no CI: only the tolerance allows a change
    now = [row("pddl", "nomem", "progress_rate", 0.44)]
    assert check(tmp_path, base, now) == 1
    assert check(tmp_path, base, now, "--tolerance", "0.1") == 0
    base = [row("pddl", "nomem", "total_tokens", 1000.0)]
    now = [row("pddl", "nomem", "total_tokens", 1150.0)]
    assert check(tmp_path, base, now) == 1
    assert check(tmp_path, base, now, "--relative-tolerance", "0.2") == 0


def test_missing_rows_new_errors_and_changed_data_fail(tmp_path, capsys):
    current = [r for r in synthetic_rows() if not (r["agent"] == "nomem" and r["metric"] == "success_rate")]
    assert check(tmp_path, synthetic_rows(), current) == 1
    out = capsys.readouterr().out
    assert out.count("MISSING") == 3  # hotpotqa, pddl and toyworld success_rate of nomem
    errors = changed(synthetic_rows(), "agemem-norl", "errors", value=2.0)
    assert check(tmp_path, synthetic_rows(), errors) == 1  # a failed episode more is a regression
    moved = changed(synthetic_rows(), "nomem", "progress_rate", data_source="fixture")
    assert check(tmp_path, synthetic_rows(), moved) == 1
    assert "DATA pddl/test/nomem/transformers/tiny progress_rate" in capsys.readouterr().out


def test_a_changed_judge_is_a_missing_row_with_a_hint(tmp_path, capsys):
    current = changed(synthetic_rows(), "agemem-norl", "memory_quality", judge="lexical")
    assert check(tmp_path, synthetic_rows(), current) == 1
    assert "current has it under judge 'lexical'" in capsys.readouterr().out


def test_metrics_flag_restricts_the_check(tmp_path, capsys):
    current = changed(synthetic_rows(), "nomem", "f1", value=0.0, ci_low=0.0, ci_high=0.0)
    assert check(tmp_path, synthetic_rows(), current, "--metrics", "progress_rate,success_rate") == 0
    assert check(tmp_path, synthetic_rows(), current, "--metrics", "f1") == 1
    capsys.readouterr()
    assert check(tmp_path, synthetic_rows(), current, "--metrics", "nonsense") == 2
    assert "not in the baseline: nonsense" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    (None, "no such file"),
    ("benchmark,agent\nhotpotqa,nomem\n", "missing columns"),
    ("", "missing columns"),
    (",".join(COLUMNS) + "\n", "has no rows"),
    (",".join(COLUMNS) + "\nhotpotqa,dev,nomem,m,f1,abc,0,0,1,none,d,r,c,2026\n", "must be numbers"),
    (",".join(COLUMNS) + "\nhotpotqa,dev,nomem,m,f1,nan,0,0,1,none,d,r,c,2026\n", "must be finite"),
    (",".join(COLUMNS) + "\nhotpotqa,dev,nomem,m,f1,0.5,0,0\n", "wrong number of fields"),
    (",".join(COLUMNS) + "\n" + "hotpotqa,dev,nomem,m,f1,0.5,0,1,1,none,d,r1,c,2026\n"
     + "hotpotqa,dev,nomem,m,f1,0.4,0,1,1,none,d,r2,c,2026\n", "two rows"),
])
def test_unusable_input_is_a_one_line_error_exit_2(tmp_path, capsys, text, message):
    bad = tmp_path / "bad.csv"
    if text is not None:
        bad.write_text(text)
    good = write(tmp_path / "good.csv", synthetic_rows())
    for args in (["--baseline", str(bad), "--current", str(good)], ["--baseline", str(good), "--current", str(bad)]):
        assert main(["leaderboard", "check", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and err.startswith("agemem-bench: error: leaderboard check")


def test_negative_tolerance_is_rejected():
    rows = read_rows_of(synthetic_rows())
    with pytest.raises(SuiteError, match="tolerances"):
        compare(rows, rows, tolerance=-0.1)


def test_committed_ci_baseline_is_a_valid_slice_that_passes_against_itself(capsys):
    rows = read_rows(CI_BASELINE)
    benchmarks = {k[0] for k in rows}
    assert {"hotpotqa", "pddl"} <= benchmarks and {k[2] for k in rows} == {"nomem"}
    assert all("smollm2" in k[3] for k in rows)  # the embedded model, as harness/presets/ci.toml runs it
    names = {k[4] for k in rows}
    assert {"success_rate", "progress_rate", "f1", "total_tokens"} <= names
    assert main(["leaderboard", "check", "--baseline", str(CI_BASELINE), "--current", str(CI_BASELINE)]) == 0
    assert "PASS" in capsys.readouterr().out


def test_render_command_rerenders_views(tmp_path, capsys):
    write(tmp_path / "results.csv", synthetic_rows())
    assert main(["leaderboard", "render", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "results.html").is_file() and (tmp_path / "plots" / "benchmark_bars.png").is_file()
    assert main(["leaderboard", "render", "--dir", str(tmp_path / "nowhere")]) == 2
    assert "no results.csv" in capsys.readouterr().err


def test_ci_preset_is_a_small_deterministic_slice():
    from harness.config import build_config, load_preset

    config = build_config(load_preset("ci"))
    assert set(config.benchmarks) == {"hotpotqa", "pddl"} and config.agents == ("nomem",)
    assert config.limit == 2 and config.concurrency == 1 and config.threads == 1  # no batching, fixed threads
    assert config.agent_options["nomem"]["temperature"] == 0.0  # greedy
