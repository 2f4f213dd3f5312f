"""Burned-in captions: the written line, paged two lines at a time, the spoken word highlighted.

The aligner times the *spoken* words ("nine dollars and ninety-nine cents"); a viewer reads the
*written* ones ("$9.99").  Each written token is expanded with ``to_speech`` and the expansions are
matched against the aligned words in order (difflib), so a token is timed from the first spoken word
that came from it to the last.  Words the expansions do not predict (a lexicon respelling: "GIF" said
"jif", "AWS" said "A W S", "Jane Doe" said "Jan Doh") belong to the unmatched written tokens between
the same neighbours, shared in proportion to their expansions; so when nothing matches, tokens are
spread proportionally over all the spoken words, and timing degrades gently, never fails.

Rendering is cached: Pillow draws a page only when the page or its highlighted word changes;
every other frame blends the cached patch over the caption box only.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..align import text_words
from ..script.speech_text import to_display, to_speech
from ..timeline import SpeechSegment, Timeline, WordTiming
from ._draw import RGB, WHITE, Box, Frame, Layer, Patch, fit_font, font, hex_rgb
from .layouts import Frames, caption_box_height, speech

LINE_CHARS = 42
MAX_LINES = 2
# The highlight bridges gaps between words up to this long, so it does not blink between words.
BRIDGE_SECONDS = 0.1
# The last page stays up this long after its line ends, unless the next line starts first.
LINGER_SECONDS = 0.6
BOX_RGBA = (12, 14, 20, 178)

WordTimes = list[tuple[str, int, int]]


@lru_cache(maxsize=4096)
def spoken_words(token: str) -> tuple[str, ...]:
    """The words the written ``token`` becomes on its own, as the aligner writes them ("—" → none)."""
    return text_words(to_speech(token))


def token_counts(tokens: Sequence[str], said: Sequence[str]) -> list[float] | None:
    """How many of the aligned words ``said`` each written token stands for (a share where several tokens
    were respelled together); None when no token becomes any word. Where nothing matches, the one unmatched
    block shares every spoken word out in proportion to the expansions: the gentle fallback."""
    expected = [spoken_words(token) for token in tokens]
    owner = [k for k, words in enumerate(expected) for _ in words]
    matcher = SequenceMatcher(None, [w for words in expected for w in words], list(said), autojunk=False)
    if not owner:
        return None
    counts = [0.0] * len(tokens)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        # Spoken words no expansion predicted belong to the written tokens they replace, or, where they
        # replace none, to the token before them (the first token at the start).
        owners = owner[i1:i2] or [owner[max(i1 - 1, 0)]]
        for k in owners:
            counts[k] += 1.0 if tag == "equal" else (j2 - j1) / len(owners)
    return counts


def _spread_by_chars(tokens: list[str], start: int, end: int) -> WordTimes:
    weights = np.cumsum([0] + [len(t) + 1 for t in tokens], dtype=np.float64)
    bounds = start + (end - start) * weights / max(weights[-1], 1.0)
    return [(t, round(bounds[k]), round(bounds[k + 1])) for k, t in enumerate(tokens)]


def _position_time(words: Sequence[WordTiming], p: float, as_end: bool) -> float:
    """The clip time at fractional spoken-word position ``p`` in [0, len(words)]."""
    k = int(p)
    if as_end and k == p and k > 0:
        return float(words[k - 1].end)
    if k >= len(words):
        return float(words[-1].end)
    word = words[k]
    return word.start + (p - k) * (word.end - word.start)


def caption_word_times(segment: SpeechSegment, words: Sequence[WordTiming] | None) -> WordTimes:
    """(written token, start, end) for each token of the segment's text, in absolute samples."""
    tokens = to_display(segment.text).split()
    timed = [w for w in words or () if w.word[:1] not in "<["]  # drop <sil>, [NOISE] markers
    if not timed:
        return _spread_by_chars(tokens, segment.start, segment.end)
    counts = token_counts(tokens, [w.word for w in timed])
    if counts is None:
        return _spread_by_chars(tokens, segment.start, segment.end)
    out: WordTimes = []
    done = 0.0
    for token, count in zip(tokens, counts, strict=True):
        a, b = round(done, 9), round(done + count, 9)  # shares of a third add up to whole words again
        start = segment.start + _position_time(timed, a, as_end=count == 0)
        end = segment.start + _position_time(timed, b, as_end=True)
        out.append((token, round(start), round(max(start, end))))
        done += count
    return out


@dataclass(frozen=True)
class CaptionPage:
    """Up to two lines on screen from ``start`` to ``end``; words carry their token index."""

    start: int
    end: int
    lines: tuple[tuple[tuple[str, int], ...], ...]  # per line: (word text, token index)
    color: RGB

    def text_lines(self) -> list[str]:
        return [" ".join(word for word, _ in line) for line in self.lines]


