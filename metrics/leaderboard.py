"""The leaderboard: one long CSV (a row per metric) and the views rendered from it.

Every row says which run, commit, model, judge and data produced it, so a number can always be traced back.
Publishing a run replaces that run's earlier rows and keeps everyone else's, then re-renders every view:
schema.csv (metric definitions), results.md, results.html and plots/*.png (metrics/render.py, metrics/plots.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.errors import SuiteError
from metrics.render import HONESTY_NOTE, PAPER_CSV, load_paper, load_table, render_html, render_markdown
from metrics.schema import schema_rows

COLUMNS = (
    "benchmark", "split", "agent", "model", "metric", "value", "ci_low", "ci_high", "n",
    "judge", "data_source", "run_id", "commit", "date",
)
__all__ = ["COLUMNS", "HONESTY_NOTE", "publish", "render_views"]


def publish(rows: Iterable[Mapping[str, Any]], directory: Path) -> tuple[Path, Path]:
    """Merge `rows` into `results.csv` and re-render every view; returns the CSV and the markdown view.

    A run's identity is (run_id, judge): new rows replace the earlier rows of the same run under the same judge
    label, so re-scoring a run with another judge adds rows beside the first judge's. The judge-independent labels
    ("none", and "none (EM/F1 only)" of older runs) count as one label."""
    import pandas as pd

    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "results.csv"
    new = pd.DataFrame(list(rows), columns=list(COLUMNS))
    if csv_path.exists():
        old = pd.read_csv(csv_path, dtype={"run_id": str, "commit": str, "judge": str})
        replaced = {(str(r), _judge_identity(j)) for r, j in zip(new["run_id"], new["judge"], strict=True)}
        keep = [(str(r), _judge_identity(j)) not in replaced for r, j in zip(old["run_id"], old["judge"], strict=True)]
        old = old[keep]
        table = pd.concat([old, new], ignore_index=True) if len(old) else new
    else:
        table = new
    table = table.sort_values(["benchmark", "split", "agent", "model", "run_id", "metric", "judge"], kind="stable")
    tmp = csv_path.with_name(f".{csv_path.name}.tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, csv_path)
    views = render_views(directory, load_table(csv_path))  # re-read: views show exactly what the CSV holds
    return csv_path, views["md"]


def _judge_identity(label: Any) -> str:
    text = str(label)
    return "none" if text == "none" or text.startswith("none ") else text


def render_views(directory: Path, table: Any = None, *, paper: Path | None = None) -> dict[str, Path]:
    """(Re)write schema.csv, results.md, results.html and plots/ from `directory`/results.csv (or `table`).

    The paper's reference numbers come from `directory`/paper_table2.csv, else the repository's copy.
    """
    import pandas as pd

    csv_path = directory / "results.csv"
    if table is None:
        if not csv_path.is_file():
            raise SuiteError(f"leaderboard: no results.csv in {directory}")
        try:
            table = load_table(csv_path)
        except (ValueError, pd.errors.ParserError) as exc:
            raise SuiteError(f"leaderboard: cannot read {csv_path}: {exc}".splitlines()[0]) from exc
        missing = set(COLUMNS) - set(table.columns)
        if missing:
            raise SuiteError(f"leaderboard: {csv_path} lacks columns {', '.join(sorted(missing))}")
    if paper is None:
        paper = directory / "paper_table2.csv" if (directory / "paper_table2.csv").is_file() else PAPER_CSV
    reference = load_paper(paper)
    from metrics.plots import render_plots

    plots = render_plots(table, directory)
    schema = pd.DataFrame(schema_rows(set(table["metric"])))
    written = {"schema": directory / "schema.csv", "md": directory / "results.md", "html": directory / "results.html"}
    texts = {"schema": schema.to_csv(index=False), "md": render_markdown(table, reference, plots),
             "html": render_html(table, reference, plots)}
    for key, path in written.items():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(texts[key])
        os.replace(tmp, path)
    return written
