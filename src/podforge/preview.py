"""A quick look at part of an episode: a stretch of the video (times or a chapter), small and fast to encode.

One mechanism for the terminal and the studio: ``RenderOptions.preview`` is the stretch in seconds (or
``preview_chapter`` a chapter's title), drawn from the same chunks as the full render so its frames are the
full render's frames there; ``RenderOptions.quick`` shrinks the frame and uses x264's fastest preset.
"""

from __future__ import annotations

import math
import re

from .config import RenderConfig
from .errors import ConfigError
from .timeline import ChapterSegment, Timeline

QUICK_WIDTH = 640
QUICK_PRESET = "ultrafast"
_TIME = re.compile(r"(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)")


def parse_time(text: str, flag: str = "--from") -> float | None:
    """Seconds in ``90``, ``2:30``, ``1:02:03.5``; None when ``text`` is not a time (a chapter title, say)."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        return None
    parts = [float(p) for p in match.groups() if p is not None]
    if any(part >= 60 for part in parts[1:]):
        raise ConfigError(f"{flag} {text.strip()!r}: minutes and seconds after a colon go up to 59; write e.g. 10:39")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def check_window(window: tuple[float, float], seconds: float | None = None) -> None:
    """A stretch to preview must start before it ends and, once the episode's length is known, inside it."""
    start, end = window
    if not (0 <= start < end):
        raise ConfigError(f"preview {start:g}-{end:g} s: give a start before the end, both 0 or more seconds")
    if seconds is not None and start >= seconds:
        raise ConfigError(f"preview from {_clock(start)}: the episode is only {_clock(seconds)} long; "
                          "start the preview inside it")  # fmt: skip


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def cli_window(start: str | None, end: str | None) -> tuple[tuple[float, float] | None, str | None]:
    """(window in seconds, chapter title) from ``--from`` and ``--to``; a non-time ``--from`` names a chapter."""
    if start is None and end is None:
        return None, None
    begin = parse_time(start) if start is not None else 0.0
    if begin is None:
        if end is not None:
            raise ConfigError(f"--from {start!r} names a chapter, which has its own end: leave out --to")
        return None, start
    stop = parse_time(end, "--to") if end is not None else math.inf
    if stop is None:
        raise ConfigError(f"--to {end!r}: write a time such as 3:10 or 190")
    check_window((begin, stop))
    return (begin, stop), None


def chapter_window(timeline: Timeline, title: str) -> tuple[float, float]:
    """The chapter called ``title`` (case and spacing aside), start to end, in seconds."""
    chapters = sorted(timeline.of_kind(ChapterSegment), key=lambda c: c.start)
    wanted = " ".join(title.split()).casefold()
    for chapter in chapters:
        if " ".join(chapter.title.split()).casefold() == wanted:
            rate = timeline.sample_rate
            return chapter.start / rate, max(chapter.end, chapter.start + 1) / rate
    names = ", ".join(repr(c.title) for c in chapters) or "none"
    raise ConfigError(f"--from {title!r}: no chapter has that title (chapters: {names})")


def quick_config(config: RenderConfig) -> RenderConfig:
    """``config`` with a frame at most QUICK_WIDTH wide (same shape) and x264's fastest preset."""
    width, height = config.video.dimensions
    scale = min(1.0, QUICK_WIDTH / max(width, height))
    size = f"{max(128, round(width * scale / 2) * 2)}x{max(128, round(height * scale / 2) * 2)}"
    video = config.video.model_copy(update={"size": size, "preset": QUICK_PRESET})
    return config.model_copy(update={"video": video})
