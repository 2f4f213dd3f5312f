"""Every file a render reads, broken the ways users' files are broken: refused by `check`, all at once, located."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from badmedia import BAD_AUDIO, BAD_IMAGES, surround_wav, write_all
from podforge.pipeline import check

LOCATED = re.compile(r"^error: episode\.md:(\d+):(\d+): ")


def error_lines(err: str) -> list[str]:
    lines = [line for line in err.splitlines() if line.strip()]
    assert all(line.startswith("error: ") for line in lines), err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_every_bad_sound_file_is_one_located_error(write_script, run_cli, fake_config, tmp_path: Path) -> None:
    names = [p.name for p in write_all(tmp_path / "snd", BAD_AUDIO)]
    body = "\n".join(f"[SFX: snd/{name}]" for name in names)
    text = f"ALEX: Hello there.\n[MUSIC: snd/{names[0]}]\n{body}\n"
    code, out, err = run_cli("check", write_script(text), "-c", fake_config)
    lines = error_lines(err)
    assert code == 2 and out == ""
    assert len(lines) == len(names) + 1  # every file, and the music cue too: all at once
    for name in names:
        row = line_of(text, f"[SFX: snd/{name}]")
        assert any(line.startswith(f"error: episode.md:{row}:") and name in line for line in lines), (name, lines)
    reasons = " ".join(lines)
    for words in ("empty (0 bytes)", "has no audio stream", "holds no audio samples", "sample rate 1000000 Hz",
                  "64 audio channels", "invalid data"):  # fmt: skip
        assert words in reasons


def test_surround_sound_is_downmixed_not_refused(write_script, run_cli, fake_config, tmp_path: Path) -> None:
    surround_wav(tmp_path / "surround.wav")
    checked = check(write_script("ALEX: Listen.\n[SFX: surround.wav]\n"), None, video=False)
    audio = checked.sfx["surround.wav"]
    assert audio.shape == (24_000, 2)  # 0.5 s at 48 kHz, stereo
    assert 0.2 < float(np.abs(audio).max()) <= 1.0  # the tone survives FFmpeg's standard 5.1 → stereo matrix


def test_every_bad_picture_is_one_located_error(write_script, run_cli, fake_config, tmp_path: Path) -> None:
    names = [p.name for p in write_all(tmp_path / "img", BAD_IMAGES)]
    Image.new("RGB", (8, 8)).save(tmp_path / "img" / "tiny.png")
    avatars = [f"photo:img/{n}" for n in names] + ["img/tiny.png", "photo:img/nowhere.png", "ilustrated", "photo:"]
    speakers = "\n".join(f'  S{k}: {{voice: "fake:a", avatar: "{a}"}}' for k, a in enumerate(avatars))
    text = f"---\nspeakers:\n{speakers}\nvideo: {{cover: img/{names[4]}}}\n---\nS0: Hello.\n"
    code, out, err = run_cli("check", write_script(text), "-c", fake_config)
    lines = error_lines(err)
    assert code == 2 and out == ""
    # All but one at once, and the cover: a PNG whose last chunk is damaged still decodes (Pillow reads it whole).
    assert len(lines) == len(avatars) - 1 + 1, lines
    assert not any("bad-crc.png" in line for line in lines)
    for k, avatar in enumerate(avatars):
        if "bad-crc" in avatar:
            continue
        row = line_of(text, f"S{k}:")
        match = next(LOCATED.match(line) for line in lines if f"speaker S{k}:" in line)
        assert match and int(match[1]) == row and int(match[2]) == text.splitlines()[row - 1].index(avatar) - 1 + 1
    reasons = " ".join(lines)
    for words in ("empty (0 bytes)", "cannot be decoded as an image", "image file is truncated", "too large",
                  "40000x16 pixels", "10000x10000 pixels, too large", "8x8 pixels, too small",
                  "nowhere.png': avatar file not found", "unknown avatar 'ilustrated'", "names no picture",
                  "video.cover"):  # fmt: skip
        assert words in reasons, words


def test_a_photo_without_a_face_is_a_warning_and_a_still(write_script, run_cli, fake_config, tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    Image.new("RGB", (200, 200), (40, 120, 200)).save(tmp_path / "logo.png")
    text = '---\nspeakers:\n  ALEX: {voice: "fake:a", avatar: "photo:logo.png"}\n---\nALEX: Hello.\n'
    code, out, err = run_cli("check", write_script(text), "-c", fake_config)
    assert code == 0, err
    assert err.startswith("warning: episode.md:3:35: speaker ALEX: avatar 'logo.png': no face found"), err
    assert "shown as a still picture" in err and "ok: episode.md" in out
    args = ("render", tmp_path / "episode.md", "-o", tmp_path / "out", "-c", fake_config, "--size", "256x144")
    code, _, err = run_cli(*args)
    assert code == 0 and err.startswith("warning: episode.md:3:35: speaker ALEX: avatar 'logo.png': no face"), err


def test_a_missing_photo_stops_the_render_before_any_voice(write_script, run_cli, fake_config, tmp_path) -> None:
    text = '---\nspeakers:\n  ALEX: {voice: "fake:a", avatar: "photo:nowhere.png"}\n---\nALEX: Hello.\n'
    out_dir = tmp_path / "out"
    code, _, err = run_cli("render", write_script(text), "-o", out_dir, "-c", fake_config)
    assert code == 2
    assert err.strip().startswith("error: episode.md:3:35: speaker ALEX: avatar 'nowhere.png': avatar file not found")
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_audio_only_render_does_not_need_the_pictures(write_script, run_cli, fake_config, tmp_path) -> None:
    text = '---\nspeakers:\n  ALEX: {voice: "fake:a", avatar: "photo:nowhere.png"}\n---\nALEX: Hello.\n'
    checked = check(write_script(text), None, video=False)
    assert checked.script.lines[0].spoken == "Hello."


def test_config_lists_every_bad_key_at_once(run_cli, write_script, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("gap_seconds: -1\nvideo: {fps: 24}\ntts_engin: fake\n", encoding="utf-8")
    code, _, err = run_cli("check", write_script("ALEX: Hi.\n"), "-c", config)
    lines = error_lines(err)
    assert code == 2 and len(lines) == 3
    assert [line.split(":")[1:3] for line in lines] == [[" bad.yaml", "1"], [" bad.yaml", "2"], [" bad.yaml", "3"]]


def test_a_broken_track_in_the_music_folder_is_found_at_check(write_script, run_cli, fake_config, tmp_path) -> None:
    from badmedia import tone_wav

    (tmp_path / "music").mkdir()
    tone_wav(tmp_path / "music" / "calm-piano.wav")
    (tmp_path / "music" / "upbeat-drums.mp3").write_text("not audio", encoding="utf-8")
    front = "---\nmusic: {engine: folder, folder: music}\n---\n"
    ok = write_script(front + "[MUSIC: calm piano]\nALEX: Hi.\n", "ok.md")
    assert run_cli("check", ok, "-c", fake_config)[0] == 0
    code, _, err = run_cli("check", write_script(front + "ALEX: Hi.\n[MUSIC: upbeat drums]\n"), "-c", fake_config)
    assert code == 2
    (line,) = error_lines(err)
    assert line.startswith("error: episode.md:5:2: music folder track: ") and "upbeat-drums.mp3" in line
