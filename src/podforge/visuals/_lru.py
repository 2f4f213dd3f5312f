"""A least-recently-used cache over an OrderedDict: the oldest entry is evicted first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def lru_get(cache: OrderedDict[K, V], key: K) -> V | None:
    """The cached value (now the most recently used), or None when absent."""
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
    return found


def lru_put(cache: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    """Store ``value`` as the most recently used, evicting the least recently used beyond ``limit`` entries."""
    cache[key] = value
    while len(cache) > limit:
        cache.popitem(last=False)
