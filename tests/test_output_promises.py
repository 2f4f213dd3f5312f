"""The promises measured on the files a listener gets, not inside the mixer.

One short episode (fake voice at 210 Hz, the fake music engine's chord, a 1.5 kHz tone as a sound
effect) is rendered twice, with and without captions, and decoded: the intro is heard alone for
its lead, the bed ducks under speech in the MP3, the sound effect sounds where it was placed, the
MP4's AAC stays under the true-peak ceiling, and the burned captions highlight each word in turn.
"""

from __future__ import annotations

import itertools
import re
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.signal import resample_poly

from badmedia import float_wav, tone_wav
from podforge.cli import main
from podforge.config import RenderConfig
from podforge.timeline import MusicSegment, SfxSegment, SpeechSegment, Timeline

RATE = 48_000
VOICE_HZ = 210.0  # fake:b; its 3rd and 4th harmonics (630, 840 Hz) are far from the bed's chord
SFX_HZ = 1500.0
MAGENTA = "#ff00ff"
SCRIPT = f"""---
title: Promises
speakers:
  ALEX: {{voice: "fake:b", color: "{MAGENTA}"}}
music: {{engine: fake}}
video: {{size: 480x270, layout: solo, word_vtt: true}}
---
[Soft intro music - warm piano]
ALEX: Welcome back everyone to a show about measuring promises carefully.
[SFX: beep.wav]
ALEX: Every number here is measured from the decoded files themselves.
[SFX: click.wav]
"""


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("promises")
    (folder / "episode.md").write_text(SCRIPT, encoding="utf-8")
    (folder / "fake.yaml").write_text("tts_engine: fake\n", encoding="utf-8")
    tone_wav(folder / "beep.wav", seconds=0.3, freq=SFX_HZ)
    # A 2 ms click 12 dB over full scale (a float WAV keeps it): too short to move the loudness, so the
    # limiter must take it down by ~13 dB, and the AAC encoder must not push it back over the ceiling.
    t = np.arange(96) / RATE
    float_wav(folder / "click.wav", (4.0 * np.hanning(96) * np.sin(2 * np.pi * 3000 * t)).astype(np.float32))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PODFORGE_CACHE_DIR", str(folder / "cache"))
        for out, flags in (("on", []), ("off", ["--no-captions"])):
            args = ["render", str(folder / "episode.md"), "-o", str(folder / out), "-c", str(folder / "fake.yaml")]
            assert main(args + flags) == 0
    return {"on": folder / "on", "off": folder / "off"}


def timeline_of(out: Path) -> Timeline:
    return Timeline.from_json((out / "episode.timeline.json").read_text(encoding="utf-8"))


def decode(path: Path) -> np.ndarray:
    from podforge.audio.export import decode_audio

    return decode_audio(path, RATE).mean(axis=1)


def tone_level(audio: np.ndarray, start: float, end: float, hz: float) -> float:
    """Level in dB of the component at ``hz`` between two times (Hann window, 2-bin peak)."""
    piece = audio[round(start * RATE) : round(end * RATE)]
    spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece)))) / len(piece)
    freqs = np.fft.rfftfreq(len(piece), 1 / RATE)
    return float(20 * np.log10(spectrum[np.abs(freqs - hz) <= 2.5].max() + 1e-12))


def band_envelope(audio: np.ndarray, hz: float, width: float = 40.0, hop: float = 0.01) -> np.ndarray:
    """Energy near ``hz`` in 10 ms steps (20 ms windows), normalised to its maximum."""
    size, step = round(0.02 * RATE), round(hop * RATE)
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::step] * np.hanning(size)
    spectrum = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    energy = spectrum[:, np.abs(freqs - hz) <= width].sum(axis=1)
    return energy / energy.max()


def chord_tone(timeline: Timeline) -> float:
    """A tone of the fake bed's chord clear of the voice's harmonics (see music.engines.FakeMusicEngine)."""
    (bed,) = timeline.of_kind(MusicSegment)
    root = 110.0 * 2 ** ((zlib.crc32(bed.source.encode()) % 12) / 12)
    tones = [root * ratio for ratio in (1.0, 1.25, 1.5)]
    return next(f for f in tones if min(abs(f - k * VOICE_HZ) for k in (1, 2)) > 20)


def test_intro_is_heard_alone_for_its_lead_then_speech(episode) -> None:
    timeline = timeline_of(episode["on"])
    audio = decode(episode["on"] / "episode.mp3")
    speech = np.maximum(band_envelope(audio, 3 * VOICE_HZ), band_envelope(audio, 4 * VOICE_HZ))
    onset = np.argmax(speech > 10 ** (-30 / 10)) * 0.01
    lead = RenderConfig().music.intro_lead_seconds
    assert lead == 6.0 and onset == pytest.approx(lead, abs=0.05)  # measured 6.00
    tone = chord_tone(timeline)
    levels = [tone_level(audio, t, t + 1.0, tone) for t in (1.5, 3.0, 4.5)]
    assert max(levels) - min(levels) < 1.0 and min(levels) > -45  # the bed alone, steady, well above silence


