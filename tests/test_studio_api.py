"""The studio's JSON API in-process (Starlette's TestClient), with the real worker process rendering."""

from __future__ import annotations

import io
import statistics
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from podforge.studio.app import create_app
from studio_support import SHORT, make_workspace, wait_for

LONGER = SHORT + "".join(
    f"\nALEX: Line number {n} of a slightly longer episode, to keep the worker busy.\n" for n in range(6)
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws", {"short.md": SHORT, "longer.md": LONGER})


@pytest.fixture
def client(workspace: Path) -> Iterator[TestClient]:
    with TestClient(create_app(workspace, {"testserver"})) as test_client:
        yield test_client


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _finished(client: TestClient, job_id: int) -> dict[str, object] | None:
    job = client.get(f"/api/jobs/{job_id}").json()
    return job if job["state"] in ("done", "failed", "cancelled") else None


def test_episodes_check_and_editing(client: TestClient, workspace: Path) -> None:
    names = [e["name"] for e in client.get("/api/episodes").json()["episodes"]]
    assert names == ["longer.md", "short.md"]
    report = client.get("/api/episodes/short.md/check").json()
    assert report["ok"] and [s["label"] for s in report["speakers"]] == ["ALEX", "SAM"]
    assert {"line": 13, "what": "speak", "who": "SAM (fake:b)", "text": "Glad to be here, Alex."} in report["rows"]
    assert {"line": 13, "what": "skipped direction", "who": "", "text": "(laughing)"} in report["rows"]
    broken = SHORT.replace("SAM (laughing):", "OMAR:")
    saved = client.put("/api/episodes/short.md", json={"text": broken}).json()
    assert (workspace / "short.md").read_text(encoding="utf-8") == broken
    problems = saved["check"]["problems"]
    assert problems and problems[0]["line"] == 13 and problems[0]["text"].startswith("error: short.md:13:1:")
    (workspace / "third.md").write_text("ALEX: a file made outside the studio\n", encoding="utf-8")
    assert "third.md" in [e["name"] for e in client.get("/api/episodes").json()["episodes"]]
    created = client.post("/api/episodes", json={"title": "My New Show"})
    assert created.status_code == 201 and created.json()["name"] == "my-new-show.md"
    assert client.get("/api/episodes/my-new-show.md/check").json()["ok"]
    renamed = client.post("/api/episodes/my-new-show.md/rename", json={"to": "pilot"}).json()
    assert renamed["name"] == "pilot.md" and (workspace / "pilot.md").is_file()
    demo = client.post("/api/episodes", json={"template": "demo"}).json()
    assert demo["name"] == "tiny-machines.md" and (workspace / "media" / "alex.jpg").is_file()
    report = client.get("/api/episodes/tiny-machines.md/check").json()
    assert report["ok"], report["problems"]
    assert next(s for s in report["speakers"] if s["label"] == "ALEX")["avatar"] == "photo:media/alex.jpg"
    (workspace / "README.md").write_text("# not an episode\n", encoding="utf-8")
    assert "README.md" not in [e["name"] for e in client.get("/api/episodes").json()["episodes"]]


def test_cast_edit_keeps_the_body(client: TestClient, workspace: Path) -> None:
    before = (workspace / "short.md").read_bytes()
    result = client.patch("/api/episodes/short.md/speakers/SAM", json={"color": "#22a06b", "voice": "fake:c"}).json()
    after = (workspace / "short.md").read_bytes()
    body_at = before.index(b"\n---\n", 4)
    assert after[after.index(b"\n---\n", 4) :] == before[body_at:]
    sam = next(s for s in result["check"]["speakers"] if s["label"] == "SAM")
    assert sam["color"] == "#22a06b" and sam["voice"] == "fake:c"
    bad = client.patch("/api/episodes/short.md/speakers/SAM", json={"color": "nope"})
    assert bad.status_code == 400 and bad.json()["error"][0].startswith("error: speaker SAM: color")


def test_voices_and_preview(client: TestClient) -> None:
    voices = client.get("/api/voices").json()["voices"]
    assert {"hibari:heart", "fake:a"} <= {v["id"] for v in voices}
    missing = [v for v in voices if not v["installed"]]
    assert all(v["install_hint"] for v in missing)
    response = client.post("/api/preview", json={"voice": "fake:a", "episode": "short.md", "speaker": "SAM"})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert unquote(response.headers["x-preview-text"]) == "Glad to be here, Alex."
    with wave.open(io.BytesIO(response.content)) as wav:
        assert wav.getnframes() / wav.getframerate() > 0.5
    unknown = client.post("/api/preview", json={"voice": "nosuch:voice", "text": "hi"})
    assert unknown.status_code == 400 and unknown.json()["error"][0].startswith("error: unknown TTS engine 'nosuch'")
    derived = client.post("/api/preview", json={"voice": "fake:a~bright", "text": "one two three"})
    assert derived.status_code == 200, derived.text  # a derived voice previews as `podforge say` does
    with wave.open(io.BytesIO(derived.content)) as wav:
        assert wav.getnframes() / wav.getframerate() > 0.5


def test_portrait_upload_is_validated(client: TestClient, workspace: Path) -> None:
    from skimage import data

    url = "/api/episodes/short.md/speakers/ALEX/portrait"
    not_image = client.post(url, files={"file": ("x.jpg", b"not an image at all", "image/jpeg")})
    assert not_image.status_code == 400 and "cannot be decoded" in not_image.json()["error"][0]
    tiny = client.post(url, files={"file": ("t.png", _png(np.zeros((20, 20, 3), np.uint8)), "image/png")})
    assert tiny.status_code == 400 and "each side" in tiny.json()["error"][0]
    huge = client.post(url, files={"file": ("h.png", b"\x89PNG" + b"0" * (9 * 2**20), "image/png")})
    assert huge.status_code == 400 and "limit" in huge.json()["error"][0]
    gradient = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[:, None, None], (1, 256, 3))
    faceless = client.post(url + "?kind=photo", files={"file": ("g.png", _png(gradient), "image/png")})
    assert faceless.status_code == 400 and "no face" in faceless.json()["error"][0]
    ok = client.post(url + "?kind=photo", files={"file": ("a.png", _png(data.astronaut()), "image/png")})
    assert ok.status_code == 201, ok.text
    avatar = ok.json()["avatar"]
    assert avatar.startswith("photo:media/alex-") and (workspace / avatar.removeprefix("photo:")).is_file()
    assert 'avatar: "' + avatar + '"' in (workspace / "short.md").read_text(encoding="utf-8")
    assert [p.name for p in (workspace / "media").iterdir()] == [Path(avatar).name]  # rejected ones are gone
    strip = client.get("/api/mouths.png", params={"path": avatar.removeprefix("photo:")})
    assert strip.status_code == 200 and Image.open(io.BytesIO(strip.content)).size[0] > 500


