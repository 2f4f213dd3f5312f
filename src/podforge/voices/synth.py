"""The voicing stage: speech requests → clips in the cache, each synthesized once.

Clips are streamed sentence by sentence into the cache and never all held in
memory; only their lengths come back. Missing clips are spread over worker
processes (each loads each engine once), since one engine uses one core.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.dsp import resample
from ..cache import ContentCache, content_key
from ..errors import EngineError
from .base import VoiceSettings
from .registry import engine_version, load_engine

CLIP_KIND = "clips"
BATCH = 6
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ClipRequest:
    voice_id: str
    text: str
    speed: float = 1.0
    seed: int = 0

    def key(self, sample_rate: int) -> str:
        return content_key(
            kind=CLIP_KIND,
            voice=self.voice_id,
            version=engine_version(self.voice_id),
            text=self.text,
            speed=self.speed,
            seed=self.seed,
            rate=sample_rate,
        )


@dataclass(frozen=True)
class VoicingResult:
    lengths: dict[str, int]
    keys: tuple[str, ...]
    hits: int
    misses: int


def synthesize_clip(request: ClipRequest, sample_rate: int) -> np.ndarray:
    """One utterance at the project rate, mono float32, exactly as the engine spoke it."""
    engine = load_engine(request.voice_id)
    pieces = [
        resample(chunk.samples, chunk.sample_rate, sample_rate)
        for chunk in engine.synthesize(request.text, VoiceSettings(request.speed, request.seed))
    ]
    if not pieces:
        raise EngineError(f"{request.voice_id} produced no audio for {request.text[:60]!r}")
    return np.concatenate(pieces).astype(np.float32)


def _synthesize_into(request: ClipRequest, key: str, cache_root: str, sample_rate: int) -> int:
    clip = synthesize_clip(request, sample_rate)
    ContentCache(Path(cache_root)).put_array(CLIP_KIND, key, clip)
    return int(clip.shape[0])


def clip_length(cache: ContentCache, key: str) -> int | None:
    array = cache.get_array(CLIP_KIND, key)
    return None if array is None else int(array.shape[0])


def voice_clips(
    requests: Sequence[ClipRequest],
    cache: ContentCache,
    sample_rate: int,
    *,
    workers: int = 0,
    on_progress: Progress = lambda done, total: None,
) -> VoicingResult:
    keys = tuple(request.key(sample_rate) for request in requests)
    lengths: dict[str, int] = {}
    for key in set(keys):
        if (length := clip_length(cache, key)) is not None:
            lengths[key] = length
    todo = {key: request for key, request in zip(keys, requests, strict=True) if key not in lengths}
    on_progress(len(keys) - len(todo), len(keys))
    for done, (key, length) in enumerate(_run(todo, cache, sample_rate, workers), start=1):
        lengths[key] = length
        on_progress(len(keys) - len(todo) + done, len(keys))
    return VoicingResult(lengths, keys, hits=len(set(keys)) - len(todo), misses=len(todo))


def _lanes(todo: dict[str, ClipRequest], workers: int) -> list[list[tuple[str, ClipRequest]]]:
    """Split the work so each process loads as few engines as possible, with similar amounts of text."""
    groups: dict[str, list[tuple[str, ClipRequest]]] = {}
    for key, request in todo.items():
        groups.setdefault(request.voice_id, []).append((key, request))
    parts_per_group = max(1, workers // len(groups))
    parts = [items[i::parts_per_group] for items in groups.values() for i in range(parts_per_group)]
    lanes: list[list[tuple[str, ClipRequest]]] = [[] for _ in range(workers)]
    for part in sorted(parts, key=lambda p: -sum(len(r.text) for _, r in p)):
        min(lanes, key=lambda lane: sum(len(r.text) for _, r in lane)).extend(part)
    return [lane for lane in lanes if lane]


def _synthesize_batch(batch: list[tuple[str, ClipRequest]], cache_root: str, sample_rate: int) -> list[tuple[str, int]]:
    return [(key, _synthesize_into(request, key, cache_root, sample_rate)) for key, request in batch]


def _run(
    todo: dict[str, ClipRequest], cache: ContentCache, sample_rate: int, workers: int
) -> Iterator[tuple[str, int]]:
    workers = min(workers or os.cpu_count() or 1, len(todo))
    if workers <= 1 or len(todo) < 4:
        for key, request in todo.items():
            yield key, _synthesize_into(request, key, str(cache.root), sample_rate)
        return
    # One single-process pool per lane: the process keeps its engine loaded across batches,
    # and small batches keep the progress bar moving.
    context = multiprocessing.get_context("forkserver")
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=context) for _ in range(workers)]
    try:
        futures = [
            pool.submit(_synthesize_batch, lane[i : i + BATCH], str(cache.root), sample_rate)
            for pool, lane in zip(pools, _lanes(todo, workers), strict=False)
            for i in range(0, len(lane), BATCH)
        ]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)
