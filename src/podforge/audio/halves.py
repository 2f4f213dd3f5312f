"""A long MP3 encoded as two halves at once, on two threads, joined where the bit reservoir allows.

LAME is single-threaded, and an audio-only render ends waiting for it (a quarter of a 10-minute episode's
render, half of a one-line edit's). PyAV 18 lets go of the GIL while LAME encodes, so a second encoder on a
thread runs on the other core. What they share is whatever is to be encoded: a whole episode, or the part
after an edit (splice.py).

A whole episode's encoders keep the bit reservoir, which the join must respect: a frame's main data may begin
up to 511 bytes before its own header (``main_data_begin``), inside the frames before it. The second encoder
starts PRIMING_FRAMES before the middle on the same frame grid, as an edit's does, so by the middle it has
seen what the first saw. The join is the first frame K of the WINDOW frames from the middle where the second
encoder's frame K borrows no more bytes than the first encoder's stream leaves unused before K (its own frame
K's ``main_data_begin``). Those bytes are copied from the second stream over the first's unused tail, and the
second encoder's frames from K on follow. Where no frame in the window allows it, the first encoder goes on
alone and the file is a single pass. An edit's encoders run without the reservoir: they join at the middle.
"""

from __future__ import annotations

import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

import av
from av.audio.codeccontext import AudioCodecContext
from av.audio.stream import AudioStream
from av.container import OutputContainer

from .packets import PRIMING_FRAMES, FrameAt, encoded, retime

WINDOW = 48  # frames from the middle where a join is looked for (about a second)
HELD = 24  # the first half's latest packets, kept back for the join to write into (> 511 bytes of main data)
MIN_SECONDS = 30.0  # shorter audio is encoded in one pass: a second encoder would save well under a second
_EARLY = PRIMING_FRAMES + WINDOW + 1  # the second half's first packets, kept in memory for the join


@dataclass
class SecondHalf:
    """The second half's packets, from codec frame ``middle - PRIMING_FRAMES`` on, as its thread encodes them:
    spooled to a temporary file, the first _EARLY also kept in memory for the join to read."""

    middle: int
    spool: IO[bytes] = field(default_factory=tempfile.TemporaryFile)
    sizes: list[int] = field(default_factory=list)
    early: list[bytes] = field(default_factory=list)
    last: av.Packet | None = None  # the final packet, whole: it carries the end padding the muxer records
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)  # the early packets are in, or it ended
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def first(self) -> int:
        return self.middle - PRIMING_FRAMES

    def start(self, packets: Iterator[av.Packet]) -> None:
        self.thread = threading.Thread(target=self._run, args=(packets,), name="podforge-mp3-half", daemon=True)
        self.thread.start()

    def _run(self, packets: Iterator[av.Packet]) -> None:
        try:
            for packet in packets:
                if self.stop.is_set():
                    return
                self._keep(packet)
        except BaseException as exc:  # raised again where the halves are joined
            self.error = exc
        finally:
            self.ready.set()

    def _keep(self, packet: av.Packet) -> None:
        if self.last is not None:
            data = bytes(self.last)
            self.spool.write(data)
            self.sizes.append(len(data))
            if len(self.early) < _EARLY:
                self.early.append(data)
            else:
                self.ready.set()
        self.last = packet

    def finish(self) -> None:
        """Wait for the thread; raises what it raised."""
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the thread (where it still runs) and let go of the spool."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        self.spool.close()

    def packets(self, start: int) -> Iterator[av.Packet]:
        """Its packets from frame index ``start`` on, the final one with its side data."""
        self.spool.seek(0)
        for index, size in enumerate(self.sizes, self.first):
            data = self.spool.read(size)
            if index >= start:
                yield av.Packet(data)
        if self.last is not None:
            yield self.last


def start_second_half(
    encoder: AudioCodecContext, frames: int, frame_at: FrameAt, push: int, middle: int
) -> SecondHalf:  # fmt: skip
    """``encoder`` (opened) at work on a thread on audio frames from PRIMING_FRAMES codec frames before codec frame
    ``middle`` to ``frames``; ``close`` it when done."""
    half = SecondHalf(middle)
    half.start(encoded(encoder, frames, frame_at, push, half.first * encoder.frame_size))
    return half


