"""Preview flags: --from/--to by time or chapter, --preview small and fast (frames: test_video_preview.py)."""

from __future__ import annotations

import math
from pathlib import Path

import av
import pytest

from podforge.errors import ConfigError
from podforge.preview import cli_window, parse_time

SCRIPT = """---
title: Preview
speakers:
  ALEX: {voice: "fake:a", color: "#e4572e"}
  SAM: {voice: "fake:b", color: "#3b82f6"}
video: {size: 320x180, fps: 25, layout: duo}
---
# Opening
ALEX: Welcome to the show, it is good to have you here.
# Second Part
SAM: Glad to be here today, thank you.
"""


@pytest.fixture
def episode(tmp_path: Path) -> Path:
    script = tmp_path / "episode.md"
    script.write_text(SCRIPT, encoding="utf-8")
    return script


def test_times_and_chapters_parse() -> None:
    assert (parse_time("90"), parse_time("2:30"), parse_time("1:02:03.5")) == (90.0, 150.0, 3723.5)
    assert parse_time("Opening") is None and parse_time("2:3x") is None
    assert cli_window("2:30", "3:10") == ((150.0, 190.0), None)
    assert cli_window(None, "5") == ((0.0, 5.0), None)
    assert cli_window("1", None) == ((1.0, math.inf), None)
    assert cli_window("Second Part", None) == (None, "Second Part")
    with pytest.raises(ConfigError, match="start before the end"):
        cli_window("3:10", "2:30")
    with pytest.raises(ConfigError, match="leave out --to"):
        cli_window("Opening", "3")


def test_cli_chapter_preview_is_small_and_fast(episode: Path, fake_config: Path, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    code, _, err = run_cli("render", episode, "-o", out, "-c", fake_config, "--size", "1280x720",
                           "--from", "second part", "--preview")  # fmt: skip
    assert code == 0, err
    with av.open(str(out / "episode.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (640, 360)
        shown = stream.frames / 25
    chapters = (out / "episode.chapters.json").read_text()
    assert "Second Part" in chapters and 0.5 < shown < 8.0
    code, _, err = run_cli("render", episode, "-o", tmp_path / "bad", "-c", fake_config, "--from", "Missing")
    assert code == 2 and err.startswith("error: --from 'Missing': no chapter") and "'Opening'" in err
    assert not any((tmp_path / "bad").glob("episode.*"))  # OUT is made before synthesis; nothing is put in it


def test_a_preview_past_the_end_or_a_bad_clock_time_is_a_flag_error(episode: Path, fake_config: Path, run_cli,
                                                                     tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    code, _, err = run_cli("render", episode, "-o", tmp_path / "a", "-c", fake_config, "--from", "9:99")
    assert code == 2 and err.startswith("error: --from '9:99': minutes and seconds after a colon go up to 59")
    code, _, err = run_cli("render", episode, "-o", tmp_path / "b", "-c", fake_config, "--from", "50:00")
    assert code == 2 and "preview from 50:00.0: the episode is only 0:" in err, err
    assert not any((tmp_path / "b").glob("episode.*"))
