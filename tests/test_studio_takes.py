"""The studio's takes API: list, add, play and choose takes of a line (fake voices, in-process client)."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from podforge.studio.app import create_app
from studio_support import make_workspace

FAKE = """---
title: Takes
speakers:
  ALEX: {voice: "fake:a"}
  SAM: {voice: "fake:b"}
---
ALEX: Welcome to the short test show.
SAM: Glad to be here, Alex.
"""


@pytest.fixture
def client(tmp_path: Path, isolated_cache: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_workspace(tmp_path / "ws", {"ep.md": FAKE}), {"testserver"}, worker=False)) as c:
        yield c


def _seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as clip:
        return clip.getnframes() / clip.getframerate()


def test_takes_are_added_played_and_chosen(client: TestClient, tmp_path: Path) -> None:
    first = client.get("/api/episodes/ep.md/takes/8").json()
    assert first == {"line": 8, "chosen": 1, "takes": [{"number": 1, "seed": 0, "speed": 1.0, "voice": None}]}
    added = client.post("/api/episodes/ep.md/takes/8", json={"speed": 1.5}).json()
    assert added["chosen"] == 2 and added["takes"][1] == {"number": 2, "seed": 1, "speed": 1.5, "voice": None}
    one, two = (client.get(f"/api/episodes/ep.md/takes/8/{n}.wav") for n in (1, 2))
    assert one.headers["content-type"] == "audio/wav" and 1.4 < _seconds(one.content) / _seconds(two.content) < 1.6
    heard = client.get("/api/episodes/ep.md/takes/8/2/check").json()
    assert heard == {"line": 8, "take": 2, "checked": False, "heard": "", "wer": 0.0, "flagged": False,
                     "threshold": 0.3}  # fmt: skip  # the fake engine's tones have no words to hear
    assert client.post("/api/episodes/ep.md/takes/8/choose", json={"take": 1}).json()["chosen"] == 1
    assert '"chosen": 1' in (tmp_path / "ws" / "ep.takes.json").read_text()


def test_bad_takes_requests_say_what_to_do(client: TestClient) -> None:
    missing = client.get("/api/episodes/ep.md/takes/3")
    assert missing.status_code == 400 and "no spoken line starts here" in missing.text
    bad = client.post("/api/episodes/ep.md/takes/8/choose", json={"take": 5})
    assert bad.status_code == 400 and "line 8 has takes 1 to 1" in bad.text
    assert client.get("/api/episodes/ep.md/takes/8/9.wav").status_code == 400
    assert client.get("/api/episodes/ep.md/takes/8/9/check").status_code == 400
    assert client.post("/api/episodes/ep.md/takes/8", json={"speed": "fast"}).status_code == 400