def test_bed_ducks_under_speech_in_the_mp3(episode) -> None:
    timeline = timeline_of(episode["on"])
    audio = decode(episode["on"] / "episode.mp3")
    tone = chord_tone(timeline)
    first = timeline.of_kind(SpeechSegment)[0]
    alone = tone_level(audio, 3.0, 5.0, tone)
    under = tone_level(audio, first.start / RATE + 0.5, first.start / RATE + 2.5, tone)
    assert under - alone == pytest.approx(timeline.duck_db, abs=1.5)  # duck_db is -12; measured -12.0


def test_sound_effect_sounds_where_it_was_placed(episode) -> None:
    timeline = timeline_of(episode["on"])
    sfx, click = timeline.of_kind(SfxSegment)
    audio = decode(episode["on"] / "episode.mp3")
    envelope = band_envelope(audio, SFX_HZ)
    loud = np.flatnonzero(envelope > 10 ** (-20 / 10)) * 0.01
    assert loud.min() == pytest.approx(sfx.start / RATE - 0.01, abs=0.03)  # the 20 ms window reaches it early
    assert loud.max() == pytest.approx(sfx.end / RATE - 0.01, abs=0.03)
    before_click = round(click.start / RATE / 0.01) - 5
    outside = np.r_[
        envelope[: round(sfx.start / RATE / 0.01) - 5], envelope[round(sfx.end / RATE / 0.01) + 5 : before_click]
    ]
    assert outside.max() < 10 ** (-40 / 10)  # nothing else near 1.5 kHz


def test_mp4_aac_audio_stays_under_the_true_peak_ceiling(episode) -> None:
    from podforge.audio.export import decode_audio

    with av.open(str(episode["on"] / "episode.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    audio = decode_audio(episode["on"] / "episode.mp4", RATE)
    peak = max(float(np.abs(resample_poly(audio[:, ch], 4, 1)).max()) for ch in range(2))
    assert 20 * np.log10(peak) <= RenderConfig().output.true_peak_dbtp  # 4x oversampled, as BS.1770 asks


def frames_at(path: Path, times: list[float]) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        wanted = {round(t * stream.average_rate): k for k, t in enumerate(times)}
        found: dict[int, np.ndarray] = {}
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                found[wanted[index]] = frame.to_ndarray(format="rgb24").astype(np.int16)
    return [found[k] for k in range(len(times))]


def word_times(vtt: Path) -> list[tuple[str, float]]:
    """(word, middle second) from the words VTT the render wrote beside the video."""
    cues = re.findall(r"(\d+):(\d+):([\d.]+) --> (\d+):(\d+):([\d.]+)\n<v [^>]*>([^\n<]*)", vtt.read_text("utf-8"))
    seconds = [(int(h) * 3600 + int(m) * 60 + float(s), int(h2) * 3600 + int(m2) * 60 + float(s2), w)
               for h, m, s, h2, m2, s2, w in cues]  # fmt: skip
    return [(word.strip(), (a + b) / 2) for a, b, word in seconds]


def highlight_x(on: np.ndarray, off: np.ndarray) -> float | None:
    """Middle column of the caption overlay's pixels in the speaker's colour (magenta), or None.

    Columns count only where the word is dense (3+ such pixels): chroma subsampling leaves stray magenta pixels
    along every glyph's edge, across the whole caption, and how many depends on the encode."""
    overlay = np.abs(on - off).sum(axis=2) > 60
    magenta = (on[:, :, 0] > 150) & (on[:, :, 2] > 150) & (on[:, :, 1] < 110)
    cols = np.flatnonzero((overlay & magenta).sum(axis=0) >= 3)
    return float(cols.mean()) if cols.size >= 3 else None


def test_burned_captions_highlight_each_word_at_its_time(episode) -> None:
    words = word_times(episode["on"] / "episode.words.vtt")[:6]  # the first caption line
    times = [3.0] + [t for _, t in words]
    on, off = frames_at(episode["on"] / "episode.mp4", times), frames_at(episode["off"] / "episode.mp4", times)
    assert np.abs(on[0] - off[0]).max() < 40  # during the intro: no caption, the two videos agree
    xs = [highlight_x(a, b) for a, b in zip(on[1:], off[1:], strict=True)]
    assert all(x is not None for x in xs), xs  # a highlighted word at every word's time
    assert all(b > a for a, b in itertools.pairwise(xs)), xs  # moving left to right, word by word
