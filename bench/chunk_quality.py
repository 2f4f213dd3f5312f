"""Chunked encoding against one pass over the same frames: SSIM, file size and encode time.

Renders a one-minute two-avatar episode (fake voices) at 1280x720 once to get its timeline and master, draws
its frames, then encodes them (a) in one VideoWriter pass and (b) as the render's chunks joined without
re-encoding, and compares the decoded frames (mean SSIM over every 5th frame) and the sizes.
    .venv/bin/python bench/chunk_quality.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from video import portrait

import media
from podforge.bitstream import encode_audio_track, encode_chunk, frames_needed, join_chunks
from podforge.cache import ContentCache
from podforge.chunks import ChunkSpec, audio_slice, chunk_frames, chunk_plan, episode_frames, frame_plan
from podforge.config import VideoConfig, load_render_config
from podforge.encode import encode_frames, select_encoder
from podforge.pipeline import RenderOptions, render
from podforge.timeline import Timeline
from test_chunks import FRONT, LINES


def decoded(path: Path, step: int = 5) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for k, f in enumerate(container.decode(video=0)) if k % step == 0]


def main() -> None:
    from skimage.metrics import structural_similarity

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photo = portrait(work)
        front = FRONT.replace("320x180", "1280x720").replace(
            'SAM: {voice: "fake:b", color: "#3b82f6", avatar: illustrated}',
            f'SAM: {{voice: "fake:b", color: "#3b82f6", avatar: "photo:{photo.name}"}}',
        )
        (work / "ep.md").write_text(front + "".join(f"{w}: {t}\n" for w, t in LINES), encoding="utf-8")
        (work / "fake.yaml").write_text("tts_engine: fake\nworkers: 1\n", encoding="utf-8")
        config = load_render_config(work / "fake.yaml")
        result = render(work / "ep.md", RenderOptions(out_dir=work / "out", cache_dir=work / "cache", config=config,
                                                      wav=True))  # fmt: skip
        timeline = Timeline.from_json(result.outputs["timeline"].read_text())
        rate = timeline.sample_rate
        master = np.ascontiguousarray(media.decoded(result.outputs["wav"], rate), dtype=np.float32)
        video = VideoConfig.model_validate({"size": "1280x720", "layout": "duo"})
        choice = select_encoder("auto")
        spec = ChunkSpec(timeline.to_json(), video.model_dump(mode="json"), str(work), str(work / "cache"), choice,
                         rate, "bench")  # fmt: skip
        plan, chunks, mono = frame_plan(spec, ContentCache(work / "cache")), chunk_plan(timeline, 25), master.mean(1)
        settings = spec.settings()
        started = time.perf_counter()
        encode_frames(work / "one.mp4", settings, episode_frames(plan, chunks, mono, rate), master, rate)
        one_pass = time.perf_counter() - started
        started = time.perf_counter()
        parts = []
        for chunk in chunks:
            parts.append(work / f"c{chunk.index}.mp4")
            encode_chunk(parts[-1], settings, chunk_frames(plan, chunk, audio_slice(mono, chunk, rate, 25), rate))
        encode_audio_track(work / "a.mp4", settings, master, rate)
        join_chunks(work / "joined.mp4", settings, parts, work / "a.mp4", frames_needed(len(master), 25, rate))
        chunked = time.perf_counter() - started
        a, b = decoded(work / "one.mp4"), decoded(work / "joined.mp4")
        ssim = np.mean([structural_similarity(x, y, data_range=255) for x, y in zip(a, b, strict=True)])
        size_a, size_b = (work / "one.mp4").stat().st_size, (work / "joined.mp4").stat().st_size
        print(
            f"{timeline.seconds:.0f} s, {len(chunks)} chunks, {choice.name}: one pass {one_pass:.1f} s, "
            f"chunks + join {chunked:.1f} s (one process)"
        )
        print(f"  mean SSIM joined vs one pass {ssim:.4f}; size {size_b / size_a:.3f}x ({size_b} vs {size_a} bytes)")


if __name__ == "__main__":
    main()
