"""Hear a voice before a whole render: one short sentence through the same synthesis and cache.

`podforge say` and the studio's play buttons both call `preview_voice`; neither has its own
path to an engine. The clip is synthesised in this process (a preview is one sentence, not
worth a worker pool) and cached under the same key a render would use, so a previewed line
costs nothing when the episode is rendered.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..cache import ContentCache
from ..config import VoiceDef
from ..errors import EngineError
from .cast import VoiceBook
from .files import VoiceFileProblem
from .synth import CLIP_KIND, ClipRequest, voice_clips

PREVIEW_RATE = 48000
MAX_PREVIEW_CHARS = 400


@dataclass(frozen=True)
class VoicePreview:
    voice_id: str
    text: str
    samples: npt.NDArray[np.float32]
    sample_rate: int
    cached: bool

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    def wav_bytes(self) -> bytes:
        """16-bit mono WAV, small enough to send to a browser."""
        pcm = (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.sample_rate)
            out.writeframes(pcm)
        return buffer.getvalue()


def preview_text(text: str) -> str:
    """The first sentence-ish stretch of a speaker's text, so a preview answers in about a second."""
    text = " ".join(text.split())
    if len(text) <= MAX_PREVIEW_CHARS:
        return text
    cut = max(text.rfind(mark, 0, MAX_PREVIEW_CHARS) for mark in ".!?")
    return text[: cut + 1] if cut > 40 else text[:MAX_PREVIEW_CHARS]


def preview_voice(
    voice_id: str,
    text: str,
    cache: ContentCache,
    *,
    speed: float = 1.0,
    sample_rate: int = PREVIEW_RATE,
    voices: Mapping[str, VoiceDef] | None = None,
    base_dir: Path = Path("."),
) -> VoicePreview:
    """Synthesise `text` (already speech text) with `voice_id` (a voice id, a derived `id~variant`, a voice file
    or a name in `voices`); raises EngineError for an unusable voice."""
    try:
        voice = VoiceBook(voices or {}, base_dir).resolve(voice_id)
    except VoiceFileProblem as exc:
        raise EngineError(str(exc), voice=voice_id) from exc
    request = ClipRequest(voice.engine_id, preview_text(text), speed * voice.speed, 0, voice.pitch, voice.formant)
    result = voice_clips([request], cache, sample_rate, workers=1)
    samples = cache.get_array(CLIP_KIND, result.keys[0])
    if samples is None:  # the cache could not keep it (read-only, full disk): voice it again
        from .synth import synthesize_clip

        samples = synthesize_clip(request, sample_rate)
    return VoicePreview(voice_id, request.text, np.asarray(samples, np.float32), sample_rate, result.hits > 0)


def write_preview(preview: VoicePreview, dest: Path) -> Path:
    from ..audio.export import write_wav

    return write_wav(dest, preview.samples, preview.sample_rate)
