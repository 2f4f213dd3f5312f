"""The files of an episode, each written atomically into a staging folder."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ._atomic import atomic_write_text
from ._episode_store import EPISODE_KIND, EpisodeStore
from ._mp3worker import PendingMp3, start_mp3
from .artwork import embedded_cover
from .audio.export import Chapter, Tags, write_wav
from .audio.master import Meter, master_stream
from .audio.mix import MIX_VERSION, MixSources, mix_to_file
from .audio.splice import Previous, block_hashes, first_change
from .audio.stream import AudioReader, LazyAudio, NpyAudio, RawAudio, write_int16_npy
from .cache import ContentCache, content_key
from .config import RenderConfig, VideoConfig
from .script.model import Script
from .timeline import ChapterSegment, MusicSegment, SfxSegment, SpeechSegment, Timeline, WordTiming
from .transcripts import ChapterMark, Cue, chapters_json, srt_text, vtt_text

MASTER_KIND = "masters"
LINEAGE_KIND = "audio-lineage"  # per script and output settings: the last encoded episode and its block hashes
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


_NEVER_ENDS = frozenset(("e.g.", "i.e.", "vs.", "approx.", "cf."))
_TITLES = frozenset(("mr.", "mrs.", "ms.", "dr.", "prof."))  # before a name: "Dr. Li" is not two sentences


def _ends_sentence(token: str, following: str) -> bool:
    if not token.endswith((".", "!", "?", "…", '."', '?"', '!"')):
        return False
    bare = token.lstrip("\"'(“‘").lower()
    return bare not in _NEVER_ENDS and not (bare in _TITLES and following[:1].isupper())


def sentence_spans(segment: SpeechSegment, words: tuple[WordTiming, ...]) -> list[tuple[str, int, int]]:
    """(sentence, start, end) in absolute samples, from the written words' aligned times."""
    from .visuals.captions import caption_word_times

    spans: list[tuple[str, int, int]] = []
    current: list[tuple[str, int, int]] = []
    timed = caption_word_times(segment, words)
    for index, (token, start, end) in enumerate(timed):
        current.append((token, start, end))
        following = timed[index + 1][0] if index + 1 < len(timed) else ""
        if _ends_sentence(token, following) or index == len(timed) - 1:
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
    sources: MixSources
    wav: bool
    config: RenderConfig

    def mix_to(self, dest: Path) -> tuple[RawAudio, Meter]:
        """The unmastered mix, written block by block to ``dest`` and measured for mastering."""
        return mix_to_file(self.timeline, self.sources, dest)

    def master_to(self, mixed: AudioReader, dest: Path, meter: Meter | None = None) -> tuple[RawAudio, dict[str, Any]]:
        out = self.config.output
        mastered, levels = master_stream(mixed, dest, meter=meter, target_lufs=out.target_lufs,
                                         true_peak_limit_dbtp=out.true_peak_dbtp)  # fmt: skip
        return mastered, {"lufs": round(levels.lufs_out, 2), "true_peak_dbtp": round(levels.true_peak_dbtp, 2)}

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
            mix=MIX_VERSION,
            # Only when set, so that the keys of episodes without art stay what they were.
            **({"cover": file_digest(self.cover)} if self.cover else {}),
        )


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class AudioResult:
    """The episode's audio files (the MP3 perhaps still being encoded: ``finish`` before placing them),
    its levels, and readers of the mastered audio and of the unmastered mix (made on first read when the
    episode came from the cache)."""

    paths: dict[str, Path]
    levels: dict[str, Any]
    key: str
    mastered: AudioReader
    mixed: AudioReader
    pending: PendingMp3 | None = field(default=None, repr=False)
    store: EpisodeStore | None = field(default=None, repr=False)
    previous: PreviousEpisode | None = None  # the same script's last encoded episode, where the audio parts

    def finish(self) -> dict[str, float | int]:
        """Wait for the MP3 (and its cache entry); raises EncodeError if the MP3 failed. Returns what its encode
        copied from the previous episode's MP3 and encoded afresh (for the metrics; empty when it was cached)."""
        if self.pending is not None and self.store is not None:
            spliced = self.pending.finish()
            self.store.pin()
            return spliced.record("mp3", self.mastered.rate) if spliced else {}
        return {}

    def abandon(self) -> None:
        """Stop the MP3 encode of a render that failed elsewhere."""
        if self.pending is not None:
            self.pending.abandon()


