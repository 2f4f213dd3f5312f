"""The listening check: hear each line's clip offline and flag those whose words differ from the text.

pocketsphinx's bundled US English model recognises each clip against a loop over the line's own words,
so it finds which of them the voice said, in what order; the word error rate against the text says
how far the clip strays. A free recognition with the full language model hears as well on these
voices but costs about twice as much (measured on 8 demo lines: 66 % of the synthesis time against 35 %
with the loop at half frame rate; on all 15 with hibari and piper, clean lines at WER <= 0.16 when words
are compared by pronunciation, lines with every other word dropped >= 0.5). A lower word insertion
probability or fewer Gaussians (topn 2) were faster but made clean lines score up to 0.76.
Results are cached per clip, so a re-render hears only the clips it has just voiced.

The check needs only the clips and the timeline, never the master, so `start_listening` hears them in worker
processes while the render mixes, masters and encodes (single-threaded, in this process): pocketsphinx holds
the GIL while it decodes, so a thread would slow the mastering down instead.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._lifeline import hold
from ._workers import BATCH
from .align import ALIGN_RATE, _dict_key, _mono, text_words
from .audio.dsp import resample
from .cache import ContentCache, content_key
from .errors import ConfigError
from .timeline import SpeechSegment, Timeline
from .voices.registry import speaks_words

LISTEN_KIND = "listen"
LISTEN_VERSION = "4"  # 4: no best-path pass
DEFAULT_THRESHOLD = 0.3  # word error rate above which a line is flagged (see the figures above)
_LOCK = threading.Lock()
Heard = tuple[str, float]  # the words heard, the word error rate


@dataclass(frozen=True)
class FlaggedLine:
    line: int
    speaker: str
    text: str
    heard: str
    wer: float


@dataclass(frozen=True)
class ListenResult:
    checked: int
    heard_now: int  # clips recognised in this render (the rest came from the cache)
    flagged: tuple[FlaggedLine, ...]
    heard_cpu_seconds: float = 0.0  # the workers' CPU time hearing them, together (alongside the audio stage)

    def to_json(self) -> list[dict[str, object]]:
        return [asdict(line) for line in self.flagged]


def check_threshold(threshold: float) -> float:
    if not 0.0 < threshold <= 10.0:
        raise ConfigError(f"--flag-threshold {threshold:g}: give a word error rate above 0, e.g. 0.3")
    return threshold


def word_error_rate(expected: Sequence[str], heard: Sequence[str]) -> float:
    """Word-level edit distance over the expected length (insertions count, so it may exceed 1)."""
    previous = list(range(len(heard) + 1))
    for i, word in enumerate(expected, start=1):
        current = [i]
        for j, other in enumerate(heard, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1] / max(len(expected), 1)


@lru_cache(maxsize=1)
def _recogniser() -> Any:
    from pocketsphinx import Decoder, get_model_path

    model = Path(get_model_path())
    # Half frame rate and narrower beams: a third faster, and as accurate on clean TTS (measured, see above).
    # No best-path pass over the word lattice: a loop over the line's words makes that lattice large, and
    # the first pass alone is twice as fast and closer on clean lines (15 demo lines, hibari and piper:
    # 1.1 s against 2.3 s; clean WER at most 0.16 against 0.25; every-other-word-dropped at least 0.44 in both).
    return Decoder(samprate=ALIGN_RATE, hmm=str(model / "en-us" / "en-us"),
                   dict=str(model / "en-us" / "cmudict-en-us.dict"), lm=None, loglevel="FATAL",
                   ds=2, beam=1e-30, wbeam=1e-20, bestpath=False)  # fmt: skip


def hear_clip(samples: npt.NDArray[np.float32], sample_rate: int, spoken: str) -> tuple[str, float]:
    """The words of ``spoken`` the recogniser hears in ``samples``, in order, and their word error rate
    (words compared by pronunciation, so "two" heard as "to" is no error)."""
    words = text_words(spoken)
    if not words:
        return "", 0.0
    pcm = (np.clip(resample(_mono(samples), sample_rate, ALIGN_RATE), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    with _LOCK:
        decoder = _recogniser()
        # Words the dictionary lacks (names) are left out of the check: guessing their pronunciation would
        # load a G2P model, which cost more than hearing the whole demo (1.5 s against 2.4 s, profiled).
        said = [key for key in map(_dict_key, words) if decoder.lookup_word(key)]
        if not said:
            return "", 0.0
        keys = sorted(set(said))
        grammar = f"#JSGF V1.0;\ngrammar line;\npublic <line> = ( {' | '.join(keys)} )* ;\n"
        decoder.add_jsgf_string("line", grammar)
        decoder.activate_search("line")
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        heard = hyp.hypstr.split() if hyp is not None and hyp.hypstr else []
        wer = word_error_rate([decoder.lookup_word(k) for k in said], [decoder.lookup_word(w) or w for w in heard])
    return " ".join(heard), round(wer, 3)


def _hear_batch(batch: list[tuple[str, str]], cache_root: str, sample_rate: int) -> tuple[float, dict[str, Heard]]:
    """Hear a batch of clips (in a worker process); its CPU seconds and each clip's result."""
    from .voices.synth import CLIP_KIND

    started = time.process_time()  # CPU, not wall: it shares the machine with the mastering
    cache = ContentCache(Path(cache_root))
    out = {}
    for clip, spoken in batch:
        samples = cache.get_array(CLIP_KIND, clip)
        out[clip] = _hear_and_keep(cache, clip, spoken, samples, sample_rate) if samples is not None else ("", 1.0)
    return time.process_time() - started, out


