"""Burned-in captions: written-to-spoken word timing, paging, and the highlight drawn where the word is."""

from __future__ import annotations

import numpy as np
import pytest

from podforge.script.speech_text import to_speech
from podforge.timeline import SpeakerInfo, SpeechSegment, Timeline, WordTiming
from podforge.visuals.captions import (
    LINE_CHARS,
    MAX_LINES,
    CaptionPainter,
    caption_track,
    caption_word_times,
    pages_for,
    wrap,
)
from podforge.visuals.layouts import frame_samples

RATE = 48_000
FPS = 25
COLOR = (228, 87, 46)


def seg(text: str, start: float, end: float, clip: str = "c0", speaker: str = "ALEX") -> SpeechSegment:
    return SpeechSegment(round(start * RATE), round(end * RATE), 1, speaker, "fake:a", text, to_speech(text), clip)


def timed(words: list[str], spans: list[tuple[float, float]], offset: float) -> tuple[WordTiming, ...]:
    """Word timings relative to a clip that starts at ``offset`` seconds, from absolute spans."""
    return tuple(
        WordTiming(w, round((a - offset) * RATE), round((b - offset) * RATE))
        for w, (a, b) in zip(words, spans, strict=True)
    )


def test_money_token_spans_its_spoken_words() -> None:
    segment = seg("It costs $9.99 today", 2.0, 6.0)
    spoken = ["it", "costs", "nine", "dollars", "and", "ninety-nine", "cents", "today"]
    spans = [(2.0 + 0.4 * k, 2.0 + 0.4 * k + 0.3) for k in range(len(spoken))]
    times = caption_word_times(segment, timed(spoken, spans, 2.0))
    assert [t for t, _, _ in times] == ["It", "costs", "$9.99", "today"]
    _, start, end = times[2]
    assert start == round(spans[2][0] * RATE)  # "nine"
    assert end == round(spans[6][1] * RATE)  # "cents"
    assert times[3][1] == round(spans[7][0] * RATE)


def test_spoken_words_the_text_does_not_predict_belong_to_the_token_before_them() -> None:
    segment = seg("one two three four", 0.0, 4.0)
    spoken = ["one", "two", "three", "four", "extra", "words", "here", "too"]  # 8 spoken for 4 written
    times = caption_word_times(segment, timed(spoken, [(0.5 * k, 0.5 * k + 0.4) for k in range(8)], 0.0))
    assert [(s, e) for _, s, e in times[:3]] == [
        (round(0.5 * k * RATE), round((0.5 * k + 0.4) * RATE)) for k in range(3)
    ]
    assert times[3][1:] == (round(1.5 * RATE), round(3.9 * RATE))


def test_respelled_tokens_span_the_words_said_for_them() -> None:
    """ "GIF" said "jif", "SQL" said "sequel", "Jane Doe" said "Jan Doh" (a lexicon): written words, spoken times."""
    segment = seg("GIF and SQL for Jane Doe", 0.0, 4.0)
    spoken = ["jif", "and", "sequel", "for", "jan", "doh"]
    times = caption_word_times(segment, timed(spoken, [(0.5 * k, 0.5 * k + 0.4) for k in range(6)], 0.0))
    assert [t for t, _, _ in times] == ["GIF", "and", "SQL", "for", "Jane", "Doe"]
    assert [(s, e) for _, s, e in times] == [(round(0.5 * k * RATE), round((0.5 * k + 0.4) * RATE)) for k in range(6)]
    said = timed(["amazon", "web", "services", "works"], [(0.3 * k, 0.3 * k + 0.2) for k in range(4)], 0.0)
    aws = caption_word_times(seg("AWS works", 0.0, 2.0), said)
    assert aws == [("AWS", 0, round(0.8 * RATE)), ("works", round(0.9 * RATE), round(1.1 * RATE))]


def test_when_nothing_matches_tokens_spread_proportionally() -> None:
    segment = seg("one two three four", 0.0, 4.0)
    spoken = ["un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit"]  # another language: nothing matches
    times = caption_word_times(segment, timed(spoken, [(0.5 * k, 0.5 * k + 0.4) for k in range(8)], 0.0))
    starts = [s for _, s, _ in times]
    assert starts == sorted(starts)
    assert times[1][1] == round(1.0 * RATE)  # token 2 of 4 starts at spoken word 3 of 8
    assert times[-1][2] == round(3.9 * RATE)


def test_no_word_timings_spread_by_characters() -> None:
    segment = seg("a bb cccc", 1.0, 2.0)
    times = caption_word_times(segment, None)
    assert times[0][1] == RATE and times[-1][2] == 2 * RATE
    lengths = [e - s for _, s, e in times]
    assert lengths[0] < lengths[1] < lengths[2]


@pytest.mark.parametrize(
    "text",
    [
        "Short line.",
        "This board costs $9.99 today, which is honestly a steal for what you get, and then some more words "
        "keep coming until the caption needs several pages of two lines each to show everything.",
        "Visit https://example.com/a/very/long/path/that/does/not/fit/on/one/caption/line today",
    ],
)
def test_pages_have_at_most_two_lines_of_42_characters(text: str) -> None:
    times = caption_word_times(seg(text, 0.0, 10.0), None)
    for page in pages_for(seg(text, 0.0, 10.0), times, COLOR, 10 * RATE):
        lines = page.text_lines()
        assert 1 <= len(lines) <= MAX_LINES
        assert all(len(line) <= LINE_CHARS for line in lines)
    assert " ".join(" ".join(w for w, _ in line) for line in wrap(text.split())).replace(" ", "") == text.replace(
        " ", ""
    )


