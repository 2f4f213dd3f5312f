"""Bracketed cues: `[pause 1.5s]`, `[MUSIC: …]`, `[SFX: …]`, and free-form production cues.

Nothing in brackets is ever spoken. A cue that cannot be understood is kept as
a `Skipped` record so `podforge check --show` can say what was left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import MusicCue, Pause, Sfx, Skipped, Span

# Files FFmpeg reads audio from, video containers included (a theme kept as .mp4 or .webm): a cue naming one is a
# file to decode, never a mood for the music engine.
AUDIO_EXTENSIONS = (".mp3", ".wav", ".ogg", ".oga", ".flac", ".m4a", ".m4b", ".aac", ".opus", ".aif", ".aiff",
                    ".wma", ".weba", ".webm", ".mka", ".mkv", ".mp4", ".mov", ".caf")  # fmt: skip
MAX_PAUSE_SECONDS = 60.0
MAX_MUSIC_SECONDS = 600.0

_PAUSE_WORDS = {"short": 0.5, "beat": 0.6, "brief": 0.5, "long": 2.0, "dramatic": 1.5, "extended": 3.0}
_DURATION = re.compile(
    r"^(?P<num>[-+]?\d*\.?\d+)\s*(?P<unit>ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?)?$", re.I
)
_NUMBERISH = re.compile(r"[-+]?\d")
_PAUSE = re.compile(r"^(?P<word>pause|silence|beat)\b(?:[\s:,]|-(?!\d))*(?P<rest>.*)$", re.I)
_LABELED = re.compile(r"^(?P<kind>music|bgm|bed|sfx|sound effect|sound|fx)\s*:\s*(?P<rest>.*)$", re.I)
_MUSIC_WORDS = re.compile(r"\b(music|jingle|theme|sting|stinger|bed|soundtrack|melody|tune)\b", re.I)
_STOP = re.compile(r"^(stop|off|end|out|none|fade[\s-]*out|fades?\s+out|music\s+(stops?|out|ends?))$", re.I)
_FREE_STOP = re.compile(r"\b(fades?[\s-]*out|stops?|ends?|out)\b", re.I)
_LEVEL = re.compile(r"^(?P<db>[-+]?\d+(?:\.\d+)?)\s*db$", re.I)
_FADE = re.compile(r"^fade(?:\s*in)?\s*(?P<dur>\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds)?)$", re.I)


class CueProblem(ValueError):
    """A cue that is malformed; carries the column of the offending token."""

    def __init__(self, message: str, col: int) -> None:
        super().__init__(message)
        self.col = col


@dataclass(frozen=True)
class CueContext:
    line: str
    line_no: int
    inner_col: int

    def col_of(self, token: str) -> int:
        found = self.line.find(token, self.inner_col - 1)
        return found + 1 if found >= 0 else self.inner_col


def parse_duration(text: str) -> float | None:
    """Seconds from `1.5s`, `500ms`, `2 seconds`, `1m`, or a bare number; None if it is not one."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    value = float(match["num"])
    unit = (match["unit"] or "s").lower()
    if unit.startswith("ms") or unit.startswith("milli"):
        return value / 1000.0
    if unit.startswith("m"):
        return value * 60.0
    return value


def classify_cue(inner: str, ctx: CueContext) -> Pause | MusicCue | Sfx | Skipped:
    """What a bracketed cue means. Raises CueProblem for a cue that is clearly meant but malformed."""
    inner = inner.strip()
    at = Span(ctx.line_no, ctx.inner_col)
    if match := _PAUSE.match(inner):
        return _pause(match["word"].lower(), match["rest"].strip(), at, ctx)
    if match := _LABELED.match(inner):
        if match["kind"].lower() in {"music", "bgm", "bed"}:
            return _music(match["rest"], at, ctx, labelled=True)
        return _sfx(match["rest"].strip(), at, ctx)
    if _MUSIC_WORDS.search(inner):
        return _music(inner, at, ctx, labelled=False)
    return Skipped("cue", f"[{inner}]", at)


