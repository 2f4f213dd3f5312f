"""The illustrated avatar's look and grid, without its renderer: a video with no illustrated avatar never loads skia."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._draw import hex_rgb

RGB = tuple[int, int, int]
GRID = 512.0  # geometry is authored on a 512 grid and scaled to the style's size
PIVOT_Y = 330.0  # the head turns about the top of the neck
HAIR_STYLES = ("crop", "long", "curly", "bun", "bob")
#: What reads as each gender: the seeded pick stands when it already agrees, else the seed picks among these.
GENDER_HAIR = {"female": ("long", "bun", "bob", "curly"), "male": ("crop", "curly")}


def parse_rgb(hex_color: str) -> RGB:
    if not re.fullmatch(r"#?[0-9a-fA-F]{6}", hex_color):
        raise ValueError(f"colour must be #rrggbb, got {hex_color!r}")
    return hex_rgb(hex_color)


@dataclass(frozen=True)
class AvatarStyle:
    """Per-speaker look: ``color`` dresses the shirt, ``seed`` picks skin tone, hair and face shape; ``gender``
    (the voice's, or the front matter's `look:`) keeps hair and jaw in agreement with it, ``hair`` names a style.
    """

    color: str = "#e4572e"
    seed: int = 0
    size: int = 512
    gender: str = ""
    hair: str = ""

    def __post_init__(self) -> None:
        parse_rgb(self.color)
        if not 64 <= self.size <= 4096:
            raise ValueError(f"size must be within 64..4096, got {self.size}")
        if self.gender not in ("", *GENDER_HAIR) or self.hair not in ("", *HAIR_STYLES):
            raise ValueError(f"unknown look {self.gender!r}/{self.hair!r}")
