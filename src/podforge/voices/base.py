"""The one interface every TTS engine implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class VoiceSettings:
    """Per-call settings; the voice's own model stays fixed."""

    speed: float = 1.0
    seed: int = 0
    pitch: float = 0.0  # semitones; engines without ``derives_natively`` get it from WORLD (voices.derive)
    formant: float = 1.0


@dataclass(frozen=True)
class AudioChunk:
    """One sentence of speech: mono float32 in [-1, 1] at the engine's own rate; never level-normalised."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    text: str = ""


class TtsEngine(Protocol):
    """Load once (the constructor takes the voice name or a model path), then stream sentence by sentence.

    An engine that sets ``derives_natively = True`` applies ``settings.pitch``/``formant`` itself."""

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]: ...
