"""Render one frame of every video layout at every size into docs/contact_sheet.png, for a visual check.

A small two-host timeline with hand-made word timings and a speech-like test signal; the frame is
taken mid-line so captions, the word highlight, the active speaker, the visualiser and the talking
avatars all show.  ALEX is illustrated; SAM animates scikit-image's astronaut photo when scikit-image
and the photo avatar are installed, and is illustrated too otherwise.
    .venv/bin/python scripts/contact_sheet.py
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from podforge.config import VideoConfig
from podforge.script.speech_text import to_speech
from podforge.timeline import ChapterSegment, Segment, SpeakerInfo, SpeechSegment, Timeline, WordTiming
from podforge.visuals._draw import font
from podforge.visuals.frames import FrameRenderer, plan_frames
from podforge.visuals.visemes import keys_to_json, mouth_keys
from podforge.visuals.visualizers import AudioFeatures

RATE = 48_000
FPS = 25
LAYOUTS = ("duo", "solo", "active-speaker", "audiogram")
SIZES = ("1280x720", "1920x1080", "1080x1920", "1080x1080")
CELL = 360  # thumbnail height
LABEL = 34
DEST = Path(__file__).resolve().parent.parent / "docs" / "contact_sheet.png"
LINES = (
    ("ALEX", "Welcome back to Tiny Machines, the show about very small computers."),
    ("SAM", "This board costs $9.99 today, which is honestly a steal for what you get."),
    ("ALEX", "Let's talk about the GPU on it and why it matters."),
)
SNAPSHOT_SECONDS = 6.32  # inside SAM's line, a few words in, clear of ALEX's blink at 6.2 s


def timeline() -> Timeline:
    speakers = {
        "ALEX": SpeakerInfo("Alex Chen", "fake:a", "#e4572e", "illustrated"),
        "SAM": SpeakerInfo("Sam Rivera", "fake:b", "#3b82f6", "photo"),
    }
    segments: list[Segment] = [ChapterSegment(0, 0, 1, "Intro")]
    words: dict[str, tuple[WordTiming, ...]] = {}
    cursor = int(1.0 * RATE)
    for k, (speaker, text) in enumerate(LINES):
        spoken = to_speech(text)
        step = int(0.3 * RATE)
        words[f"clip{k}"] = tuple(
            WordTiming(w, j * step, j * step + int(step * 0.85)) for j, w in enumerate(spoken.split())
        )
        end = cursor + step * len(spoken.split())
        segments.append(SpeechSegment(cursor, end, k + 2, speaker, "fake:a", text, spoken, f"clip{k}"))
        cursor = end + int(0.35 * RATE)
    return Timeline(
        "Tiny Machines: small computers, big ideas", RATE, cursor + RATE, speakers, tuple(segments), words=words
    )


def speechlike(duration: int) -> np.ndarray:
    """Harmonics under a syllable-rate envelope, so the visualiser moves like it does on a voice."""
    t = np.arange(duration) / RATE
    voice = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 2
    mono = (0.2 * voice * envelope).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def with_avatars(tl: Timeline, audio: np.ndarray, folder: Path) -> Timeline:
    """Mouth keys for every line (from the loudness: the words have no phones) and the astronaut for SAM."""
    mouths = {}
    for seg in tl.segments:
        if isinstance(seg, SpeechSegment):
            mouths[seg.clip] = keys_to_json(mouth_keys(tl.words[seg.clip], audio[seg.start : seg.end], RATE))
    avatar = "illustrated"
    try:
        from skimage import data

        import podforge.visuals.avatars.photo  # noqa: F401  (only to know that photo avatars are available)

        Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
        avatar = "photo:astronaut.png"
    except ImportError:
        pass
    speakers = {**tl.speakers, "SAM": replace(tl.speakers["SAM"], avatar=avatar)}
    return replace(tl, mouths=mouths, speakers=speakers)


def thumbnail(tl: Timeline, audio: np.ndarray, layout: str, size: str, base_dir: Path = Path(".")) -> Image.Image:
    video = VideoConfig.model_validate({"size": size, "fps": FPS, "layout": layout})
    plan = plan_frames(tl, video, base_dir)
    frame = FrameRenderer(plan, AudioFeatures(audio, RATE, FPS)).draw(int(SNAPSHOT_SECONDS * FPS))
    image = Image.fromarray(frame)
    return image.resize((round(CELL * image.width / image.height), CELL), Image.Resampling.LANCZOS)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tl = timeline()
        audio = speechlike(tl.duration)
        draw_sheet(with_avatars(tl, audio, Path(tmp)), audio, Path(tmp))


def draw_sheet(tl: Timeline, audio: np.ndarray, base_dir: Path) -> None:
    pad = 16
    widths = [round(CELL * int(w) / int(h)) for w, h in (s.split("x") for s in SIZES)]
    lefts = [pad + sum(widths[:k]) + pad * k for k in range(len(SIZES))]
    sheet = Image.new("RGB", (lefts[-1] + widths[-1] + pad, len(LAYOUTS) * (CELL + LABEL + pad) + pad), (40, 42, 48))
    draw = ImageDraw.Draw(sheet)
    for row, layout in enumerate(LAYOUTS):
        for col, size in enumerate(SIZES):
            x, y = lefts[col], pad + row * (CELL + LABEL + pad)
            sheet.paste(thumbnail(tl, audio, layout, size, base_dir), (x, y))
            label = f"{layout} · {size}"
            draw.text(
                (x + widths[col] / 2, y + CELL + LABEL / 2),
                label,
                font=font("medium", 18),
                fill=(230, 230, 230),
                anchor="mm",
            )
    DEST.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(DEST, optimize=True)
    print(f"wrote {DEST}")


if __name__ == "__main__":
    main()
