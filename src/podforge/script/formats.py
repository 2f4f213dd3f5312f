"""Scripts written for other tools, turned into podforge's `NAME: text` form.

podcastfy writes `<Person1>…</Person1><Person2>…</Person2>` transcripts; each
turn becomes a labelled line numbered where its tag opened, so errors still
point into the original file. Script generators that write JSON give a list of
turns (`[{"speaker": "Ana", "text": "Hi"}]`, alone or under a key such as
`dialogue`); each turn becomes a labelled line numbered where its text is.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PODCASTFY_TAG = re.compile(r"<(Person\d+)>(.*?)</\1>", re.S)


def is_podcastfy(text: str) -> bool:
    return bool(_PODCASTFY_TAG.search(text))


def podcastfy_to_labelled(lines: list[str], first_line: int) -> list[tuple[int, str]]:
    """Numbered `PERSON1: text` lines, one per turn, each numbered where its tag opened."""
    text = "\n".join(lines)
    numbered: list[tuple[int, str]] = []
    for match in _PODCASTFY_TAG.finditer(text):
        line_no = first_line + text.count("\n", 0, match.start())
        spoken = " ".join(match[2].split())
        numbered += [(line_no, f"{match[1].upper()}: {spoken}"), (line_no, "")]
    return numbered


_TURN_LISTS = ("dialogue", "dialog", "lines", "script", "conversation", "turns", "segments", "transcript")
_SPEAKER_KEYS = ("speaker", "name", "character", "role", "host", "voice")
_TEXT_KEYS = ("text", "line", "content", "dialogue", "utterance", "says")


class NotTurns(ValueError):
    """JSON that holds no list of speaker turns."""


def json_turns(text: str) -> tuple[str | None, list[tuple[int, str]]] | None:
    """(title, numbered `SPEAKER: text` lines) when ``text`` is JSON; None when it is not JSON at all.
    Raises NotTurns for JSON of another shape."""
    if text.lstrip()[:1] not in ("[", "{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None  # brackets in a script, not JSON
    turns = data if isinstance(data, list) else next(
        (data[k] for k in _TURN_LISTS if isinstance(data.get(k), list)), None)  # fmt: skip
    title = data.get("title") if isinstance(data, dict) and isinstance(data.get("title"), str) else None
    numbered: list[tuple[int, str]] = []
    for turn in turns or []:
        speaker, said = _field(turn, _SPEAKER_KEYS), _field(turn, _TEXT_KEYS)
        if speaker is None or said is None:
            raise NotTurns(f"turn {len(numbered) // 2 + 1} has no speaker or no text")
        at = text.find(json.dumps(said)[1:-1])
        line = text.count("\n", 0, max(at, 0)) + 1
        numbered += [(line, f"{speaker}: {' '.join(said.split())}"), (line, "")]
    if not numbered:
        raise NotTurns("it holds no list of turns")
    return title, numbered


def _field(turn: Any, keys: tuple[str, ...]) -> str | None:
    if not isinstance(turn, dict):
        return None
    return next(
        (str(turn[k]).strip() for k in keys if isinstance(turn.get(k), str | int) and str(turn[k]).strip()), None
    )
