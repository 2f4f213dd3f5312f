"""Write docs/mouth_shapes.png: every Rhubarb mouth shape, at normal loudness, for two avatar styles: a contact sheet.

    .venv/bin/python scripts/mouth_sheet.py [--out PATH]

Labels use Roboto from the ``font_roboto`` package when it is installed; without it the sheet is written unlabelled.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from podforge.visuals.avatars.illustrated import MOUTH_SHAPES, AvatarPose, AvatarStyle, IllustratedAvatar
from podforge.visuals.visemes import BASE_OPENNESS

DEST = Path(__file__).resolve().parent.parent / "docs" / "mouth_shapes.png"
SIZE = 400
STYLES = (AvatarStyle(color="#e4572e", seed=0, size=SIZE), AvatarStyle(color="#2e86ab", seed=1, size=SIZE))
#: Cells show head and shoulders only (a crop of the 512 grid, scaled to SIZE) so the mouths are large enough to read.
CROP = (round(86 * SIZE / 512), round(30 * SIZE / 512), round(426 * SIZE / 512), round(400 * SIZE / 512))
NAMES = {"A": "A  M B P", "B": "B  teeth", "C": "C  open", "D": "D  wide", "E": "E  round",
         "F": "F  pucker", "G": "G  F V", "H": "H  L TH", "X": "X  rest"}  # fmt: skip
CELL_W, CELL_H, LABEL, BACKDROP = CROP[2] - CROP[0], CROP[3] - CROP[1], 30, (236, 232, 224)


def _font(size: int) -> ImageFont.FreeTypeFont | None:
    try:
        import font_roboto
    except ImportError:
        return None
    return ImageFont.truetype(font_roboto.RobotoMedium, size)


def _on_backdrop(frame: npt.NDArray[np.uint8]) -> Image.Image:
    """Composite a premultiplied RGBA frame over the sheet colour."""
    alpha = frame[:, :, 3:4].astype(np.float32) / 255.0
    rgb = frame[:, :, :3].astype(np.float32) + np.array(BACKDROP, np.float32) * (1.0 - alpha)
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")


def build_sheet() -> Image.Image:
    font = _font(20)
    sheet = Image.new("RGB", (CELL_W * len(MOUTH_SHAPES), (CELL_H + LABEL) * len(STYLES)), BACKDROP)
    draw = ImageDraw.Draw(sheet)
    for row, style in enumerate(STYLES):
        avatar = IllustratedAvatar(style)
        for col, shape in enumerate(MOUTH_SHAPES):
            frame = avatar.render(AvatarPose(mouth=shape, openness=BASE_OPENNESS[shape]))
            x, y = col * CELL_W, row * (CELL_H + LABEL)
            sheet.paste(_on_backdrop(frame).crop(CROP), (x, y + LABEL))
            if font is not None:
                draw.text((x + 12, y + 5), NAMES[shape], fill=(40, 40, 48), font=font)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEST)
    out = parser.parse_args().out
    out.parent.mkdir(parents=True, exist_ok=True)
    build_sheet().save(out, optimize=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
