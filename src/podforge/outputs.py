"""The files of an episode, each written atomically into a staging folder."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write_text
from .artwork import embedded_cover
from .audio.export import Chapter, Tags, write_mp3, write_wav
from .audio.master import master
from .cache import ContentCache, content_key
from .config import RenderConfig, VideoConfig
from .script.model import Script
from .timeline import ChapterSegment, MusicSegment, SfxSegment, SpeechSegment, Timeline, WordTiming
from .transcripts import ChapterMark, Cue, chapters_json, srt_text, vtt_text

MASTER_KIND = "masters"
PACKAGES = ("podforge", "hibari-tts", "piper-tts", "av", "numpy", "pyloudnorm", "mutagen", "pocketsphinx")


def versions() -> dict[str, object]:
    found: dict[str, object] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def episode_chapters(timeline: Timeline) -> list[ChapterMark]:
    rate = timeline.sample_rate
    marks = sorted(timeline.of_kind(ChapterSegment), key=lambda c: c.start)
    return [ChapterMark(c.title, c.start / rate, min(c.end, timeline.duration) / rate) for c in marks]


def transcript_cues(timeline: Timeline) -> list[Cue]:
    """One cue per sentence, timed by the aligned words when there are any, else per line."""
    rate = timeline.sample_rate
    cues = []
    for seg in sorted(timeline.of_kind(SpeechSegment), key=lambda s: s.start):
        name = timeline.speakers[seg.speaker].display_name
        words = timeline.words.get(seg.clip)
        if not words:
            cues.append(Cue(seg.start / rate, seg.end / rate, name, seg.text))
            continue
        cues += [Cue(start / rate, end / rate, name, text) for text, start, end in sentence_spans(seg, words)]
    return cues


def sentence_spans(segment: SpeechSegment, words: tuple[WordTiming, ...]) -> list[tuple[str, int, int]]:
    """(sentence, start, end) in absolute samples, from the written words' aligned times."""
    from .visuals.captions import caption_word_times

    spans: list[tuple[str, int, int]] = []
    current: list[tuple[str, int, int]] = []
    timed = caption_word_times(segment, words)
    for index, (token, start, end) in enumerate(timed):
        current.append((token, start, end))
        if token.endswith((".", "!", "?", "…", '."', '?"', '!"')) or index == len(timed) - 1:
            spans.append((" ".join(t for t, _, _ in current), current[0][1], current[-1][2]))
            current = []
    return spans


def written_words(timeline: Timeline) -> list[tuple[SpeechSegment, list[tuple[str, float, float]]]]:
    """Each spoken line in time order with its written words and their (start, end) seconds, timed by the
    aligned words; an unaligned line is one item, its whole text over its whole span."""
    from .visuals.captions import caption_word_times

    rate = timeline.sample_rate
    lines = []
    for seg in sorted(timeline.of_kind(SpeechSegment), key=lambda s: s.start):
        aligned = timeline.words.get(seg.clip)
        if not aligned:
            lines.append((seg, [(seg.text, seg.start / rate, seg.end / rate)]))
            continue
        timed = caption_word_times(seg, aligned)
        lines.append((seg, [(token, start / rate, max(end, start + 1) / rate) for token, start, end in timed]))
    return lines


def word_cues(timeline: Timeline) -> list[Cue]:
    """One cue per written word, for word-level WebVTT."""
    return [
        Cue(start, end, timeline.speakers[seg.speaker].display_name, token)
        for seg, timed in written_words(timeline)
        if timeline.words.get(seg.clip)
        for token, start, end in timed
    ]


@dataclass(frozen=True)
class AudioJob:
    """What the episode audio is made from; its hash names the finished files in the cache."""

    script: Script
    timeline: Timeline
    make_mix: Callable[[], np.ndarray]
    wav: bool
    config: RenderConfig

    def tags(self) -> Tags:
        front = self.script.front
        artist = front.author or ", ".join(s.display_name for s in self.timeline.speakers.values())
        return Tags(title=self.script.title, artist=artist, album=front.album or self.script.title,
                    year=str(front.year or ""), comment="Made with podforge")  # fmt: skip

    @property
    def cover(self) -> Path | None:
        """The episode's art (``video.cover``): the audiogram's picture and the MP3's APIC frame."""
        name = self.config.video.cover
        return self.script.base_dir / name if name else None

    def key(self) -> str:
        media = sorted({seg.path for seg in self.timeline.of_kind(SfxSegment)}
                       | {seg.source for seg in self.timeline.of_kind(MusicSegment) if seg.is_file})  # fmt: skip
        return content_key(
            kind="episode",
            # Word timings and mouths change the picture, not the sound: leave them out so audio-only
            # and video renders of the same script share one mastered episode.
            timeline=replace(self.timeline, words={}, mouths={}).to_json(),
            output=self.config.output.model_dump(mode="json"),
            tags=asdict(self.tags()),
            media={name: file_digest(self.script.base_dir / name) for name in media},
            versions=versions(),
            # Only when set, so that the keys of episodes without art stay what they were.
            **({"cover": file_digest(self.cover)} if self.cover else {}),
        )


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class AudioResult:
    paths: dict[str, Path]
    levels: dict[str, Any]
    key: str
    mastered: Callable[[], np.ndarray]


