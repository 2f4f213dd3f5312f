"""The episode audio streamed through files: the same numbers as in memory, memory that does not grow with the
episode, and the MP3 encoded in a worker process."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media import audio_stream_info, decoded, loudness
from podforge._episode_store import EPISODE_KIND, EpisodeStore
from podforge._mp3worker import start_mp3
from podforge.audio.export import Tags
from podforge.audio.loudness import curve
from podforge.audio.master import master, master_stream, measure
from podforge.audio.mix import MixSources, mix, mix_to_file
from podforge.audio.stream import BLOCK_FRAMES, ArrayAudio, MonoSlices, NpyAudio, RawAudio, as_reader, write_int16_npy
from podforge.cache import ContentCache
from podforge.config import MusicConfig
from podforge.errors import EncodeError
from podforge.music.registry import music_reader
from podforge.timeline import MusicSegment, SfxSegment, SpeakerInfo, SpeechSegment, Timeline

RATE = 48_000


def syllables(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Harmonic bursts with pauses: speech-like enough for gating and limiting."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * k * (120 + 20 * seed) * t) / k for k in range(1, 8))
    envelope = (np.sin(2 * np.pi * 2.5 * t) > 0.2) * rng.uniform(0.3, 0.9)
    return (0.3 * voice * envelope).astype(np.float32)


def write_raw(path: Path, samples: np.ndarray, rate: int = RATE) -> RawAudio:
    raw = RawAudio.create(path, rate, samples.shape[1], samples.shape[0])
    raw.write(0, samples)
    return raw


def signals() -> dict[str, np.ndarray]:
    speech = np.repeat(syllables(7.3, 1)[:, None], 2, axis=1)
    music = 0.05 * np.sin(2 * np.pi * 220 * np.arange(speech.shape[0]) / RATE)[:, None]
    edges = (speech * 0.5).copy()
    for edge in (BLOCK_FRAMES - 1, BLOCK_FRAMES, 2 * BLOCK_FRAMES - 2, 32768 * 3 + 1):
        edges[edge] = [0.99, -0.99]  # intersample crests straddling the blocks the stages read
    return {
        "silence": np.zeros((3 * BLOCK_FRAMES + 5, 2), np.float32),
        "speech_with_music": (speech + music).astype(np.float32),
        "peaks_at_block_edges": edges,
        "hot": (speech * 4).astype(np.float32),
        "short": speech[:9000].copy(),
    }


@pytest.mark.parametrize("name", list(signals()))
def test_master_stream_writes_what_master_returns(name, tmp_path):
    x = signals()[name]
    expected = master(x, RATE)
    for meter in (None, measure(as_reader(x, RATE), curve(x.shape[0], RATE))):
        out, levels = master_stream(write_raw(tmp_path / "in.f32", x), tmp_path / "out.f32", meter=meter)
        assert out.frames == x.shape[0] and out.channels == 2
        assert np.array_equal(out.read(0, out.frames), expected.samples)
        assert (levels.lufs_in, levels.lufs_out, levels.gain_db) == (expected.lufs_in, expected.lufs_out,
                                                                      expected.gain_db)  # fmt: skip
        assert levels.true_peak_dbtp == expected.true_peak_dbtp
        # the curves mastering kept across its passes were scratch files beside the output, gone now
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.f32", "out.f32"]


def episode(minutes: float, rate: int = RATE) -> tuple[Timeline, MixSources]:
    """Two speakers alternating 5 s lines from a few clips, an intro bed with fades, a sting now and then."""
    clips = {f"c{i}": syllables(5.0 + 0.37 * i, i, rate) for i in range(4)}
    segments: list[SpeechSegment | MusicSegment | SfxSegment] = [
        MusicSegment(0, 12 * rate + 7, 1, "intro", level_db=-6.0, fade_in=rate, fade_out=3 * rate)
    ]
    start, turn = 2 * rate, 0
    while start < minutes * 60 * rate - 8 * rate:
        key = f"c{turn % 4}"
        length = clips[key].shape[0] - 100  # a clip longer than its segment is cut
        segments.append(SpeechSegment(start, start + length, turn, "AB"[turn % 2], "fake:a", "x", "x", key))
        if turn % 7 == 3:
            segments.append(SfxSegment(start - rate // 3, start, turn, "sting"))
        start += length + int(0.4 * rate)
        turn += 1
    speakers = {k: SpeakerInfo(k, "fake:a", "#ffffff") for k in "AB"}
    timeline = Timeline("t", rate, int(minutes * 60 * rate), speakers, tuple(segments))
    sting = np.repeat(syllables(0.2, 9, rate)[:, None], 2, axis=1)
    bed = np.repeat(0.1 * np.sin(2 * np.pi * 110 * np.arange(13 * rate) / rate)[:, None], 2, axis=1)
    sources = MixSources(clips.__getitem__, lambda seg: bed[: seg.length].astype(np.float32), lambda p: sting)
    return timeline, sources


def test_mix_to_file_is_the_mix_and_its_meter_what_mastering_measures(tmp_path):
    timeline, sources = episode(0.4)
    expected = mix(timeline, sources)
    raw, meter = mix_to_file(timeline, sources, tmp_path / "mix.f32")
    assert np.array_equal(raw.read(0, raw.frames), expected)
    again = measure(as_reader(expected, RATE), curve(expected.shape[0], RATE))
    assert np.array_equal(meter.sub_sums(), again.sub_sums())
    assert np.array_equal(meter.power.read(0, meter.power.frames), again.power.read(0, again.power.frames))
    assert np.array_equal(MonoSlices(raw)[1000:50_000], expected[1000:50_000].mean(axis=1, dtype=np.float32))


def streamed_peak_bytes(minutes: float, folder: Path) -> int:
    timeline, sources = episode(minutes, rate=24_000)
    square = np.sign(np.sin(2 * np.pi * 500 * np.arange(24_000 // 5) / 24_000))  # a full-scale sting to limit
    sources = replace(sources, sfx=lambda path: np.repeat(0.95 * square[:, None], 2, axis=1).astype(np.float32))
    tracemalloc.start()
    try:
        raw, meter = mix_to_file(timeline, sources, folder / f"mix-{minutes}.f32")
        _, levels = master_stream(raw, folder / f"master-{minutes}.f32", meter=meter)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a static gain alone would have pushed the sample peak past the limit: the limiter's curve was made
    assert 20 * np.log10(meter.block_peaks().max()) + levels.gain_db > -1.0 >= levels.true_peak_dbtp
    return peak


def test_mixing_and_mastering_memory_does_not_grow_with_the_episode(tmp_path):
    short, long = streamed_peak_bytes(2, tmp_path), streamed_peak_bytes(8, tmp_path)
    stereo = 8 * 60 * 24_000 * 2 * 4  # one full-length float32 stereo array: the in-memory path held three
    curve = stereo // 16  # one 1/8-rate mono float32 curve: mastering held four of them
    print(f"peak traced: {short / 1e6:.1f} MB for 2 min, {long / 1e6:.1f} MB for 8 min (curve {curve / 1e6:.1f} MB)")
    # Blocks, clips, beds and the limiter's curve in pieces; the curves kept across passes are files: four times
    # the episode, not four times the memory (the 1/8-rate curves in memory grew 14 MB from 2 to 8 minutes).
    assert long < 1.3 * short
    assert long - short < curve / 4


def test_cached_master_reads_back_as_int16_pcm(tmp_path):
    x = np.repeat(syllables(3.1, 2)[:, None], 2, axis=1)
    write_int16_npy(tmp_path / "m.npy", as_reader(x, RATE))
    stored = np.load(tmp_path / "m.npy")
    assert np.array_equal(stored, np.round(x * 32767).astype(np.int16))
    reader = NpyAudio.open(tmp_path / "m.npy", RATE)
    assert (reader.frames, reader.channels) == x.shape
    assert np.array_equal(reader.read(5000, 9000), stored[5000:9000].astype(np.float32) / np.float32(32767))


class _Marker:
    """A picklable ``then``: proves it ran in the worker, after the MP3 was whole."""

    def __init__(self, mp3: Path, mark: Path) -> None:
        self.mp3, self.mark = mp3, mark

    def __call__(self) -> None:
        self.mark.write_text(str(self.mp3.stat().st_size))


def test_mp3_in_a_worker_process_is_the_episode(tmp_path):
    x = np.repeat(syllables(4.0, 3)[:, None], 2, axis=1) * 0.5
    dest = tmp_path / "episode.mp3"
    pending = start_mp3(dest, write_raw(tmp_path / "m.f32", x), bitrate=128_000, tags=Tags("T"), worker=True,
                        then=_Marker(dest, tmp_path / "mark"))  # fmt: skip
    assert pending.process is not None
    pending.finish()
    codec, bitrate, seconds = audio_stream_info(dest)
    assert codec == "mp3" and abs(bitrate - 128_000) < 8_000 and abs(seconds - 4.0) < 0.1
    assert int((tmp_path / "mark").read_text()) == dest.stat().st_size
    assert abs(loudness(decoded(dest)) - loudness(x)) < 0.5


def test_mp3_worker_stores_the_episode_and_imports_no_mixing_or_mastering(tmp_path):
    x = np.repeat(syllables(3.0, 5)[:, None], 2, axis=1) * 0.5
    dest, cache = tmp_path / "episode.mp3", ContentCache(tmp_path / "cache")
    store = EpisodeStore(cache, "k" * 64, {".mp3": dest}, {"lufs": -16.0})
    start_mp3(dest, write_raw(tmp_path / "m.f32", x), bitrate=128_000, tags=Tags("T"), worker=True,
              then=store).finish()  # fmt: skip
    assert cache.copy_to(EPISODE_KIND, "k" * 64, ".mp3", tmp_path / "back.mp3")
    assert (tmp_path / "back.mp3").read_bytes() == dest.read_bytes()
    assert json.loads(cache.get_text(EPISODE_KIND, "k" * 64, ".json") or "") == {"lufs": -16.0}
    # what the worker imports to run the job: the MP3 writer and what it unpickles (scipy and the mastering
    # stack cost a worker ~80 MB)
    job = pickle.dumps((write_raw(tmp_path / "m.f32", x), Tags("T"), store))
    probe = "import pickle, sys; import podforge._mp3worker; pickle.loads(sys.stdin.buffer.read()); print(*sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], input=job, capture_output=True, check=True).stdout.split()
    assert b"podforge._episode_store" in loaded
    assert not {b"scipy", b"podforge.audio.master", b"podforge.outputs", b"podforge.audio.mix"} & set(loaded)


def test_mp3_worker_failure_is_one_encode_error_and_no_file(tmp_path):
    x = np.repeat(syllables(2.0, 4)[:, None], 2, axis=1)
    x[RATE] = np.nan
    dest = tmp_path / "episode.mp3"
    pending = start_mp3(dest, write_raw(tmp_path / "m.f32", x), bitrate=128_000, tags=Tags("T"), worker=True)
    with pytest.raises(EncodeError, match="NaN"):
        pending.finish()
    assert not dest.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.f32"]


def test_a_cached_bed_is_read_from_disk_by_slices_and_mixes_the_same(tmp_path):
    timeline, sources = episode(0.3)
    cache, config = ContentCache(tmp_path / "cache"), MusicConfig(engine="fake")
    bed = timeline.of_kind(MusicSegment)[0]
    first = music_reader(bed, RATE, config, tmp_path, cache)  # rendered now, and cached
    again = music_reader(bed, RATE, config, tmp_path, cache)
    assert isinstance(first, ArrayAudio) and isinstance(again, NpyAudio)
    assert np.array_equal(again.read(1000, 90_000), first.samples[1000:90_000])
    beds = {"array": lambda seg: first.samples, "disk": lambda seg: again}
    mixes = [mix(timeline, MixSources(sources.clip, music, sources.sfx)) for music in beds.values()]
    assert np.array_equal(mixes[0], mixes[1]) and np.abs(mixes[0][: 12 * RATE]).max() > 0.01
