"""Scripts written for other tools, turned into podforge's `NAME: text` form.

podcastfy writes `<Person1>…</Person1><Person2>…</Person2>` transcripts; each
turn becomes a labelled line numbered where its tag opened, so errors still
point into the original file.
"""

from __future__ import annotations

import re

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
