"""Colours as users write them (#rgb, #rrggbb or a name) and the palette speakers get by default."""

from __future__ import annotations

import re

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_NAMED_COLORS = {
    "red": "#e4572e",
    "blue": "#3b82f6",
    "green": "#22a06b",
    "orange": "#f59e0b",
    "purple": "#8b5cf6",
    "teal": "#14b8a6",
    "pink": "#ec4899",
    "yellow": "#eab308",
    "gray": "#6b7280",
    "grey": "#6b7280",
}
SPEAKER_PALETTE = ("#e4572e", "#3b82f6", "#22a06b", "#8b5cf6", "#f59e0b", "#14b8a6")


def parse_color(value: str) -> str:
    """`#rgb`, `#rrggbb` or a colour name → `#rrggbb`-style string; ValueError otherwise."""
    named = _NAMED_COLORS.get(value.lower())
    if named:
        return named
    if not _COLOR.match(value):
        raise ValueError(f"{value!r} is not a colour; use #rrggbb or one of {', '.join(_NAMED_COLORS)}")
    return value


__all__ = ["SPEAKER_PALETTE", "parse_color"]