def publish_audio(folder: Path, stem: str, job: AudioJob, cache: ContentCache, *, keep_master: bool) -> AudioResult:
    """mp3 (and wav) of the mastered mix, from the cache when the same episode was made before.

    `keep_master` also keeps the mastered PCM (in the cache) for the video's audio track.
    """
    key = job.key()
    suffixes = {"mp3": ".mp3", "wav": ".wav"} if job.wav else {"mp3": ".mp3"}
    written = {kind: folder / f"{stem}{suffix}" for kind, suffix in suffixes.items()}
    levels_text = cache.get_text("episodes", key, ".json")
    # Every file is checked (and copied) before any is trusted: one broken entry means mastering again.
    if (
        levels_text is not None
        and (not keep_master or cache.has(MASTER_KIND, key))
        and all([cache.copy_to("episodes", key, suffix, written[kind]) for kind, suffix in suffixes.items()])
    ):
        levels = {**json.loads(levels_text), "cached": True}
        return AudioResult(written, levels, key, lambda: _cached_master(cache, key, job))
    samples, levels = _master_and_encode(job, written)
    for kind, suffix in suffixes.items():
        cache.put_file("episodes", key, suffix, written[kind])
    if keep_master:
        cache.put_array(MASTER_KIND, key, np.round(samples * 32767).astype(np.int16))
    cache.put_text("episodes", key, ".json", json.dumps(levels))
    return AudioResult(written, {**levels, "cached": False}, key, lambda: samples)


def _cached_master(cache: ContentCache, key: str, job: AudioJob) -> np.ndarray:
    pcm = cache.get_array(MASTER_KIND, key)
    if pcm is None:  # broken or evicted since it was found: master the same mix again
        out = job.config.output
        return master(job.make_mix(), job.timeline.sample_rate, target_lufs=out.target_lufs,
                      true_peak_limit_dbtp=out.true_peak_dbtp).samples  # fmt: skip
    return (pcm.astype(np.float32) / np.float32(32767)).astype(np.float32)


def _master_and_encode(job: AudioJob, written: dict[str, Path]) -> tuple[np.ndarray, dict[str, Any]]:
    out, rate = job.config.output, job.timeline.sample_rate
    mastered = master(job.make_mix(), rate, target_lufs=out.target_lufs, true_peak_limit_dbtp=out.true_peak_dbtp)
    chapters = [Chapter(c.title, c.start, c.end) for c in episode_chapters(job.timeline)]
    cover = embedded_cover(job.cover) if job.cover else b""
    write_mp3(written["mp3"], mastered.samples, rate, bitrate=out.mp3_bitrate, tags=job.tags(), chapters=chapters,
              cover_jpeg=cover)  # fmt: skip
    if "wav" in written:
        write_wav(written["wav"], mastered.samples, rate)
    levels = {"lufs": round(mastered.lufs_out, 2), "true_peak_dbtp": round(mastered.true_peak_dbtp, 2)}
    return mastered.samples, levels


def publish_texts(folder: Path, stem: str, script: Script, timeline: Timeline, video: VideoConfig) -> dict[str, Path]:
    cues = transcript_cues(timeline)
    extra = {"words_vtt": (f"{stem}.words.vtt", vtt_text(word_cues(timeline)))} if video.word_vtt else {}
    texts = {
        "srt": (f"{stem}.srt", srt_text(cues)),
        "vtt": (f"{stem}.vtt", vtt_text(cues)),
        "chapters": (f"{stem}.chapters.json", chapters_json(episode_chapters(timeline), title=script.title)),
        "timeline": (f"{stem}.timeline.json", timeline.to_json()),
        **extra,
    }
    return {kind: atomic_write_text(folder / name, text) for kind, (name, text) in texts.items()}
