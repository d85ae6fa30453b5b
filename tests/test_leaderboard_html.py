"""results.html in a real headless browser (Debian's chromium): the tables are there and the plot images load.

The page itself has no JavaScript. The test opens a copy with a small probe script appended that writes each
image's decoded size into the DOM, then reads the DOM chromium dumps. CI installs chromium (apt-get install
chromium); without it this test fails, unless AGEMEM_SKIP_BROWSER=1 says to skip it.
"""

import json
import os
import re
import shutil
import struct
import subprocess
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from metrics.leaderboard import COLUMNS, render_views
from tests.test_leaderboard_views import row, synthetic_rows

PROBE = ('<script>window.addEventListener("load", () => { const p = document.createElement("pre"); p.id = "probe"; '
         'p.textContent = JSON.stringify([...document.images].map(i => [i.getAttribute("src"), i.naturalWidth, '
         'i.naturalHeight])); document.body.appendChild(p); });</script>')


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("AGEMEM_SKIP_BROWSER") == "1":
        pytest.skip("AGEMEM_SKIP_BROWSER=1: no headless browser check")
    pytest.fail("chromium not found: install it (Debian: apt-get install -y chromium) or set AGEMEM_SKIP_BROWSER=1")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM after load, as chromium renders `page` (file://, no network, throwaway profile)."""
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def images(dom: str) -> dict[str, tuple[int, int]]:
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert match, "the probe script did not run"
    return {src: (width, height) for src, width, height in json.loads(unescape(match.group(1)))}


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def cells(dom: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", dom, re.DOTALL)]


@pytest.fixture
def page(tmp_path: Path) -> Path:
    rows = [*synthetic_rows(), row("hotpotqa", "<img src=x onerror=alert(1)>", "f1", 0.5, run="evil")]
    board = tmp_path / "board"
    board.mkdir()
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(board / "results.csv", index=False)
    render_views(board)
    return board / "results.html"


def test_browser_shows_tables_and_loads_the_plots(page: Path, tmp_path: Path):
    dom = dump_dom(page, tmp_path / "profile")
    shown = cells(dom)
    for text in ("paper (Qwen2.5-7B-Instruct)", "27.16", "45.83 (over 3 benchmarks)", "25.00 (F1, n=4)",
                 "60.0 [35.0, 85.0]", "data_dir:a|b.json", "r2-1111111111"):
        assert text in shown, text
    assert "<th>HotpotQA J</th>" in dom and "<th>Avg</th>" in dom
    loaded = images(dom)
    # Exactly the two plots: the agent name with markup was escaped into text, not turned into an <img>.
    assert set(loaded) == {"plots/score_vs_tokens.png", "plots/benchmark_bars.png"}
    for src, size in loaded.items():
        assert size == png_size(page.parent / src) and size[0] > 100, src
    assert "<img src=x onerror=alert(1)>" in shown


def test_probe_sees_a_plot_that_did_not_load(page: Path, tmp_path: Path):
    (page.parent / "plots" / "benchmark_bars.png").unlink()
    loaded = images(dump_dom(page, tmp_path / "profile"))
    assert loaded["plots/benchmark_bars.png"] == (0, 0) and loaded["plots/score_vs_tokens.png"][0] > 100
