"""Kokoro through kokoro-onnx (the `kokoro` extra): the user's own model and voices files, named in the config.

The voice id carries the files and the voice inside them (``kokoro:MODEL|VOICES|NAME``, absolute paths), so a
worker process can load it from the id alone. Nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ..errors import EngineError
from .base import AudioChunk, VoiceSettings

SAMPLE_RATE = 24_000
MISSING = "Kokoro voices need the kokoro extra: pip install 'podforge[kokoro]'"


def split_kokoro(voice: str) -> tuple[str, str, str]:
    parts = voice.split("|")
    if len(parts) != 3:
        raise EngineError(f"kokoro voice {voice!r} must be MODEL|VOICES|NAME", engine="kokoro", voice=voice)
    return parts[0], parts[1], parts[2]


class KokoroEngine:
    def __init__(self, voice: str) -> None:
        model_path, voices_path, self.name = split_kokoro(voice)
        try:
            from kokoro_onnx import Kokoro
        except ImportError as exc:
            raise EngineError(MISSING, engine="kokoro", voice=voice) from exc
        try:
            self.version = version("kokoro-onnx")
        except PackageNotFoundError:
            self.version = "unknown"
        self.model = Kokoro(model_path, voices_path)
        if self.name not in self.model.get_voices():
            raise EngineError(f"{Path(voices_path).name} has no voice {self.name!r}", engine="kokoro", voice=voice)

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        audio, rate = self.model.create(text, voice=self.name, speed=settings.speed, lang="en-us")
        if len(audio):
            yield AudioChunk(np.asarray(audio, np.float32), int(rate), text)


def voice_names(voices_path: Path) -> list[str]:
    """The voices in a Kokoro voices file (an .npz/.bin numpy archive), read without kokoro-onnx."""
    with np.load(voices_path) as archive:
        return sorted(archive.keys())
