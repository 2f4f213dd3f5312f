"""Run many small keyed jobs on worker processes, one "lane" (process) per share of the work.

Engines (TTS models, the aligner) use one core each and load slowly, so jobs
are grouped by what they need loaded and each lane keeps its own loaded copy;
small batches keep progress reports flowing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

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
    share = sum(weight(job) for job in jobs.values()) / max(1, workers)
    parts = []
    for items in groups.values():
        count = min(workers, len(items), max(1, round(sum(weight(job) for _, job in items) / share))) if share else 1
        parts += [items[i::count] for i in range(count)]
    result: list[Batch[Job]] = [[] for _ in range(workers)]
    for part in sorted(parts, key=lambda p: -sum(weight(job) for _, job in p)):
        min(result, key=lambda lane: sum(weight(job) for _, job in lane)).extend(part)
    return [lane for lane in result if lane]


def batches(lane: Batch[Job], group: Callable[[Job], str]) -> list[Batch[Job]]:
    """A lane's jobs in batches of at most BATCH, none spanning two groups: a lane lets go of one engine when
    a batch starts with another (voices/synth.py), so a batch with the last of piper's lines and the first of
    hibari's held both models at once (417 MB for that lane against 268 for the other, measured)."""
    result: list[Batch[Job]] = []
    for i, (key, job) in enumerate(lane):
        if i == 0 or len(result[-1]) == BATCH or group(job) != group(lane[i - 1][1]):
            result.append([])
        result[-1].append((key, job))
    return result


def run_in_lanes(
    jobs: Mapping[str, Job],
    work: Callable[[Batch[Job]], list[tuple[str, Result]]],
    *,
    group: Callable[[Job], str],
    weight: Callable[[Job], float],
    workers: int = 0,
) -> Iterator[tuple[str, Result]]:
    """Yield (key, result) as jobs finish; small workloads run in this process."""
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1 or len(jobs) < INLINE_BELOW:
        for item in jobs.items():
            yield from work([item])
        return
    context = multiprocessing.get_context("forkserver")
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=hold, initargs=(os.getpid(),))
             for _ in range(workers)]  # fmt: skip
    try:
        futures = [
            pool.submit(work, batch)
            for pool, lane in zip(pools, lanes(jobs, workers, group, weight), strict=False)
            for batch in batches(lane, group)
        ]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)
