"""The studio in a real headless Chromium, driven by data-testid, a screenshot at each step.

One walk through what a person does: open the page, type a script with a mistake and see the error at
its line, fix it, hear a voice, upload a portrait, render, watch the progress reach done (across a
reload), play the video and follow the transcript. Screenshots land in test-artefacts/studio-*.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from browser import screenshot
from studio_support import SHORT, free_port, make_workspace, studio_server

MISTAKE = "OMAR: This speaker is not in the cast."
T = 60_000  # ms, playwright's unit


def _astronaut(folder: Path) -> Path:
    from skimage import data

    path = folder / "portrait.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def _type_script(page: Any) -> int:
    """Type a line with an unknown speaker at the end of the script; returns its line number."""
    editor = page.get_by_test_id("editor")
    before = editor.input_value()
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n" + MISTAKE + "\n")
    return len(before.splitlines()) + 2


def test_write_cast_render_and_play(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    folder = make_workspace(tmp_path / "ws")
    port = free_port()
    with studio_server(folder, port):
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_test_id("no-problems").wait_for(timeout=T)
        assert page.get_by_test_id("editor").input_value() == SHORT
        assert page.get_by_test_id("cast-row").count() == 2
        screenshot(page, "studio-1-open")

        changed = SHORT + "\nALEX: Written in another editor.\n"
        (folder / "short.md").write_text(changed, encoding="utf-8")  # changes on disk show up in the page
        (folder / "second.md").write_text("ALEX: A second episode.\n", encoding="utf-8")
        page.locator("[data-testid=episode-item][data-name='second.md']").wait_for(timeout=T)
        page.wait_for_function("t => document.querySelector('[data-testid=editor]').value === t", arg=changed)

        line = _type_script(page)
        problem = page.locator(f"[data-testid=problem][data-line='{line}']")
        problem.wait_for(timeout=T)
        assert problem.inner_text().startswith(f"error: short.md:{line}:1: ")
        assert "OMAR" in problem.inner_text()
        assert page.locator(f"#gutter div.bad[data-line='{line}']").count() == 1
        screenshot(page, "studio-2-error-at-its-line")

        page.get_by_test_id("editor").fill(page.get_by_test_id("editor").input_value().replace("OMAR:", "SAM:"))
        page.get_by_test_id("no-problems").wait_for(timeout=T)
        assert page.get_by_test_id("problem").count() == 0
        assert (
            (folder / "short.md")
            .read_text(encoding="utf-8")
            .endswith("ALEX: Written in another editor.\n\nSAM: This speaker is not in the cast.\n")
        )
        screenshot(page, "studio-3-fixed")

        sam = page.locator("[data-testid=cast-row][data-speaker=SAM]")
        sam.get_by_test_id("preview-button").click()
        page.wait_for_function(
            "() => { const a = document.querySelector('[data-testid=preview-audio]');"
            " return a.src.startsWith('blob:') && a.currentTime > 0.1; }",
            timeout=T,
        )
        assert "playing" in sam.get_by_test_id("cast-note").inner_text()
        screenshot(page, "studio-4-voice-preview")

        alex = page.locator("[data-testid=cast-row][data-speaker=ALEX]")
        alex.get_by_test_id("avatar-select").select_option("photo")
        alex = page.locator("[data-testid=cast-row][data-speaker=ALEX]")
        alex.get_by_test_id("portrait-input").set_input_files(str(_astronaut(tmp_path)))
        page.locator("[data-testid=cast-row][data-speaker=ALEX] [data-testid=mouth-strip]").wait_for(timeout=T)
        page.wait_for_function("() => document.querySelector('[data-testid=mouth-strip]').naturalWidth > 0")
        assert 'avatar: "photo:media/alex-' in page.get_by_test_id("editor").input_value()
        assert (folder / "short.md").read_text(encoding="utf-8").endswith("SAM: This speaker is not in the cast.\n")
        screenshot(page, "studio-5-portrait")

        page.get_by_test_id("new-speaker").fill("casey")
        page.get_by_test_id("add-speaker").click()
        page.locator("[data-testid=cast-row][data-speaker=CASEY]").wait_for(timeout=T)
        assert '  CASEY: {color: "#22a06b"}\n---\n' in (folder / "short.md").read_text(encoding="utf-8")

        page.get_by_test_id("render-size").select_option("640x360")
        page.get_by_test_id("render-button").click()
        page.wait_for_function(
            "() => +document.querySelector('[data-testid=progress-bar]').getAttribute('aria-valuenow') > 0", timeout=T
        )
        screenshot(page, "studio-6-rendering")
        page.reload()  # the page re-attaches to the running job
        page.locator("[data-testid=job-status][data-state=done]").wait_for(timeout=3 * T)
        assert page.get_by_test_id("progress-bar").get_attribute("aria-valuenow") == "100"

        video = page.get_by_test_id("result-video")
        video.wait_for(timeout=T)
        page.get_by_test_id("transcript-word").first.wait_for(timeout=T)
        page.evaluate("() => document.querySelector('[data-testid=result-video]').play()")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=result-video]').currentTime > 1.0", timeout=T
        )
        page.locator("[data-testid=transcript-word].now").wait_for(timeout=T)
        assert page.locator("[data-testid=metrics-svg] rect").count() >= 5
        assert page.get_by_test_id("download").count() >= 5
        screenshot(page, "studio-7-playing")

        word = page.get_by_test_id("transcript-word").nth(8)
        start = float(word.get_attribute("data-start"))
        word.click()
        page.wait_for_function(
            f"() => Math.abs(document.querySelector('[data-testid=result-video]').currentTime - {start}) < 0.6"
        )
