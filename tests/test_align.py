"""Forced alignment against real TTS clips whose word placement is known by construction.

Each known-timing clip is built from separately synthesized words, each trimmed of its own silence and
placed after 0.3 s of silence, so the true start and end of every word is where it was put.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from podforge._arpabet import PHONES, ipa_to_arpabet, letters_to_arpabet, pronounce
from podforge.align import ALIGN_VERSION, align_clip, aligned_words, text_words
from podforge.cache import ContentCache, content_key
from podforge.timeline import WordTiming
from podforge.voices import fake
from podforge.voices.registry import ENGINES
from podforge.voices.synth import ClipRequest, synthesize_clip

RATE = 48_000
GAP = int(0.3 * RATE)
TOLERANCE = int(0.1 * RATE)
# "this", not "the": hibari says a lone "the" with a 0.2 s noisy tail above the trim threshold, which the
# trim counts as the word and the aligner rightly does not.
WORDS = ("welcome", "to", "this", "tiny", "machines", "show")

Known = tuple[npt.NDArray[np.float32], list[tuple[int, int]]]


def _trim(clip: npt.NDArray[np.float32], range_db: float = 40.0) -> npt.NDArray[np.float32]:
    """The clip without its leading and trailing silence: 10 ms hops within range_db of the loudest."""
    hop = RATE // 100
    count = clip.shape[0] // hop
    rms = np.sqrt(np.mean(clip[: count * hop].reshape(count, hop) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-range_db / 20))
    return clip[loud[0] * hop : (loud[-1] + 1) * hop]


def _known_timing_clip(voice: str) -> Known:
    parts = [np.zeros(GAP, np.float32)]
    known = []
    position = GAP
    for word in WORDS:
        speech = _trim(synthesize_clip(ClipRequest(voice, word), RATE))
        parts += [speech, np.zeros(GAP, np.float32)]
        known.append((position, position + speech.shape[0]))
        position += speech.shape[0] + GAP
    return np.concatenate(parts), known


@pytest.fixture(scope="module", params=["hibari:heart", "piper:joe"])
def known_clip(request: pytest.FixtureRequest) -> Known:
    voice = request.param
    if not ENGINES[voice.split(":")[0]].installed():
        pytest.skip(f"{voice} is not installed")
    return _known_timing_clip(voice)


def _assert_well_formed(words: tuple[WordTiming, ...], expected: tuple[str, ...], length: int) -> None:
    assert tuple(w.word for w in words) == expected
    previous_end = 0
    for word in words:
        assert previous_end <= word.start <= word.end <= length, word
        previous_end = word.end


def test_words_land_within_100_ms_of_where_they_were_placed(known_clip: Known) -> None:
    clip, known = known_clip
    words = align_clip(clip, " ".join(WORDS), RATE)
    _assert_well_formed(words, WORDS, clip.shape[0])
    for word, (start, end) in zip(words, known, strict=True):
        assert abs(word.start - start) <= TOLERANCE, (word.word, (word.start - start) / RATE)
        assert abs(word.end - end) <= TOLERANCE, (word.word, (word.end - end) / RATE)


def test_phones_are_arpabet_and_lie_inside_their_words(known_clip: Known) -> None:
    clip, _ = known_clip
    words = align_clip(clip, " ".join(WORDS), RATE)
    for word in words:
        assert word.phones, word.word
        assert all(p.phone in PHONES for p in word.phones), word.phones
        bounds = [word.start] + [edge for p in word.phones for edge in (p.start, p.end)] + [word.end]
        assert bounds == sorted(bounds), word
    assert [p.phone for p in words[3].phones] == ["T", "AY", "N", "IY"]  # "tiny", straight from the dictionary


def test_a_word_missing_from_the_dictionary_still_aligns() -> None:
    clip = synthesize_clip(ClipRequest("hibari:heart", "Podforge renders quickly."), RATE)
    words = align_clip(clip, "Podforge renders quickly.", RATE)
    _assert_well_formed(words, ("podforge", "renders", "quickly"), clip.shape[0])
    assert all(word.phones for word in words)  # aligned with a made-up pronunciation, not the fallback
    assert words[0].end - words[0].start > 0.2 * RATE


def test_tones_that_are_not_speech_still_get_one_timing_per_word_near_the_bursts() -> None:
    text = "welcome to the tiny machines show"
    clip = synthesize_clip(ClipRequest("fake:a", text), RATE)
    words = align_clip(clip, text, RATE)
    _assert_well_formed(words, tuple(text.split()), clip.shape[0])
    # The fake voice makes one burst per word, 65 ms per letter, with 80 ms gaps between them.
    burst_starts = np.cumsum([0] + [len(w) * fake.SECONDS_PER_LETTER + fake.WORD_GAP_SECONDS for w in text.split()])
    for word, expected in zip(words, burst_starts, strict=False):
        assert abs(word.start / RATE - expected) < 0.1, (word.word, word.start / RATE, expected)


def test_text_that_does_not_match_the_clip_falls_back_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    clip = synthesize_clip(ClipRequest("hibari:heart", "Hello."), RATE)
    text = " ".join(["wonderful"] * 30)
    with caplog.at_level(logging.WARNING, logger="podforge.align"):
        words = align_clip(clip, text, RATE)
    _assert_well_formed(words, ("wonderful",) * 30, clip.shape[0])
    assert all(not word.phones for word in words)
    assert "forced alignment failed" in caplog.text


@pytest.mark.parametrize("length", [0, 100, RATE])
def test_silent_or_empty_clips_never_raise(length: int) -> None:
    words = align_clip(np.zeros(length, np.float32), "one two three", RATE)
    _assert_well_formed(words, ("one", "two", "three"), length)


def test_alignment_still_works_after_a_failure() -> None:
    align_clip(np.zeros(10, np.float32), "one", RATE)
    clip = synthesize_clip(ClipRequest("hibari:heart", "Quickly."), RATE)
    assert align_clip(clip, "quickly", RATE)[0].phones


def test_text_words_are_lower_case_without_punctuation() -> None:
    assert text_words("Don’t stop—the X-ray, Café!") == ("don't", "stop", "the", "x", "ray", "café")
    assert align_clip(np.zeros(RATE, np.float32), " ,.! ", RATE) == ()


def test_every_pronunciation_source_gives_model_phones() -> None:
    for word in ("podforge", "quickly", "xyzzq", "日本", "42", "hibari"):
        phones = pronounce(word)
        assert phones, word
        assert set(phones) <= PHONES, (word, phones)
    assert ipa_to_arpabet("ʤˈɑb") == ["JH", "AA", "B"]
    assert ipa_to_arpabet("bˈɜɹd") == ["B", "ER", "D"]
    assert letters_to_arpabet("shipforge") == ["SH", "IH", "P", "F", "AO", "R", "G"]


def test_aligned_words_are_cached_as_json(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    clip = synthesize_clip(ClipRequest("hibari:heart", "Tiny machines."), RATE)
    first = aligned_words(cache, "clip-key", clip, "tiny machines", RATE)
    key = content_key(kind="align", clip="clip-key", text="tiny machines", version=ALIGN_VERSION)
    path = cache.root / "align" / key[:2] / f"{key}.json"
    assert path.is_file()
    assert json.loads(cache.get_text("align", key, ".json") or "")["words"][0][0] == "tiny"
    # Silence in place of the clip: only a cache read can still give the speech's timings.
    assert aligned_words(cache, "clip-key", np.zeros_like(clip), "tiny machines", RATE) == first
    assert first[0].phones


def test_a_damaged_cache_entry_is_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = ContentCache(tmp_path)
    clip = synthesize_clip(ClipRequest("fake:a", "one two"), RATE)
    first = aligned_words(cache, "k", clip, "one two", RATE)
    key = content_key(kind="align", clip="k", text="one two", version=ALIGN_VERSION)
    (cache.root / "align" / key[:2] / f"{key}.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert aligned_words(cache, "k", clip, "one two", RATE) == first
    assert "is corrupt" in caplog.text  # the checksum caught it


def test_the_aligned_timeline_lists_clips_in_segment_order_whatever_order_they_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The timeline's JSON keys the video cache: words in worker-finishing order made warm renders miss it.
    import podforge.align as align
    from podforge.timeline import SpeakerInfo, SpeechSegment, Timeline
    from podforge.voices.synth import CLIP_KIND

    cache = ContentCache(tmp_path)
    texts = ["one two", "three four", "five six", "seven eight"]
    segments = []
    for k, text in enumerate(texts):
        cache.put_array(CLIP_KIND, f"clip{k}", synthesize_clip(ClipRequest("fake:a", text), RATE))
        segments.append(SpeechSegment(k * RATE, (k + 1) * RATE, k + 1, "A", "fake:a", text, text, f"clip{k}"))
    timeline = Timeline("T", RATE, len(texts) * RATE, {"A": SpeakerInfo("A", "fake:a", "#e4572e")}, tuple(segments))
    in_lanes = align.run_in_lanes
    monkeypatch.setattr(align, "run_in_lanes", lambda jobs, *a, **k: reversed(list(in_lanes(jobs, *a, **k))))
    aligned = align.align_timeline(timeline, cache, workers=1)
    order = [f"clip{k}" for k in range(len(texts))]
    assert list(aligned.words) == order and list(aligned.mouths) == order
    assert all(aligned.words[clip] for clip in order)
