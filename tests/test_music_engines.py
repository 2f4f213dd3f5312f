"""Music engines share one contract; cues turn into beds that start and stop where a podcaster expects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mutagen.easyid3 import EasyID3

from podforge.audio.export import Tags, write_mp3
from podforge.config import MusicConfig
from podforge.errors import EngineError
from podforge.music.engines import FolderEngine
from podforge.music.musicgen import MusicGenEngine
from podforge.music.registry import BedRequest, load_music_engine, loop_to_length

RATE = 48_000


def tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.repeat((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[:, None], 2, axis=1)


@pytest.fixture
def music_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    folder.mkdir()
    write_mp3(folder / "calm-piano-morning.mp3", tone(220, 3), RATE, tags=Tags(title="Morning"))
    write_mp3(folder / "track2.mp3", tone(440, 3), RATE, tags=Tags(title="Drive"))
    tags = EasyID3(folder / "track2.mp3")
    tags["genre"] = "upbeat energetic"
    tags.save()
    return folder


class FakeProcessor:
    def __call__(self, text, padding, return_tensors):
        return {"text": text}


class FakeMusicGen:
    def generate(self, text, do_sample, max_new_tokens):
        seconds = max_new_tokens / 50
        t = np.arange(int(seconds * 32_000)) / 32_000
        return np.sin(2 * np.pi * 330 * t)[None, None, :]


def fake_loader(folder: Path):
    return FakeProcessor(), FakeMusicGen(), 32_000


def engines(music_folder: Path) -> dict[str, object]:
    model = music_folder / "model"
    model.mkdir(exist_ok=True)
    return {
        "procedural": load_music_engine(MusicConfig(engine="procedural"), music_folder),
        "fake": load_music_engine(MusicConfig(engine="fake"), music_folder),
        "folder": load_music_engine(MusicConfig(engine="folder", folder="."), music_folder),
        "musicgen": MusicGenEngine(MusicConfig(engine="musicgen", model="model"), music_folder, loader=fake_loader),
    }


@pytest.mark.parametrize("name", ["procedural", "fake", "folder", "musicgen"])
def test_engine_contract(music_folder, name):
    engine = engines(music_folder)[name]
    for seconds in (0.5, 7.3):
        audio = engine.render(BedRequest("calm piano", seconds, RATE, seed=1))
        assert audio.shape == (round(seconds * RATE), 2) and audio.dtype == np.float32
        assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0
        assert np.sqrt(np.mean(audio**2)) > 1e-3


def test_folder_picks_by_file_name_and_tags(music_folder):
    engine = FolderEngine(MusicConfig(engine="folder", folder="."), music_folder)
    assert engine.pick("soft calm piano").name == "calm-piano-morning.mp3"
    assert engine.pick("upbeat intro").name == "track2.mp3"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (MusicConfig(engine="folder"), "needs `music: {folder"),
        (MusicConfig(engine="folder", folder="nowhere"), "music folder 'nowhere' not found"),
        (MusicConfig(engine="musicgen"), "needs `music: {model"),
        (MusicConfig(engine="musicgen", model="nowhere"), "model folder 'nowhere' not found"),
        (MusicConfig(engine="laser"), "unknown music engine 'laser'; choose one of procedural, folder, musicgen"),
    ],
)
def test_engine_setup_errors_are_clear(tmp_path, config, message):
    with pytest.raises(EngineError, match=message.replace("{", r"\{").replace("(", r"\(")):
        load_music_engine(config, tmp_path)


def test_musicgen_without_transformers_names_the_install(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(EngineError, match="pip install transformers"):
        MusicGenEngine(MusicConfig(engine="musicgen", model="model"), tmp_path)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineError, match="has no audio files"):
        FolderEngine(MusicConfig(engine="folder", folder="empty"), tmp_path)


def test_looping_a_short_track_has_no_clicks():
    track = tone(220.5, 1.37)  # not a whole number of cycles: a plain repeat would click
    looped = loop_to_length(track, 10 * RATE, RATE)
    jumps = np.abs(np.diff(looped[:, 0]))
    assert looped.shape == (10 * RATE, 2)
    assert jumps.max() <= 1.5 * np.percentile(jumps, 99.9)
