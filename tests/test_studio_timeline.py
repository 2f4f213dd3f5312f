"""The studio's timeline view and takes in headless Chromium: shapes where the timeline JSON puts them, a click
seeks; a line gets a second take, which plays, and the first is chosen again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from browser import screenshot
from studio_support import free_port, make_workspace, studio_server, wait_for

EPISODE = """---
title: Timeline
speakers:
  ALEX: {voice: "fake:a"}
  SAM: {voice: "fake:b"}
---
# Opening
[MUSIC: calm piano]
ALEX: Welcome to the show, it is good to have you here.
SAM: Glad to be here today.
[pause 1.5s]
## Second part
ALEX: Here is the second part of our talk.
"""
T = 60_000


def test_timeline_view_draws_the_render_and_seeks(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    folder = make_workspace(tmp_path / "ws", {"tl.md": EPISODE})
    port = free_port()
    with studio_server(folder, port):
        base = f"http://127.0.0.1:{port}/api"
        job = httpx.post(f"{base}/jobs", json={"episode": "tl.md", "audio_only": True}).json()
        wait_for(lambda: httpx.get(f"{base}/jobs/{job['id']}").json()["state"] == "done", timeout=180)
        timeline = json.loads(httpx.get(f"{base}/episodes/tl.md/timeline").text)
        page.goto(f"http://127.0.0.1:{port}/#tl.md")
        svg = page.get_by_test_id("timeline-svg")
        svg.wait_for(timeout=T)
        rate, pps, label = int(timeline["timebase"].split("/")[1]), float(svg.get_attribute("data-pps")), 90.0
        drawn = page.eval_on_selector_all(
            "[data-testid=timeline-svg] rect:not([data-kind=duck])",
            "els => els.map(e => [e.dataset.kind, +e.dataset.start, +e.dataset.end, +e.getAttribute('x')])",
        )
        expected = [(s["kind"], s["start"] / rate, s["end"] / rate) for s in timeline["segments"]]
        assert sorted((k, round(a, 2), round(b, 2)) for k, a, b, _ in drawn) == sorted(
            (k, round(a, 2), round(b, 2)) for k, a, b in expected
        )
        assert {k for k, *_ in drawn} >= {"speech", "music", "pause", "chapter"}
        for _, start, _, x in drawn:
            assert abs(x - (label + start * pps)) < 0.05
        assert page.locator("[data-testid=timeline-duck]").count() == 3  # each line ducks the bed
        second = next(s for s in timeline["segments"] if s["kind"] == "chapter" and s["title"] == "Second part")
        svg.scroll_into_view_if_needed()
        box = svg.bounding_box()
        at = second["start"] / rate + 0.2
        page.mouse.click(box["x"] + label + at * pps, box["y"] + 10)
        page.wait_for_function(
            f"() => Math.abs(document.querySelector('[data-testid=result-audio]').currentTime - {at}) < 0.15",
            timeout=T,
        )
        page.wait_for_function(
            f"() => Math.abs(+document.querySelector('[data-testid=timeline-playhead]').dataset.t - {at}) < 1.0",
            timeout=T,
        )
        screenshot(page, "studio-timeline")

        page.locator("#spoken tr[data-line='9'] [data-testid=takes-button]").click()
        panel = page.locator("[data-testid=takes-panel][data-line='9']")
        panel.get_by_test_id("new-take").click()
        panel.locator("[data-testid=take][data-number='2']").wait_for(timeout=T)
        panel.locator("[data-testid=take][data-number='2'] button[data-act=play]").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=preview-audio]').src.endsWith('/takes/9/2.wav')"
            " && document.querySelector('[data-testid=preview-audio]').currentTime > 0.1",
            timeout=T,
        )
        heard = panel.locator("[data-testid=take][data-number='2'] [data-testid=take-heard]")
        page.wait_for_function("() => document.querySelector(\"[data-number='2'] [data-testid=take-heard]\")"
                               ".textContent.length > 0", timeout=T)  # fmt: skip
        assert heard.text_content() == "not heard: this voice speaks no words"  # the fake engine's tones
        panel.locator("[data-testid=take][data-number='1'] [data-testid=choose-take]").click()
        page.locator("[data-testid=take].chosen[data-number='1']").wait_for(timeout=T)
        assert heard.text_content() == "not heard: this voice speaks no words"  # still shown after the redraw
        takes = json.loads((folder / "tl.takes.json").read_text())["lines"]
        assert [(t["line"], t["chosen"], len(t["takes"])) for t in takes.values()] == [(9, 1, 2)]
        screenshot(page, "studio-takes")
