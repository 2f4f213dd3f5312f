"""The cloud voices (gtts, edge) against fake network layers: real MP3 decoding, never a real request."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

from podforge.audio.export import write_mp3
from podforge.errors import EngineError
from podforge.voices.base import AudioChunk, VoiceSettings
from podforge.voices.cloud import (
    EDGE_VOICES,
    GTTS_MAX_CHARS,
    SAMPLE_RATE,
    EdgeEngine,
    GttsEngine,
    edge_rate,
    split_pieces,
)
from podforge.voices.registry import DEFAULT_VOICES, ENGINES, check_voice, default_voices

try:  # the gtts extra; without it only the gtts tests skip
    import httpx
except ImportError:
    httpx = None  # type: ignore[assignment]

needs_httpx = pytest.mark.skipif(httpx is None, reason="needs the gtts extra (httpx)")
needs_edge_tts = pytest.mark.skipif(importlib.util.find_spec("edge_tts") is None, reason="needs the edge extra")

TONE_SECONDS = 0.5
SENTENCES = "Welcome to the show. Today we talk about tiny machines."
LONG_SENTENCE = (
    "This sentence is deliberately long, so long that the endpoint cannot take it in one request, "
    "and so the engine has to cut it at commas; then at spaces if it must, and still speak it as one chunk."
)


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real MP3 as the services send it: a 440 Hz sine tone, mono at SAMPLE_RATE (24 kHz), 48 kbit/s LAME."""
    t = np.arange(int(TONE_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    samples = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    return write_mp3(tmp_path_factory.mktemp("tone") / "tone.mp3", samples, SAMPLE_RATE, bitrate=48_000).read_bytes()


def assert_contract(chunks: list[AudioChunk], sentences: int) -> None:
    """The checks test_voices.test_engine_contract makes on offline engines."""
    assert len(chunks) == sentences, "one chunk per sentence"
    for chunk in chunks:
        assert isinstance(chunk, AudioChunk)
        assert chunk.samples.dtype == np.float32 and chunk.samples.ndim == 1
        assert chunk.sample_rate == SAMPLE_RATE
        assert np.all(np.isfinite(chunk.samples)) and np.max(np.abs(chunk.samples)) <= 1.0
        assert np.sqrt(np.mean(chunk.samples**2)) > 0.1  # the tone (RMS 0.35) survived decoding


def gtts(handler: Callable[[Any], Any], voice: str = "en-gb", sleeps: list[float] | None = None) -> GttsEngine:
    sleep = (sleeps.append) if sleeps is not None else (lambda s: None)
    return GttsEngine(voice, transport=httpx.MockTransport(handler), sleep=sleep)


class Recorder:
    """A MockTransport handler: answers each request from a script of (status, body) or exceptions."""

    def __init__(self, *answers: tuple[int, bytes] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[Any] = []

    def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer[0], content=answer[1])


@needs_httpx
def test_gtts_requests_and_decodes_one_chunk_per_sentence(mp3: bytes) -> None:
    handler = Recorder((200, mp3))
    chunks = list(gtts(handler).synthesize(SENTENCES, VoiceSettings()))
    assert_contract(chunks, 2)
    assert [c.text for c in chunks] == ["Welcome to the show.", "Today we talk about tiny machines."]
    for chunk in chunks:
        assert abs(chunk.samples.size / SAMPLE_RATE - TONE_SECONDS) < 0.08
    assert len(handler.requests) == 2
    request = handler.requests[0]
    assert request.method == "GET"
    assert request.url.host == "translate.google.co.uk" and request.url.path == "/translate_tts"
    params = request.url.params
    assert params["q"] == "Welcome to the show." and params["tl"] == "en" and params["client"] == "tw-ob"
    assert params["ie"] == "UTF-8" and params["ttsspeed"] == "1"


@needs_httpx
@pytest.mark.parametrize(("voice", "host"), [("en", "com"), ("en-us", "com"), ("en-au", "com.au"), ("en-in", "co.in")])
def test_gtts_accent_picks_the_regional_domain(mp3: bytes, voice: str, host: str) -> None:
    handler = Recorder((200, mp3))
    list(gtts(handler, voice).synthesize("Hi.", VoiceSettings()))
    assert handler.requests[0].url.host == f"translate.google.{host}"


@needs_httpx
def test_gtts_slow_speed(mp3: bytes) -> None:
    handler = Recorder((200, mp3))
    list(gtts(handler).synthesize("Slowly now.", VoiceSettings(speed=0.6)))
    assert handler.requests[0].url.params["ttsspeed"] == "0.3"


@needs_httpx
def test_gtts_long_sentence_is_split_into_requests_but_one_chunk(mp3: bytes) -> None:
    handler = Recorder((200, mp3))
    chunks = list(gtts(handler).synthesize(LONG_SENTENCE, VoiceSettings()))
    queries = [r.url.params["q"] for r in handler.requests]
    assert len(LONG_SENTENCE) > GTTS_MAX_CHARS and len(queries) >= 2
    assert all(0 < len(q) <= GTTS_MAX_CHARS for q in queries)
    assert " ".join(queries) == LONG_SENTENCE
    assert_contract(chunks, 1)
    assert abs(chunks[0].samples.size / SAMPLE_RATE - len(queries) * TONE_SECONDS) < 0.08 * len(queries)


def test_split_pieces_prefers_clauses_then_spaces_then_hard_cuts() -> None:
    assert split_pieces("a b, c d e f", limit=8) == ["a b,", "c d e f"]  # not "a b, c d" + "e f"
    assert split_pieces("a, b; c", limit=6) == ["a, b;", "c"]
    assert split_pieces("one two three four", limit=9) == ["one two", "three", "four"]
    assert split_pieces("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_pieces("   ") == []


@needs_httpx
def test_gtts_retries_server_errors(mp3: bytes) -> None:
    handler, sleeps = Recorder((500, b"busy"), (200, mp3)), list[float]()
    chunks = list(gtts(handler, sleeps=sleeps).synthesize("Hello there.", VoiceSettings()))
    assert_contract(chunks, 1)
    assert len(handler.requests) == 2 and len(sleeps) == 1


@needs_httpx
def test_gtts_gives_up_after_two_retries() -> None:
    handler, sleeps = Recorder((429, b"slow down")), list[float]()
    with pytest.raises(EngineError, match=r"gtts: .*HTTP 429.*network connection") as caught:
        list(gtts(handler, sleeps=sleeps).synthesize("Hello there.", VoiceSettings()))
    assert len(handler.requests) == 3 and sleeps == [0.5, 1.0]
    assert caught.value.engine == "gtts" and caught.value.voice == "en-gb"


@needs_httpx
@pytest.mark.parametrize(
    "answer",
    [(404, b"not found"), (200, b"<html>unusual traffic</html>"), (200, b""), "connect-error"],
    ids=["404", "garbage", "empty", "connect-error"],
)
def test_gtts_failures_are_engine_errors(answer: tuple[int, bytes] | str) -> None:
    handler = Recorder(httpx.ConnectError("no route") if isinstance(answer, str) else answer)
    with pytest.raises(EngineError, match=r"^gtts: .*check your network connection; gtts is a cloud engine") as caught:
        list(gtts(handler).synthesize("Hello there.", VoiceSettings()))
    assert caught.value.engine == "gtts"
    assert len(handler.requests) == 1, "client errors and broken answers are not retried"
    if isinstance(answer, str):
        assert isinstance(caught.value.__cause__, httpx.ConnectError)


def fake_communicate(mp3: bytes, calls: list[tuple[str, str, str]], error: Exception | None = None) -> Callable:
    class FakeCommunicate:
        def __init__(self, text: str, voice: str, *, rate: str = "+0%") -> None:
            calls.append((text, voice, rate))

        async def stream(self) -> AsyncIterator[dict[str, Any]]:
            yield {"type": "WordBoundary", "offset": 0, "duration": 100, "text": "x"}
            if error is not None:
                raise error
            yield {"type": "audio", "data": mp3[: len(mp3) // 2]}
            yield {"type": "audio", "data": mp3[len(mp3) // 2 :]}

    return FakeCommunicate


def test_edge_streams_and_decodes_one_chunk_per_sentence(mp3: bytes) -> None:
    calls: list[tuple[str, str, str]] = []
    engine = EdgeEngine("en-GB-SoniaNeural", communicate=fake_communicate(mp3, calls))
    chunks = list(engine.synthesize(SENTENCES, VoiceSettings(speed=1.25)))
    assert_contract(chunks, 2)
    for chunk in chunks:
        assert abs(chunk.samples.size / SAMPLE_RATE - TONE_SECONDS) < 0.08
    assert calls == [
        ("Welcome to the show.", "en-GB-SoniaNeural", "+25%"),
        ("Today we talk about tiny machines.", "en-GB-SoniaNeural", "+25%"),
    ]


def test_edge_speaks_when_the_caller_already_runs_an_event_loop(mp3: bytes) -> None:
    """A studio request handler or a playwright test runs a loop in this thread; asyncio.run alone refuses."""
    engine = EdgeEngine("en-GB-SoniaNeural", communicate=fake_communicate(mp3, []))

    async def inside_a_loop() -> list[AudioChunk]:
        return list(engine.synthesize(SENTENCES, VoiceSettings()))

    assert_contract(asyncio.run(inside_a_loop()), 2)


def test_edge_rate_strings() -> None:
    assert [edge_rate(s) for s in (1.0, 0.8, 1.5)] == ["+0%", "-20%", "+50%"]


def edge_failures() -> list[Exception]:
    """What edge_tts streams raise; its own and aiohttp's exceptions only where the edge extra is installed."""
    failures: list[Exception] = [OSError("unreachable"), TimeoutError()]
    if importlib.util.find_spec("edge_tts") is not None:
        import aiohttp
        from edge_tts.exceptions import NoAudioReceived

        failures += [NoAudioReceived("nothing"), aiohttp.ClientConnectionError("down")]
    return failures


@pytest.mark.parametrize("error", edge_failures(), ids=lambda e: type(e).__name__)
def test_edge_failures_are_engine_errors(mp3: bytes, error: Exception) -> None:
    engine = EdgeEngine(communicate=fake_communicate(mp3, [], error))
    with pytest.raises(EngineError, match=r"^edge: .*check your network connection; edge is a cloud engine") as caught:
        list(engine.synthesize("Hello there.", VoiceSettings()))
    assert caught.value.engine == "edge" and caught.value.voice == EDGE_VOICES[0]
    assert caught.value.__cause__ is error


def test_edge_without_audio_is_an_engine_error() -> None:
    engine = EdgeEngine(communicate=fake_communicate(b"", []))
    with pytest.raises(EngineError, match=r"edge: .*cannot be decoded"):
        list(engine.synthesize("Hello there.", VoiceSettings()))


@pytest.mark.parametrize(("factory", "voice"), [(GttsEngine, "fr"), (EdgeEngine, "en-US-JennyNeural")])
def test_unknown_cloud_voice(factory: Callable[[str], Any], voice: str) -> None:
    with pytest.raises(EngineError, match="choose one of"):
        factory(voice)


def test_cloud_engines_are_registered_online_and_never_default() -> None:
    assert not ENGINES["gtts"].offline and not ENGINES["edge"].offline
    assert ENGINES["edge"].voices == EDGE_VOICES and ENGINES["edge"].install_hint() == "pip install 'podforge[edge]'"
    for voice_id in (*DEFAULT_VOICES, *default_voices()):
        assert ENGINES[voice_id.split(":")[0]].offline, voice_id


@needs_httpx
@needs_edge_tts
def test_cloud_voices_pass_check_voice_when_their_extras_are_installed() -> None:
    check_voice("edge:en-GB-RyanNeural")
    check_voice("gtts:en-gb")
