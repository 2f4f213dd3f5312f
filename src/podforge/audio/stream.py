"""Audio read by slices: an array in memory, a raw float32 file, or a cached int16 ``.npy``.

The episode is mixed, mastered and encoded block by block through these, so no stage holds the whole
episode; a reader is small and picklable, so a worker process (the MP3 encoder) can read the same file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]
BLOCK_FRAMES = 1 << 17  # what the stages read and write at a time: ~2.7 s at 48 kHz, a multiple of master's chunk


class AudioReader(Protocol):
    """Audio of ``frames`` frames and ``channels`` channels at ``rate``, read by slices."""

    @property
    def rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def frames(self) -> int: ...
    def read(self, start: int, stop: int) -> Audio:
        """Frames ``[start, stop)`` (clipped to the audio) as (n, channels) float32."""
        ...


class AudioSink(AudioReader, Protocol):
    """A reader whose frames can also be written, a block at a time."""

    def write(self, start: int, block: Audio) -> None: ...


def as_reader(samples: npt.ArrayLike | AudioReader, rate: int) -> AudioReader:
    """A reader as it is; (n,) or (n, channels) audio as an ArrayAudio (mono as one channel)."""
    if isinstance(samples, ArrayAudio | RawAudio | NpyAudio | LazyAudio):
        return samples
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim not in (1, 2):
        raise ValueError(f"audio must be shaped (n,) or (n, channels), got {x.shape}")
    return ArrayAudio(np.ascontiguousarray(x[:, None] if x.ndim == 1 else x), rate)


def blocks(reader: AudioReader, size: int = BLOCK_FRAMES) -> Iterator[tuple[int, Audio]]:
    """(first frame, frames) of every block, in order."""
    for start in range(0, reader.frames, size):
        yield start, reader.read(start, start + size)


def read_mono(reader: AudioReader, start: int, stop: int) -> Audio:
    samples = reader.read(start, stop)
    return samples[:, 0].copy() if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)


@dataclass(frozen=True)
class MonoSlices:
    """The mono mix of a reader, read by ``[a:b]`` slices (what the video's chunk planning takes)."""

    reader: AudioReader

    def __len__(self) -> int:
        return self.reader.frames

    def __getitem__(self, span: slice) -> Audio:
        if not isinstance(span, slice) or span.step not in (None, 1):
            raise TypeError("MonoSlices reads contiguous slices only")
        start, stop, _ = span.indices(self.reader.frames)
        return read_mono(self.reader, start, stop)


@dataclass(frozen=True)
class ArrayAudio:
    """An (n, channels) float32 array in memory as a reader, and a sink ``write`` fills."""

    samples: Audio
    rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    def read(self, start: int, stop: int) -> Audio:
        return self.samples[max(0, start) : max(0, stop)]

    def write(self, start: int, block: Audio) -> None:
        self.samples[start : start + block.shape[0]] = block


@dataclass(frozen=True)
class RawAudio:
    """Interleaved float32 frames in a headerless file (a render's scratch file)."""

    path: Path
    rate: int
    channels: int
    frames: int

    @classmethod
    def create(cls, path: Path, rate: int, channels: int, frames: int) -> RawAudio:
        """A zero-filled file of ``frames`` frames (sparse where the file system allows)."""
        with path.open("wb") as handle:
            handle.truncate(frames * channels * 4)
        return cls(path, rate, channels, frames)

    def read(self, start: int, stop: int) -> Audio:
        start, stop = max(0, min(start, self.frames)), max(0, min(stop, self.frames))
        count = max(0, stop - start) * self.channels
        data = np.fromfile(self.path, dtype="<f4", count=count, offset=start * self.channels * 4)
        return data.astype(np.float32, copy=False).reshape(-1, self.channels)

    def write(self, start: int, block: Audio) -> None:
        with self.path.open("r+b") as handle:
            handle.seek(start * self.channels * 4)
            handle.write(np.ascontiguousarray(block, dtype="<f4").tobytes())


@dataclass(frozen=True)
class LazyAudio:
    """A reader whose audio is made (a mix, a cache entry copied out) on the first read, if ever."""

    rate: int
    channels: int
    frames: int
    make: Callable[[], AudioReader] = field(repr=False, compare=False)

    @functools.cached_property
    def _made(self) -> AudioReader:
        return self.make()

    def read(self, start: int, stop: int) -> Audio:
        return self._made.read(start, stop)


@dataclass(frozen=True)
class NpyAudio:
    """A 2-D float32 or int16 ``.npy`` file (a cached bed, the cached master) read by slices as float32, int16
    scaled to [-1, 1]."""

    path: Path
    rate: int
    channels: int
    frames: int
    offset: int  # where the data starts, after the header
    dtype: str

    @classmethod
    def open(cls, path: Path, rate: int) -> NpyAudio:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            fmt = np.lib.format
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
        if dtype.str not in ("<i2", "<f4") or fortran or len(shape) != 2:
            raise ValueError(f"{path}: not a C-ordered 2-D int16 or float32 array")
        return cls(path, rate, int(shape[1]), int(shape[0]), offset, dtype.str)

    def read(self, start: int, stop: int) -> Audio:
        start, stop = max(0, min(start, self.frames)), max(0, min(stop, self.frames))
        count, width = max(0, stop - start) * self.channels, np.dtype(self.dtype).itemsize
        data = np.fromfile(self.path, dtype=self.dtype, count=count, offset=self.offset + start * self.channels * width)
        if self.dtype == "<f4":
            return data.astype(np.float32, copy=False).reshape(-1, self.channels)
        return (data.astype(np.float32) / np.float32(32767)).reshape(-1, self.channels)


def write_int16_npy(path: Path, reader: AudioReader) -> None:
    """``reader`` rounded to int16 as a ``.npy`` file, written by blocks."""
    header = {"descr": "<i2", "fortran_order": False, "shape": (reader.frames, reader.channels)}
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for _, block in blocks(reader):
            handle.write(np.round(block * 32767).astype("<i2").tobytes())
