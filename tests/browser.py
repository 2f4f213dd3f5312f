"""Debian's chromium driven by playwright, for tests of pages podforge serves or writes.

Browser tests take the `browser_page` fixture (tests/conftest.py). Without chromium they are
skipped with the command that installs it, except under CI, where a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTEFACTS = Path(os.environ.get("PODFORGE_TEST_ARTEFACTS", Path(__file__).resolve().parent.parent / "test-artefacts"))
INSTALL_HINT = "browser tests need Debian's chromium: run `apt-get install chromium` (CI's .ci/run does)"


def chromium_path() -> str | None:
    return os.environ.get("PODFORGE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch() -> Iterator[object]:
    """A playwright Browser on Debian's chromium; skips (fails under CI) when there is none."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: object, name: str) -> Path:
    """Save a screenshot under test-artefacts/ (kept after the run, for people to look at)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    dest = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(dest), full_page=True)  # type: ignore[attr-defined]
    return dest
