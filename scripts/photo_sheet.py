"""Contact sheet of the photo avatar's mouth shapes, for eyeballing the warp and the painted mouth.

    .venv/bin/python scripts/photo_sheet.py [portrait.png] [--out docs/photo_mouth_shapes.png] [--openness 0.6]

Without a portrait it uses scikit-image's astronaut (public domain). The first tile is the
untouched crop, then the nine Rhubarb shapes (each at the openness the mouth keys give it at normal
loudness, or all at ``--openness``), a blink and a head move, each
cropped to the face (`--whole` keeps the crop) and captioned with the mouth opening FaceMesh
measures on the rendered frame.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from podforge.cache import ContentCache
from podforge.visuals.avatars.photo import SHAPES, PhotoAvatar, PhotoPose, landmarks_of, mouth_opening
from podforge.visuals.visemes import BASE_OPENNESS

ROOT = Path(__file__).resolve().parents[1]


def _astronaut(folder: Path) -> Path:
    from skimage import data

    path = folder / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def _caption(frame: np.ndarray, text: str) -> Image.Image:
    tile = Image.fromarray(frame)
    draw = ImageDraw.Draw(tile)
    draw.rectangle((0, 0, tile.width, 22), fill=(0, 0, 0))
    draw.text((6, 5), text, fill=(255, 255, 255))
    return tile


def _label(frame: np.ndarray, name: str) -> str:
    points = landmarks_of(frame)
    measured = "no face" if points is None else f"opening {mouth_opening(points):.3f}"
    return f"{name}  {measured}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portrait", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "photo_mouth_shapes.png")
    parser.add_argument("--openness", type=float, help="one openness for every shape (default: each its normal)")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--whole", action="store_true", help="show the whole crop, not just the face")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        portrait = args.portrait or _astronaut(Path(tmp))
        avatar = PhotoAvatar(portrait, size=args.size, cache=ContentCache(Path(tmp) / "cache"))
        opens = {letter: BASE_OPENNESS[letter] if args.openness is None else args.openness for letter in SHAPES}
        poses = [(f"{letter} @ {opens[letter]:g}", PhotoPose(letter, opens[letter])) for letter in SHAPES]
        poses += [("blink", PhotoPose(blink=1.0)), ("head", PhotoPose("C", 0.6, head_dx=0.03, tilt_deg=6))]
        frames = [("photo", avatar.base), *((name, avatar.render(pose)) for name, pose in poses)]
        tiles = []
        for name, frame in frames:
            label = _label(frame, name)
            if not args.whole:  # the face is the middle ~55% of the crop
                s = args.size
                frame = np.ascontiguousarray(frame[s * 3 // 20 : s * 9 // 10, s // 6 : s * 5 // 6])
            tiles.append(_caption(frame, label))
    columns = 4
    rows = -(-len(tiles) // columns)
    width, height = tiles[0].size
    sheet = Image.new("RGB", (columns * width, rows * height), (30, 30, 30))
    for index, tile in enumerate(tiles):
        sheet.paste(tile, ((index % columns) * width, (index // columns) * height))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(tiles)} tiles)")


if __name__ == "__main__":
    main()
