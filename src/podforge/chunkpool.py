"""A chunk process pool that outlives one render: its workers start (and import what drawing needs) once.

Starting a forkserver pool and importing the drawing modules in its workers takes seconds; a re-render after a
new take draws a chunk or two, so that start-up was most of its video stage. ``WarmPool`` is an ``Executor``
(``chunks.Executor``) whose processes are started by ``start()`` and kept until ``close()``: the studio's job
worker holds one for its lifetime, and ``podforge render`` starts one as the render begins, so the workers
start while the voices are made, not when the video stage needs them.

A failed chunk raises in the render as from any pool and leaves the workers running; a worker that died takes
the pool with it (``BrokenProcessPool``), and the next ``map`` starts a fresh one. A render that stops early
(an error, a cancelled job) cancels the calls it submitted that have not started yet, so the next render
does not wait for them.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from ._workers import pool_size

T = TypeVar("T")
R = TypeVar("R")


def start_worker(workers: int, render: int) -> None:
    """Runs once in each chunk worker as it starts (this pool's and ``chunks.local_executor``'s): the imports
    every chunk needs, paid before the first chunk, and the encoder's share of the cores
    (``encode.share_cores``); the worker ends with the process that holds the pool (``_lifeline``)."""
    from podforge._lifeline import hold
    from podforge.encode import share_cores

    hold(render)
    share_cores(workers)
    import podforge.bitstream
    import podforge.chunks
    import podforge.visuals.avatars.photo
    import podforge.visuals.frames  # noqa: F401


def _ready() -> int:
    return os.getpid()


class Mapped(Iterator[R]):
    """A pool's results of ``fn`` over ``items``, in order: the first ``ahead`` calls start at once and each further
    one as a result comes back, so the items (tasks carrying audio) are taken from their iterator only that far
    ahead. ``close`` cancels the calls not started yet, also before any result was asked for (a render that stops
    early), so the pool's shutdown, or the next render on a pool kept warm, does not wait for them."""

    def __init__(
        self, pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Iterable[T], ahead: int,
        on_broken: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self._pool, self._fn, self._source, self._on_broken = pool, fn, iter(items), on_broken
        self._pending = collections.deque(self._submit(max(1, ahead)))

    def _submit(self, count: int) -> list[Future[R]]:
        return [self._pool.submit(self._fn, item) for item in itertools.islice(self._source, count)]

    def __next__(self) -> R:
        if not self._pending:
            raise StopIteration
        try:
            result = self._pending.popleft().result()
            self._pending.extend(self._submit(1))
        except BrokenProcessPool:
            self.close()
            self._on_broken()
            raise
        except BaseException:
            self.close()
            raise
        return result

    def close(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()


class BoundedPool:
    """A process pool whose ``map`` keeps at most ``ahead`` calls submitted (see ``Mapped``)."""

    def __init__(self, pool: ProcessPoolExecutor, ahead: int) -> None:
        self.pool, self.ahead = pool, max(1, ahead)

    def map(self, fn: Callable[[T], R], items: Iterable[T], /) -> Mapped[R]:
        return Mapped(self.pool, fn, items, self.ahead)


class WarmPool:
    """A process pool kept across renders; ``map`` keeps at most two calls per worker submitted ahead."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = pool_size(workers)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> WarmPool:
        """Start the workers now (they import in the background); returns at once. Starting twice is harmless.
        ``with WarmPool() as pool`` starts nothing: the first ``start`` or ``map`` does."""
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=start_worker, initargs=(self.workers, os.getpid())
            )
            for _ in range(self.workers):  # a pool starts a process per submitted call, up to its size
                self._pool.submit(_ready)
        return self

    def resize(self, workers: int) -> WarmPool:
        """This pool with ``workers`` workers (0: one per core), closed first if it has another number, so that a
        changed ``workers:`` setting holds from the next render on."""
        if pool_size(workers) != self.workers:
            self.close()
            self.workers = pool_size(workers)
        return self

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map(self, fn: Callable[[T], R], items: Iterable[T], /) -> Mapped[R]:
        source = iter(items)
        first = list(itertools.islice(source, 2 * self.workers))
        try:
            return self._mapped(fn, first, source)
        except BrokenProcessPool:  # a worker died while the pool sat idle between renders: start afresh, once
            return self._mapped(fn, first, source)

    def _mapped(self, fn: Callable[[T], R], first: list[T], source: Iterator[T]) -> Mapped[R]:
        pool = self.start()._pool
        assert pool is not None
        # A worker that dies fails this render as before; the next one gets fresh workers.
        drop = lambda: self._drop(pool)  # noqa: E731
        try:
            return Mapped(pool, fn, itertools.chain(first, source), 2 * self.workers, on_broken=drop)
        except BrokenProcessPool:
            self._drop(pool)
            raise

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)