def _pause(word: str, rest: str, at: Span, ctx: CueContext) -> Pause:
    if not rest:
        return Pause(_PAUSE_WORDS.get(word, 1.0), at)
    seconds = parse_duration(rest)
    if seconds is None:
        if _NUMBERISH.search(rest):
            raise CueProblem(
                f"cannot read the duration {rest!r} in [{word} {rest}]; write it like [pause 1.5s] or [pause 500ms]",
                ctx.col_of(rest),
            )
        return Pause(_PAUSE_WORDS.get(rest.split()[0].lower(), _PAUSE_WORDS.get(word, 1.0)), at)
    if not 0.0 < seconds <= MAX_PAUSE_SECONDS:
        raise CueProblem(
            f"pause of {rest} is out of range; a pause must be more than 0 and at most {MAX_PAUSE_SECONDS:g}s",
            ctx.col_of(rest),
        )
    return Pause(seconds, at)


def _sfx(rest: str, at: Span, ctx: CueContext) -> Sfx | Skipped:
    if not rest:
        raise CueProblem("[SFX: …] needs a sound file, e.g. [SFX: sounds/bell.wav]", ctx.inner_col)
    if _looks_like_file(rest):
        return Sfx(rest, Span(at.line, ctx.col_of(rest)))
    return Skipped("cue", f"[SFX: {rest}] (a description, not a file: nothing to play)", at)


def _looks_like_file(text: str) -> bool:
    return text.lower().endswith(AUDIO_EXTENSIONS) or "/" in text or "\\" in text


def _music(rest: str, at: Span, ctx: CueContext, *, labelled: bool) -> MusicCue:
    rest = rest.strip()
    if not rest and labelled:
        raise CueProblem(
            "[MUSIC: …] needs a mood or a file, e.g. [MUSIC: calm piano] or [MUSIC: intro.mp3]", ctx.inner_col
        )
    if _STOP.match(rest) or (not labelled and _FREE_STOP.search(rest) and not _starts_music(rest)):
        return MusicCue("stop", at, stop=True)
    words: list[str] = []
    seconds = level = fade = None
    for part in (p.strip() for p in rest.split(",")):
        if not part:
            continue
        if (value := _music_duration(part, ctx)) is not None:
            seconds = value
        elif match := _LEVEL.match(part):
            level = float(match["db"])
        elif match := _FADE.match(part):
            fade = parse_duration(match["dur"])
        else:
            words.append(part)
    source = ", ".join(words)
    if not labelled:
        source = _MUSIC_WORDS.sub(" ", source).replace(":", " ")
        source = re.sub(r"[\s–—-]+", " ", source).strip() or "calm"
    is_file = labelled and _looks_like_file(source)
    spot = Span(at.line, ctx.col_of(source) if is_file else at.col)
    return MusicCue(source or "calm", spot, is_file=is_file, seconds=seconds, level_db=level, fade_seconds=fade)


def _starts_music(text: str) -> bool:
    return bool(re.search(r"\b(intro|in|starts?|begins?|up)\b", text, re.I)) and not re.search(
        r"\bfades?[\s-]*out\b", text, re.I
    )


def _music_duration(part: str, ctx: CueContext) -> float | None:
    if not re.fullmatch(r"[-+]?\d*\.?\d+\s*[a-zA-Z]*", part) or _LEVEL.match(part):
        return None
    seconds = parse_duration(part)
    if seconds is None:
        raise CueProblem(f"cannot read the music duration {part!r}; write it like 8s", ctx.col_of(part))
    if not 0.0 < seconds <= MAX_MUSIC_SECONDS:
        raise CueProblem(
            f"music duration {part} is out of range; use more than 0 and at most {MAX_MUSIC_SECONDS:g}s",
            ctx.col_of(part),
        )
    return seconds
