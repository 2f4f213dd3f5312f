"""Run many small keyed jobs on worker processes, one "lane" (process) per share of the work.

Engines (TTS models, the aligner) use one core each and load slowly, so jobs
are grouped by what they need loaded and each lane keeps its own loaded copy;
small batches keep progress reports flowing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Generic, TypeVar

from ._lifeline import hold

Job = TypeVar("Job")
Result = TypeVar("Result")
Batch = list[tuple[str, Job]]
BATCH = 6
INLINE_BELOW = 4


def lanes(
    jobs: Mapping[str, Job], workers: int, group: Callable[[Job], str], weight: Callable[[Job], float]
) -> list[Batch[Job]]:
    """Split jobs into at most ``workers`` lanes of similar total weight, each loading as few engines as it can.

    A group heavier than one lane's share is split over as many lanes as its weight fills: piper voices a line
    several times slower than hibari, and one lane holding all of piper's lines would finish long after the
    other, with a core idle meanwhile."""
    groups: dict[str, Batch[Job]] = {}
    for key, job in jobs.items():
        groups.setdefault(group(job), []).append((key, job))
    share = _total(jobs.items(), weight) / max(1, workers)
    parts = []
    for items in groups.values():
        count = min(workers, len(items), max(1, round(_total(items, weight) / share))) if share else 1
        parts += [items[i::count] for i in range(count)]
    result: list[Batch[Job]] = [[] for _ in range(workers)]
    for part in sorted(parts, key=lambda p: -_total(p, weight)):
        min(result, key=lambda lane: _total(lane, weight)).extend(part)
    return [lane for lane in result if lane]


def _total(batch: Iterable[tuple[str, Job]], weight: Callable[[Job], float]) -> float:
    return sum(weight(job) for _, job in batch)


class Backlog(Generic[Job]):
    """The lanes' jobs, handed out a batch at a time as each lane asks: a lane's own share first, in order (one
    engine after another), then the end of the share of the lane with the most work left, so that the lanes end
    together. Shares set once and for all (``lanes``) left one lane voicing 3-4 s of a 10-minute episode alone:
    what a line costs is only estimated. Batches hold at most BATCH jobs and, near the end, no more than the
    work left over twice the lanes. None spans two groups: a lane lets go of one engine when a batch starts
    with another (voices/synth.py), and a batch with the last of piper's lines and the first of hibari's held
    both models at once (417 MB for that lane against 268 for the other, measured)."""

    def __init__(self, shares: list[Batch[Job]], group: Callable[[Job], str], weight: Callable[[Job], float]):
        self._shares = [list(share) for share in shares]
        self._group, self._weight = group, weight

    def next(self, lane: int) -> Batch[Job]:
        """The next batch for ``lane``; empty once every job was handed out."""
        if own := self._shares[lane]:
            return self._cut(own, front=True)
        richest = max(self._shares, key=lambda share: _total(share, self._weight))
        return self._cut(richest, front=False) if richest else []

    def _cut(self, share: Batch[Job], *, front: bool) -> Batch[Job]:
        limit = sum(_total(other, self._weight) for other in self._shares) / (2 * len(self._shares))
        batch: Batch[Job] = []
        while share and len(batch) < BATCH and self._fits(batch, share[0 if front else -1], limit):
            batch.append(share.pop(0 if front else -1))
        return batch if front else batch[::-1]

    def _fits(self, batch: Batch[Job], item: tuple[str, Job], limit: float) -> bool:
        if not batch:
            return True
        same = self._group(item[1]) == self._group(batch[0][1])
        return same and _total([*batch, item], self._weight) <= limit


def pool_size(workers: int, tasks: int | None = None) -> int:
    """How many worker processes to start: ``workers`` (one per core for 0), no more than ``tasks``, at least 1."""
    size = workers or os.cpu_count() or 1
    return max(1, size if tasks is None else min(size, tasks))


def run_in_lanes(
    jobs: Mapping[str, Job],
    work: Callable[[Batch[Job]], list[tuple[str, Result]]],
    *,
    group: Callable[[Job], str],
    weight: Callable[[Job], float],
    workers: int = 0,
) -> Iterator[tuple[str, Result]]:
    """Yield (key, result) as jobs finish; small workloads run in this process."""
    workers = pool_size(workers, len(jobs))
    if workers <= 1 or len(jobs) < INLINE_BELOW:
        for item in jobs.items():
            yield from work([item])
        return
    context = multiprocessing.get_context("forkserver")
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=hold, initargs=(os.getpid(),))
             for _ in range(workers)]  # fmt: skip
    backlog = Backlog(lanes(jobs, workers, group, weight), group, weight)
    running: dict[Future[list[tuple[str, Result]]], int] = {}
    try:
        for lane, pool in enumerate(pools):
            if batch := backlog.next(lane):
                running[pool.submit(work, batch)] = lane
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                lane = running.pop(future)
                if batch := backlog.next(lane):  # before this batch's results are taken: the lane goes on at once
                    running[pools[lane].submit(work, batch)] = lane
                yield from future.result()
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)