def test_security(client: TestClient, workspace: Path, tmp_path: Path) -> None:
    assert client.get("/api/episodes", headers={"Host": "evil.example:8765"}).status_code == 400
    cross = client.post("/api/episodes", json={"title": "x"}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    fetch_cross = client.put("/api/episodes/short.md", json={"text": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch_cross.status_code == 403 and (workspace / "short.md").read_text(encoding="utf-8") == SHORT
    same = client.post("/api/episodes", json={"title": "ok"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 201
    (tmp_path / "secret.txt").write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    (workspace / "link.txt").symlink_to(tmp_path / "secret.txt")
    for path in (
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/link.txt",
        "/files/.podforge-studio/jobs.sqlite",
    ):
        response = client.get(path)
        assert response.status_code == 404 and "TOP-SECRET" not in response.text, path
    assert client.get("/files/short.md").text == SHORT
    assert client.get("/api/episodes/..%2Fsecret.md").status_code in (400, 404)
    assert client.post("/api/jobs", json={"episode": "short.md", "size": "99x99999"}).status_code == 400


def test_render_job_progress_events_and_outputs(client: TestClient, workspace: Path) -> None:
    job = client.post("/api/jobs", json={"episode": "short.md", "size": "320x180"}).json()
    assert job["state"] == "queued"
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as events:
        states = [line for line in events.iter_lines() if line.startswith("data:")]
    assert '"state": "done"' in states[-1]
    done = client.get(f"/api/jobs/{job['id']}").json()
    assert done["fraction"] == 1.0 and done["progress"]["video"][0] == done["progress"]["video"][1] > 0
    assert {"mp4", "mp3", "timeline", "chapters", "metrics"} <= set(done["outputs"])
    video = client.get(done["outputs"]["mp4"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert client.get("/api/episodes/short.md/thumbnail.jpg").content[:2] == b"\xff\xd8"
    listed = next(e for e in client.get("/api/episodes").json()["episodes"] if e["name"] == "short.md")
    assert listed["last_job"]["state"] == "done" and listed["last_job"]["metrics"]["audio_seconds"] > 1
    # The transcript shows the words as written (capitals, punctuation), each timed, in order
    lines = client.get(f"/api/jobs/{job['id']}/transcript").json()["lines"]
    assert [" ".join(w[0] for w in line["words"]) for line in lines] == [
        "Welcome to the short test show.",
        "Glad to be here, Alex.",
    ]
    assert [line["name"] for line in lines] == ["ALEX", "SAM"] and lines[0]["color"] == "#e4572e"
    starts = [w[1] for line in lines for w in line["words"]]
    assert len(starts) == 11 and starts == sorted(starts) and starts[-1] < done["metrics"]["audio_seconds"]


def test_check_answers_quickly_while_a_render_runs_and_cancel(client: TestClient, workspace: Path) -> None:
    """Acceptance: a check request answers within 300 ms while the worker renders."""
    job = client.post("/api/jobs", json={"episode": "longer.md", "size": "640x360"}).json()
    wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["state"] == "running")
    client.get("/api/episodes/short.md/check")  # the first call imports the checker
    timings = []
    while len(timings) < 8 and client.get(f"/api/jobs/{job['id']}").json()["state"] == "running":
        start = time.perf_counter()
        assert client.get("/api/episodes/short.md/check").json()["ok"]
        timings.append(time.perf_counter() - start)
    print(f"check while rendering: median {statistics.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms")
    assert len(timings) >= 3 and statistics.median(timings) < 0.3
    client.post(f"/api/jobs/{job['id']}/cancel")
    ended = wait_for(lambda: _finished(client, job["id"]), timeout=60)
    assert ended["state"] == "cancelled" and not (workspace / "out/longer/longer.mp4").exists()


def test_quick_preview_job_renders_only_the_window(client: TestClient, workspace: Path) -> None:
    import av

    bad = client.post("/api/jobs", json={"episode": "short.md", "preview_start": 3, "preview_end": 1})
    assert bad.status_code == 400 and "start before the end" in bad.json()["error"][0]
    job = client.post("/api/jobs", json={"episode": "short.md", "preview_start": 0.4, "preview_end": 1.4}).json()
    done = wait_for(lambda: _finished(client, job["id"]), timeout=120)
    assert done["state"] == "done", done["error"]
    assert done["outputs"]["mp4"] == "/files/out/short/preview/short.mp4"
    with av.open(str(workspace / "out/short/preview/short.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        assert sum(1 for _ in container.decode(stream)) == 25
    assert not (workspace / "out/short/short.mp4").exists()


def test_unreadable_script_and_broken_config_are_problems_not_crashes(client: TestClient, workspace: Path) -> None:
    (workspace / "latin1.md").write_bytes("ALEX: caf\xe9\n".encode("latin-1"))
    report = client.get("/api/episodes/latin1.md/check").json()
    assert not report["ok"] and report["problems"][0]["text"].startswith("error: latin1.md:1:")
    (workspace / "podforge.yaml").write_text("tts_engine: fake\nnot_a_setting: 1\n", encoding="utf-8")
    report = client.get("/api/episodes/short.md/check").json()
    assert not report["ok"] and "not_a_setting" in report["problems"][0]["text"]
    job = client.post("/api/jobs", json={"episode": "short.md", "audio_only": True}).json()
    failed = wait_for(lambda: _finished(client, job["id"]), timeout=60)
    assert (
        failed["state"] == "failed"
        and failed["error"].startswith("error: podforge.yaml:2:")
        and "not_a_setting" in failed["error"]
    )


def test_a_script_error_fails_the_job_with_the_terminals_lines(client: TestClient, workspace: Path) -> None:
    (workspace / "short.md").write_text(SHORT + "\nOMAR: Who am I?\n[pause 1.5x]\n", encoding="utf-8")
    job = client.post("/api/jobs", json={"episode": "short.md", "audio_only": True}).json()
    failed = wait_for(lambda: _finished(client, job["id"]), timeout=60)
    lines = failed["error"].splitlines()
    assert failed["state"] == "failed" and len(lines) == 2
    assert lines[0].startswith("error: short.md:15:1: unknown speaker 'OMAR'")
    assert lines[1].startswith("error: short.md:16:")


def test_hosts_for_the_bound_address() -> None:
    from podforge.studio.app import hosts_for

    assert hosts_for("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"}
    assert hosts_for("192.168.1.5", 9000) == {"192.168.1.5:9000"}
    assert "localhost:80" in hosts_for("0.0.0.0", 80)


def test_saving_keeps_crlf_and_bom(client: TestClient, workspace: Path) -> None:
    original = "\ufeff" + SHORT.replace("\n", "\r\n")
    (workspace / "short.md").write_bytes(original.encode("utf-8"))
    text = client.get("/api/episodes/short.md").json()["text"]
    assert text == original.removeprefix("\ufeff")
    edited = text.replace("\r\n", "\n").replace("short test show", "shorter test show")  # as a textarea sends it
    assert client.put("/api/episodes/short.md", json={"text": edited}).json()["check"]["ok"]
    assert (workspace / "short.md").read_bytes() == original.replace("short test show", "shorter test show").encode()