def hear_once(cache: ContentCache, clip: str, spoken: str, samples: npt.NDArray[np.float32], sample_rate: int) -> Heard:
    """``hear_clip`` for the clip stored under ``clip``, from the cache when it was heard before (as the render
    hears it, so a take heard in the studio is not heard again when the episode is rendered with it)."""
    found = _cached(cache, clip, spoken)
    return found if found is not None else _hear_and_keep(cache, clip, spoken, samples, sample_rate)


def _hear_and_keep(
    cache: ContentCache, clip: str, spoken: str, samples: npt.NDArray[np.float32], sample_rate: int
) -> Heard:
    heard, wer = hear_clip(samples, sample_rate, spoken)
    cache.put_text(LISTEN_KIND, _key(clip, spoken), ".json", json.dumps({"heard": heard, "wer": wer}))
    return heard, wer


def _key(clip: str, spoken: str) -> str:
    return content_key(kind=LISTEN_KIND, clip=clip, text=spoken, version=LISTEN_VERSION)


def _cached(cache: ContentCache, clip: str, spoken: str) -> tuple[str, float] | None:
    path = cache.get_file(LISTEN_KIND, _key(clip, spoken), ".json")
    try:
        found = json.loads(path.read_text(encoding="utf-8")) if path else None
        return (str(found["heard"]), float(found["wer"])) if found else None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged entry is heard again


class Listening:
    """The check under way in worker processes; `result` waits for it, `cancel` abandons it."""

    def __init__(self, timeline: Timeline, cache: ContentCache, threshold: float, workers: int) -> None:
        self._segments = [seg for seg in timeline.of_kind(SpeechSegment) if speaks_words(seg.voice)]
        self.threshold = threshold
        jobs = {seg.clip: seg.spoken for seg in self._segments}
        self._heard = {clip: found for clip, text in jobs.items() if (found := _cached(cache, clip, text)) is not None}
        self._todo = {clip: text for clip, text in jobs.items() if clip not in self._heard}
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[tuple[float, dict[str, Heard]]]] = []
        if self._todo:
            # Small batches, so that `cancel` waits for a few clips only; each process loads the recogniser once.
            items = list(self._todo.items())
            batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
            context = multiprocessing.get_context("forkserver")  # as the other workers: no fork of a threaded process
            self._pool = ProcessPoolExecutor(max(1, min(workers, len(batches))), mp_context=context,
                                             initializer=hold, initargs=(os.getpid(),))  # fmt: skip
            work = partial(_hear_batch, cache_root=str(cache.root), sample_rate=timeline.sample_rate)
            self._futures = [self._pool.submit(work, batch) for batch in batches]

    def result(self) -> ListenResult:
        try:
            done = [future.result() for future in self._futures]
        finally:
            self.cancel()
        for _, found in done:
            self._heard.update(found)
        flagged = tuple(
            FlaggedLine(seg.line, seg.speaker, seg.text, *self._heard[seg.clip])
            for seg in self._segments
            if self._heard[seg.clip][1] > self.threshold
        )
        return ListenResult(len(self._segments), len(self._todo), flagged, sum(s for s, _ in done))

    def cancel(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def start_listening(timeline: Timeline, cache: ContentCache, threshold: float, *, workers: int = 0) -> Listening:
    """Start hearing every speech clip not heard before (cached per clip); ``workers`` 0: all cores but one."""
    return Listening(timeline, cache, threshold, workers or max(1, (os.cpu_count() or 1) - 1))
