"""Media files as users really have them when something is wrong: each maker writes one bad file."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image


def tone_wav(path: Path, seconds: float = 0.5, rate: int = 48_000, channels: int = 1, freq: float = 440.0) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(pcm[:, None], channels, axis=1).tobytes())
    return path


def float_wav(path: Path, samples: np.ndarray, rate: int = 48_000) -> Path:
    """Mono 32-bit float WAV: the format a DAW exports with peaks above full scale intact."""
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
    path.write_bytes(header + b"data" + struct.pack("<I", len(data)) + data)
    return path


def _wav_header(rate: int, channels: int, frames: int) -> bytes:
    data = frames * channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * channels * 2) & 0xFFFFFFFF, channels * 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data)
    )


def png_bytes(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (0, 200, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` with one tiny compressed row: a decompression bomb's shape."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\x00" * (width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def mp3_bytes(tmp: Path) -> bytes:
    path = tmp / "_tone.mp3"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libmp3lame", rate=48_000, layout="stereo")
        t = np.arange(48_000) / 48_000
        pcm = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :], 2, axis=0)
        frame = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="stereo")
        frame.sample_rate = 48_000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


def surround_wav(path: Path) -> Path:
    """Six channels (5.1), 0.5 s, a tone in every channel."""
    return tone_wav(path, channels=6)


Maker = Callable[[Path], bytes | None]

#: Audio files (music or sound effects): name → bytes to write (None: written by the maker itself).
BAD_AUDIO: dict[str, Callable[[Path], bytes]] = {
    "zero-length.wav": lambda tmp: b"",
    "text-as.wav": lambda tmp: b"this is not audio, just a note\n" * 4,
    "png-as.mp3": lambda tmp: png_bytes(),
    "truncated-header.wav": lambda tmp: _wav_header(48_000, 1, 48_000)[:30],
    "header-only.wav": lambda tmp: _wav_header(48_000, 1, 0),
    "huge-rate.wav": lambda tmp: _wav_header(4_000_000_000, 1, 4800) + b"\x00\x10" * 4800,
    "rate-1mhz.wav": lambda tmp: _wav_header(1_000_000, 1, 4800) + b"\x00\x10" * 4800,
    "64-channels.wav": lambda tmp: _wav_header(48_000, 64, 480) + b"\x00\x10" * 480 * 64,
    "truncated.mp3": lambda tmp: mp3_bytes(tmp)[:300],
    "garbage.flac": lambda tmp: b"fLaC" + bytes(range(256)) * 8,
}

#: Image files (avatars, portraits, cover art).
BAD_IMAGES: dict[str, Callable[[Path], bytes]] = {
    "zero-length.png": lambda tmp: b"",
    "text-as.png": lambda tmp: b"a portrait of Sam, to be added\n",
    "wav-as.jpg": lambda tmp: _wav_header(48_000, 1, 100) + b"\x00" * 200,
    "truncated.png": lambda tmp: png_bytes(256, 256)[:120],
    "bomb-20000.png": lambda tmp: bomb_png(20_000, 20_000),
    "bomb-10000.png": lambda tmp: bomb_png(10_000, 10_000),  # Pillow only warns at this size
    "too-wide.png": lambda tmp: bomb_png(40_000, 16),
    "bad-crc.png": lambda tmp: png_bytes()[:-5] + b"\x00\x00\x00\x00\x00",
}


def write_all(folder: Path, makers: dict[str, Callable[[Path], bytes]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in makers.items():
        path = folder / name
        path.write_bytes(make(folder))
        paths.append(path)
    return paths