def test_pages_advance_when_the_next_pages_first_word_starts() -> None:
    text = " ".join(f"word{k:02d}" for k in range(30))  # 6 words a line (41 chars), 12 a page
    segment = seg(text, 0.0, 15.0)
    times = caption_word_times(segment, None)
    pages = pages_for(segment, times, COLOR, 16 * RATE)
    assert len(pages) == 3
    assert pages[0].start == segment.start
    assert pages[1].start == times[12][1] and pages[0].end == pages[1].start
    assert pages[2].start == times[24][1] and pages[1].end == pages[2].start
    assert pages[2].end == 16 * RATE


# --- the highlight in rendered captions ---------------------------------------------------------

WORDS = ["alpha", "bravo", "charlie", "delta", "echo"]
SPANS = [(0.5, 0.9), (1.0, 1.4), (1.6, 2.0), (2.1, 2.5), (2.6, 3.0)]


def caption_timeline() -> Timeline:
    segment = seg(" ".join(WORDS), 0.5, 3.0)
    return Timeline(
        "t", RATE, 4 * RATE, {"ALEX": SpeakerInfo("Alex", "fake:a", "#e4572e")}, (segment,),
        words={"c0": timed(WORDS, SPANS, 0.5)},
    )  # fmt: skip


def highlighted_pixels(frame: np.ndarray) -> np.ndarray:
    """(ys, xs) of pixels in the speaker's colour: only the highlighted word is drawn in it."""
    close = np.abs(frame.astype(int) - np.array(COLOR)).max(axis=2) < 50
    return np.argwhere(close)


def test_highlight_lies_inside_the_box_of_the_word_being_spoken() -> None:
    tl = caption_timeline()
    samples = frame_samples(tl, FPS)
    track = caption_track(tl, samples)
    painter = CaptionPainter(track, 640, 324, 30)
    page = track.pages[0]
    boxes = dict(painter.layout(page).word_boxes(page))
    seen = {}
    for i in range(len(samples)):
        frame = np.full((360, 640, 3), 128, np.uint8)
        painter.draw(frame, i)
        pixels = highlighted_pixels(frame)
        t = i / FPS
        current = [k for k, (a, b) in enumerate(SPANS) if a <= t < b]
        if current:
            assert len(pixels), f"no highlight at {t:.2f}s"
        if len(pixels):
            x0, y0, x1, y1 = boxes[int(track.token[i])]
            assert (pixels[:, 1] >= x0).all() and (pixels[:, 1] < x1).all()
            assert (pixels[:, 0] >= y0).all() and (pixels[:, 0] < y1).all()
            if current:
                assert boxes[current[0]] == (x0, y0, x1, y1)
            seen[i] = int(track.token[i])
    bravo_times = [i / FPS for i, k in seen.items() if k == 1]
    assert min(bravo_times) >= 1.0 - 0.1 and max(bravo_times) <= 1.4 + 0.1
    assert min(bravo_times) <= 1.0 + 1 / FPS and max(bravo_times) >= 1.4 - 1 / FPS


def test_caption_box_is_dark_translucent_and_text_white() -> None:
    tl = caption_timeline()
    track = caption_track(tl, frame_samples(tl, FPS))
    painter = CaptionPainter(track, 640, 324, 30)
    frame = np.full((360, 640, 3), 200, np.uint8)
    painter.draw(frame, 38)  # 1.52 s, between bravo and charlie: nothing highlighted
    x0, y0, x1, y1 = painter.layout(track.pages[0]).box
    assert y1 == 324 and (x0 + x1) // 2 in range(318, 323)
    region = frame[y0:y1, x0:x1].reshape(-1, 3)
    assert np.median(region) < 100  # the box darkens the background
    assert (region.min(axis=1) > 240).sum() > 50  # white text
    assert len(highlighted_pixels(frame)) == 0


def test_painted_captions_match_a_fresh_blend_whatever_moves_under_them() -> None:
    """The painter reuses strips whose background did not change; every frame must still be the plain blend."""
    tl = caption_timeline()
    track = caption_track(tl, frame_samples(tl, FPS))
    painter, fresh = CaptionPainter(track, 640, 324, 30), CaptionPainter(track, 640, 324, 30)
    rng = np.random.default_rng(7)
    background = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    shown = [i for i in range(len(track.page)) if track.page[i] >= 0]
    for n, i in enumerate(shown):
        if n % 3 == 0:  # something moving under part of the box (an avatar's shoulders), every third frame
            x = int(rng.integers(0, 560))
            background[250:330, x : x + 80] = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
        frame = background.copy()
        painter.draw(frame, i)
        expected = background.copy()
        fresh.render(track.pages[int(track.page[i])], int(track.token[i])).blend(expected)
        assert np.array_equal(frame, expected), f"frame {i} differs from a plain blend"


def test_a_title_or_e_g_does_not_end_a_transcript_sentence() -> None:
    from podforge.outputs import sentence_spans

    segment = seg("We met Dr. Li, e.g. at the lab. Then Mr. Ng left.", 0.0, 6.0)
    spoken = to_speech(segment.text).lower().replace(",", "").replace(".", "").split()
    spans = [(0.4 * k, 0.4 * k + 0.3) for k in range(len(spoken))]
    got = [text for text, _, _ in sentence_spans(segment, timed(spoken, spans, 0.0))]
    assert got == ["We met Dr. Li, e.g. at the lab.", "Then Mr. Ng left."]
