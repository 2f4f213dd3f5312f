"""RGB24 frames to the encoder's yuv420p (BT.709, limited range), converting only what changed.

Drawing knows which boxes of a frame may differ from the frame before (``FrameRenderer.changed``); a talking
head, the visualiser band and a caption are a fraction of the picture. ``YuvFrames`` keeps the previous frame's
planes and converts just those boxes with libswscale, giving the very bytes a whole-frame conversion gives:
luma is per pixel and chroma per 2x2 block across, but swscale's vertical chroma filter also reads the luma
rows of the chroma rows above and below. So a box is widened to even coordinates and by ``_MARGIN`` rows up
and down (the chroma rows its change reaches), and that is converted with ``_MARGIN`` more rows each side (the
rows those read), which are dropped; swscale filters a picture under 8 rows tall differently, so no fewer
than ``_MIN_ROWS`` rows are converted. The RGB frame is never copied whole, and no frame is allocated per frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

Frame = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1, end-exclusive
_MARGIN = 2  # luma rows: one chroma row each side, what swscale's vertical chroma filter reaches
_MIN_ROWS = 16
_WHOLE = 0.6  # past this share of the frame changed, one whole conversion is cheaper than the boxes
_CONTEXTS = 8  # swscale contexts kept, one per box size (the same few boxes change frame after frame)


@dataclass(frozen=True, eq=False)
class Drawn:
    """An RGB24 frame and the boxes where it may differ from the frame before it in its stream (None: anywhere)."""

    pixels: Frame
    changed: tuple[Box, ...] | None = None


def convert(reformatter: VideoReformatter, rgb: Frame) -> av.VideoFrame:
    """``rgb`` as a new yuv420p frame: BT.709 (the matrix the stream is tagged with), limited range."""
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return reformatter.reformat(frame, format="yuv420p", dst_colorspace=Colorspace.ITU709,
                                dst_color_range=ColorRange.MPEG)  # fmt: skip


class YuvFrames:
    """Turns a stream of ``Drawn`` frames into yuv420p frames, one reused ``VideoFrame`` updated in place.

    The frame returned is only valid until the next call: encode it first (x264 and NVENC copy their input
    when they are handed it, so updating the planes afterwards touches nothing they hold).
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._frame: av.VideoFrame | None = None
        self._planes: list[Frame] = []
        self._whole = VideoReformatter()
        self._boxes: OrderedDict[tuple[int, int], VideoReformatter] = OrderedDict()

    def convert(self, drawn: Drawn) -> av.VideoFrame:
        rgb, changed = drawn.pixels, drawn.changed
        boxes = None if changed is None else [b for b in map(self._aligned, changed) if b is not None]
        whole = boxes is None or self.height < _MIN_ROWS or _area(boxes) > _WHOLE * self.width * self.height
        if self._frame is None or boxes is None or whole:
            self._frame = convert(self._whole, rgb)
            self._planes = [_view(plane) for plane in self._frame.planes]
            return self._frame
        for box in boxes:
            self._convert_box(rgb, box)
        return self._frame

    def _aligned(self, box: Box) -> Box | None:
        """``box`` grown to even edges (whole 2x2 chroma blocks) and the chroma rows next to it, clipped to the frame;
        None if empty."""
        x0, y0 = max(box[0], 0) & ~1, max((box[1] & ~1) - _MARGIN, 0)
        x1, y1 = min(box[2] + (box[2] & 1), self.width), min(box[3] + (box[3] & 1) + _MARGIN, self.height)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def _convert_box(self, rgb: Frame, box: Box) -> None:
        x0, y0, x1, y1 = box
        top, bottom = max(y0 - _MARGIN, 0), min(max(y1 + _MARGIN, y0 - _MARGIN + _MIN_ROWS), self.height)
        top = max(min(top, bottom - _MIN_ROWS), 0)
        part = convert(self._reformatter(x1 - x0, bottom - top), np.ascontiguousarray(rgb[top:bottom, x0:x1]))
        skip = y0 - top
        luma, blue, red = (_view(plane) for plane in part.planes)
        self._planes[0][y0:y1, x0:x1] = luma[skip : skip + y1 - y0]
        for mine, theirs in zip(self._planes[1:], (blue, red), strict=True):
            mine[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = theirs[skip // 2 : (skip + y1 - y0) // 2]

    def _reformatter(self, width: int, height: int) -> VideoReformatter:
        """One per box size: a reformatter rebuilds its swscale context whenever the size it is given changes."""
        key = (width, height)
        found = self._boxes.pop(key, None) or VideoReformatter()
        self._boxes[key] = found
        while len(self._boxes) > _CONTEXTS:
            self._boxes.popitem(last=False)
        return found


def _view(plane: av.video.plane.VideoPlane) -> Frame:
    """A plane's pixels as a writable (height, width) array over its memory (rows padded to ``line_size``)."""
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return rows[: plane.height, : plane.width]


def _area(boxes: Sequence[Box]) -> int:
    return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes)
