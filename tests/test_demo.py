"""The bundled demo rendered with the real offline voices, judged by ear-like measurements."""

from __future__ import annotations

import json
import re

import pytest

from media import decoded, loudness, recognise, true_peak_8x
from podforge.timeline import SpeechSegment, Timeline


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    from podforge.cli import main

    out = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PODFORGE_CACHE_DIR", str(tmp_path_factory.mktemp("demo-cache")))
        assert main(["demo", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def heard(demo_out):
    return recognise(decoded(demo_out / "demo.mp3"))


def test_demo_writes_every_output(demo_out):
    for ext in ("mp4", "mp3", "srt", "vtt", "chapters.json", "timeline.json", "metrics.json"):
        assert (demo_out / f"demo.{ext}").stat().st_size > 0


def test_demo_video_covers_the_episode(demo_out):
    import av

    timeline = Timeline.from_json((demo_out / "demo.timeline.json").read_text())
    with av.open(str(demo_out / "demo.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1280, 720) and stream.average_rate == 25
        frames = stream.frames
    assert abs(frames / 25 - timeline.seconds) <= 1 / 25
    assert {info.avatar for info in timeline.speakers.values()} == {"photo:alex.jpg", "illustrated"}


def test_demo_loudness(demo_out):
    audio = decoded(demo_out / "demo.mp3")
    assert abs(loudness(audio) + 16.0) <= 0.5
    assert true_peak_8x(audio) <= -1.0 + 0.05


def test_demo_is_two_hosts_two_chapters_about_two_minutes(demo_out):
    timeline = Timeline.from_json((demo_out / "demo.timeline.json").read_text())
    assert 90 <= timeline.seconds <= 150
    assert {s.voice for s in timeline.of_kind(SpeechSegment)} == {"hibari:heart", "piper:joe"}
    chapters = json.loads((demo_out / "demo.chapters.json").read_text())["chapters"]
    assert [c["title"] for c in chapters] == ["Welcome", "How it works"]


def test_a_recogniser_hears_the_script(demo_out, heard):
    timeline = Timeline.from_json((demo_out / "demo.timeline.json").read_text())
    expected = re.findall(r"[a-z']+", " ".join(s.spoken for s in timeline.of_kind(SpeechSegment)).lower())
    content = [w for w in expected if len(w) > 3]
    recalled = sum(w in heard.split() for w in content) / len(content)
    assert recalled >= 0.6, heard


def test_directions_cues_and_labels_are_not_spoken(heard):
    for never in ("warmly", "laughing", "pause", "theme", "colon", "bracket"):
        assert never not in heard.split(), never


def test_a_clean_render_of_the_demo_flags_nothing(demo_out):
    """The listening check hears every spoken line of the demo, as the real voices said it, and flags none."""
    metrics = json.loads((demo_out / "demo.metrics.json").read_text())
    timeline = Timeline.from_json((demo_out / "demo.timeline.json").read_text())
    listen = next(s for s in metrics["stages"] if s["name"] == "listen")
    assert listen["lines_checked"] == len(timeline.of_kind(SpeechSegment)) > 0
    assert listen["clips_heard"] == len({s.clip for s in timeline.of_kind(SpeechSegment)})
    assert metrics["lines_flagged"] == []
