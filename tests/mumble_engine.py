"""A test voice that mangles its text: hibari speaking only every other word (registered by tests as `mumble:`)."""

from __future__ import annotations

from collections.abc import Iterator

from podforge.voices.base import AudioChunk, VoiceSettings
from podforge.voices.hibari import HibariEngine


class MumbleEngine:
    version = "1"

    def __init__(self, voice: str = "heart") -> None:
        self.inner = HibariEngine(voice)

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        return self.inner.synthesize(" ".join(text.split()[::2]), settings)