def publish_audio(
    folder: Path, stem: str, job: AudioJob, cache: ContentCache, *, keep_master: bool, background: bool = True,
    on_mixed: Callable[[AudioReader, str], object] | None = None,
) -> AudioResult:  # fmt: skip
    """mp3 (and wav) of the mastered mix, from the cache when the same episode was made before.

    Scratch files (the mix, the master, raw float32) go into ``folder`` too, under names starting with a dot.
    `keep_master` also keeps the mastered PCM (in the cache) for the video's audio track. `background` lets a long
    episode's MP3 be encoded in a worker process (worth its start only when other stages run meanwhile).
    """
    key = job.key()
    suffixes = {"mp3": ".mp3", "wav": ".wav"} if job.wav else {"mp3": ".mp3"}
    written = {kind: folder / f"{stem}{suffix}" for kind, suffix in suffixes.items()}
    levels_text = cache.get_text(EPISODE_KIND, key, ".json")
    rate, frames = job.timeline.sample_rate, job.timeline.duration
    mixed = LazyAudio(rate, 2, frames, lambda: job.mix_to(folder / ".mix.f32")[0])
    # Every file is checked (and copied) before any is trusted: one broken entry means mastering again.
    if (
        levels_text is not None
        and (not keep_master or cache.has(MASTER_KIND, key))
        and all([cache.copy_to(EPISODE_KIND, key, suffix, written[kind]) for kind, suffix in suffixes.items()])
    ):
        levels = {**json.loads(levels_text), "cached": True}
        cached = LazyAudio(rate, 2, frames, lambda: _cached_master(cache, key, job, folder, mixed))
        return AudioResult(written, levels, key, cached, mixed)
    raw, meter = job.mix_to(folder / ".mix.f32")
    if on_mixed is not None:
        on_mixed(raw, key)  # the video's chunks need the mix alone: they may start now (see video.draw_early)
    mastered, levels = job.master_to(raw, folder / ".master.f32", meter)
    if isinstance(meter.power, RawAudio):  # a scratch curve as long as the episode / 16: not needed any more
        meter.power.path.unlink(missing_ok=True)
    del meter
    if keep_master:  # before the MP3 starts: its worker completes the entry, which must then be whole
        write_int16_npy(folder / ".master.npy", mastered)
        cache.put_file(MASTER_KIND, key, ".npy", folder / ".master.npy")
        (folder / ".master.npy").unlink()
    store = EpisodeStore(cache, key, {suffix: written[kind] for kind, suffix in suffixes.items()}, levels)
    previous = previous_episode(cache, job, key, mastered)
    mp3 = previous.file(cache, EPISODE_KIND, previous.key, ".mp3", folder / ".previous.mp3") if previous else None
    pending = _encode(job, written, mastered, store, background, mp3)
    return AudioResult(written, {**levels, "cached": False}, key, mastered, raw, pending, store, previous)


@dataclass(frozen=True)
class PreviousEpisode:
    """The episode this script's last render encoded (its key) and the first audio frame where this one differs."""

    key: str
    changed: int

    def file(self, cache: ContentCache, kind: str, key: str, suffix: str, dest: Path) -> Previous | None:
        """Its encode cached under ``kind``/``key`` copied to ``dest``, to splice from; None when gone."""
        return Previous(dest, self.changed) if cache.copy_to(kind, key, suffix, dest) else None


def previous_episode(cache: ContentCache, job: AudioJob, key: str, mastered: AudioReader) -> PreviousEpisode | None:
    """The last episode encoded from this script with these output settings, if its audio shares a start with
    ``mastered``; records this one (``key``) as the last. A broken record only means encoding it all."""
    lineage = content_key(kind=LINEAGE_KIND, script=str(job.script.path.resolve()),
                          output=job.config.output.model_dump(mode="json"), versions=versions())  # fmt: skip
    hashes = block_hashes(mastered)
    text = cache.get_text(LINEAGE_KIND, lineage, ".json")
    cache.put_text(LINEAGE_KIND, lineage, ".json", json.dumps({"key": key, "frames": mastered.frames,
                                                                "hashes": hashes}))  # fmt: skip
    try:
        last = json.loads(text) if text else None
        changed = first_change(last["hashes"], int(last["frames"]), hashes, mastered.frames) if last else 0
    except (ValueError, KeyError, TypeError):
        return None
    return PreviousEpisode(str(last["key"]), changed) if last and changed > 0 and last["key"] != key else None


def _cached_master(cache: ContentCache, key: str, job: AudioJob, folder: Path, mixed: AudioReader) -> AudioReader:
    path = folder / ".master.npy"
    if not cache.copy_to(MASTER_KIND, key, ".npy", path):  # broken or evicted since it was found: master again
        return job.master_to(mixed, folder / ".master.f32")[0]
    try:
        return NpyAudio.open(path, job.timeline.sample_rate)
    except ValueError:  # a verified entry of another shape: written by another version; master again
        return job.master_to(mixed, folder / ".master.f32")[0]


def _encode(
    job: AudioJob, written: dict[str, Path], mastered: RawAudio, store: EpisodeStore, background: bool,
    previous: Previous | None,
) -> PendingMp3:  # fmt: skip
    """Write the WAV, then start the MP3 (in a worker for long episodes), which stores the episode when done."""
    out, rate = job.config.output, job.timeline.sample_rate
    chapters = [Chapter(c.title, c.start, c.end) for c in episode_chapters(job.timeline)]
    cover = embedded_cover(job.cover) if job.cover else b""
    if "wav" in written:
        write_wav(written["wav"], mastered, rate)
    return start_mp3(written["mp3"], mastered, bitrate=out.mp3_bitrate, tags=job.tags(), chapters=chapters,
                     cover_jpeg=cover, then=store, worker=None if background else False, previous=previous)  # fmt: skip


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
