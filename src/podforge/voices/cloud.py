"""Optional cloud voices: Google Translate TTS (``gtts``) and Microsoft Edge read-aloud (``edge``).

Neither is ever a default voice: they need a network connection and send the script's text to a
third party. Both speak MP3, which is decoded here to mono float32 at 24 kHz, one chunk per sentence.
Their network boundaries (an ``httpx`` transport, the ``edge_tts.Communicate`` class) can be
injected, so tests never touch the network.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import av
import numpy as np
import numpy.typing as npt

from ..errors import EngineError
from .base import AudioChunk, VoiceSettings

if TYPE_CHECKING:
    import httpx

SAMPLE_RATE = 24_000
GTTS_MAX_CHARS = 100  # the translate_tts endpoint rejects longer ``q`` values
# voice -> (tl, tld), as the gTTS library maps accents onto regional Google domains
GTTS_VOICES = {
    "en": ("en", "com"),
    "en-us": ("en", "com"),
    "en-gb": ("en", "co.uk"),
    "en-au": ("en", "com.au"),
    "en-in": ("en", "co.in"),
}
GTTS_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
GTTS_SLOW_BELOW = 0.8  # the endpoint only knows "normal" and "slow" (ttsspeed=0.3)
EDGE_VOICES = ("en-US-AriaNeural", "en-US-GuyNeural", "en-GB-SoniaNeural", "en-GB-RyanNeural", "en-AU-NatashaNeural")
_NETWORK_HINT = "check your network connection; {engine} is a cloud engine"
_CLAUSE_BREAK = re.compile(r"(?<=[,;:\u2013\u2014])\s+")
_WORD_BREAK = re.compile(r"\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences, split the way the fake engine splits them, so chunk counts agree across engines."""
    return [s for s in re.split(r"(?<=[.!?\u2026])\s+", text.strip()) if s]


def split_pieces(sentence: str, limit: int = GTTS_MAX_CHARS) -> list[str]:
    """``sentence`` cut into pieces of at most ``limit`` characters: at clause punctuation, then spaces."""
    sentence = sentence.strip()
    if len(sentence) <= limit:
        return [sentence] if sentence else []
    for pattern in (_CLAUSE_BREAK, _WORD_BREAK):
        parts = [p for p in pattern.split(sentence) if p]
        if len(parts) > 1:
            return _pack(parts, limit)
    # one unbroken "word" longer than the limit (a URL, say): a hard cut is all that is left
    return [sentence[i : i + limit] for i in range(0, len(sentence), limit)]


def _pack(parts: list[str], limit: int) -> list[str]:
    """Join neighbouring parts greedily: fewer requests, and fewer unnatural pauses between them."""
    pieces: list[str] = []
    for part in parts:
        for sub in split_pieces(part, limit):
            if pieces and len(pieces[-1]) + 1 + len(sub) <= limit:
                pieces[-1] += " " + sub
            else:
                pieces.append(sub)
    return pieces


def decode_mp3(data: bytes, sample_rate: int = SAMPLE_RATE) -> npt.NDArray[np.float32]:
    """Mono float32 at ``sample_rate`` from encoded audio bytes; raises ValueError or av.FFmpegError."""
    if not data:
        raise ValueError("empty response")
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            raise ValueError("no audio stream in the response")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=sample_rate)
        parts = [out.to_ndarray()[0] for frame in container.decode(stream) for out in resampler.resample(frame)]
        parts += [out.to_ndarray()[0] for out in resampler.resample(None)]
    if not parts:
        raise ValueError("no audio frames in the response")
    # MP3 decoders overshoot full scale slightly; clipping keeps the [-1, 1] contract without
    # changing the level, which the engine interface forbids.
    return np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32)


def _unknown_voice(engine: str, voice: str, choices: Iterable[str]) -> EngineError:
    return EngineError(
        f"{engine} has no voice {voice!r}; choose one of {', '.join(choices)}", engine=engine, voice=voice
    )


