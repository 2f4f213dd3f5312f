"""Measuring rendered media the way a listener's tools would: decode with PyAV, then measure."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import psutil
from mutagen.id3 import ID3

from podforge.audio.export import decode_audio
from podforge.audio.master import integrated_lufs
from podforge.timeline import Timeline
from podforge.visuals.visualizers import AudioFeatures


def rgb_frames(path: Path) -> list[np.ndarray]:
    """Every decoded video frame as int16 RGB (so frame differences do not wrap)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)]


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


def top_level_boxes(path: Path) -> list[str]:
    """The types of an MP4's top-level boxes, in file order."""
    data, boxes, at = path.read_bytes(), [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:  # a 64-bit size follows the type
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - at
        boxes.append(kind.decode("latin-1"))
        at += size
    return boxes


def tone_features(tl: Timeline, gate_hz: float, fps: int = 25) -> AudioFeatures:
    """Stereo features as long as ``tl``: a 220 Hz tone (0.3 peak) switched on and off ``gate_hz`` times a second."""
    t = np.arange(tl.duration, dtype=np.float32) / tl.sample_rate
    mono = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * gate_hz * t) > 0)).astype(np.float32)
    return AudioFeatures(np.stack([mono, mono], axis=1), tl.sample_rate, fps)


def rss_growth(frames: Iterable[np.ndarray], warmup: int, count: int, shape: tuple[int, ...]) -> int:
    """Bytes this process's RSS grew between frame ``warmup`` and frame ``count - 1`` (counting from 0).

    Checks every frame's shape on the way, stops after ``count`` frames and fails if fewer came.
    """
    assert 0 <= warmup < count
    process, baseline, seen = psutil.Process(), 0, 0
    for i, frame in enumerate(frames):
        if i == warmup:
            baseline = process.memory_info().rss
        assert frame.shape == shape
        seen = i + 1
        if seen == count:
            break
    assert seen == count, f"only {seen} of {count} frames"
    return process.memory_info().rss - baseline


def cpu_time(frames: Iterable[object]) -> tuple[int, float]:
    """(how many, process CPU seconds spent) drawing every one of ``frames``."""
    start = time.process_time()
    count = sum(1 for _ in frames)
    return count, time.process_time() - start


def syllables(rng: np.random.Generator, n: int, rate: int, length: tuple[float, float], level: tuple[float, float],
              gap: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """A speech-like envelope of ``n`` samples: Hann "syllables" of ``length`` seconds at ``level``, apart by
    ``gap`` seconds of digital silence (each drawn uniformly from its range)."""
    envelope = np.zeros(n)
    pos = 0
    while pos < n:
        size = min(int(rng.uniform(*length) * rate), n - pos)
        envelope[pos : pos + size] = np.hanning(size) * rng.uniform(*level)
        pos += size + int(rng.uniform(*gap) * rate)
    return envelope


def snr(ref: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10((ref**2).sum() / ((ref - y) ** 2).sum()))


def xing(path: Path) -> tuple[int, int, int]:
    """(frame count, encoder delay, end padding) from the MP3's Xing/LAME header (what players trim by)."""
    data = path.read_bytes()
    start = 10 + ID3(path).size - 10 if data[:3] == b"ID3" else 0
    frame = data[start : start + 1000]
    at = max(frame.find(b"Xing"), frame.find(b"Info"))
    flags = int.from_bytes(frame[at + 4 : at + 8], "big")
    assert flags & 1
    frames = int.from_bytes(frame[at + 8 : at + 12], "big")
    tag = at + 8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4) + 4 * bool(flags & 8)
    packed = int.from_bytes(frame[tag + 21 : tag + 24], "big")
    return frames, packed >> 12, packed & 0xFFF
