"""Full renders with the model-free fake voice: files, loudness, timing, cache, atomicity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mutagen.id3 import ID3

from media import audio_stream_info, decoded, loudness, true_peak_8x
from podforge.timeline import MusicSegment, SpeechSegment, Timeline

SCRIPT = """
---
title: Fake Show
author: Test Hosts
speakers:
  ALEX: {voice: "fake:a"}
  SAM: {voice: "fake:b"}
---
# Opening
[MUSIC: calm piano]
ALEX: Welcome to the show, it is good to have you here.
SAM (laughing): Glad to be here today.
[pause 1.5s]
## Second part
ALEX: Here is the second part of our talk.
SAM: And that is the end.
"""


@pytest.fixture
def rendered(write_script, fake_config, run_cli, tmp_path):
    script = write_script(SCRIPT)
    out = tmp_path / "out"
    code, stdout, err = run_cli("render", script, "-o", out, "--audio-only", "-c", fake_config)
    assert code == 0, err
    return out, stdout


def test_writes_every_output(rendered):
    out, _ = rendered
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"episode.{ext}" for ext in ("mp3", "srt", "vtt", "chapters.json", "timeline.json", "metrics.json")
    )


def test_mp3_is_mastered_and_tagged(rendered):
    out, _ = rendered
    codec, bit_rate, duration = audio_stream_info(out / "episode.mp3")
    timeline = Timeline.from_json((out / "episode.timeline.json").read_text())
    assert codec == "mp3" and bit_rate >= 128_000
    assert abs(duration - timeline.seconds) < 0.06
    audio = decoded(out / "episode.mp3")
    assert abs(loudness(audio) + 16.0) <= 0.5
    assert true_peak_8x(audio) <= -1.0 + 0.05
    tags = ID3(out / "episode.mp3")
    assert str(tags["TIT2"]) == "Fake Show" and str(tags["TPE1"]) == "Test Hosts"
    chapters = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    assert [str(c.sub_frames["TIT2"]) for c in chapters] == ["Opening", "Second part"]
    assert chapters[0].start_time == 0 and tags.getall("CTOC")


def test_speech_sits_where_the_timeline_says(write_script, fake_config, run_cli, tmp_path):
    out = tmp_path / "dry"
    code, _, err = run_cli(
        "render", write_script(SCRIPT.replace("[MUSIC: calm piano]", "")), "-o", out, "-c", fake_config
    )
    assert code == 0, err
    timeline = Timeline.from_json((out / "episode.timeline.json").read_text())
    audio = decoded(out / "episode.mp3").mean(axis=1)
    speech = timeline.of_kind(SpeechSegment)
    assert [s.speaker for s in speech] == ["ALEX", "SAM", "ALEX", "SAM"]
    pause = speech[2].start - speech[1].end
    gap = audio[speech[1].end + 4800 : speech[1].end + pause - 4800]
    inside = audio[speech[2].start : speech[2].end]
    assert np.sqrt(np.mean(gap**2)) < 0.01 * np.sqrt(np.mean(inside**2))
    assert pause >= 1.5 * timeline.sample_rate


def test_transcripts_follow_clip_timings(rendered):
    out, _ = rendered
    timeline = Timeline.from_json((out / "episode.timeline.json").read_text())
    first = timeline.of_kind(SpeechSegment)[0]
    vtt = (out / "episode.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    assert "<v ALEX>Welcome to the show" in vtt and "laughing" not in vtt
    start = first.start / timeline.sample_rate
    stamp = f"{int(start // 3600):02d}:{int(start % 3600 // 60):02d}:{start % 60:06.3f}"
    assert stamp in vtt
    srt = (out / "episode.srt").read_text()
    assert "ALEX: Welcome to the show" in srt and stamp.replace(".", ",") in srt
    chapters = json.loads((out / "episode.chapters.json").read_text())
    assert [c["title"] for c in chapters["chapters"]] == ["Opening", "Second part"]


def test_metrics_schema(rendered):
    out, _ = rendered
    metrics = json.loads((out / "episode.metrics.json").read_text())
    gpu = metrics["gpu"]  # whatever this machine has: the record says what was used and why
    assert gpu["mode"] == "auto" and gpu["reason"] and gpu["used"] == (metrics["device"]["gpu"] is not None)
    assert gpu["encoder"] is None and gpu["onnx"]["provider"] in {"CPUExecutionProvider", "CUDAExecutionProvider"}
    assert metrics["audio_seconds"] > 5
    # The factor's definition, not a speed (speeds are in bench/, where a loaded machine cannot fail a build).
    assert metrics["realtime_factor"] == pytest.approx(metrics["wall_seconds"] / metrics["audio_seconds"], abs=1e-3)
    names = [s["name"] for s in metrics["stages"]]
    assert names == ["parse", "voices", "plan", "audio", "listen", "publish"]
    assert metrics["stages"][3]["cached"] is False and abs(metrics["stages"][3]["lufs"] + 16) <= 0.5
    voices = metrics["stages"][1]
    assert voices["cache_misses"] == 4 and voices["cache_hits"] == 0
    for stage in metrics["stages"]:
        assert {"wall_seconds", "cpu_percent", "peak_rss_mb", "gpu_util_percent", "gpu_memory_mb"} <= set(stage)


def test_warm_render_synthesizes_nothing(rendered, write_script, fake_config, run_cli, tmp_path):
    code, _, _ = run_cli("render", write_script(SCRIPT), "-o", tmp_path / "again", "--audio-only", "-c", fake_config)
    assert code == 0
    stages = json.loads((tmp_path / "again" / "episode.metrics.json").read_text())["stages"]
    assert stages[1]["cache_misses"] == 0 and stages[1]["cache_hits"] == 4
    assert stages[3]["cached"] is True
    first, again = rendered[0] / "episode.mp3", tmp_path / "again" / "episode.mp3"
    assert first.read_bytes() == again.read_bytes()


def test_changing_one_line_revoices_only_that_line(rendered, write_script, fake_config, run_cli, tmp_path):
    script = write_script(SCRIPT.replace("And that is the end.", "And that is all for today."))
    code, _, _ = run_cli("render", script, "-o", tmp_path / "edited", "--audio-only", "-c", fake_config)
    assert code == 0
    stages = json.loads((tmp_path / "edited" / "episode.metrics.json").read_text())["stages"]
    assert (stages[1]["cache_hits"], stages[1]["cache_misses"], stages[3]["cached"]) == (3, 1, False)


def test_no_cache_leaves_the_cache_alone(write_script, fake_config, run_cli, tmp_path, isolated_cache):
    code, _, _ = run_cli(
        "render", write_script(SCRIPT), "-o", tmp_path / "o", "--audio-only", "--no-cache", "-c", fake_config
    )
    assert code == 0
    assert not any(isolated_cache.rglob("*.npy"))


def test_cache_ls_and_clear(rendered, run_cli, isolated_cache):
    code, out, _ = run_cli("cache", "ls")
    assert code == 0 and "4 clips" in out and "episodes" in out
    code, out, _ = run_cli("cache", "clear")
    assert code == 0 and not any(isolated_cache.rglob("*.npy"))


def test_wav_on_request(write_script, fake_config, run_cli, tmp_path):
    code, _, _ = run_cli(
        "render", write_script(SCRIPT), "-o", tmp_path / "o", "--audio-only", "--wav", "-c", fake_config
    )
    assert code == 0
    wav = decoded(tmp_path / "o" / "episode.wav")
    assert abs(loudness(wav) + 16.0) <= 0.5


def test_failed_render_keeps_what_the_user_had(write_script, fake_config, run_cli, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "episode.mp3").write_bytes(b"the user's old episode")

    def broken(*args, **kwargs):
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr("podforge._mp3worker.encode_mp3", broken)
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", out, "--audio-only", "-c", fake_config)
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err
    assert (out / "episode.mp3").read_bytes() == b"the user's old episode"
    assert sorted(p.name for p in out.iterdir()) == ["episode.mp3"]


def test_check_show_lists_spoken_and_skipped(write_script, run_cli, fake_config):
    code, out, _ = run_cli("check", write_script(SCRIPT), "--show", "-c", fake_config)
    assert code == 0
    assert "Welcome to the show" in out and "skipped direction" in out and "(laughing)" in out
    assert "ok: episode.md: 4 spoken lines, 2 speakers" in out


def test_voices_and_doctor(run_cli):
    code, out, _ = run_cli("voices")
    assert code == 0 and "hibari:heart" in out and "piper:joe" in out and "gtts" in out
    code, out, _ = run_cli("doctor")
    assert code == 0 and "libx264" in out and "GPU" in out


def test_music_from_a_folder_of_the_users_tracks(write_script, fake_config, run_cli, tmp_path):
    from podforge.audio.export import write_mp3

    (tmp_path / "tracks").mkdir()
    t = np.arange(4 * 48_000) / 48_000
    write_mp3(
        tmp_path / "tracks" / "calm-morning.mp3", np.repeat(0.2 * np.sin(2 * np.pi * 220 * t)[:, None], 2, 1), 48_000
    )
    script = write_script(
        SCRIPT.replace("title: Fake Show", "title: Fake Show\nmusic: {engine: folder, folder: tracks}")
    )
    code, _, err = run_cli("render", script, "-o", tmp_path / "o", "--audio-only", "-c", fake_config)
    assert code == 0, err
    timeline = Timeline.from_json((tmp_path / "o" / "episode.timeline.json").read_text())
    assert timeline.of_kind(MusicSegment)
    # Before the first line the music plays alone: it must be the folder's 220 Hz track, not a synthesised bed.
    start, first_line = timeline.of_kind(MusicSegment)[0].start, timeline.of_kind(SpeechSegment)[0].start
    assert first_line - start >= timeline.sample_rate
    heard = decoded(tmp_path / "o" / "episode.mp3", timeline.sample_rate)[start:first_line].mean(axis=1)
    power = np.abs(np.fft.rfft(heard * np.hanning(len(heard)))) ** 2
    freqs = np.fft.rfftfreq(len(heard), 1 / timeline.sample_rate)
    assert abs(freqs[power.argmax()] - 220) <= 5, freqs[power.argmax()]
    assert power[np.abs(freqs - 220) <= 10].sum() > 0.9 * power.sum()  # a pure tone: measured 0.99999
