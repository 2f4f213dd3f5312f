"""Re-encoding only what an edit changed: an MP3 or AAC stream spliced from an earlier encode's packets and a
fresh encoder's.

The mastered audio before an edit is bit-identical to the previous render's (the master's gain sits on a grid,
``master.GAIN_STEP_DB``), so the packets that encode it can be copied. ``block_hashes`` hashes the master by
blocks of whole codec frames; ``first_change`` finds where two renders' audio part. ``encode_spliced`` then copies
the earlier file's packets up to a few frames before that point and encodes the rest with a fresh encoder started
PRIMING_FRAMES earlier on the same frame grid, dropping the packets it makes there: its first packets start from
silence and would decode wrong, but by the first kept one it has seen the same audio the earlier encoder saw,
and the decoder's overlap from the last copied packet fits (LAME's packets after two priming frames were measured
bit-identical to a single pass). An MP3 frame may borrow bytes from the frames before it (the bit reservoir),
which dropped priming packets would break: the fresh encoder runs without it (``export._encode_mp3``). A whole
encode keeps it, for its quality; the copied packets need nothing after them (a frame borrows only backwards),
and the first fresh packet borrows nothing.
Packets are re-timed in order, so the timestamps run on without a seam, and the muxer writes the encoder delay
(from the first packet, copied) and the end padding (from the last, fresh) as a single pass would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
from av.audio.codeccontext import AudioCodecContext
from av.audio.stream import AudioStream
from av.container import OutputContainer

from .halves import MIN_SECONDS, SecondHalf, mux_fresh, start_second_half
from .packets import PRIMING_FRAMES, FrameAt, encoded, retime
from .stream import AudioReader, blocks

BLOCK = 46_080  # frames per hashed block: 40 MP3 frames (1152) and 45 AAC frames (1024), about a second
MARGIN_FRAMES = 3  # packets before the change that are not copied: a packet's transform reaches into the next


@dataclass(frozen=True)
class Previous:
    """An earlier encode of the same output, and the first audio frame at which this render's audio differs."""

    path: Path
    changed: int


@dataclass(frozen=True)
class Spliced:
    """What ``encode_spliced`` did: packets copied from the earlier file, and audio frames encoded afresh."""

    reused_packets: int
    encoded_frames: int
    joined_at: int | None = None  # an encode in two halves (halves.py): the codec frame where they join

    def record(self, name: str, rate: int) -> dict[str, float | int]:
        record: dict[str, float | int] = {f"{name}_packets_reused": self.reused_packets,
                                          f"{name}_encoded_seconds": round(self.encoded_frames / rate, 2)}  # fmt: skip
        if self.joined_at is not None:
            record[f"{name}_halves_joined_at_frame"] = self.joined_at
        return record


def block_hashes(reader: AudioReader) -> tuple[str, ...]:
    """A short hash of every BLOCK frames of ``reader`` (the last block may be shorter)."""
    return tuple(hashlib.blake2b(block.tobytes(), digest_size=12).hexdigest() for _, block in blocks(reader, BLOCK))


def first_change(old: Sequence[str], old_frames: int, new: Sequence[str], new_frames: int) -> int:
    """The first frame at which two audios with these block hashes may differ (the shorter's length at most)."""
    same = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    return min(same * BLOCK, old_frames, new_frames)


def encode_spliced(
    container: OutputContainer, stream: AudioStream, frames: int, frame_at: FrameAt, push: int,
    previous: Previous | None = None, second: AudioCodecContext | None = None,
) -> Spliced:  # fmt: skip
    """Encode ``frames`` audio frames (read by ``frame_at``, ``push`` at a time) into ``stream`` of ``container``,
    copying ``previous``'s packets before its change where there are enough of them to pay off. With ``second``
    (an encoder set up as ``stream``'s), a long stretch to encode is shared between the two (halves.py)."""
    context = stream.codec_context
    if not context.is_open:
        context.open()  # its frame size is known only once open
    size, rate = context.frame_size, context.sample_rate
    keep = _kept(previous, size)
    start = (keep - PRIMING_FRAMES) * size if keep else 0
    half = _second_half(second, frames, frame_at, push, start, size)
    try:
        fresh = encoded(stream, frames, frame_at, push, start)
        first = next(fresh, None)  # the encoder's first packet says its delay before anything is written
        delay = -int(first.pts) if first is not None and first.pts is not None else 0
        written = _copy(container, stream, previous.path, keep, size, delay, rate) if previous and keep else 0
        joined = mux_fresh(container, stream, _chain(first, fresh), start // size, keep, delay, half)
    finally:
        if half is not None:
            half.close()
    return Spliced(written, frames - start, joined)


def _second_half(
    second: AudioCodecContext | None, frames: int, frame_at: FrameAt, push: int, start: int, size: int
) -> SecondHalf | None:  # fmt: skip
    """The second half's encoder at work from a little before the middle of what is left to encode, or None
    where that is too short to share."""
    if second is None or frames - start < MIN_SECONDS * second.sample_rate:
        return None
    if not second.is_open:
        second.open()
    middle = (start // size + -(-frames // size)) // 2
    return start_second_half(second, frames, frame_at, push, middle)


def _chain(first: av.Packet | None, rest: Iterator[av.Packet]) -> Iterator[av.Packet]:
    if first is not None:
        yield first
    yield from rest


def _kept(previous: Previous | None, size: int) -> int:
    """How many of the earlier file's packets to copy: none when fewer than the priming would cost."""
    if previous is None:
        return 0
    keep = previous.changed // size - MARGIN_FRAMES
    if keep <= PRIMING_FRAMES or _packets(previous.path) < keep:
        return 0
    return keep


def _packets(path: Path) -> int:
    """How many audio packets ``path`` holds; 0 when it cannot be read (then everything is encoded afresh)."""
    try:
        with av.open(str(path)) as source:
            return sum(1 for packet in source.demux(audio=0) if packet.size)
    except (av.FFmpegError, OSError, ValueError):
        return 0


def _copy(
    container: OutputContainer, stream: AudioStream, path: Path, keep: int, size: int, delay: int, rate: int
) -> int:  # fmt: skip
    copied = 0
    with av.open(str(path)) as source:
        for packet in source.demux(audio=0):
            if copied >= keep:
                break
            if not packet.size:
                continue
            retime(packet, stream, copied * size - delay, rate)
            packet.duration = size
            container.mux(packet)
            copied += 1
    return copied
