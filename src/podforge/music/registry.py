"""Music engines: name → engine, imported on first use; one method, `render(request) -> stereo`.

A bed is asked for by the words of its cue (or comes from a user file named in
the cue). Every bed comes back at the same loudness (`BED_REFERENCE_LUFS`) so
the mixer can place it relative to the speech without knowing its source.
Beds are cached by the hash of (engine, settings, cue, length, seed).
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..audio.stream import ArrayAudio, AudioReader, NpyAudio
from ..cache import ContentCache, content_key
from ..config import MusicConfig
from ..errors import EngineError
from ..timeline import MusicSegment

Stereo = npt.NDArray[np.float32]
BED_REFERENCE_LUFS = -20.0
MEASURE_SECONDS = 30.0
LOOP_CROSSFADE_SECONDS = 0.5
ENGINE_VERSION = "1"


@dataclass(frozen=True)
class BedRequest:
    cue: str
    seconds: float
    sample_rate: int
    seed: int = 0


class MusicEngine(Protocol):
    def render(self, request: BedRequest) -> Stereo: ...


ENGINES: dict[str, str] = {
    "procedural": "podforge.music.engines:ProceduralEngine",
    "folder": "podforge.music.engines:FolderEngine",
    "musicgen": "podforge.music.musicgen:MusicGenEngine",
    "fake": "podforge.music.engines:FakeMusicEngine",
}


@lru_cache(maxsize=8)
def load_music_engine(config: MusicConfig, base_dir: Path) -> MusicEngine:
    target = ENGINES.get(config.engine)
    if target is None:
        raise EngineError(f"unknown music engine {config.engine!r}; choose one of {', '.join(ENGINES)}")
    module, _, attr = target.partition(":")
    engine: MusicEngine = getattr(importlib.import_module(module), attr)(config, base_dir)
    return engine


def check_music_engine(config: MusicConfig, base_dir: Path) -> None:
    """Raise EngineError now if the engine cannot start (missing folder, model, package)."""
    load_music_engine(config, base_dir)


def loop_to_length(audio: Stereo, length: int, sample_rate: int) -> Stereo:
    """Repeat (or cut) a track to exactly `length` samples, crossfading each repeat into the next."""
    if audio.shape[0] == 0:
        return np.zeros((length, 2), np.float32)
    if audio.shape[0] >= length:
        return audio[:length]
    fade = min(int(LOOP_CROSSFADE_SECONDS * sample_rate), audio.shape[0] // 4)
    out = np.zeros((length, 2), np.float32)
    step = audio.shape[0] - fade
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None]
    for start in range(0, length, step):
        piece = audio[: length - start].copy()
        if start > 0 and fade:
            piece[:fade] *= ramp[: piece.shape[0]]
            out[start : start + fade] *= 1.0 - ramp[: min(fade, length - start)]
        out[start : start + piece.shape[0]] += piece
    return out


def at_reference_loudness(audio: Stereo, sample_rate: int) -> Stereo:
    from ..audio.master import integrated_lufs

    loudness = integrated_lufs(audio[: int(MEASURE_SECONDS * sample_rate)], sample_rate)
    if not np.isfinite(loudness):
        return audio
    return (audio * np.float32(10 ** ((BED_REFERENCE_LUFS - loudness) / 20))).astype(np.float32)


def music_reader(
    bed: MusicSegment, sample_rate: int, config: MusicConfig, base_dir: Path, cache: ContentCache
) -> AudioReader:
    """``render_music``'s bed as a reader: a cached generated bed is read from disk by slices, never whole."""
    if not bed.is_file:
        path = cache.get_file("beds", _bed_key(bed, sample_rate, config), ".npy")
        if path is not None:
            with contextlib.suppress(ValueError, OSError):  # another shape or a broken header: render it again
                reader = NpyAudio.open(path, sample_rate)
                if (reader.frames, reader.channels, reader.dtype) == (bed.length, 2, "<f4"):
                    return reader
    return ArrayAudio(render_music(bed, sample_rate, config, base_dir, cache), sample_rate)


def _bed_key(bed: MusicSegment, sample_rate: int, config: MusicConfig) -> str:
    settings = {"engine": config.engine, "folder": config.folder, "model": config.model, "base_seed": config.seed}
    return content_key(kind="bed", version=ENGINE_VERSION, cue=bed.source, length=bed.length, rate=sample_rate,
                       seed=bed.seed, **settings)  # fmt: skip


def render_music(
    bed: MusicSegment, sample_rate: int, config: MusicConfig, base_dir: Path, cache: ContentCache
) -> Stereo:
    """The bed for one music segment, exactly its length, at the reference loudness."""
    length = bed.length
    if bed.is_file:
        from ..audio.export import decode_audio

        return at_reference_loudness(
            loop_to_length(decode_audio(base_dir / bed.source, sample_rate), length, sample_rate), sample_rate
        )
    key = _bed_key(bed, sample_rate, config)
    cached = cache.get_array("beds", key)
    if cached is not None and cached.shape == (length, 2):
        return cached
    request = BedRequest(bed.source, length / sample_rate, sample_rate, bed.seed + config.seed)
    audio = load_music_engine(config, base_dir).render(request)[:length]
    audio = at_reference_loudness(np.pad(audio, ((0, length - audio.shape[0]), (0, 0))), sample_rate)
    cache.put_array("beds", key, audio)
    return audio
