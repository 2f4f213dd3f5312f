"""Malformed scripts: one `error:` line naming file:line:col, exit 2, no traceback, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest

FM = "---\nspeakers:\n  ALEX: {voice: 'fake:a'}\n  SAM: {voice: 'fake:b'}\n---\n"

# (id, script, expected "line:col", words the message must contain)
CASES: list[tuple[str, str | bytes, str, str]] = [
    ("unknown-speaker", FM + "BOB: hi\n", "6:1", "unknown speaker 'BOB'"),
    ("unknown-speaker-later", FM + "ALEX: hi\n\nCAROL: yo\n", "8:1", "unknown speaker 'CAROL'"),
    (
        "unknown-engine",
        "---\nspeakers:\n  ALEX: {voice: 'nope:x'}\n---\nALEX: hi\n",
        "3:17",
        "unknown TTS engine",
    ),
    (
        "unknown-voice",
        "---\nspeakers:\n  ALEX: {voice: 'hibari:zzz'}\n---\nALEX: hi\n",
        "3:17",
        "unknown voice",
    ),
    (
        "unknown-piper-voice",
        "---\nspeakers:\n  ALEX: {voice: 'piper:amy'}\n---\nALEX: hi\n",
        "3:17",
        "unknown voice",
    ),
    (
        "malformed-voice-id",
        "---\nspeakers:\n  ALEX: {voice: 'hibari heart'}\n---\nALEX: hi\n",
        "3:17",
        "not a voice id",
    ),
    ("unknown-top-key", "---\ntitel: Oops\n---\nALEX: hi\n", "2:8", "unknown key 'titel'"),
    (
        "unknown-speaker-key",
        "---\nspeakers:\n  ALEX: {colour: red}\n---\nALEX: hi\n",
        "3:18",
        "unknown key 'colour'",
    ),
    ("bad-colour", "---\nspeakers:\n  ALEX: {color: blurple}\n---\nALEX: hi\n", "3:17", "not a colour"),
    ("bad-speed", "---\nspeakers:\n  ALEX: {speed: 5}\n---\nALEX: hi\n", "3:17", "speed"),
    ("yaml-syntax", "---\ntitle: [unclosed\nspeakers: {}\n---\nALEX: hi\n", "3:9", "not valid YAML"),
    ("front-matter-list", "---\n- a\n- b\n---\nALEX: hi\n", "2:1", "key: value"),
    ("speakers-not-mapping", "---\nspeakers: [ALEX, SAM]\n---\nALEX: hi\n", "2:11", "speakers"),
    ("bad-layout", "---\nvideo: {layout: grid}\n---\nALEX: hi\n", "2:17", "layout"),
    ("bad-size", "---\nvideo: {size: big}\n---\nALEX: hi\n", "2:15", "not a size"),
    ("low-bitrate", "---\noutput: {mp3_bitrate: 64000}\n---\nALEX: hi\n", "2:23", "mp3_bitrate"),
    ("missing-music", FM + "[MUSIC: nothere.mp3]\nALEX: hi\n", "6:9", "music file 'nothere.mp3' not found"),
    (
        "missing-sfx",
        FM + "ALEX: hi\n[SFX: sounds/bell.wav]\n",
        "7:7",
        "sound effect 'sounds/bell.wav' not found",
    ),
    ("undecodable-music", FM + "[MUSIC: broken.mp3]\nALEX: hi\n", "6:9", "cannot decode audio"),
    ("silent-video-as-music", FM + "[MUSIC: theme.mp4]\nALEX: hi\n", "6:9", "has no audio stream"),
    ("pause-garbage", FM + "ALEX: hi\n[pause 1.5x]\n", "7:8", "cannot read the duration"),
    ("pause-negative", FM + "ALEX: hi\n[pause -2s]\n", "7:8", "out of range"),
    ("pause-zero", FM + "ALEX: hi\n[pause 0s]\n", "7:8", "out of range"),
    ("pause-too-long", FM + "ALEX: hi\n[pause 5m]\n", "7:8", "out of range"),
    ("inline-pause-garbage", FM + "ALEX: hi [pause 2q] there\n", "6:17", "cannot read the duration"),
    ("music-zero-seconds", FM + "[MUSIC: calm, 0s]\nALEX: hi\n", "6:15", "out of range"),
    ("music-too-long", FM + "[MUSIC: calm, 9999s]\nALEX: hi\n", "6:15", "out of range"),
    ("music-empty", FM + "[MUSIC: ]\nALEX: hi\n", "6:2", "needs a mood or a file"),
    ("sfx-empty", FM + "ALEX: hi\n[SFX:]\n", "7:2", "needs a sound file"),
    (
        "music-folder-missing",
        "---\nmusic: {engine: folder, folder: gone}\n---\n[MUSIC: calm]\nALEX: hi\n",
        "4:2",
        "music: music folder 'gone' not found",
    ),
    (
        "music-engine-unknown",
        "---\nmusic: {engine: laser}\n---\nALEX: hi\n[MUSIC: calm]\n",
        "5:2",
        "unknown music engine 'laser'",
    ),
    ("empty-file", "", "1:1", "nothing to say"),
    ("blank-lines-only", "\n\n   \n", "1:1", "nothing to say"),
    ("cues-only", "[MUSIC: calm]\n(beat)\n[pause 1s]\n", "1:1", "nothing to say"),
    ("front-matter-only", FM, "1:1", "nothing to say"),
    ("latin-1", b"ALEX: caf\xe9 time\n", "1:10", "not UTF-8"),
    ("utf-16", "ALEX: hi\n".encode("utf-16"), "1:1", "not UTF-8"),
    ("unlabelled-text", FM + "ALEX: hi\n\nHello there, who is this?\n", "8:1", "text without a speaker"),
    ("unclosed-cue-line", FM + "ALEX: hi\n[SFX: door creak\n", "7:1", "`[` is not closed: end the cue with `]`"),
    ("unclosed-inline-cue", FM + "ALEX: hi [laughs and then\n", "6:10", "`[` is not closed"),
    (
        "podcastfy-undeclared",
        FM + "<Person1>Hi</Person1>\n",
        "6:1",
        "unknown speaker 'PERSON1'",
    ),
]


@pytest.fixture
def broken_music(tmp_path: Path) -> Path:
    path = tmp_path / "broken.mp3"
    path.write_text("this is not audio", encoding="utf-8")
    silent = av.open(str(tmp_path / "theme.mp4"), "w")  # a video with no sound, named as music
    stream = silent.add_stream("libx264", rate=25)
    stream.width = stream.height = 64
    for i in range(3):
        frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        frame.pts = i
        silent.mux(stream.encode(frame))
    silent.mux(stream.encode(None))
    silent.close()
    return path


@pytest.mark.parametrize(("script", "where", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_reports_one_located_error(run_cli, write_script, broken_music, script, where, words):
    path = write_script(script)
    code, out, err = run_cli("check", path)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: episode.md:{where}: "), lines[0]
    assert words in lines[0]
    assert "Traceback" not in err + out


@pytest.mark.parametrize(("script", "where", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_render_writes_nothing_on_bad_input(run_cli, write_script, broken_music, tmp_path, script, where, words):
    path = write_script(script)
    out_dir = tmp_path / "out"
    code, _, err = run_cli("render", path, "-o", out_dir, "--audio-only")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_at_least_thirty_malformed_scripts():
    assert len(CASES) >= 30


def test_every_problem_is_reported_at_once(run_cli, write_script):
    path = write_script(FM + "BOB: hi\n[pause 1.5x]\nALEX: fine\n[SFX: gone.wav]\n")
    code, _, err = run_cli("check", path)
    assert code == 2
    assert [re.match(r"error: episode\.md:(\d+:\d+):", line)[1] for line in err.strip().splitlines()] == [
        "6:1",
        "7:8",
        "9:7",
    ]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(run_cli, write_script, where):
    path = write_script(FM + "BOB: hi\n")
    args = ("--debug", "check", path) if where == "before" else ("check", path, "--debug")
    code, _, err = run_cli(*args)
    assert code == 2
    assert "Traceback" in err and "error: episode.md:6:1" in err


def test_missing_script_file(run_cli, tmp_path):
    code, _, err = run_cli("check", tmp_path / "nope.md")
    assert code == 2
    assert err.startswith("error: nope.md: cannot read the script")


def test_unknown_flag_is_one_error_line(run_cli, write_script):
    code, _, err = run_cli("render", write_script(FM + "ALEX: hi\n"), "--frobnicate")
    assert code == 2
    assert err.strip().count("\n") == 0 and err.startswith("error: ")


def test_bad_config_file(run_cli, write_script, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("gap_secs: 2\n", encoding="utf-8")
    code, _, err = run_cli("render", write_script(FM + "ALEX: hi\n"), "-c", config, "-o", tmp_path / "o")
    assert code == 2
    assert err.startswith("error: bad.yaml:1:") and "gap_secs" in err
    assert not (tmp_path / "o").exists()
