"""Putting a finished episode into the cache, run in the MP3's worker process right after the MP3 is written.

Its own small module because the worker imports whatever defines what it unpickles: defined in outputs.py, it
made every MP3 worker import the whole render (mixing, mastering, scipy, the video's modules), ~80 MB each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import ContentCache

EPISODE_KIND = "episodes"


@dataclass(frozen=True)
class EpisodeStore:
    """Puts the finished episode into the cache, the levels last (they mark the entry complete); run where the
    MP3 was written, as soon as it is, so a render killed later still finds the episode cached."""

    cache: ContentCache
    key: str
    files: dict[str, Path]  # suffix -> staged file
    levels: dict[str, Any]

    def __call__(self) -> None:
        for suffix, path in self.files.items():
            self.cache.put_file(EPISODE_KIND, self.key, suffix, path)
        self.cache.put_text(EPISODE_KIND, self.key, ".json", json.dumps(self.levels))

    def pin(self) -> None:
        """Keep what a worker stored from this render's eviction."""
        for suffix in [*self.files, ".json"]:
            self.cache.pin(EPISODE_KIND, self.key, suffix)
