"""Measuring rendered media the way a listener's tools would: decode with PyAV, then measure."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from podforge.audio.export import decode_audio
from podforge.audio.master import integrated_lufs


def decoded(path: Path, rate: int = 48_000) -> np.ndarray:
    return decode_audio(path, rate)


def true_peak_8x(samples: np.ndarray) -> float:
    """An independent true-peak reading: 8x oversampling, as strict as the spec asks."""
    from scipy.signal import resample_poly

    peak = max(float(np.max(np.abs(resample_poly(samples[:, ch], 8, 1)))) for ch in range(samples.shape[1]))
    return 20 * np.log10(peak)


def loudness(samples: np.ndarray, rate: int = 48_000) -> float:
    return integrated_lufs(samples, rate)


def audio_stream_info(path: Path) -> tuple[str, int, float]:
    """(codec, bit rate, duration seconds) of the first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        duration = float(container.duration or 0) / av.time_base
        return stream.codec.canonical_name, int(container.bit_rate or 0), duration


def recognise(samples: np.ndarray, rate: int = 48_000) -> str:
    """What pocketsphinx's bundled US English model hears, lower case."""
    from pocketsphinx import Decoder
    from scipy.signal import resample_poly

    mono = resample_poly(samples.mean(axis=1), 1, rate // 16_000)
    pcm = (np.clip(mono, -1, 1) * 32767).astype("<i2").tobytes()
    decoder = Decoder(samprate=16_000)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return (decoder.hyp().hypstr if decoder.hyp() else "").lower()
