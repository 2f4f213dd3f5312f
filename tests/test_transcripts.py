"""Tests for podforge.transcripts: SRT/WebVTT transcripts and JSON chapters."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podforge.transcripts import (
    LINE_WIDTH,
    MAX_LINES,
    ChapterMark,
    Cue,
    chapters_json,
    srt_text,
    vtt_text,
    write_text_atomic,
)

EXAMPLE = [
    Cue(0.0, 1.5, "ALEX", "Welcome to the show."),
    Cue(1.5, 3661.001, "SAM", "Thanks & <hi>."),
]

# --- strict little parsers ----------------------------------------------------------------

_VTT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"
_SRT_TIME = _VTT_TIME.replace(r"\.", ",")
_ENTITY = re.compile(r"&(amp|lt|gt);")

Parsed = list[tuple[int, int, list[str]]]


def _to_ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _check_timeline(cues: Parsed) -> None:
    """Every cue has a positive duration and none starts before the previous one ends."""
    previous_end = 0
    for start, end, _ in cues:
        assert start < end, (start, end)
        assert start >= previous_end, (previous_end, start)
        previous_end = end


def parse_vtt(text: str) -> Parsed:
    """A deliberately strict WebVTT reader for what podforge writes."""
    assert text.endswith("\n") and not text.endswith("\n\n\n")
    blocks = text.rstrip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT"
    arrow = re.compile(rf"^{_VTT_TIME} --> {_VTT_TIME}$")
    cues: Parsed = []
    for block in blocks[1:]:
        timing, *payload = block.split("\n")
        match = arrow.match(timing)
        assert match, timing
        assert payload and all(line.strip() for line in payload), block
        for i, line in enumerate(payload):
            assert "-->" not in line
            body = re.sub(r"^<v [^<>&\n]*(&(amp|lt|gt);[^<>&\n]*)*>", "", line) if i == 0 else line
            assert "<" not in body and ">" not in body, line
            assert "&" not in _ENTITY.sub("", body), line
        cues.append((_to_ms(*match.groups()[:4]), _to_ms(*match.groups()[4:]), payload))
    _check_timeline(cues)
    return cues


def parse_srt(text: str) -> Parsed:
    if not text:
        return []
    assert text.endswith("\n") and not text.endswith("\n\n")
    arrow = re.compile(rf"^{_SRT_TIME} --> {_SRT_TIME}$")
    cues: Parsed = []
    for index, block in enumerate(text.rstrip("\n").split("\n\n"), start=1):
        number, timing, *payload = block.split("\n")
        assert number == str(index)
        match = arrow.match(timing)
        assert match, timing
        assert payload and all(line.strip() for line in payload), block
        cues.append((_to_ms(*match.groups()[:4]), _to_ms(*match.groups()[4:]), payload))
    _check_timeline(cues)
    return cues


def _unescape(line: str) -> str:
    line = re.sub(r"^<v [^>]*>", "", line)
    return line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --- exact formatting ---------------------------------------------------------------------


def test_srt_exact() -> None:
    assert srt_text(EXAMPLE) == (
        "1\n"
        "00:00:00,000 --> 00:00:01,500\n"
        "ALEX: Welcome to the show.\n"
        "\n"
        "2\n"
        "00:00:01,500 --> 01:01:01,001\n"
        "SAM: Thanks & <hi>.\n"
    )


def test_srt_single_speaker_has_no_prefix() -> None:
    cues = [Cue(0.0, 1.5, "ALEX", "One."), Cue(1.5, 3661.001, "ALEX", "Two.")]
    assert srt_text(cues) == ("1\n00:00:00,000 --> 00:00:01,500\nOne.\n\n2\n00:00:01,500 --> 01:01:01,001\nTwo.\n")


def test_vtt_exact_and_escaped() -> None:
    assert vtt_text(EXAMPLE) == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.500\n"
        "<v ALEX>Welcome to the show.\n"
        "\n"
        "00:00:01.500 --> 01:01:01.001\n"
        "<v SAM>Thanks &amp; &lt;hi&gt;.\n"
    )


def test_vtt_escapes_arrows_and_speaker_names() -> None:
    text = vtt_text([Cue(0, 2, "Q&A <host>", "a < b && c > d --> e")])
    assert "<v Q&amp;A &lt;host&gt;>a &lt; b &amp;&amp; c &gt; d --&gt; e\n" in text
    parse_vtt(text)


def test_empty_inputs() -> None:
    assert srt_text([]) == ""
    assert vtt_text([]) == "WEBVTT\n"
    assert srt_text([Cue(0, 1, "ALEX", " \n\t ")]) == ""


def test_whitespace_collapses_and_cues_are_sorted() -> None:
    cues = [Cue(5, 6, "ALEX", "second"), Cue(1, 2, "ALEX", "first\n\nline  here")]
    assert parse_srt(srt_text(cues)) == [(1000, 2000, ["first line here"]), (5000, 6000, ["second"])]


def test_blank_speaker_gets_no_voice_span() -> None:
    assert vtt_text([Cue(0, 1, "", "hi")]).endswith("00:00:00.000 --> 00:00:01.000\nhi\n")


def test_long_cue_splits_proportionally_to_characters() -> None:
    word = "x" * 40  # one word per line: two don't fit in 42
    text = srt_text([Cue(0, 10, "ALEX", " ".join([word] * 3))])
    # 2 lines (81 chars) then 1 line (40 chars): 10 s * 81/121 = 6.694 s
    assert parse_srt(text) == [(0, 6694, [word, word]), (6694, 10000, [word])]


def test_overlong_word_is_hard_broken() -> None:
    url = "https://example.com/" + "a" * 100
    (cue,) = parse_vtt(vtt_text([Cue(0, 3, "ALEX", url)]))[:1]
    lines = [_unescape(line) for line in cue[2]]
    assert lines == [url[:42], url[42:84]]


def test_prefix_counts_toward_width() -> None:
    text = "word " * 20
    for _, _, lines in parse_srt(srt_text([Cue(0, 9, "ALEX", text), Cue(9, 10, "SAM", "ok")])):
        assert lines[0].startswith(("ALEX: ", "SAM: "))
        assert all(len(line) <= LINE_WIDTH for line in lines)


@pytest.mark.parametrize(("start", "end"), [(-1.0, 1.0), (2.0, 1.0), (0.0, math.nan), (0.0, math.inf)])
def test_bad_times_are_rejected(start: float, end: float) -> None:
    with pytest.raises(ValueError):
        Cue(start, end, "ALEX", "x")
    with pytest.raises(ValueError):
        ChapterMark("x", start, end)


# --- properties ---------------------------------------------------------------------------

_WORD = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=60,
)
_TEXT = st.lists(_WORD, max_size=60).map(" ".join)
_SPEAKERS = st.sampled_from(["ALEX", "SAM", "Dr. Q&A <x>", "ZOË"])


@settings(max_examples=150, deadline=None)
@given(
    start=st.floats(0, 20_000),
    durations=st.tuples(st.floats(1, 900), st.floats(1, 900)),
    speakers=st.tuples(_SPEAKERS, _SPEAKERS),
    texts=st.tuples(_TEXT, _TEXT),
)
def test_wrapping_and_splitting_properties(
    start: float, durations: tuple[float, float], speakers: tuple[str, str], texts: tuple[str, str]
) -> None:
    bounds = [start, start + durations[0], start + durations[0] + durations[1]]
    cues = [Cue(bounds[i], bounds[i + 1], speakers[i], texts[i]) for i in range(2)]
    named = speakers[0] != speakers[1]
    srt = parse_srt(srt_text(cues))
    vtt = parse_vtt(vtt_text(cues))
    for parsed, fmt in ((srt, "srt"), (vtt, "vtt")):
        for cue, pieces in zip(cues, _assign(parsed, cues), strict=True):
            prefix = f"{cue.speaker}: " if fmt == "srt" and named else ""
            _check_pieces(cue, pieces, prefix, unescape=fmt == "vtt")


def _assign(parsed: Parsed, cues: list[Cue]) -> list[Parsed]:
    """Split parsed output back per input cue (the second cue starts where the first ends)."""
    boundary = round(cues[0].end * 1000)
    first = [p for p in parsed if p[0] < boundary]
    second = parsed[len(first) :]
    assert all(p[0] >= boundary for p in second)
    return [first, second]


def _check_pieces(cue: Cue, pieces: Parsed, prefix: str, *, unescape: bool) -> None:
    """Pieces of one cue: contiguous, filling its span, ≤2 lines of ≤42 chars, text intact."""
    if not cue.text.split():
        assert pieces == []
        return
    assert pieces[0][0] == round(cue.start * 1000)
    assert pieces[-1][1] == round(cue.end * 1000)
    for a, b in itertools.pairwise(pieces):
        assert a[1] == b[0]
    shown: list[str] = []
    for _, _, lines in pieces:
        assert 1 <= len(lines) <= MAX_LINES
        display = [_unescape(line) for line in lines] if unescape else lines
        assert all(len(line) <= LINE_WIDTH for line in display), display
        assert display[0].startswith(prefix)
        shown += [display[0].removeprefix(prefix), *display[1:]]
    assert "".join(shown).replace(" ", "") == "".join(cue.text.split())


# --- chapters -----------------------------------------------------------------------------


def test_chapters_json_fields_and_order() -> None:
    marks = [
        ChapterMark("Interview", 61.5, 3661.001),
        ChapterMark("Intro", 0.0, 61.5),
        ChapterMark("Outro — merci", 3661.001, 3700.0),
    ]
    doc = json.loads(chapters_json(marks, title="Episode 7"))
    assert list(doc) == ["version", "chapters", "title"]
    assert doc["version"] == "1.2.0"
    assert doc["title"] == "Episode 7"
    assert [list(c) for c in doc["chapters"]] == [["startTime", "endTime", "title"]] * 3
    assert [c["title"] for c in doc["chapters"]] == ["Intro", "Interview", "Outro — merci"]
    starts = [c["startTime"] for c in doc["chapters"]]
    assert starts == sorted(starts) == [0, 61.5, 3661.001]
    assert [c["endTime"] for c in doc["chapters"]] == [61.5, 3661.001, 3700]
    for chapter in doc["chapters"]:
        assert all(type(chapter[k]) in (int, float) for k in ("startTime", "endTime"))
    assert type(starts[0]) is int  # whole seconds print as 0, not 0.0


def test_chapters_json_is_utf8_text() -> None:
    text = chapters_json([ChapterMark("Café", 0, 1)], title="Ép")
    assert "Café" in text and text.endswith("}\n")


def test_chapters_json_empty() -> None:
    assert json.loads(chapters_json([], title="t")) == {"version": "1.2.0", "chapters": [], "title": "t"}


# --- atomic writes ------------------------------------------------------------------------


def test_write_text_atomic(tmp_path: Path) -> None:
    target = tmp_path / "episode.vtt"
    write_text_atomic(target, vtt_text(EXAMPLE))
    assert target.read_bytes() == vtt_text(EXAMPLE).encode("utf-8")  # "\n" kept on every OS
    write_text_atomic(target, "WEBVTT\n")
    assert target.read_text(encoding="utf-8") == "WEBVTT\n"
    assert os.listdir(tmp_path) == ["episode.vtt"]
