"""Music beds: a user file, or a bed made from the mood words of a cue.

Every bed comes back at the same loudness (`BED_REFERENCE_LUFS`) so the mixer
can place it relative to the speech without knowing where it came from.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import EngineError

Stereo = npt.NDArray[np.float32]
BedRenderer = Callable[[str, float, int, int], Stereo]
BED_REFERENCE_LUFS = -20.0
MEASURE_SECONDS = 30.0

ENGINES: dict[str, str] = {
    "procedural": "podforge.music.procedural:render_bed",
}


def load_music_engine(name: str) -> BedRenderer:
    target = ENGINES.get(name)
    if target is None:
        raise EngineError(f"unknown music engine {name!r}; choose one of {', '.join(ENGINES)}", engine=name)
    module, _, attr = target.partition(":")
    renderer: BedRenderer = getattr(importlib.import_module(module), attr)
    return renderer


def loop_to_length(audio: Stereo, length: int) -> Stereo:
    """Repeat (or cut) a decoded file to exactly `length` samples."""
    if audio.shape[0] == 0:
        return np.zeros((length, 2), np.float32)
    repeats = -(-length // audio.shape[0])
    return np.tile(audio, (repeats, 1))[:length]


def at_reference_loudness(audio: Stereo, sample_rate: int) -> Stereo:
    from ..audio.master import integrated_lufs

    probe = audio[: int(MEASURE_SECONDS * sample_rate)]
    loudness = integrated_lufs(probe, sample_rate)
    if not np.isfinite(loudness):
        return audio
    return (audio * np.float32(10 ** ((BED_REFERENCE_LUFS - loudness) / 20))).astype(np.float32)


def render_music(
    source: str, seconds: float, sample_rate: int, *, seed: int, is_file: bool, base_dir: Path, engine: str
) -> Stereo:
    length = round(seconds * sample_rate)
    if is_file:
        from ..audio.export import decode_audio

        audio = loop_to_length(decode_audio(base_dir / source, sample_rate), length)
    else:
        audio = load_music_engine(engine)(source, seconds, sample_rate, seed)[:length]
    return at_reference_loudness(audio, sample_rate)