def wrap(tokens: list[str], width: int = LINE_CHARS) -> list[list[tuple[str, int]]]:
    """Greedy lines of at most ``width`` characters; a longer token (a URL) is hard-broken."""
    lines: list[list[tuple[str, int]]] = [[]]
    used = 0
    for index, token in enumerate(tokens):
        pieces = [token[k : k + width] for k in range(0, len(token), width)] or [token]
        for piece in pieces:
            if lines[-1] and used + 1 + len(piece) > width:
                lines.append([])
                used = 0
            used += len(piece) + (1 if lines[-1] else 0)
            lines[-1].append((piece, index))
    return [line for line in lines if line]


def pages_for(segment: SpeechSegment, times: WordTimes, color: RGB, until: int) -> list[CaptionPage]:
    """The segment's pages; each starts when its first word starts, the last lingers to ``until``."""
    lines = wrap([token for token, _, _ in times])
    if not lines:
        return []
    chunks = [lines[k : k + MAX_LINES] for k in range(0, len(lines), MAX_LINES)]
    starts = [segment.start] + [times[chunk[0][0][1]][1] for chunk in chunks[1:]]
    ends = [*starts[1:], max(until, segment.end)]
    return [
        CaptionPage(s, max(s, e), tuple(tuple(line) for line in chunk), color)
        for s, e, chunk in zip(starts, ends, chunks, strict=True)
    ]


@dataclass(frozen=True, eq=False)
class CaptionTrack:
    """All caption pages of an episode, and per video frame which page and token are showing."""

    pages: tuple[CaptionPage, ...]
    page: Frames  # per frame: index into pages, or -1
    token: Frames  # per frame: highlighted token index within the page's segment, or -1


def _mark_words(samples: Frames, times: WordTimes, token: Frames, span: slice, bridge: int) -> None:
    for k, (_, start, end) in enumerate(times):
        following = times[k + 1][1] if k + 1 < len(times) else end
        stop = max(end, min(following, end + bridge))
        a, b = np.searchsorted(samples[span], [start, stop])
        if b > a:
            token[span][a:b] = k


def _frames_in(samples: Frames, start: int, end: int, duration: int) -> slice:
    """From the frame ``start`` falls in to the one before the frame ``end`` falls in (through the last frame
    when ``end`` is the episode's end): each frame shows the page that is up at its last sample.

    A video chunk is cut at the frame a line starts in (``chunks.chunk_plan``); by this rule that frame shows
    the new line's page, not the previous line's last one, so a chunk never depends on the text before it."""
    first = int(np.searchsorted(samples, start, side="right")) - 1
    stop = len(samples) if end >= duration else int(np.searchsorted(samples, end, side="right")) - 1
    return slice(max(first, 0), max(stop, 0))


def caption_track(timeline: Timeline, samples: Frames) -> CaptionTrack:
    rate = timeline.sample_rate
    lines = speech(timeline)
    pages: list[CaptionPage] = []
    page = np.full(len(samples), -1, dtype=np.int64)
    token = np.full(len(samples), -1, dtype=np.int64)
    for k, seg in enumerate(lines):
        times = caption_word_times(seg, timeline.words.get(seg.clip))
        follow = lines[k + 1].start if k + 1 < len(lines) else timeline.duration
        until = min(follow, seg.end + round(LINGER_SECONDS * rate))
        info = timeline.speakers.get(seg.speaker)
        color = hex_rgb(info.color) if info else WHITE
        for p in pages_for(seg, times, color, until):
            shown = _frames_in(samples, p.start, p.end, timeline.duration)
            page[shown] = len(pages)
            token[shown] = -1
            pages.append(p)
        span = _frames_in(samples, seg.start, until, timeline.duration)
        _mark_words(samples, times, token, span, round(BRIDGE_SECONDS * rate))
    return CaptionTrack(tuple(pages), page, token)


@dataclass(frozen=True)
class PageLayout:
    """Where a page's box and words land in the frame (frame pixel coordinates)."""

    box: Box
    font: ImageFont.FreeTypeFont
    origins: tuple[tuple[float, float], ...]  # per line: text origin (x, y)

    def word_boxes(self, page: CaptionPage) -> list[tuple[int, Box]]:
        """(token index, textbbox) of every word on the page, as Pillow would draw it."""
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        out = []
        for (x, y), line in zip(self.origins, page.lines, strict=True):
            for n, (word, index) in enumerate(line):
                prefix = " ".join(w for w, _ in line[:n]) + (" " if n else "")
                left = x + self.font.getlength(prefix)
                box = probe.textbbox((left, y), word, font=self.font)
                out.append((index, (int(box[0]), int(box[1]), int(box[2]) + 1, int(box[3]) + 1)))
        return out


CAPTION_STRIPS = 12  # see _Strips


