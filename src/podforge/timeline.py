"""The timeline: every segment of the episode with its place in the final audio.

Times are integer sample counts in a declared timebase (`1/48000`); seconds
appear only in the JSON, next to the samples, for people and other tools.
Word and phone timings are kept per clip (keyed by the clip's content hash,
relative to the clip's start) so they are computed once and survive re-planning.
`from_json` rejects unknown versions, kinds and keys and names the bad segment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any, ClassVar

from .errors import ConfigError

VERSION = "1"


@dataclass(frozen=True)
class Segment:
    kind: ClassVar[str] = ""
    start: int
    end: int
    line: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class SpeechSegment(Segment):
    kind: ClassVar[str] = "speech"
    speaker: str
    voice: str
    text: str
    spoken: str
    clip: str


@dataclass(frozen=True)
class PauseSegment(Segment):
    kind: ClassVar[str] = "pause"


@dataclass(frozen=True)
class MusicSegment(Segment):
    kind: ClassVar[str] = "music"
    source: str
    is_file: bool = False
    level_db: float = -6.0
    fade_in: int = 0
    fade_out: int = 0
    seed: int = 0


@dataclass(frozen=True)
class SfxSegment(Segment):
    kind: ClassVar[str] = "sfx"
    path: str


@dataclass(frozen=True)
class ChapterSegment(Segment):
    kind: ClassVar[str] = "chapter"
    title: str
    level: int = 1


@dataclass(frozen=True)
class PhoneTiming:
    """One ARPAbet phone (stress digits removed), in samples from the start of its clip."""

    phone: str
    start: int
    end: int


@dataclass(frozen=True)
class WordTiming:
    """One spoken word, in samples from the start of its clip; phones may be empty (energy fallback)."""

    word: str
    start: int
    end: int
    phones: tuple[PhoneTiming, ...] = ()


def words_to_json(words: tuple[WordTiming, ...]) -> list[list[Any]]:
    return [[w.word, w.start, w.end, [[p.phone, p.start, p.end] for p in w.phones]] for w in words]


def words_from_json(raw: list[list[Any]]) -> tuple[WordTiming, ...]:
    return tuple(
        WordTiming(str(word), int(start), int(end), tuple(PhoneTiming(str(p), int(a), int(b)) for p, a, b in phones))
        for word, start, end, phones in raw
    )


SEGMENT_TYPES: dict[str, type[Segment]] = {
    cls.kind: cls for cls in (SpeechSegment, PauseSegment, MusicSegment, SfxSegment, ChapterSegment)
}


@dataclass(frozen=True)
class SpeakerInfo:
    display_name: str
    voice: str
    color: str
    avatar: str = ""
    gender: str = ""  # the voice's (or the front matter's `look:`): the illustrated avatar agrees with it
    hair: str = ""


@dataclass(frozen=True)
class Timeline:
    title: str
    sample_rate: int
    duration: int
    speakers: dict[str, SpeakerInfo]
    segments: tuple[Segment, ...]
    duck_db: float = -12.0
    meta: dict[str, str] = field(default_factory=dict)
    words: dict[str, tuple[WordTiming, ...]] = field(default_factory=dict)
    # Mouth keys per clip as [start, end, shape, openness] rows (see visuals/visemes.py), clip-relative.
    mouths: dict[str, list[list[Any]]] = field(default_factory=dict)

    @property
    def timebase(self) -> str:
        return f"1/{self.sample_rate}"

    @property
    def seconds(self) -> float:
        return self.duration / self.sample_rate

    def of_kind(self, cls: type[Segment]) -> list[Any]:
        return [s for s in self.segments if isinstance(s, cls)]

    def to_json(self) -> str:
        rate = self.sample_rate
        segments = [
            {
                "kind": s.kind,
                **asdict(s),
                "start_seconds": round(s.start / rate, 3),
                "end_seconds": round(s.end / rate, 3),
            }
            for s in self.segments
        ]
        data = {
            "version": VERSION,
            "timebase": self.timebase,
            "title": self.title,
            "duration": self.duration,
            "duration_seconds": round(self.seconds, 3),
            "duck_db": self.duck_db,
            "meta": self.meta,
            "speakers": {k: asdict(v) for k, v in self.speakers.items()},
            "segments": segments,
            "words": {clip: words_to_json(words) for clip, words in self.words.items()},
            "mouths": self.mouths,
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Timeline:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ConfigError(f"timeline version {data.get('version')!r} is not supported (expected {VERSION!r})")
        timebase = Fraction(data["timebase"])
        if timebase.numerator != 1:
            raise ConfigError(f"timeline timebase {data['timebase']!r} must be 1/<sample rate>")
        return cls(
            title=data["title"],
            sample_rate=timebase.denominator,
            duration=int(data["duration"]),
            speakers={k: SpeakerInfo(**v) for k, v in data["speakers"].items()},
            segments=tuple(_segment_from(i, raw) for i, raw in enumerate(data["segments"])),
            duck_db=float(data.get("duck_db", -12.0)),
            meta=dict(data.get("meta", {})),
            words={clip: words_from_json(raw) for clip, raw in data.get("words", {}).items()},
            mouths={clip: [list(row) for row in rows] for clip, rows in data.get("mouths", {}).items()},
        )


def _segment_from(index: int, raw: dict[str, Any]) -> Segment:
    raw = dict(raw)
    kind = raw.pop("kind", None)
    raw.pop("start_seconds", None)
    raw.pop("end_seconds", None)
    seg_type = SEGMENT_TYPES.get(str(kind))
    if seg_type is None:
        raise ConfigError(
            f"timeline segment {index}: unknown kind {kind!r}; expected one of {', '.join(SEGMENT_TYPES)}"
        )
    allowed = {f.name for f in fields(seg_type)}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"timeline segment {index} ({kind}): unknown keys {', '.join(unknown)}")
    try:
        return seg_type(**raw)
    except TypeError as exc:
        raise ConfigError(f"timeline segment {index} ({kind}): {exc}") from exc
