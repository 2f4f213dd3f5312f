"""The episode's MP3 encoded in a worker process while the render goes on.

LAME is single-threaded, and an encoding thread in the render's process slowed it by half (measured when PyAV
still held the GIL while it encoded), so a long episode's MP3 is encoded in its own process, reading the
mastered scratch file (in two halves on two threads there: audio/halves.py); the render waits for it only before
placing the files. Short episodes encode in this process: a worker costs ~1 s to start.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from ._lifeline import hold
from .audio.export import Chapter, Tags, encode_mp3
from .audio.splice import Previous, Spliced
from .audio.stream import RawAudio
from .errors import EncodeError, PodforgeError

MIN_WORKER_SECONDS = 60.0


@dataclass(frozen=True)
class _Mp3:
    dest: Path
    audio: RawAudio
    bitrate: int
    tags: Tags
    chapters: tuple[Chapter, ...]
    cover_jpeg: bytes
    then: Callable[[], object] | None  # picklable: runs where the MP3 was written, right after
    previous: Previous | None = None  # an earlier encode whose packets before the edit are copied

    def write(self) -> Spliced:
        spliced = encode_mp3(self.dest, self.audio, bitrate=self.bitrate, tags=self.tags, chapters=self.chapters,
                             cover_jpeg=self.cover_jpeg, previous=self.previous)  # fmt: skip
        if self.then is not None:
            self.then()
        return spliced


@dataclass(frozen=True)
class PendingMp3:
    """An MP3 being written: ``finish`` waits for it (raising EncodeError if it failed), ``abandon`` stops it."""

    dest: Path
    process: BaseProcess | None = None
    receive: Connection | None = None
    done: Spliced | None = None  # what an MP3 written in this process copied and encoded

    def finish(self) -> Spliced | None:
        """What the encode copied and encoded (None: no worker and nothing recorded)."""
        if self.process is None or self.receive is None:
            return self.done
        try:
            message = self.receive.recv()
        except EOFError:  # killed (out of memory?) before it could say anything
            self.process.join()
            message = f"{self.dest}: the MP3 encoder stopped (exit code {self.process.exitcode}); render again"
        finally:
            self.receive.close()
        self.process.join()
        if isinstance(message, str):
            raise EncodeError(message)
        return message if isinstance(message, Spliced) else None

    def abandon(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join()


def start_mp3(
    dest: Path, audio: RawAudio, *, bitrate: int, tags: Tags, chapters: Sequence[Chapter] = (), cover_jpeg: bytes = b"",
    worker: bool | None = None, then: Callable[[], object] | None = None, previous: Previous | None = None,
) -> PendingMp3:  # fmt: skip
    """Write ``audio`` as MP3 at ``dest`` (``write_mp3``), then call ``then``, in a worker process when ``worker``
    (by default, when the episode is at least MIN_WORKER_SECONDS long); the handle must be finished or abandoned."""
    job = _Mp3(dest, audio, bitrate, tags, tuple(chapters), cover_jpeg, then, previous)
    if not (audio.frames >= MIN_WORKER_SECONDS * audio.rate if worker is None else worker):
        return PendingMp3(dest, done=job.write())
    context = multiprocessing.get_context("forkserver")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_work, args=(send, job, os.getpid()), daemon=True, name="podforge-mp3")
    process.start()
    send.close()  # the worker holds the only sending end: its death reads as EOF here
    return PendingMp3(dest, process, receive)


def _work(send: Connection, job: _Mp3, render: int) -> None:
    hold(render)  # a killed render leaves no encoder behind
    try:
        spliced = job.write()
    except PodforgeError as exc:
        send.send(str(exc))
    except Exception as exc:  # anything else still comes back as one line, not as a dead pipe
        send.send(f"{job.dest}: cannot write MP3 ({type(exc).__name__}: {exc}); render again")
    else:
        send.send(spliced)
    finally:
        send.close()