class CaptionPainter:
    """Draws the current caption page into frames, re-rendering only when page or word changes."""

    def __init__(self, track: CaptionTrack, width: int, bottom: int, size: int) -> None:
        self.track, self.width, self.bottom, self.size = track, width, bottom, size
        self._key: tuple[int, int] = (-1, -1)
        self._patch: Patch | None = None
        self._strips: _Strips | None = None
        self._placed_page: tuple[CaptionPage, PageLayout, list[tuple[tuple[float, float], str, int]]] | None = None

    def layout(self, page: CaptionPage) -> PageLayout:
        texts = page.text_lines()
        pad_x, leading = round(self.size * 0.55), round(self.size * 1.3)
        widest = max(texts, key=lambda t: font("medium", self.size).getlength(t))
        face = fit_font(widest, "medium", self.size, self.width * 0.92 - 2 * pad_x)
        text_w = max(face.getlength(t) for t in texts)
        box_w, box_h = round(text_w) + 2 * pad_x, caption_box_height(self.size, len(texts))
        x0, y1 = (self.width - box_w) // 2, self.bottom
        y0 = y1 - box_h
        ascent, descent = face.getmetrics()
        top = y0 + (box_h - (len(texts) - 1) * leading - ascent - descent) / 2
        origins = tuple(((self.width - face.getlength(t)) / 2, top + n * leading) for n, t in enumerate(texts))
        return PageLayout((x0, y0, x0 + box_w, y1), face, origins)

    def render(self, page: CaptionPage, highlight: int) -> Patch:
        """The page as an overlay patch, with token ``highlight`` in the speaker's colour."""
        lay, words = self._placed(page)
        x0, y0, x1, y1 = lay.box
        img = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        draw.rounded_rectangle((0, 0, x1 - x0 - 1, y1 - y0 - 1), round(self.size * 0.35), fill=BOX_RGBA)
        for xy, word, index in words:
            fill = page.color if index == highlight else WHITE
            draw.text(xy, word, font=lay.font, fill=(*fill, 255))
        return Patch.from_image(img, x0, y0)

    def _placed(self, page: CaptionPage) -> tuple[PageLayout, list[tuple[tuple[float, float], str, int]]]:
        """The page's layout and each word's origin in its box, kept while the page shows: the highlight moves
        word by word, and measuring every prefix again for each word was a third of the page's cost."""
        if self._placed_page is not None and self._placed_page[0] is page:
            return self._placed_page[1], self._placed_page[2]
        lay = self.layout(page)
        x0, y0 = lay.box[:2]
        words = []
        for (x, y), line in zip(lay.origins, page.lines, strict=True):
            for n, (word, index) in enumerate(line):
                prefix = " ".join(w for w, _ in line[:n]) + (" " if n else "")
                words.append(((x + lay.font.getlength(prefix) - x0, y - y0), word, index))
        self._placed_page = (page, lay, words)
        return lay, words

    def draw(self, frame: Frame, i: int) -> Layer:
        """Draw frame ``i``'s caption; returns what was drawn and where (see ``FrameRenderer.changed``)."""
        index = int(self.track.page[i])
        if index < 0:
            return None, None
        key = (index, int(self.track.token[i]))
        if key != self._key or self._patch is None:
            self._patch = self.render(self.track.pages[key[0]], key[1])
            self._key, self._strips = key, _Strips.of(self._patch, frame.shape)
        if self._strips is None:
            self._patch.blend(frame)
        else:
            self._strips.blend(frame)
        return key, self._patch.box


class _Strips:
    """A caption patch cut into vertical strips, each remembering the pixels it last blended over and made.

    The box spans most of the frame's width, and blending it was the costliest step of a frame after the
    avatars; while a page shows, the strips between and beside the avatars lie over pixels that do not
    change, so they cost a compare and a copy. The result is the blend's, pixel for pixel.
    """

    def __init__(self, patches: list[Patch]) -> None:
        self.patches = patches
        self.memo: list[tuple[Frame, Frame] | None] = [None] * len(patches)

    @classmethod
    def of(cls, patch: Patch, shape: tuple[int, ...]) -> _Strips | None:
        x0, y0, x1, y1 = patch.box
        if x0 < 0 or y0 < 0 or x1 > shape[1] or y1 > shape[0]:
            return None  # a clipped box: blended whole, as before
        cuts = np.linspace(0, x1 - x0, CAPTION_STRIPS + 1).round().astype(int)
        return cls([
            Patch(x0 + a, y0, patch.premul[:, a:b], patch.keep[:, a:b])
            for a, b in itertools.pairwise(cuts) if b > a
        ])  # fmt: skip

    def blend(self, frame: Frame) -> None:
        for k, strip in enumerate(self.patches):
            x0, y0, x1, y1 = strip.box
            region = frame[y0:y1, x0:x1]
            memo = self.memo[k]
            if memo is not None and np.array_equal(region, memo[0]):
                region[...] = memo[1]
                continue
            under = region.copy()
            strip.blend(frame)
            self.memo[k] = (under, region.copy())
