"""A deterministic stand-in voice for tests: voiced syllable bursts whose pitch depends on the voice.

Each word becomes a harmonic burst with an attack/decay envelope, so the
result has speech-like energy, gaps between words and a predictable length
(about 65 ms per letter), without loading any model.

Voices named `jitter…` are the exception, on purpose: like piper, which
speaks one sentence in 60,672 samples in one run and 61,184 in the next,
each call ends every sentence in a random 0-50 ms of extra silence, and
takes a real engine's time (0.1 s a sentence), so tests can show that
concurrent renders voicing the same lines never mix each other's clips.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator

import numpy as np

from .base import AudioChunk, VoiceSettings

SAMPLE_RATE = 24_000
VOICES = {"a": 120.0, "b": 210.0, "c": 160.0}
SECONDS_PER_LETTER = 0.065
WORD_GAP_SECONDS = 0.08
JITTER_PREFIX = "jitter"
JITTER_SECONDS = 0.05
JITTER_LATENCY_SECONDS = 0.1


class FakeEngine:
    version = "1"

    def __init__(self, voice: str = "a") -> None:
        self.pitch = VOICES.get(voice, 100.0 + zlib.crc32(voice.encode()) % 150)
        self.jitter = np.random.default_rng() if voice.startswith(JITTER_PREFIX) else None

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
            if sentence:
                yield AudioChunk(self._sentence(sentence, settings), SAMPLE_RATE, sentence)

    def _sentence(self, sentence: str, settings: VoiceSettings) -> np.ndarray:
        gap = np.zeros(int(WORD_GAP_SECONDS * SAMPLE_RATE / settings.speed), np.float32)
        parts = []
        for word in re.findall(r"\w+", sentence):
            parts += [self._word(len(word) * SECONDS_PER_LETTER / settings.speed), gap]
        if self.jitter is not None:
            time.sleep(JITTER_LATENCY_SECONDS)
            parts.append(np.zeros(int(self.jitter.integers(0, int(JITTER_SECONDS * SAMPLE_RATE))), np.float32))
        return np.concatenate(parts) if parts else gap

    def _word(self, seconds: float) -> np.ndarray:
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        tone = sum(np.sin(2 * np.pi * self.pitch * k * t) / k for k in (1, 2, 3, 4))
        envelope = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (seconds - t) / 0.03)
        return (0.25 * tone * envelope).astype(np.float32)
