"""The show folder's ``feed-state.json``: what was published, so the feed never changes what it promised.

An episode's guid and first publication time are chosen once, the first time it is published, and read
back on every later publish: podcast apps key episodes by guid, and a changed one shows a listener the
episode again as new. The file belongs with the show (commit it with the scripts). An episode is known by
its web name (the script's file name), so renaming a script publishes it as a new episode.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from .._atomic import atomic_write_text
from ..errors import Location, ScriptError

STATE_FILE = "feed-state.json"
STATE_VERSION = 1


@dataclass(frozen=True)
class Published:
    guid: str
    first_published: datetime.datetime


def read_state(folder: Path) -> dict[str, Published]:
    path = folder / STATE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"version {data.get('version')!r} is not {STATE_VERSION}")
        return {
            name: Published(str(entry["guid"]), datetime.datetime.fromisoformat(entry["first_published"]))
            for name, entry in data["episodes"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # Guessing new guids here would re-announce every episode: stop and let the user restore the file.
        message = f"cannot read the published guids ({exc}); restore this file from your backup or version control"
        raise ScriptError.at(Location(path, 1, 1), message) from exc


def with_new_episodes(state: dict[str, Published], names: list[str], now: datetime.datetime) -> dict[str, Published]:
    """``state`` plus a fresh guid for each name not yet published; earlier entries are kept as they are."""
    fresh = {name: Published(str(uuid.uuid4()), now) for name in names if name not in state}
    return {**state, **fresh}


def write_state(folder: Path, state: dict[str, Published]) -> None:
    episodes = {
        name: {"guid": entry.guid, "first_published": entry.first_published.isoformat()}
        for name, entry in sorted(state.items())
    }
    text = json.dumps({"version": STATE_VERSION, "episodes": episodes}, indent=2) + "\n"
    atomic_write_text(folder / STATE_FILE, text)
