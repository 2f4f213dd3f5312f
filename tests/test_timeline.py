"""The timeline survives a JSON round trip and rejects what it does not know."""

from __future__ import annotations

import json

import pytest

from podforge.errors import ConfigError
from podforge.timeline import (
    ChapterSegment,
    MusicSegment,
    PauseSegment,
    PhoneTiming,
    SfxSegment,
    SpeakerInfo,
    SpeechSegment,
    Timeline,
    WordTiming,
)

TIMELINE = Timeline(
    title="T",
    sample_rate=48_000,
    duration=480_000,
    speakers={"ALEX": SpeakerInfo("Alex", "hibari:heart", "#e4572e")},
    segments=(
        ChapterSegment(0, 480_000, 1, "Intro", 1),
        MusicSegment(0, 200_000, 2, "calm", False, -6.0, 48_000, 96_000, 3),
        SpeechSegment(96_000, 192_000, 3, "ALEX", "hibari:heart", "Hi 2026.", "Hi twenty twenty-six.", "abc"),
        PauseSegment(192_000, 240_000, 4),
        SfxSegment(240_000, 250_000, 5, "bell.wav"),
    ),
    words={"abc": (WordTiming("hi", 0, 9600, (PhoneTiming("HH", 0, 4800), PhoneTiming("AY", 4800, 9600))),)},
    mouths={"abc": [[0, 4800, "B", 0.3], [4800, 9600, "D", 0.9]]},
)


def test_round_trip_is_exact():
    assert Timeline.from_json(TIMELINE.to_json()) == TIMELINE


def test_json_has_version_timebase_kinds_and_seconds():
    data = json.loads(TIMELINE.to_json())
    assert data["version"] == "1" and data["timebase"] == "1/48000"
    speech = data["segments"][2]
    assert speech["kind"] == "speech" and speech["start_seconds"] == 2.0 and speech["end_seconds"] == 4.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version="9"), "version '9'"),
        (lambda d: d["segments"][1].update(kind="laser"), "segment 1: unknown kind 'laser'"),
        (lambda d: d["segments"][2].update(colour="red"), r"segment 2 \(speech\): unknown keys colour"),
        (lambda d: d["segments"][3].pop("end"), r"segment 3 \(pause\)"),
        (lambda d: d.update(timebase="2/3"), "timebase"),
    ],
)
def test_bad_timelines_name_the_problem(mutate, message):
    data = json.loads(TIMELINE.to_json())
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        Timeline.from_json(json.dumps(data))
