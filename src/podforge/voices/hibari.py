"""hibari-tts: a small Kokoro-distilled model whose default voice ships inside the wheel (24 kHz)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import EngineError
from ..gpu import OnnxDevice, use_onnx_device
from .base import AudioChunk, VoiceSettings


class HibariEngine:
    def __init__(self, voice: str = "heart", device: OnnxDevice | None = None) -> None:
        import hibari
        from hibari.voices import VOICES

        if not VOICES.get(voice, {}).get("bundled"):
            bundled = [name for name, v in VOICES.items() if v.get("bundled")]
            raise EngineError(
                f"hibari voice {voice!r} is not in the installed package (only {', '.join(bundled)} is; "
                "other hibari voices need a download, which podforge never does)",
                engine="hibari",
                voice=voice,
            )
        self.version = hibari.__version__
        self.model = hibari.Hibari(voice=voice, threads=1)
        # Hibari opens its session on the CPU provider; its `sess` is moved when a GPU is to be used.
        self.providers = use_onnx_device(self.model.sess, device or OnnxDevice(), "hibari")

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        for sentence in self.model.split_sentences(text):
            audio = self.model(sentence, speed=settings.speed, seed=settings.seed)
            if audio.size:
                yield AudioChunk(np.asarray(audio, np.float32), self.model.sample_rate, sentence)
