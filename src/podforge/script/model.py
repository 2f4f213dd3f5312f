"""The parsed script: plain frozen data, nothing rendered yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import FrontMatter
from .lexicon import Phonemes


@dataclass(frozen=True)
class Span:
    """A 1-based line and column in the script file."""

    line: int
    col: int = 1


@dataclass(frozen=True)
class Speaker:
    label: str
    display_name: str
    voice: str | None
    color: str
    avatar: str | None = None
    speed: float = 1.0
    declared_at: Span | None = None
    look_gender: str | None = None  # front matter `look:` overrides for the illustrated avatar
    look_hair: str | None = None


@dataclass(frozen=True)
class Line:
    """One run of dialogue: what is written, and what will be said aloud."""

    speaker: str
    text: str
    spoken: str
    at: Span
    direction: str = ""
    respelled: tuple[str, ...] = ()  # the lexicon entries that changed what is said (script/lexicon.py)


@dataclass(frozen=True)
class Pause:
    seconds: float
    at: Span


@dataclass(frozen=True)
class MusicCue:
    """Start a bed (mood words or a file), or stop the current one (``stop``)."""

    source: str
    at: Span
    is_file: bool = False
    stop: bool = False
    seconds: float | None = None
    level_db: float | None = None
    fade_seconds: float | None = None


@dataclass(frozen=True)
class Sfx:
    path: str
    at: Span


@dataclass(frozen=True)
class Heading:
    title: str
    level: int
    at: Span


@dataclass(frozen=True)
class Skipped:
    """Text that is deliberately not spoken: a cue, a direction, metadata, notes."""

    kind: str
    text: str
    at: Span


Event = Line | Pause | MusicCue | Sfx | Heading


@dataclass(frozen=True)
class Script:
    path: Path
    title: str
    front: FrontMatter
    speakers: dict[str, Speaker]
    events: tuple[Event, ...]
    skipped: tuple[Skipped, ...] = field(default=())
    front_text: str = ""  # the YAML front matter as written, to point at its keys (1st key on line 2)
    voice_spans: dict[str, Span] = field(default_factory=dict)  # named voices in the front matter: where each is
    lexicon_words: tuple[str, ...] = ()  # the words and phrases the lexicon respells
    phonemes: tuple[Phonemes, ...] = ()  # the lexicon entries that give phonemes for some engines

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(e for e in self.events if isinstance(e, Line))

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def front_span(self, *key_path: str) -> Span:
        """Where the front matter sets ``key_path`` (its nearest existing parent), else line 1."""
        from .._yamlpos import locate

        if not self.front_text:
            return Span(1)
        line, col = locate(self.front_text, key_path)
        return Span(line + 1, col)
