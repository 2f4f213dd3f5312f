"""Shared fixtures: an isolated cache, script files written on the fly, and the fake voice."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podforge.cli import main


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PODFORGE_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def write_script(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str | bytes, name: str = "episode.md") -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def fake_config(tmp_path: Path) -> Path:
    """A render config that voices every speaker with the model-free fake engine."""
    path = tmp_path / "fake.yaml"
    path.write_text("tts_engine: fake\n", encoding="utf-8")
    return path


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian chromium (playwright); see tests/browser.py. Per module: playwright's sync API keeps an
    event loop running in the main thread while it is open, which later tests' asyncio.run would trip over."""
    from browser import launch

    yield from launch()


@pytest.fixture
def browser_page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def talker_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the stand-in SadTalker/Wav2Lip (tests/fixtures/fake_talker.py) logs its calls, with no GPU
    variables or failure mode inherited from the environment."""
    from fixtures.fake_talker import GPU_VARS

    log = tmp_path / "talker.json"
    monkeypatch.setenv("FAKE_TALKER_LOG", str(log))
    monkeypatch.delenv("FAKE_TALKER_MODE", raising=False)
    for name in GPU_VARS:
        monkeypatch.delenv(name, raising=False)
    return log
