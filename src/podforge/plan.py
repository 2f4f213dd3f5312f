"""Script + clip lengths → Timeline: where every segment sits, in samples.

Turn-taking follows radio habits: a short gap between speakers, a shorter one
when the same speaker goes on, a longer one at a chapter; a music cue with no
duration gets a lead-in before speech starts over it (before the first line,
an intro's lead: `music.intro_lead_seconds`); one with a duration plays alone.
Beds end at `[MUSIC: stop]`/`[Music fade out]`, the next cue, a chapter end or
the episode end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .config import RenderConfig
from .script.model import Heading, Line, MusicCue, Pause, Script, Sfx
from .timeline import (
    ChapterSegment,
    MusicSegment,
    PauseSegment,
    Segment,
    SfxSegment,
    SpeakerInfo,
    SpeechSegment,
    Timeline,
)

LEAD_IN_SECONDS = 2.0
FADE_IN_SECONDS = 1.0
FADE_OUT_SECONDS = 2.0
INTRO_SECONDS = 6.0
OUTRO_SECONDS = 8.0
TAIL_SECONDS = 0.6


@dataclass(frozen=True)
class PlanInputs:
    script: Script
    voices: Mapping[str, str]
    clip_keys: tuple[str, ...]
    clip_lengths: Mapping[str, int]
    sfx_lengths: Mapping[str, int]
    config: RenderConfig
    sample_rate: int
    genders: Mapping[str, str] = field(default_factory=dict)  # speaker → the voice's gender, where known


class _Planner:
    def __init__(self, inputs: PlanInputs) -> None:
        self.inputs = inputs
        self.rate = inputs.sample_rate
        self.cursor = 0
        self.segments: list[Segment] = []
        self.bed: MusicSegment | None = None
        self.chapter: ChapterSegment | None = None
        self.previous: object = None
        self.clip_index = 0

    def samples(self, seconds: float) -> int:
        return round(seconds * self.rate)

    def run(self) -> Timeline:
        music = self.inputs.config.music
        if music.intro:
            self.start_bed(MusicCue(music.intro, self.inputs.script.events[0].at, seconds=INTRO_SECONDS), intro=True)
        for event in self.inputs.script.events:
            self.place(event)
        self.cursor += self.samples(TAIL_SECONDS)
        self.close_bed(self.cursor)
        if music.outro:
            self.start_bed(MusicCue(music.outro, self.inputs.script.events[-1].at, seconds=OUTRO_SECONDS))
            self.close_bed(self.cursor)
        self.close_chapter(self.cursor)
        end = max([self.cursor, *(s.end for s in self.segments)])
        return self.timeline(end)

    def place(self, event: object) -> None:
        if isinstance(event, Line):
            self.speak(event)
        elif isinstance(event, Pause):
            self.pause(event)
        elif isinstance(event, Heading):
            self.heading(event)
        elif isinstance(event, MusicCue):
            self.close_bed(self.cursor)
            if not event.stop:
                self.start_bed(event)
        elif isinstance(event, Sfx):
            length = self.inputs.sfx_lengths[event.path]
            self.segments.append(SfxSegment(self.cursor, self.cursor + length, event.at.line, event.path))
            self.cursor += length
        self.previous = event

    def speak(self, line: Line) -> None:
        config = self.inputs.config
        if isinstance(self.previous, Line):
            same = self.previous.speaker == line.speaker
            self.cursor += self.samples(config.same_speaker_gap_seconds if same else config.gap_seconds)
        key = self.inputs.clip_keys[self.clip_index]
        self.clip_index += 1
        end = self.cursor + self.inputs.clip_lengths[key]
        voice = self.inputs.voices[line.speaker]
        self.segments.append(
            SpeechSegment(self.cursor, end, line.at.line, line.speaker, voice, line.text, line.spoken, key)
        )
        # What follows a line moves on in whole video frames, so an edit that changes a line's length shifts the
        # rest of the episode by whole frames and the video chunks after it draw exactly as before (see chunks.py).
        grid = self.frame_grid()
        self.cursor = self.cursor + -(-(end - self.cursor) // grid) * grid

    def frame_grid(self) -> int:
        fps = self.inputs.config.video.fps
        return self.rate // fps if self.rate % fps == 0 else 1

    def pause(self, pause: Pause) -> None:
        length = self.samples(pause.seconds)
        self.segments.append(PauseSegment(self.cursor, self.cursor + length, pause.at.line))
        self.cursor += length

    def heading(self, heading: Heading) -> None:
        spoken = any(isinstance(s, SpeechSegment) for s in self.segments)
        if spoken:
            self.cursor += self.samples(self.inputs.config.chapter_gap_seconds)
            self.close_bed(self.cursor)
        self.close_chapter(self.cursor)
        # The first chapter starts the episode, intro music included.
        start = self.cursor if spoken or self.chapter else 0
        self.chapter = ChapterSegment(start, start, heading.at.line, heading.title, heading.level)

    def start_bed(self, cue: MusicCue, intro: bool = False) -> None:
        level = cue.level_db if cue.level_db is not None else self.inputs.config.music.bed_db
        fade_in = self.samples(cue.fade_seconds if cue.fade_seconds is not None else FADE_IN_SECONDS)
        seed = len(self.segments)
        self.bed = MusicSegment(self.cursor, self.cursor, cue.at.line, cue.source, cue.is_file, level, fade_in, 0, seed)
        if cue.seconds is not None:
            length = self.samples(cue.seconds)
            # An intro plays alone, then speech starts over its fade-out.
            overlap = self.samples(FADE_OUT_SECONDS) if intro else 0
            self.close_bed(self.cursor + length)
            self.cursor += max(0, length - overlap)
        elif any(isinstance(s, SpeechSegment) for s in self.segments):
            self.cursor += self.samples(LEAD_IN_SECONDS)
        else:  # an intro: heard alone long enough to register as one, then speech starts and it ducks
            self.cursor += self.samples(self.inputs.config.music.intro_lead_seconds)

    def close_bed(self, at: int) -> None:
        if self.bed is None:
            return
        fade_out = self.samples(FADE_OUT_SECONDS)
        end = max(at, self.bed.start + self.bed.fade_in) + (fade_out if at == self.cursor else 0)
        self.segments.append(replace(self.bed, end=end, fade_out=min(fade_out, end - self.bed.start)))
        self.bed = None

    def close_chapter(self, at: int) -> None:
        if self.chapter is not None:
            self.segments.append(replace(self.chapter, end=max(at, self.chapter.start + 1)))
            self.chapter = None

    def timeline(self, end: int) -> Timeline:
        script = self.inputs.script
        speakers = {
            label: SpeakerInfo(
                s.display_name,
                self.inputs.voices.get(label, ""),
                s.color,
                s.avatar or "",
                s.look_gender or self.inputs.genders.get(label, ""),
                s.look_hair or "",
            )
            for label, s in script.speakers.items()
            if label in self.inputs.voices
        }
        ordered = tuple(sorted(self.segments, key=lambda s: (s.start, s.kind != "chapter")))
        meta = {
            "script": script.path.name,
            "author": script.front.author or "",
            "album": script.front.album or "",
        }
        return Timeline(script.title, self.rate, end, speakers, ordered, self.inputs.config.music.duck_db, meta)


def plan_timeline(inputs: PlanInputs) -> Timeline:
    return _Planner(inputs).run()
