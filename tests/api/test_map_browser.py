"""The web map as a browser shows it: headless Chromium against a live server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from matplotlib import image as mpimg

from api.app import create_app
from api.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (scripts/setup.sh test installs it)"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=8000",
]


@pytest.fixture(scope="module")
def live_url(api_db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(database_url=api_db.render_as_string(hide_password=False)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "test server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_map_lists_the_published_plan(live_url, tmp_path, sample_plan):
    dom = _chromium(["--dump-dom", f"{live_url}/map"], tmp_path).stdout
    grids = sample_plan.report["grids"]
    ok = sample_plan.report["grids_by_status"].get("ok", 0)
    assert f"plan v1: {grids} grids, {ok} in range" in dom


def test_map_draws_grids_in_status_colours(live_url, tmp_path):
    shot = tmp_path / "map.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,800", f"{live_url}/map"], tmp_path)
    pixels = mpimg.imread(shot)[..., :3]
    # the "in range" green (#7fc97f) drawn at 70 % over the background must cover a real share of the page
    green = np.array([0x7F, 0xC9, 0x7F]) / 255
    background = np.array([0xF4, 0xF1, 0xEA]) / 255
    blended = 0.7 * green + 0.3 * background
    close = np.abs(pixels - blended).max(axis=-1) < 0.06
    assert close.mean() > 0.05, f"only {close.mean():.1%} of the screenshot shows in-range grids"
