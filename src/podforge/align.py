"""Word and phone timings for a TTS clip whose text is known: forced alignment with pocketsphinx.

The text is already what the voice spoke, so this is alignment, not recognition: pocketsphinx finds the
best path through exactly these words (with optional silences), first at word level, then a second pass
for phones. Words the dictionary lacks get a pronunciation from `_arpabet` first, so an unusual name
never stops the alignment.

Nothing here raises to the caller. If pocketsphinx fails or returns another number of words, an energy
fallback spreads the words over the clip's voiced time in proportion to their letter counts, without
phones: rougher, but every word still gets a monotonic place inside the clip.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import threading
import zlib
from dataclasses import replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._arpabet import PHONES, fold, pronounce
from ._workers import run_in_lanes
from .audio.dsp import RunningPower, resample
from .cache import ContentCache, content_key
from .timeline import PhoneTiming, SpeechSegment, Timeline, WordTiming, words_from_json, words_to_json

log = logging.getLogger(__name__)

ALIGN_VERSION = "1"
ALIGN_KIND = "align"
ALIGN_RATE = 16_000
FRAMES_PER_SECOND = 100  # pocketsphinx's frame rate: every time it reports is in 10 ms frames
MIN_SECONDS = 0.05  # below this pocketsphinx has too few frames to align even one short word
FALLBACK_RANGE_DB = 30.0  # the energy fallback calls a 10 ms hop voiced within this many dB of the clip's level
FALLBACK_FLOOR = 1e-4  # ... and never below -80 dBFS, so that dither in a silent clip is not "speech"

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_FILLER_PREFIXES = ("<", "[", "+")  # <s>, </s>, <sil>, [NOISE], +SPN+: silences and noises, not text words
_LOCK = threading.Lock()  # the decoder is one per process and keeps state between calls

Frames = tuple[int, int, list[tuple[str, int, int]]]


def text_words(text: str) -> tuple[str, ...]:
    """The words of a text as alignment reports them: lower-case, punctuation stripped, hyphens split."""
    return tuple(match.group(0).replace("’", "'") for match in _WORD.finditer(text.lower()))


def align_clip(samples: npt.NDArray[np.float32], text: str, sample_rate: int = 48000) -> tuple[WordTiming, ...]:
    """One WordTiming per word of ``text``, in samples from the start of ``samples``; never raises."""
    mono = _mono(samples)
    words = text_words(text)
    if not words:
        return ()
    try:
        frames = _align_frames(mono, sample_rate, words)
        if len(frames) == len(words):
            return _from_frames(words, frames, mono.shape[0], sample_rate)
        reason = f"it returned {len(frames)} words for {len(words)}"
    except Exception as exc:  # pocketsphinx reports every failure as RuntimeError or worse; none may escape
        reason = f"{type(exc).__name__}: {exc}"
        # A pass that raised can leave the decoder inside an utterance, refusing every later text;
        # a fresh one costs a tenth of a second, and only after a failure.
        _decoder.cache_clear()
    log.warning("forced alignment failed (%s); spreading %d words over the clip's voiced time", reason, len(words))
    return _energy_fallback(mono, words, sample_rate)


def _cache_key(clip_key: str, text: str, clip_digest: str | None = None) -> str:
    # With the clip's content digest: a clip evicted and voiced again by a non-deterministic engine is another clip.
    content = {"content": clip_digest} if clip_digest else {}
    return content_key(kind=ALIGN_KIND, clip=clip_key, text=text, version=ALIGN_VERSION, **content)


def aligned_words(
    cache: ContentCache,
    clip_key: str,
    samples: npt.NDArray[np.float32],
    text: str,
    sample_rate: int = 48000,
    clip_digest: str | None = None,
) -> tuple[WordTiming, ...]:
    """`align_clip`, computed once per (clip, text) and kept as JSON in the content cache."""
    key = _cache_key(clip_key, text, clip_digest)
    cached = _read_cached(cache, key)
    if cached is not None:
        return cached
    words = align_clip(samples, text, sample_rate)
    cache.put_text(ALIGN_KIND, key, ".json", json.dumps({"version": ALIGN_VERSION, "words": words_to_json(words)}))
    return words


# -- pocketsphinx -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _decoder() -> Any:
    from pocketsphinx import Decoder, get_model_path

    model = Path(get_model_path())
    # lm=None: alignment needs no language model, and skipping it saves loading 30 MB per process.
    return Decoder(
        samprate=ALIGN_RATE,
        hmm=str(model / "en-us" / "en-us"),
        dict=str(model / "en-us" / "cmudict-en-us.dict"),
        lm=None,
        loglevel="FATAL",
    )


def _dict_key(word: str) -> str:
    # The dictionary wants plain ASCII entries; a word with no ASCII letters gets a stable made-up entry.
    return fold(word).strip("'") or f"w{zlib.crc32(word.encode()):08x}"


def _ensure_words(decoder: Any, words: tuple[str, ...]) -> list[str]:
    """Dictionary entries for the words, adding any that are missing so `set_align_text` cannot refuse them."""
    keys = [_dict_key(word) for word in words]
    for word, key in zip(words, keys, strict=True):
        if decoder.lookup_word(key) is None:
            decoder.add_word(key, " ".join(pronounce(word)), True)
    return keys


def _run_pass(decoder: Any, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _align_frames(mono: npt.NDArray[np.float32], sample_rate: int, words: tuple[str, ...]) -> list[Frames]:
    """(start, end, phones) in 10 ms frames for each non-silence word pocketsphinx aligned."""
    if mono.shape[0] < sample_rate * MIN_SECONDS:
        raise RuntimeError(f"the clip is shorter than {MIN_SECONDS:g} s")
    audio = resample(mono, sample_rate, ALIGN_RATE)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    with _LOCK:
        decoder = _decoder()
        decoder.set_align_text(" ".join(_ensure_words(decoder, words)))
        _run_pass(decoder, pcm)
        if decoder.hyp() is None:
            raise RuntimeError("no path through the text reached the end of the clip")
        # The word pass does not track phones; a second pass over the same audio does.
        decoder.set_alignment()
        _run_pass(decoder, pcm)
        alignment = decoder.get_alignment()
        if alignment is None:
            raise RuntimeError("the phone pass produced no alignment")
        return [
            (word.start, word.start + word.duration, [(p.name, p.start, p.start + p.duration) for p in word])
            for word in alignment
            if not word.name.startswith(_FILLER_PREFIXES)
        ]


def _from_frames(words: tuple[str, ...], frames: list[Frames], length: int, rate: int) -> tuple[WordTiming, ...]:
    """Frames → samples, clamped so words are monotonic, non-overlapping and inside [0, length]."""

    def to_sample(frame: int, low: int, high: int) -> int:
        return min(max(round(frame * rate / FRAMES_PER_SECOND), low), high)

    out: list[WordTiming] = []
    floor = 0
    for word, (first, last, phones) in zip(words, frames, strict=True):
        start = to_sample(first, floor, length)
        end = to_sample(last, start, length)
        timed = tuple(
            PhoneTiming(re.sub(r"\d", "", name), to_sample(a, start, end), to_sample(b, start, end))
            for name, a, b in phones
            if re.sub(r"\d", "", name) in PHONES
        )
        out.append(WordTiming(word, start, end, timed))
        floor = end
    return tuple(out)


# -- energy fallback ----------------------------------------------------------------------------------------


def _mono(samples: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim > 1:
        array = array.mean(axis=tuple(range(1, array.ndim)))
    return np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)


def _voiced_intervals(mono: npt.NDArray[np.float32], sample_rate: int) -> list[tuple[int, int]]:
    """[start, end) sample spans whose 10 ms RMS is near the clip's loud level; the whole clip if none."""
    hop = max(1, sample_rate // FRAMES_PER_SECOND)
    count = -(-mono.shape[0] // hop)
    if count == 0:
        return [(0, 0)]
    starts = np.arange(count, dtype=np.int64) * hop
    rms = np.sqrt(RunningPower(mono).energy(starts, starts + hop) / hop)  # the last hop padded with silence
    # The 95th percentile rather than the peak, so one click does not lift the threshold over the speech.
    threshold = max(float(np.percentile(rms, 95)) * 10 ** (-FALLBACK_RANGE_DB / 20), FALLBACK_FLOOR)
    voiced = np.concatenate(([False], rms >= threshold, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(voiced))
    spans = [(int(a) * hop, min(int(b) * hop, mono.shape[0])) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return spans or [(0, mono.shape[0])]


def _energy_fallback(mono: npt.NDArray[np.float32], words: tuple[str, ...], rate: int) -> tuple[WordTiming, ...]:
    """Words laid end to end over the voiced time, each taking a share proportional to its letters."""
    spans = _voiced_intervals(mono, rate)
    offsets = list(np.cumsum([0] + [end - start for start, end in spans[:-1]]))
    total = sum(end - start for start, end in spans)
    shares = np.cumsum([0] + [max(1, len(word)) for word in words])
    bounds = [round(total * float(share) / float(shares[-1])) for share in shares]

    def place(position: int, is_end: bool) -> int:
        # An end that falls on a span boundary belongs to the span before it, a start to the span after it.
        found = bisect.bisect_left(offsets, position) if is_end else bisect.bisect_right(offsets, position)
        index = min(max(found - 1, 0), len(spans) - 1)
        return int(spans[index][0] + position - offsets[index])

    out: list[WordTiming] = []
    for i, word in enumerate(words):
        start = place(bounds[i], is_end=False)
        out.append(WordTiming(word, start, max(start, place(bounds[i + 1], is_end=True))))
    return tuple(out)


# -- cache --------------------------------------------------------------------------------------------------


def _read_cached(cache: ContentCache, key: str) -> tuple[WordTiming, ...] | None:
    text = cache.get_text(ALIGN_KIND, key, ".json")
    if text is None:
        return None
    try:
        return words_from_json(json.loads(text)["words"])
    except (ValueError, KeyError, TypeError) as exc:
        # Intact but not what this version writes: a miss, as for every other cache entry, never a failed render.
        log.warning("cache entry %s/%s is unreadable (%s); aligning again", ALIGN_KIND, key, exc)
        cache.remove(ALIGN_KIND, key, ".json")
        return None


def _align_batch(
    batch: list[tuple[str, str]], cache_root: str, sample_rate: int
) -> list[tuple[str, tuple[tuple[WordTiming, ...], list[list[Any]]]]]:
    from .visuals.visemes import keys_to_json, mouth_keys
    from .voices.synth import CLIP_KIND

    cache = ContentCache(Path(cache_root))
    results: list[tuple[str, tuple[tuple[WordTiming, ...], list[list[Any]]]]] = []
    for clip_key, text in batch:
        digest, samples = cache.digest(CLIP_KIND, clip_key), cache.get_array(CLIP_KIND, clip_key)
        if samples is None:
            results.append((clip_key, ((), [])))
            continue
        words = aligned_words(cache, clip_key, samples, text, sample_rate, digest)
        results.append((clip_key, (words, keys_to_json(mouth_keys(words, samples, sample_rate)))))
    return results


def cached_alignments(timeline: Timeline, cache: ContentCache) -> tuple[int, int]:
    """(clips whose alignment is in the cache, clips that still need aligning), for the metrics."""
    jobs = {seg.clip: seg.spoken for seg in timeline.of_kind(SpeechSegment) if seg.clip not in timeline.words}
    from .voices.synth import CLIP_KIND

    keys = [_cache_key(clip, text, cache.digest(CLIP_KIND, clip)) for clip, text in jobs.items()]
    hits = sum(1 for key in keys if cache.has(ALIGN_KIND, key, ".json"))
    return hits, len(jobs) - hits


def align_timeline(timeline: Timeline, cache: ContentCache, *, workers: int = 0) -> Timeline:
    """The timeline with word and phone timings and mouth keys for every speech clip (alignment cached per clip)."""
    from .voices.synth import CLIP_KIND

    jobs = {seg.clip: seg.spoken for seg in timeline.of_kind(SpeechSegment) if seg.clip not in timeline.words}
    work = partial(_align_batch, cache_root=str(cache.root), sample_rate=timeline.sample_rate)
    # Clips aligned before only need their JSON read (and mouth keys, milliseconds each): worker processes for
    # them would cost a warm render more than the work itself.
    keys = {clip: _cache_key(clip, text, cache.digest(CLIP_KIND, clip)) for clip, text in jobs.items()}
    for key in keys.values():
        cache.pin(ALIGN_KIND, key, ".json")  # written by worker processes, used by this render
    known = [(clip, text) for clip, text in jobs.items() if cache.has(ALIGN_KIND, keys[clip], ".json")]
    found = dict(work(known))
    todo = {clip: text for clip, text in jobs.items() if clip not in found}
    found.update(run_in_lanes(todo, work, group=lambda text: "align", weight=len, workers=workers))
    # In the segments' order, not the order the workers finished in: the timeline's JSON keys the video cache,
    # so a different order on a warm render would miss it and render the whole video again.
    words = {clip: found[clip][0] for clip in jobs}
    mouths = {clip: found[clip][1] for clip in jobs}
    return replace(timeline, words={**timeline.words, **words}, mouths={**timeline.mouths, **mouths})
