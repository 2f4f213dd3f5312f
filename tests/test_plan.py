"""Where things land: turn gaps, pauses, chapters, and the life of each music bed."""

from __future__ import annotations

import pytest

from podforge.config import RenderConfig, with_front_matter
from podforge.plan import FADE_OUT_SECONDS, INTRO_SECONDS, LEAD_IN_SECONDS, OUTRO_SECONDS, PlanInputs, plan_timeline
from podforge.script.parser import load_script
from podforge.timeline import ChapterSegment, MusicSegment, SpeechSegment

RATE = 48_000
LINE_SECONDS = 2.0


def plan(write_script, text: str):
    script = load_script(write_script(text))
    keys = tuple(f"clip{i}" for i in range(len(script.lines)))
    config = with_front_matter(RenderConfig(), script.front)
    voices = dict.fromkeys(script.speakers, "fake:a")
    lengths = dict.fromkeys(keys, int(LINE_SECONDS * RATE))
    return plan_timeline(PlanInputs(script, voices, keys, lengths, {}, config, RATE))


def seconds(segments, attr="start"):
    return [round(getattr(s, attr) / RATE, 3) for s in segments]


def test_gaps_between_turns_and_pauses(write_script):
    timeline = plan(write_script, "A: one.\nA: two.\n\nB: three.\n[pause 1.5s]\nA: four.\n")
    config = RenderConfig()
    starts = seconds(timeline.of_kind(SpeechSegment))
    assert starts[1] - starts[0] == pytest.approx(LINE_SECONDS + config.same_speaker_gap_seconds, abs=1e-3)
    assert starts[2] - starts[1] == pytest.approx(LINE_SECONDS + config.gap_seconds, abs=1e-3)
    assert starts[3] - starts[2] == pytest.approx(LINE_SECONDS + 1.5, abs=1e-3)


def test_bed_runs_until_stop_with_a_lead_in(write_script):
    timeline = plan(write_script, "[MUSIC: calm]\nA: one.\n\nB: two.\n[MUSIC: stop]\nA: three.\n")
    (bed,) = timeline.of_kind(MusicSegment)
    speech = timeline.of_kind(SpeechSegment)
    assert bed.start == 0 and speech[0].start == RenderConfig().music.intro_lead_seconds * RATE == 6 * RATE
    assert bed.end == speech[1].end + FADE_OUT_SECONDS * RATE
    assert bed.fade_out == FADE_OUT_SECONDS * RATE


def test_a_cue_after_the_first_line_has_a_short_lead_and_the_intro_lead_is_settable(write_script):
    timeline = plan(write_script, "A: one.\n[MUSIC: calm]\nA: two.\n")
    (bed,) = timeline.of_kind(MusicSegment)
    assert timeline.of_kind(SpeechSegment)[1].start - bed.start == LEAD_IN_SECONDS * RATE
    timeline = plan(write_script, "---\nmusic: {intro_lead_seconds: 3.5}\n---\n[Soft intro music]\nA: one.\n")
    assert timeline.of_kind(SpeechSegment)[0].start == 3.5 * RATE


def test_next_cue_and_chapter_end_close_the_bed(write_script):
    timeline = plan(write_script, "# One\n[MUSIC: calm]\nA: one.\n[MUSIC: upbeat]\nA: two.\n# Two\nA: three.\n")
    first, second = timeline.of_kind(MusicSegment)
    speech = timeline.of_kind(SpeechSegment)
    chapters = timeline.of_kind(ChapterSegment)
    assert first.end - first.fade_out <= second.start
    assert second.end - second.fade_out <= chapters[1].start and second.end > speech[1].end
    assert speech[2].start >= chapters[1].start


def test_sized_cue_plays_alone_for_its_duration(write_script):
    timeline = plan(write_script, "[MUSIC: upbeat intro, 8s]\nA: one.\n")
    (bed,) = timeline.of_kind(MusicSegment)
    assert bed.length == 8 * RATE and timeline.of_kind(SpeechSegment)[0].start == 8 * RATE


def test_front_matter_intro_and_outro(write_script):
    timeline = plan(write_script, "---\nmusic: {intro: calm, outro: upbeat}\n---\nA: one.\n\nB: two.\n")
    intro, outro = timeline.of_kind(MusicSegment)
    speech = timeline.of_kind(SpeechSegment)
    assert intro.start == 0 and intro.length == INTRO_SECONDS * RATE
    assert speech[0].start == (INTRO_SECONDS - FADE_OUT_SECONDS) * RATE  # speech enters over the intro's fade
    assert outro.start >= speech[-1].end and outro.length == OUTRO_SECONDS * RATE
    assert timeline.duration == outro.end


def test_the_episode_end_closes_an_open_bed(write_script):
    timeline = plan(write_script, "[Soft intro music – warm piano]\nA: one.\n")
    (bed,) = timeline.of_kind(MusicSegment)
    assert bed.end == timeline.duration
