"""CPU per frame of the real chunk pool: two workers drawing and encoding 720p two-avatar chunks at once.

A one-minute two-host episode (fake voices, an illustrated and a photo avatar, captions) is rendered small once
for its timeline and mix; its chunks are then drawn at 1280x720 and encoded by a pool of ``--workers`` processes,
each chunk timed in the worker's own CPU seconds (the encoder's threads included), for each x264 variant. CPU
seconds a frame is the figure three other jobs on the machine do not move; wall is printed for reference. Each
variant's joined chunks are compared with the first variant's (mean SSIM of every 10th frame, luma and chroma)
and its size given as a ratio.
    .venv/bin/python bench/frame_pool.py [--workers 2] [--variants whole boxes t1 t2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from video import portrait

import media
from podforge import bitstream
from podforge.bitstream import encode_audio_track, encode_chunk, frames_needed, join_chunks
from podforge.cache import ContentCache
from podforge.chunks import ChunkSpec, audio_slice, chunk_drawn, chunk_frames, chunk_plan, frame_plan
from podforge.config import VideoConfig, load_render_config
from podforge.encode import select_encoder
from podforge.pipeline import RenderOptions, render
from podforge.timeline import Timeline
from test_chunks import FRONT, LINES

# name -> (thread_count, extra x264 options, frames as Drawn); None keeps the render's thread count. "whole" converts
# every frame whole to YUV, as before the changed boxes were known (the same bytes come out).
VARIANTS: dict[str, tuple[int | None, dict[str, str], bool]] = {
    "whole": (None, {}, False),
    "boxes": (None, {}, True),
    "auto": (0, {}, True),
    "t1": (1, {}, True),
    "t2": (2, {}, True),
    "sliced": (0, {"x264-params": "sliced-threads=1"}, True),
    "lossless": (1, {"x264-params": "qp=0"}, True),  # first, it makes the SSIM column one against the source
    "stock": (1, {"x264-params": "subme=2"}, True),  # veryfast as x264 has it, before encode._X264_TUNING
    "t1-la5": (1, {"x264-params": "rc-lookahead=5"}, True),
    "t1-nombtree": (1, {"mbtree": "0"}, True),
    "t1-no8x8": (1, {"x264-params": "8x8dct=0"}, True),
    "t1-wp0": (1, {"x264-params": "weightp=0"}, True),
    "t1-aq0": (1, {"x264-params": "aq-mode=0"}, True),
    "t1-bf0": (1, {"x264-params": "bframes=0"}, True),
    "t1-partnone": (1, {"x264-params": "partitions=none"}, True),
    "t1-faster": (1, {"preset": "faster"}, True),
    "t1-superfast": (1, {"preset": "superfast"}, True),
}
_STATE: dict[str, Any] = {}


def setup(work: Path) -> tuple[ChunkSpec, Any, np.ndarray, np.ndarray]:
    photo = portrait(work)
    front = FRONT.replace(
        'SAM: {voice: "fake:b", color: "#3b82f6", avatar: illustrated}',
        f'SAM: {{voice: "fake:b", color: "#3b82f6", avatar: "photo:{photo.name}"}}',
    )
    (work / "ep.md").write_text(front + "".join(f"{w}: {t}\n" for w, t in LINES), encoding="utf-8")
    (work / "fake.yaml").write_text("tts_engine: fake\nworkers: 1\n", encoding="utf-8")
    config = load_render_config(work / "fake.yaml")
    options = RenderOptions(out_dir=work / "out", cache_dir=work / "cache", config=config, wav=True)
    result = render(work / "ep.md", options)
    timeline = Timeline.from_json(result.outputs["timeline"].read_text())
    rate = timeline.sample_rate
    master = np.ascontiguousarray(media.decoded(result.outputs["wav"], rate), dtype=np.float32)
    video = VideoConfig.model_validate({"size": "1280x720", "layout": "duo"})
    spec = ChunkSpec(timeline.to_json(), video.model_dump(mode="json"), str(work), str(work / "cache"),
                     select_encoder("libx264"), rate, "bench")  # fmt: skip
    return spec, chunk_plan(timeline, 25), master, master.mean(1)


def _patched_add_video(variant: str) -> Any:
    threads, options, _ = VARIANTS[variant]
    original = bitstream._add_video

    def add_video(container: Any, settings: Any) -> Any:
        stream = original(container, settings)
        if threads is not None:
            stream.codec_context.thread_count = threads
        if options:
            stream.codec_context.options = {**stream.codec_context.options, **options}
        return stream

    return add_video


def work_chunk(job: tuple[str, Any, Path]) -> tuple[float, int]:
    """Draw and encode one chunk as draw_chunk does; returns (this process's CPU seconds, frames)."""
    variant, chunk, dest = job
    spec, mono = _STATE["spec"], _STATE["mono"]
    bitstream._add_video = _patched_add_video(variant)  # type: ignore[assignment]
    plan = frame_plan(spec, ContentCache(Path(spec.cache_root)))
    started = time.process_time()
    frames = chunk_drawn if VARIANTS[variant][2] else chunk_frames
    count = encode_chunk(dest, spec.settings(), frames(plan, chunk, audio_slice(mono, chunk, spec.rate, 25), spec.rate))
    return time.process_time() - started, count


def planes(path: Path, step: int = 10) -> list[list[np.ndarray]]:
    with av.open(str(path)) as container:
        return [[p.copy() for p in _yuv(f)] for k, f in enumerate(container.decode(video=0)) if k % step == 0]


def _yuv(frame: av.VideoFrame) -> list[np.ndarray]:
    out = []
    for plane in frame.planes:
        raw = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(raw[:, : plane.width])
    return out


def main() -> None:
    from skimage.metrics import structural_similarity

    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["whole", "boxes", "t1", "t2"], choices=list(VARIANTS))
    parser.add_argument("--repeat", type=int, default=1, help="run the variants in turn this many times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec, chunks, master, mono = setup(work)
        _STATE.update(spec=spec, mono=mono)
        settings, needed = spec.settings(), frames_needed(len(master), 25, spec.rate)
        encode_audio_track(work / "a.mp4", settings, master, spec.rate)
        reference: list[list[np.ndarray]] | None = None
        ref_size = 0
        context = multiprocessing.get_context("fork")  # the workers inherit the set-up, not the measurement
        for variant in args.variants * args.repeat:
            parts = [work / f"{variant}-{c.index}.mp4" for c in chunks]
            with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
                list(pool.map(_warm, range(args.workers)))
                started = time.perf_counter()
                results = list(pool.map(work_chunk, [(variant, c, p) for c, p in zip(chunks, parts, strict=True)]))
                wall = time.perf_counter() - started
            joined = work / f"{variant}.mp4"
            join_chunks(joined, settings, parts, work / "a.mp4", needed)
            cpu, frames = sum(r[0] for r in results), sum(r[1] for r in results)
            size = sum(p.stat().st_size for p in parts)
            decoded = planes(joined)
            if reference is None:
                reference, ref_size = decoded, size
            ssim = [np.mean([structural_similarity(a[k], b[k], data_range=255)
                             for a, b in zip(reference, decoded, strict=True)]) for k in range(3)]  # fmt: skip
            print(f"{variant:13s} {frames} frames, {args.workers} workers: CPU {1e3 * cpu / frames:6.2f} ms/frame, "
                  f"wall {1e3 * wall / frames:5.2f} ms/frame; SSIM Y {ssim[0]:.4f} U {ssim[1]:.4f} V {ssim[2]:.4f}; "
                  f"size {size / ref_size:.3f}x", flush=True)  # fmt: skip


def _warm(_: int) -> None:
    """Each worker builds the frame plan before the clock starts (a render's workers build it once too)."""
    spec = _STATE["spec"]
    frame_plan(spec, ContentCache(Path(spec.cache_root)))
    time.sleep(0.5)


if __name__ == "__main__":
    main()
