"""Full renders with video: decoded with PyAV, the MP4 matches the audio it carries."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from media import decoded, loudness, top_level_boxes
from podforge.audio.stream import ArrayAudio
from podforge.timeline import SpeechSegment, Timeline

SCRIPT = """
---
title: Small Video
speakers:
  ALEX: {voice: "fake:a", color: "#e4572e"}
  SAM: {voice: "fake:b", color: "#3b82f6"}
video: {size: 320x180, fps: 25, layout: duo}
---
# Opening
ALEX: Welcome to the show, it is good to have you here.
SAM: Glad to be here today, thank you.
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from podforge.cli import main

    folder = tmp_path_factory.mktemp("video")
    (folder / "episode.md").write_text(SCRIPT.lstrip(), encoding="utf-8")
    (folder / "fake.yaml").write_text("tts_engine: fake\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PODFORGE_CACHE_DIR", str(tmp_path_factory.mktemp("video-cache")))
        code = main(["render", str(folder / "episode.md"), "-o", str(folder / "out"), "-c", str(folder / "fake.yaml")])
    assert code == 0
    return folder / "out"


def test_mp4_streams(rendered):
    with av.open(str(rendered / "episode.mp4")) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and video.codec_context.profile == "High"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (320, 180)
        assert video.average_rate == 25
        assert audio.codec_context.name == "aac" and audio.codec_context.sample_rate == 48_000
        assert audio.codec_context.channels == 2


def test_video_lasts_as_long_as_the_audio(rendered):
    timeline = Timeline.from_json((rendered / "episode.timeline.json").read_text())
    with av.open(str(rendered / "episode.mp4")) as container:
        frames = [f for f in container.decode(video=0)]
    first_video = frames[0].time
    video_end = frames[-1].time + 1 / 25
    assert abs(first_video) < 1e-6
    assert abs(video_end - timeline.seconds) <= 1 / 25
    with av.open(str(rendered / "episode.mp4")) as container:
        first_audio = next(container.decode(audio=0)).time
    assert abs(first_audio - first_video) < 0.03


def test_mp4_audio_is_the_mastered_episode(rendered):
    audio = decoded(rendered / "episode.mp4")
    assert abs(loudness(audio) + 16.0) <= 0.6
    timeline = Timeline.from_json((rendered / "episode.timeline.json").read_text())
    first, second = timeline.of_kind(SpeechSegment)
    margin = timeline.sample_rate // 20  # AAC priming and the codec's smearing stay inside this
    gap = audio[first.end + margin : second.start - margin].mean(axis=1)
    during = audio[first.start : first.end].mean(axis=1)
    assert np.sqrt(np.mean(gap**2)) < 0.05 * np.sqrt(np.mean(during**2))


def test_faststart_moov_before_mdat(rendered):
    boxes = top_level_boxes(rendered / "episode.mp4")
    assert boxes.index("moov") < boxes.index("mdat")


def test_timeline_keeps_word_timings_and_metrics_name_the_encoder(rendered):
    timeline = Timeline.from_json((rendered / "episode.timeline.json").read_text())
    for segment in timeline.of_kind(SpeechSegment):
        words = timeline.words[segment.clip]
        assert len(words) == len(segment.spoken.split())
    video = next(
        s for s in json.loads((rendered / "episode.metrics.json").read_text())["stages"] if s["name"] == "video"
    )
    assert video["encoder"] in {"libx264", "h264_nvenc"} and video["encoder_reason"]


def test_the_active_speaker_is_highlighted_while_speaking(rendered):
    timeline = Timeline.from_json((rendered / "episode.timeline.json").read_text())
    sam = timeline.of_kind(SpeechSegment)[1]
    mid = (sam.start + sam.end) / 2 / timeline.sample_rate
    with av.open(str(rendered / "episode.mp4")) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= mid).to_ndarray(format="rgb24")
    left, right = frame[:, :160].astype(float), frame[:, 160:].astype(float)
    blue = np.array([0x3B, 0x82, 0xF6], float)
    assert np.sum(np.linalg.norm(right - blue, axis=2) < 60) > np.sum(np.linalg.norm(left - blue, axis=2) < 60)


def test_transcripts_are_sentence_cues_from_word_timings(rendered):
    srt = (rendered / "episode.srt").read_text()
    timeline = Timeline.from_json((rendered / "episode.timeline.json").read_text())
    first = timeline.of_kind(SpeechSegment)[0]
    assert srt.count(" --> ") == 2  # one sentence per line here
    start = timeline.words[first.clip][0].start + first.start
    stamp = f"{int(start / 48_000 // 60):02d}:{start / 48_000 % 60:06.3f}".replace(".", ",")
    assert f"00:{stamp} --> " in srt


def test_flags_override_the_front_matter(tmp_path, run_cli, write_script, fake_config):
    script = write_script(SCRIPT.replace("Glad to be here today, thank you.", "Yes."))
    out = tmp_path / "flags"
    code, _, err = run_cli("render", script, "-o", out, "-c", fake_config, "--size", "180x320", "--layout", "solo")
    assert code == 0, err
    with av.open(str(out / "episode.mp4")) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (180, 320)


@pytest.mark.parametrize(
    ("flag", "value", "words"), [("--size", "big", "--size: 'big' is not a size"), ("--layout", "grid", "--layout")]
)
def test_bad_video_flags(tmp_path, run_cli, write_script, fake_config, flag, value, words):
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", tmp_path / "o", "-c", fake_config, flag, value)
    assert code == 2 and err.startswith("error: ") and words in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_audio_only_render_reuses_the_video_renders_master(tmp_path, run_cli, write_script, fake_config):
    script = write_script(SCRIPT)
    code, _, err = run_cli("render", script, "-o", tmp_path / "v", "-c", fake_config)
    assert code == 0, err
    code, _, err = run_cli("render", script, "-o", tmp_path / "a", "--audio-only", "-c", fake_config)
    assert code == 0, err
    stages = json.loads((tmp_path / "a" / "episode.metrics.json").read_text())["stages"]
    assert next(s for s in stages if s["name"] == "audio")["cached"] is True
    assert (tmp_path / "a" / "episode.mp3").read_bytes() == (tmp_path / "v" / "episode.mp3").read_bytes()


def test_the_video_cache_tells_a_chosen_visualiser_position_from_the_layouts() -> None:
    # Same values, different frames: the layout places a visualiser whose position nobody chose.
    from pathlib import Path

    from podforge.config import VideoConfig
    from podforge.timeline import SpeakerInfo
    from podforge.video import VideoJob

    timeline = Timeline("T", 48_000, 48_000, {"A": SpeakerInfo("A", "fake:a", "#e4572e")}, ())
    placed = VideoConfig.model_validate({"visualizer": {"kind": "spectrum"}})
    assert placed.visualizer is not None
    chosen = VideoConfig.model_validate({"visualizer": {"kind": "spectrum", "y": placed.visualizer.y}})
    assert placed.model_dump() == chosen.model_dump()
    keys = {
        VideoJob(timeline, video, Path("."), "audio", ArrayAudio(np.zeros((1, 2), np.float32), 48_000)).key("libx264")
        for video in (placed, chosen)
    }
    assert len(keys) == 2