class GttsEngine:
    """Google Translate's read-aloud endpoint over HTTPS; ``speed`` only switches between normal and slow."""

    version = "1"  # the endpoint is unversioned; bump when the requests we send change
    backoff_seconds = 0.5

    def __init__(
        self,
        voice: str = "en",
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 2,
    ) -> None:
        if voice not in GTTS_VOICES:
            raise _unknown_voice("gtts", voice, GTTS_VOICES)
        import httpx

        self.voice = voice
        self.lang, tld = GTTS_VOICES[voice]
        self.url = f"https://translate.google.{tld}/translate_tts"
        self.client = httpx.Client(timeout=20, follow_redirects=True, transport=transport)
        self.sleep = sleep
        self.retries = max(0, retries)

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        ttsspeed = "0.3" if settings.speed < GTTS_SLOW_BELOW else "1"
        for sentence in split_sentences(text):
            audio = [self._speak(piece, ttsspeed) for piece in split_pieces(sentence)]
            if audio:
                yield AudioChunk(np.concatenate(audio), SAMPLE_RATE, sentence)

    def _speak(self, piece: str, ttsspeed: str) -> npt.NDArray[np.float32]:
        params = {"ie": "UTF-8", "q": piece, "tl": self.lang, "client": "tw-ob", "ttsspeed": ttsspeed}
        data = self._fetch(params)
        try:
            return decode_mp3(data)
        except (av.FFmpegError, ValueError) as exc:
            raise self._error(f"the answer to {piece[:40]!r} is not audio ({exc})") from exc

    def _fetch(self, params: dict[str, str]) -> bytes:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                response = self.client.get(self.url, params=params)
            except httpx.HTTPError as exc:
                raise self._error(f"request to {self.url} failed ({exc})") from exc
            status = response.status_code
            if status == 200:
                return response.content
            # 429 and 5xx are usually momentary (rate limits, a busy frontend): worth another try
            if status in GTTS_RETRY_STATUS and attempt < self.retries:
                self.sleep(self.backoff_seconds * 2**attempt)
                continue
            break
        raise self._error(f"{self.url} answered HTTP {status} after {attempt + 1} request(s)")

    def _error(self, what: str) -> EngineError:
        return EngineError(f"gtts: {what} ({_NETWORK_HINT.format(engine='gtts')})", engine="gtts", voice=self.voice)


def _edge_errors() -> tuple[type[BaseException], ...]:
    """What a failed edge_tts stream raises; built lazily because both packages are optional."""
    errors: list[type[BaseException]] = [OSError]  # includes TimeoutError and socket errors
    try:
        from edge_tts.exceptions import EdgeTTSException

        errors.append(EdgeTTSException)
    except ImportError:
        pass
    try:
        import aiohttp

        errors.append(aiohttp.ClientError)
    except ImportError:
        pass
    return tuple(errors)


def edge_rate(speed: float) -> str:
    """edge_tts's rate string ("+25%") for a speed multiplier."""
    return f"{round((speed - 1.0) * 100):+d}%"


class EdgeEngine:
    """Microsoft Edge's online neural voices through ``edge-tts``, one request per sentence."""

    version = "1"

    def __init__(self, voice: str = EDGE_VOICES[0], *, communicate: Callable[..., Any] | None = None) -> None:
        if voice not in EDGE_VOICES:
            raise _unknown_voice("edge", voice, EDGE_VOICES)
        if communicate is None:
            from edge_tts import Communicate

            communicate = Communicate
        self.voice = voice
        self.communicate = communicate
        self.errors = _edge_errors()

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        rate = edge_rate(settings.speed)
        for sentence in split_sentences(text):
            yield AudioChunk(self._speak(sentence, rate), SAMPLE_RATE, sentence)

    def _speak(self, sentence: str, rate: str) -> npt.NDArray[np.float32]:
        try:
            data = _run_coroutine(self._stream(sentence, rate))
        except self.errors as exc:
            raise self._error(f"streaming {sentence[:40]!r} failed ({type(exc).__name__}: {exc})") from exc
        try:
            return decode_mp3(data)
        except (av.FFmpegError, ValueError) as exc:
            raise self._error(f"the audio for {sentence[:40]!r} cannot be decoded ({exc})") from exc

    async def _stream(self, sentence: str, rate: str) -> bytes:
        parts: list[bytes] = []
        async for chunk in self.communicate(sentence, self.voice, rate=rate).stream():
            if chunk.get("type") == "audio":  # the rest is word/sentence boundary metadata
                parts.append(chunk["data"])
        return b"".join(parts)

    def _error(self, what: str) -> EngineError:
        return EngineError(f"edge: {what} ({_NETWORK_HINT.format(engine='edge')})", engine="edge", voice=self.voice)


T = TypeVar("T")


def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """A fresh event loop per sentence: callers are synchronous, but one may already run a loop in
    this thread (a studio request, a playwright test), where asyncio.run refuses; use a thread then."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
