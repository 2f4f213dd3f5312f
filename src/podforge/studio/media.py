"""Small media helpers for the studio's pages."""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import MediaError


def video_thumbnail(video: Path, at_seconds: float = 1.0, width: int = 320) -> bytes:
    """A JPEG of the frame about `at_seconds` into a rendered video."""
    import av

    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            image = None
            for frame in container.decode(stream):
                image = frame.to_image()
                if frame.time is not None and frame.time >= at_seconds:
                    break
    except (av.error.FFmpegError, IndexError) as exc:
        raise MediaError(f"{video.name}: cannot read a frame ({exc})") from exc
    if image is None:
        raise MediaError(f"{video.name}: the video has no frames")
    image.thumbnail((width, width))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
