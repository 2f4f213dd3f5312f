"""Which boxes of a frame may differ from the frame before it, from what each layer drew and where.

Each layer of a frame (``FrameRenderer.draw``) reports a key for what it drew (equal keys draw equal pixels over
equal pixels) and its box, or ``(None, None)``. A pixel can only change where some layer's key or box changed,
in this frame or the one before, so those boxes are all an encoder has to convert again.
"""

from __future__ import annotations

from ._draw import Box, Layer


def changed_boxes(before: list[Layer], after: list[Layer]) -> tuple[Box, ...] | None:
    """Boxes of the layers whose key or box differs between two frames (None: the whole frame may differ).

    The first layer is the full-frame background: when it changes, so may every pixel. A layer's old and new boxes
    that overlap (the visualiser's rows, a caption's next page) become one box around both.
    """
    if not before or len(before) != len(after) or before[0] != after[0]:
        return None
    boxes: list[Box] = []
    for (old_key, old), (new_key, new) in zip(before[1:], after[1:], strict=True):
        if old_key == new_key and old == new:
            continue
        both = _around(old, new)
        for box in (old, new) if both is None else (both,):
            if box is not None and box not in boxes:
                boxes.append(box)
    return tuple(boxes)


def _around(a: Box | None, b: Box | None) -> Box | None:
    """The box around ``a`` and ``b`` if they overlap, else None."""
    if a is None or b is None or a[0] >= b[2] or b[0] >= a[2] or a[1] >= b[3] or b[1] >= a[3]:
        return None
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
