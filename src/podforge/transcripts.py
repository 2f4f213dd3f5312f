"""Transcripts (SRT, WebVTT) and Podcasting 2.0 JSON chapters from an episode's timings.

Times are float seconds at this edge only; everything is rounded once to whole
milliseconds, so split cues stay exactly contiguous.

Display rules shared by both subtitle formats: whitespace in cue text collapses to single
spaces, lines wrap at :data:`LINE_WIDTH` characters, and a cue that needs more than
:data:`MAX_LINES` lines is split into consecutive cues whose durations are proportional to
their character counts. In SRT a ``NAME: `` prefix (counted in the width) marks the speaker
when the episode has two or more; WebVTT always uses a ``<v NAME>`` voice span instead.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Re-exported under the name callers of this module know; one implementation for the package.
from ._atomic import atomic_write_text as write_text_atomic

__all__ = [
    "CHAPTERS_VERSION",
    "LINE_WIDTH",
    "MAX_LINES",
    "ChapterMark",
    "Cue",
    "chapters_json",
    "srt_text",
    "vtt_text",
    "write_text_atomic",
]

LINE_WIDTH = 42
MAX_LINES = 2
CHAPTERS_VERSION = "1.2.0"
# A speaker prefix never squeezes the first line below this, so a very long name makes
# that line overflow rather than break the text into slivers.
_MIN_FIRST_LINE = 12


def _check_span(kind: str, start: float, end: float) -> None:
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"{kind} times must be finite, got {start}..{end}")
    if start < 0 or end < start:
        raise ValueError(f"{kind} must satisfy 0 <= start <= end, got {start}..{end}")


@dataclass(frozen=True)
class Cue:
    """One spoken line: who said what, from ``start`` to ``end`` seconds."""

    start: float
    end: float
    speaker: str
    text: str

    def __post_init__(self) -> None:
        _check_span("cue", self.start, self.end)


@dataclass(frozen=True)
class ChapterMark:
    """A chapter from ``start`` to ``end`` seconds."""

    title: str
    start: float
    end: float

    def __post_init__(self) -> None:
        _check_span("chapter", self.start, self.end)


@dataclass(frozen=True)
class _Piece:
    """One displayed cue after wrapping and splitting, in whole milliseconds."""

    start_ms: int
    end_ms: int
    speaker: str
    lines: tuple[str, ...]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _timestamp(ms: int, sep: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{millis:03d}"


def _clean(text: str) -> str:
    # A newline or blank line inside a cue would end the cue block in both formats.
    return " ".join(text.split())


def _wrap(words: list[str], first: int, rest: int) -> list[str]:
    """Greedy wrap; line 0, 2, 4… (the first of each displayed cue) holds ``first`` chars."""
    lines: list[str] = []
    line = ""

    def cap() -> int:
        return first if len(lines) % MAX_LINES == 0 else rest

    for word in words:
        if line and len(line) + 1 + len(word) <= cap():
            line += " " + word
            continue
        if line:
            lines.append(line)
            line = ""
        while len(word) > cap():  # a word longer than a line (a URL, say) is hard-broken
            width = cap()
            lines.append(word[:width])
            word = word[width:]
        line = word
    if line:
        lines.append(line)
    return lines


def _split_ms(start_ms: int, end_ms: int, weights: list[int]) -> list[tuple[int, int]]:
    """Cut [start, end] into contiguous spans proportional to ``weights`` (integer maths)."""
    total, span = sum(weights), end_ms - start_ms
    bounds, acc = [start_ms], 0
    for weight in weights:
        acc += weight
        bounds.append(start_ms + (2 * span * acc + total) // (2 * total))
    return list(itertools.pairwise(bounds))


def _pieces(cue: Cue, prefix: str) -> list[_Piece]:
    words = _clean(cue.text).split(" ")
    if words == [""]:
        return []
    first = max(LINE_WIDTH - len(prefix), _MIN_FIRST_LINE)
    lines = _wrap(words, first, LINE_WIDTH)
    chunks = [lines[i : i + MAX_LINES] for i in range(0, len(lines), MAX_LINES)]
    spans = _split_ms(_ms(cue.start), _ms(cue.end), [len(" ".join(c)) for c in chunks])
    speaker = _clean(cue.speaker)
    return [_Piece(a, b, speaker, tuple(chunk)) for (a, b), chunk in zip(spans, chunks, strict=True)]


def _layout(cues: Iterable[Cue], prefix: Callable[[str], str]) -> list[_Piece]:
    ordered = sorted(cues, key=lambda c: (c.start, c.end))
    return [piece for cue in ordered for piece in _pieces(cue, prefix(_clean(cue.speaker)))]


def srt_text(cues: Iterable[Cue]) -> str:
    """SubRip text; speakers are named (``ALEX: …``) only when there are two or more."""
    cues = list(cues)
    named = len({_clean(c.speaker) for c in cues}) >= 2

    def prefix(speaker: str) -> str:
        return f"{speaker}: " if named and speaker else ""

    blocks = []
    for index, piece in enumerate(_layout(cues, prefix), start=1):
        lines = [prefix(piece.speaker) + piece.lines[0], *piece.lines[1:]]
        times = f"{_timestamp(piece.start_ms, ',')} --> {_timestamp(piece.end_ms, ',')}"
        blocks.append("\n".join([str(index), times, *lines]))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt_text(cues: Iterable[Cue]) -> str:
    """WebVTT text; every cue carries a ``<v NAME>`` voice span (omitted for a blank name)."""
    blocks = ["WEBVTT"]
    for piece in _layout(cues, lambda _speaker: ""):
        lines = [_escape(line) for line in piece.lines]
        if piece.speaker:
            lines[0] = f"<v {_escape(piece.speaker)}>{lines[0]}"
        times = f"{_timestamp(piece.start_ms, '.')} --> {_timestamp(piece.end_ms, '.')}"
        blocks.append("\n".join([times, *lines]))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _seconds(value: float) -> int | float:
    # Whole seconds print as integers, like the spec's examples; otherwise keep milliseconds.
    ms = _ms(value)
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def chapters_json(chapters: Iterable[ChapterMark], *, title: str) -> str:
    """Podcasting 2.0 JSON chapters (``application/json+chapters``), ordered by start time."""
    ordered = sorted(chapters, key=lambda c: (c.start, c.end))
    doc = {
        "version": CHAPTERS_VERSION,
        "chapters": [{"startTime": _seconds(c.start), "endTime": _seconds(c.end), "title": c.title} for c in ordered],
        "title": title,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