def mux_fresh(
    container: OutputContainer, stream: AudioStream, packets: Iterator[av.Packet], first: int, keep: int, delay: int,
    half: SecondHalf | None = None,
) -> int | None:  # fmt: skip
    """Mux an encoder's ``packets`` (the first is codec frame ``first``) from codec frame ``keep`` on, on the
    stream's clock less ``delay``; with ``half``, the second half's packets follow from where the two join.
    The codec frame of the join, or None."""
    size, rate = stream.codec_context.frame_size, stream.codec_context.sample_rate
    middle, window = (half.middle, WINDOW) if half is not None else (0, 0)
    held: deque[av.Packet] = deque()
    for index, packet in enumerate(packets, first):
        if index < keep:
            continue
        retime(packet, stream, index * size - delay, rate)
        if half is not None and middle <= index < middle + window and _joins(bytes(packet), index, half):
            _lend_and_mux(container, held, half, index)
            for at, later in enumerate(half.packets(index), index):
                retime(later, stream, at * size - delay, rate)
                container.mux(later)
            return index
        if half is not None and index == middle + window:
            half.stop.set()  # no join: this encoder goes on alone
        held.append(packet)
        if len(held) > HELD:
            container.mux(held.popleft())
    for packet in held:
        container.mux(packet)
    return None


def _joins(frame: bytes, index: int, half: SecondHalf) -> bool:
    """Whether the second half's frame ``index`` borrows no more than the first half leaves unused before it."""
    half.ready.wait()
    at = index - half.first
    if half.error is not None or at >= len(half.early):
        return False
    borrowed = main_data_begin(half.early[at])
    return borrowed <= main_data_begin(frame) and borrowed <= len(_main_data(half.early[:at]))


def _lend_and_mux(container: OutputContainer, held: Sequence[av.Packet], half: SecondHalf, index: int) -> None:
    """Mux the first half's held packets, their unused tail holding what the second half's frame ``index``
    borrows; then wait for the second half to end."""
    at = index - half.first
    frames = [bytearray(bytes(packet)) for packet in held]
    lend(half.early[:at], frames, main_data_begin(half.early[at]))
    for packet, data in zip(held, frames, strict=True):
        packet.update(bytes(data))
        container.mux(packet)
    half.finish()


def main_data_begin(frame: bytes) -> int:
    """How many bytes before its main data region an MPEG audio layer III frame's main data begins."""
    at = _side_info(frame)
    if frame[1] & 0x08:  # MPEG-1: 9 bits
        return (frame[at] << 1) | (frame[at + 1] >> 7)
    return frame[at]  # MPEG-2 and 2.5: 8 bits


def _side_info(frame: bytes | bytearray) -> int:
    return 4 if frame[1] & 0x01 else 6  # a CRC (protection bit 0) sits between the header and the side info


def _data_start(frame: bytes | bytearray) -> int:
    """Where a frame's main data region (after the header, the CRC and the side information) begins."""
    mono = frame[3] >> 6 == 3
    mpeg1 = bool(frame[1] & 0x08)
    return _side_info(frame) + ((17 if mono else 32) if mpeg1 else (9 if mono else 17))


def _main_data(frames: Sequence[bytes]) -> bytes:
    """The frames' main data regions, one after another: the bytes a later frame may borrow from."""
    return b"".join(frame[_data_start(frame) :] for frame in frames)


def lend(source: Sequence[bytes], into: Sequence[bytearray], count: int) -> None:
    """Copy the last ``count`` bytes of ``source``'s main data regions over the last ``count`` of ``into``'s."""
    if count <= 0:
        return
    tail = _main_data(source)[-count:]
    if len(tail) < count:
        raise ValueError(f"the frames before the join hold fewer than {count} bytes of main data")
    for frame in reversed(into):
        take = min(len(frame) - _data_start(frame), len(tail))
        frame[len(frame) - take :] = tail[len(tail) - take :]
        tail = tail[: len(tail) - take]
        if not tail:
            return
    raise ValueError(f"{count} bytes of main data do not fit the frames before the join")
