"""hibari-tts: a small Kokoro-distilled model (24 kHz). "heart" ships inside the wheel; other hibari voices count
only once hibari's own tools have put them in its cache (HIBARI_HOME), and a hibari ``.onnx`` can be named by path.

The model predicts vocoder parameters (an F0 curve and per-frame spectral envelopes) that hibari's DSP turns into
audio, so a derived voice (``settings.pitch``/``formant``) is made on those parameters before resynthesis: the
same source-filter change WORLD would make on the output, without analysing it again (see voices/derive.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import EngineError
from ..gpu import OnnxDevice, use_onnx_device
from .base import AudioChunk, VoiceSettings
from .derive import Derivation, warp_envelope


def installed_voices() -> dict[str, dict[str, object]]:
    """hibari voices usable offline: bundled, or already downloaded by hibari into its cache; never fetched."""
    try:
        from hibari.voices import VOICES, cache_dir
    except ImportError:
        return {}
    return {
        name: info
        for name, info in VOICES.items()
        if info.get("bundled") or os.path.isfile(os.path.join(cache_dir(), str(info["file"])))
    }


class HibariEngine:
    derives_natively = True

    def __init__(self, voice: str = "heart", device: OnnxDevice | None = None) -> None:
        import hibari

        self.version = hibari.__version__
        if voice.endswith(".onnx"):  # a voice file by path: same architecture, the default (American) G2P
            self.model = hibari.Hibari(model=voice, threads=1)
        elif voice not in installed_voices():
            raise EngineError(
                f"hibari voice {voice!r} is not on this machine (installed: {', '.join(installed_voices())}); "
                f"install it with hibari's own tools (`hibari --voice {voice} ...` downloads it once), "
                "podforge never downloads",
                engine="hibari",
                voice=voice,
            )
        else:
            self.model = hibari.Hibari(voice=voice, threads=1)
        # Hibari opens its session on the CPU provider; its `sess` is moved when a GPU is to be used.
        self.providers = use_onnx_device(self.model.sess, device or OnnxDevice(), "hibari")

    def synthesize(self, text: str, settings: VoiceSettings) -> Iterator[AudioChunk]:
        derivation = Derivation(settings.pitch, settings.formant)
        for sentence in self.model.split_sentences(text):
            if derivation.identity:
                audio = self.model(sentence, speed=settings.speed, seed=settings.seed)
            else:
                audio = self._derived(sentence, settings, derivation)
            if audio.size:
                yield AudioChunk(np.asarray(audio, np.float32), self.model.sample_rate, sentence)

    def _derived(self, sentence: str, settings: VoiceSettings, derivation: Derivation) -> np.ndarray:
        """What ``Hibari.__call__`` does, with F0 scaled and the envelopes warped before hibari's DSP."""
        from hibari import dsp

        rng = np.random.default_rng(settings.seed)
        parts = [np.zeros(0, np.float32)]
        for phonemes in self.model.phonemize(sentence):
            ids = self.model.ids(phonemes)
            if len(ids) < 3:
                continue
            inputs = {"ids": np.asarray([ids], np.int64), "speed": np.asarray([settings.speed], np.float32)}
            harmonic, tilt, noise, residual, phase, f0 = (o[0] for o in self.model.sess.run(None, inputs))
            harmonic, noise, residual = (warp_envelope(e, derivation.formant) for e in (harmonic, noise, residual))
            parts.append(dsp.synth(harmonic, tilt, noise, residual, phase, f0 * derivation.pitch_ratio, rng))
        return np.concatenate(parts)


def voice_file_rate(path: Path) -> int:
    """Load a hibari voice file and say its sample rate; raises whatever onnxruntime raises for a bad file."""
    import hibari

    model = hibari.Hibari(model=str(path), threads=1)
    inputs = {i.name for i in model.sess.get_inputs()}
    if inputs != {"ids", "speed"}:
        raise ValueError(f"its inputs are {sorted(inputs)}, not a hibari model's (ids, speed)")
    return int(model.sample_rate)


def phoneme_symbols(voice: str) -> frozenset[str]:
    """The misaki symbols hibari's model has ids for (its vocabulary; every hibari voice shares it): a lexicon
    entry's ``hibari:`` phonemes must use only these, since hibari leaves the others out without a word."""
    import json

    import hibari

    vocab = Path(hibari.__file__).parent / "assets" / "vocab.json"
    return frozenset(json.loads(vocab.read_text(encoding="utf-8"))) | {" "}
