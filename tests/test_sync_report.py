"""Lip-sync measured on rendered video: the landmark model reads each avatar's mouth against the speech."""

from __future__ import annotations

import contextlib
import io

import pytest

pytest.importorskip("mediapipe")

SCRIPT = """
---
title: Sync
speakers:
  ALEX: {voice: "hibari:heart", avatar: illustrated}
  SAM: {voice: "piper:joe", avatar: "photo:face.png"}
video: {size: 1280x720, fps: 25, layout: duo, captions: false, visualizer: null}
---
ALEX: Good morning and welcome back. Today we are talking about tiny computers, and why they matter so much.

SAM: Thanks Alex. I brought a small board with me, and honestly, it is faster than my old laptop was.

ALEX: That is amazing. What do people usually build with them? I keep hearing about weather stations and robots.

SAM: Oh, all kinds of things. My neighbour made a bird feeder camera that posts pictures every morning.

ALEX: I love that. Maybe we should try one for the studio window.

SAM: Deal. Let's pick the parts next week and report back on the show.
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from PIL import Image
    from skimage import data

    from podforge.cli import main

    folder = tmp_path_factory.mktemp("sync")
    Image.fromarray(data.astronaut()).save(folder / "face.png")
    (folder / "episode.md").write_text(SCRIPT.lstrip(), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PODFORGE_CACHE_DIR", str(tmp_path_factory.mktemp("sync-cache")))
        assert main(["render", str(folder / "episode.md"), "-o", str(folder / "out")]) == 0
    return folder / "out" / "episode.mp4"


@pytest.fixture(scope="module")
def report(rendered):
    """Each measurement runs the landmark model on every frame (~10 s), so the module takes each once:
    the CLI's (exit code, stdout, stderr) and the library's FaceSync list."""
    from podforge.cli import main
    from podforge.syncreport import sync_report
    from podforge.timeline import Timeline

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sync-report", str(rendered)])
    timeline = Timeline.from_json(rendered.with_suffix(".timeline.json").read_text())
    return code, out.getvalue(), err.getvalue(), sync_report(rendered, timeline)


def test_both_avatars_are_in_sync(report):
    code, out, err, faces = report
    assert code == 0, err
    assert [f.speaker for f in faces] == ["ALEX", "SAM"], out
    for face in faces:
        assert face.frames > 50
        assert abs(face.offset_ms) <= 40, out
        assert face.correlation >= 0.5, out
    assert out.count("correlation") == 2


def test_report_names_each_face_and_its_offset(report):
    code, out, err, _ = report
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["face 1 (ALEX)", "face 2 (SAM)"]
    assert all(" ms (" in line and "frames" in line for line in lines)


def test_a_video_without_faces_is_a_clear_error(run_cli, tmp_path):
    import numpy as np

    from podforge.encode import VideoSettings, encode_frames, select_encoder

    path = tmp_path / "blank.mp4"
    settings = VideoSettings(160, 90, 25, encoder=select_encoder("libx264"))
    audio = np.zeros((48_000, 2), np.float32)
    encode_frames(path, settings, (np.zeros((90, 160, 3), np.uint8) for _ in range(25)), audio)
    code, _, err = run_cli("sync-report", path)
    assert code == 2 and err.startswith("error: blank.mp4: no face found")
