"""Audio encoded packet by packet: a reader's frames through an encoder, and packets placed on a stream's clock.

Shared by the two ways an MP3 or AAC stream is put together from parts (splice.py, halves.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

import av
from av.audio.codeccontext import AudioCodecContext
from av.audio.stream import AudioStream

PRIMING_FRAMES = 8  # an encoder started mid-stream starts this many codec frames before its first kept packet

FrameAt = Callable[[int, int, int], av.AudioFrame]  # (start, stop, pts): the reader's frames [start, stop)


def encoded(
    coder: AudioStream | AudioCodecContext, frames: int, frame_at: FrameAt, push: int, start: int
) -> Iterator[av.Packet]:  # fmt: skip
    """The packets of audio frames [start, frames), read ``push`` at a time, encoded by ``coder`` and flushed."""
    for first in range(start, frames, push):
        yield from coder.encode(frame_at(first, min(first + push, frames), first - start))
    yield from coder.encode(None)


def retime(packet: av.Packet, stream: AudioStream, pts: int, rate: int) -> None:
    packet.stream = stream
    packet.time_base = Fraction(1, rate)
    packet.pts = packet.dts = pts
