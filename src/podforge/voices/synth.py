"""The voicing stage: speech requests → clips in the cache, each synthesized once.

Clips are streamed sentence by sentence into the cache and never all held in
memory; only their lengths come back, those of the clips the cache holds (the
first stored wins when two renders voice the same line at once). Missing clips are spread over worker
processes (each loads each engine once), since one engine uses one core.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from .._workers import run_in_lanes
from ..audio.dsp import resample
from ..cache import ContentCache, content_key
from ..errors import EngineError
from ..gpu import OnnxDevice
from .base import VoiceSettings
from .derive import WORLD_VERSION, Derivation, derive_world
from .registry import engine_cost, engine_version, load_engine

CLIP_KIND = "clips"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ClipRequest:
    voice_id: str
    text: str
    speed: float = 1.0
    seed: int = 0
    pitch: float = 0.0  # a derived voice (voices/derive.py): semitones and formant ratio
    formant: float = 1.0

    def key(self, sample_rate: int) -> str:
        derived = (
            {} if (self.pitch, self.formant) == (0.0, 1.0) else {"derive": [self.pitch, self.formant, WORLD_VERSION]}
        )
        return content_key(
            kind=CLIP_KIND,
            voice=self.voice_id,
            version=engine_version(self.voice_id),
            text=self.text,
            speed=self.speed,
            seed=self.seed,
            rate=sample_rate,
            **derived,
        )


@dataclass(frozen=True)
class VoicingResult:
    lengths: dict[str, int]
    keys: tuple[str, ...]
    hits: int
    misses: int


def synthesize_clip(request: ClipRequest, sample_rate: int, device: OnnxDevice | None = None) -> np.ndarray:
    """One utterance at the project rate, mono float32, exactly as the engine spoke it (ONNX engines on ``device``);
    a derived voice's pitch and formant are applied by the engine itself or, failing that, by WORLD."""
    engine = load_engine(request.voice_id, device)
    settings = VoiceSettings(request.speed, request.seed, request.pitch, request.formant)
    derivation = Derivation(request.pitch, request.formant)
    if getattr(engine, "derives_natively", False):
        derivation = Derivation()
    pieces = [
        resample(derive_world(chunk.samples, chunk.sample_rate, derivation), chunk.sample_rate, sample_rate)
        for chunk in engine.synthesize(request.text, settings)
    ]
    if not pieces:
        raise EngineError(f"{request.voice_id} produced no audio for {request.text[:60]!r}")
    return np.concatenate(pieces).astype(np.float32)


def _synthesize_into(
    request: ClipRequest, key: str, cache_root: str, sample_rate: int, device: OnnxDevice | None = None
) -> int:
    clip = synthesize_clip(request, sample_rate, device)
    # Another render may have voiced the same key meanwhile, differently (engines are not deterministic): the
    # first clip stored is the one every render mixes, so plan with its length, not this one's.
    stored = ContentCache(Path(cache_root)).put_array(CLIP_KIND, key, clip)
    return int(stored.shape[0])


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
    device: OnnxDevice | None = None,
) -> VoicingResult:
    keys = tuple(request.key(sample_rate) for request in requests)
    for key in keys:
        cache.pin(CLIP_KIND, key)  # worker processes write them: this process must still know they are in use
    lengths: dict[str, int] = {}
    for key in set(keys):
        if (length := clip_length(cache, key)) is not None:
            lengths[key] = length
    todo = {key: request for key, request in zip(keys, requests, strict=True) if key not in lengths}
    on_progress(len(keys) - len(todo), len(keys))
    for done, (key, length) in enumerate(_run(todo, cache, sample_rate, workers, device), start=1):
        lengths[key] = length
        on_progress(len(keys) - len(todo) + done, len(keys))
    return VoicingResult(lengths, keys, hits=len(set(keys)) - len(todo), misses=len(todo))


_LANE: dict[str, str] = {}  # in a lane process: the voice whose engine it last used


def _synthesize_batch(
    batch: list[tuple[str, ClipRequest]], cache_root: str, sample_rate: int, device: OnnxDevice | None = None
) -> list[tuple[str, int]]:
    if multiprocessing.parent_process() is not None and batch:
        _hold_one_engine(batch[0][1].voice_id, batch[-1][1].voice_id)
    return [(key, _synthesize_into(request, key, cache_root, sample_rate, device)) for key, request in batch]


def _hold_one_engine(first: str, last: str) -> None:
    """A lane voices its share engine by engine (``lanes`` keeps each voice's lines together), so it lets go of
    one engine before it loads the next: a lane given some of piper's lines and all of hibari's holds one model,
    not both (255 against 500 MB, measured), and the voicing stage stays within the audio stage's memory."""
    if _LANE.get("voice", first) != first:
        load_engine.cache_clear()
        gc.collect()
    _LANE["voice"] = last


def _run(
    todo: dict[str, ClipRequest], cache: ContentCache, sample_rate: int, workers: int, device: OnnxDevice | None
) -> Iterator[tuple[str, int]]:
    work = partial(_synthesize_batch, cache_root=str(cache.root), sample_rate=sample_rate, device=device)
    yield from run_in_lanes(todo, work, group=lambda r: r.voice_id, weight=_weight, workers=workers)


def _weight(request: ClipRequest) -> float:
    return len(request.text) * engine_cost(request.voice_id)
