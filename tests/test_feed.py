"""podforge publish: a show folder becomes a feed that podcast apps read, pages a browser plays, and cover art."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import pytest
from mutagen.id3 import ID3
from PIL import Image

from podforge.config import RenderConfig
from podforge.feed import PublishOptions, publish_show
from podforge.feed.rss import PODCAST

SHOW_YAML = """\
title: Tiny Machines
author: Alex and Sam
email: hosts@example.com
description: A show about small computers.
language: en
categories: [Technology, Documentary]
explicit: false
base_url: https://example.com/tiny/
type: episodic
"""

EPISODE = """\
---
title: {title}
episode: {number}
date: 2024-05-0{number}
speakers:
  ALEX: {{voice: "fake:a"}}
  SAM: {{voice: "fake:b"}}
---
# Opening
ALEX: Welcome to episode {number}, it is good to have you here.
SAM: Glad to be here today.
## Second part
ALEX: Here is the second part of our talk.
SAM: And that is the end.
"""
TITLES = {1: "First Light", 2: "Second Wind", 3: "Third Time"}


def write_show(folder: Path, episodes: tuple[int, ...] = (1, 2)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "show.yaml").write_text(SHOW_YAML, encoding="utf-8")
    for number in episodes:
        text = EPISODE.format(title=TITLES[number], number=number)
        (folder / f"ep{number}.md").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(show folder, site) published once for the module, through its own cache."""
    root = tmp_path_factory.mktemp("published")
    show = write_show(root / "show")
    options = PublishOptions(root / "site", config=RenderConfig(tts_engine="fake"), cache_dir=root / "cache")
    publish_show(show, options)
    return show, root / "site"


def site_file(site: Path, url: str) -> Path:
    assert url.startswith("https://example.com/tiny/"), url
    return site / url.removeprefix("https://example.com/tiny/")


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_feed_reads_cleanly_and_every_link_is_a_file(published):
    _, site = published
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.feed.title == "Tiny Machines" and feed.feed.author == "Alex and Sam"
    assert [e.title for e in feed.entries] == ["Second Wind", "First Light"]  # newest first
    for entry in feed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        assert int(enclosure.length) == site_file(site, enclosure.href).stat().st_size
        assert int(entry.itunes_duration) >= 5
    root = ET.parse(site / "feed.xml").getroot()
    linked = [n.get("url") for tag in ("transcript", "chapters") for n in root.iter(f"{{{PODCAST}}}{tag}")]
    assert len(linked) == 6
    for url in linked:
        assert site_file(site, url).is_file(), url
    assert sorted(n.get("type") for n in root.iter(f"{{{PODCAST}}}transcript"))[-1] == "text/vtt"


def test_cover_is_generated_to_the_rules_and_embedded_in_the_mp3(published):
    _, site = published
    with Image.open(site / "cover.jpg") as cover:
        assert (cover.format, cover.mode, cover.size) == ("JPEG", "RGB", (3000, 3000))
    (apic,) = ID3(site / "media" / "ep1.mp3").getall("APIC")
    assert apic.mime == "image/jpeg" and apic.type == 3  # front cover
    with Image.open(io.BytesIO(apic.data)) as embedded:
        assert embedded.size == (1400, 1400)


def test_check_passes_and_lists_every_problem_of_a_tampered_feed(published, run_cli, tmp_path):
    show, site = published
    code, out, err = run_cli("publish", show, "-o", site, "--check")
    assert code == 0, err
    assert "2 episodes" in out
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    xml = (broken / "feed.xml").read_text()
    guid = re.search(r"<guid[^>]*>([^<]+)</guid>", xml)[1]
    xml = re.sub(r"(<guid[^>]*>)[^<]+(</guid>)", rf"\g<1>{guid}\g<2>", xml)  # every item the same guid
    xml = xml.replace('length="', 'length="1', 1).replace(
        "<itunes:explicit>false</itunes:explicit>", "<itunes:explicit>no</itunes:explicit>", 1
    )
    (broken / "feed.xml").write_text(xml)
    (broken / "media" / "ep1.vtt").unlink()
    code, _, err = run_cli("publish", show, "-o", broken, "--check")
    lines = err.splitlines()
    assert code == 2
    assert all(line.startswith("error: feed.xml: ") for line in lines)
    assert any("also item 1's; each must be unique" in line for line in lines)
    assert any("enclosure length" in line and "is not the file's size" in line for line in lines)
    assert any("channel: <itunes:explicit> must be true or false" in line for line in lines)
    assert any("ep1.vtt is not a file in the site" in line for line in lines)


def test_republishing_keeps_guids_and_adds_the_third_episode(published, tmp_path, run_cli, fake_config):
    show, site = published
    show2, site2 = tmp_path / "show", tmp_path / "site"
    shutil.copytree(show, show2)
    shutil.copytree(site, site2)
    before = {e.title: e.id for e in feedparser.parse((site2 / "feed.xml").read_bytes()).entries}
    write_show(show2, (3,))
    code, out, err = run_cli("publish", show2, "-o", site2, "-c", fake_config)
    assert code == 0, err
    assert "published 3 episodes" in out
    after = {e.title: e.id for e in feedparser.parse((site2 / "feed.xml").read_bytes()).entries}
    assert {t: after[t] for t in before} == before
    assert set(after) == {"First Light", "Second Wind", "Third Time"} and len(set(after.values())) == 3
    assert (site2 / "episodes" / "ep3.html").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]  # no staging or old folder left


def _cover(path: Path, size: tuple[int, int]) -> str:
    Image.new("RGB", size, (30, 200, 60)).save(path)
    return f"cover: {path.name}\n"


BAD_FOLDERS = {
    "missing title": (lambda show: _drop(show / "show.yaml", "title:"), r"show\.yaml:1:1: title: Field required"),
    "non-square cover": (
        lambda show: _add(show / "show.yaml", _cover(show / "wide.png", (1600, 1400))),
        r"show\.yaml:10:8: cover 'wide\.png' is 1600x1400 px; podcast artwork must be square",
    ),
    "cover too small": (
        lambda show: _add(show / "show.yaml", _cover(show / "small.jpg", (1000, 1000))),
        r"show\.yaml:10:8: cover 'small\.jpg' is 1000x1000 px; podcast artwork must be 1400 to 3000 px",
    ),
    "unknown key": (lambda show: _add(show / "show.yaml", "colour: red\n"), r"show\.yaml:10:\d+: colour: unknown key"),
    "duplicate number": (
        lambda show: _sub(show / "ep2.md", "episode: 2", "episode: 1"),
        r"ep2\.md:3:10: episode 1 is also ep1\.md's number",
    ),
    "unknown category": (
        lambda show: _sub(show / "show.yaml", "Technology", "Tech"),
        r"show\.yaml:6:\d+: categories: 'Tech' is not an Apple Podcasts category; did you mean 'Tech News' or",
    ),
    "bad date": (lambda show: _sub(show / "ep2.md", "2024-05-02", "2024-5-2"), r"ep2\.md:4:7: front matter date: "),
}


def _drop(path: Path, prefix: str) -> None:
    path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith(prefix)))


def _add(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _sub(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_bad_show_folder_is_one_located_error_and_the_site_stays(case, published, tmp_path, run_cli, fake_config):
    show, site = published
    show2, site2 = tmp_path / "show", tmp_path / "site"
    shutil.copytree(show, show2)
    shutil.copytree(site, site2)
    before = snapshot(site2)
    breaker, expected = BAD_FOLDERS[case]
    breaker(show2)
    code, _, err = run_cli("publish", show2, "-o", site2, "-c", fake_config)
    assert code == 2
    (line,) = err.splitlines()
    assert re.match(r"error: " + expected, line), line
    assert snapshot(site2) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]


def test_publish_refuses_a_feed_that_breaks_the_rules(published, tmp_path, run_cli, fake_config):
    show, site = published
    show2, site2 = tmp_path / "show", tmp_path / "site"
    shutil.copytree(show, show2)
    shutil.copytree(site, site2)
    before = snapshot(site2)
    _sub(show2 / "ep2.md", "title: Second Wind", "title: " + "Long " * 60)  # Apple allows 255 characters
    code, _, err = run_cli("publish", show2, "-o", site2, "-c", fake_config)
    assert code == 2
    (line,) = err.splitlines()
    assert re.match(r"error: feed\.xml: item 1 \('Long Long .*'\): <title> is 299 characters; the limit is 255$", line)
    assert snapshot(site2) == before
    assert (show2 / "feed-state.json").read_bytes() == (show / "feed-state.json").read_bytes()


def test_user_cover_in_another_colour_space_is_converted(published, tmp_path, run_cli, fake_config):
    show, _ = published
    show2 = tmp_path / "show"
    shutil.copytree(show, show2)
    Image.new("RGBA", (1400, 1400), (200, 30, 30, 128)).save(show2 / "art.png")
    _add(show2 / "show.yaml", "cover: art.png\n")
    code, _, err = run_cli("publish", show2, "-o", tmp_path / "site", "-c", fake_config)
    assert code == 0, err
    with Image.open(tmp_path / "site" / "cover.png") as cover:
        assert (cover.mode, cover.size) == ("RGB", (1400, 1400))
        pixel = cover.getpixel((700, 700))
        assert all(abs(a - b) <= 2 for a, b in zip(pixel, (228, 143, 143), strict=True))  # half-red over white


def test_episode_page_plays_and_a_chapter_click_seeks(published, browser_page):
    from browser import screenshot

    _, site = published
    page = browser_page
    page.goto((site / "episodes" / "ep1.html").resolve().as_uri())
    page.evaluate("document.getElementById('audio').play()")
    page.wait_for_function("document.getElementById('audio').currentTime > 0.3", timeout=15_000)
    chapter = page.locator("ol.chapters li").nth(1)
    start = float(chapter.locator("button").get_attribute("data-start"))
    assert start > 1.0
    chapter.locator("button").click()
    page.wait_for_function(f"document.getElementById('audio').currentTime >= {start}", timeout=5_000)
    assert page.evaluate("document.getElementById('audio').currentTime") < start + 2.0
    page.wait_for_function("document.querySelector('ol.chapters li:nth-child(2)').classList.contains('current')")
    assert "Glad to be here today." in page.locator(".transcript").inner_text()
    screenshot(page, "feed-episode")
    page.click("header a")
    assert page.locator("ol.episodes li a").all_inner_texts() == ["Second Wind", "First Light"]
    screenshot(page, "feed-index")


def test_video_episode_is_an_alternate_enclosure_with_cover_art(tmp_path, run_cli):
    import av
    from mutagen.mp4 import MP4

    from media import top_level_boxes

    show = write_show(tmp_path / "show", (1,))
    _add(show / "show.yaml", _cover(show / "art.png", (1400, 1400)))
    config = tmp_path / "video.yaml"
    config.write_text("tts_engine: fake\nvideo: {size: 320x180, layout: audiogram, visualizer: null}\n")
    code, _, err = run_cli("publish", show, "-o", tmp_path / "site", "-c", config, "--video")
    assert code == 0, err
    mp4 = tmp_path / "site" / "media" / "ep1.mp4"
    root = ET.parse(tmp_path / "site" / "feed.xml").getroot()
    (alternate,) = root.iter(f"{{{PODCAST}}}alternateEnclosure")
    assert alternate.get("type") == "video/mp4" and int(alternate.get("length")) == mp4.stat().st_size
    (covr,) = MP4(mp4)["covr"]
    assert bytes(covr)[:2] == b"\xff\xd8"  # a JPEG
    assert top_level_boxes(mp4).index("moov") < top_level_boxes(mp4).index("mdat")  # still fast start
    with av.open(str(mp4)) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == 100).to_ndarray(format="rgb24")
    green = (frame[:, :, 1] > 150) & (frame[:, :, 0] < 90) & (frame[:, :, 2] < 110)
    assert green.mean() > 0.08  # the audiogram shows the show's cover (about a tenth of the frame)
    assert '<video id="video"' in (tmp_path / "site" / "episodes" / "ep1.html").read_text()


def test_render_with_a_cover_embeds_it_and_a_missing_one_is_found_first(write_script, fake_config, run_cli, tmp_path):
    Image.new("RGB", (2000, 1000), (10, 20, 200)).save(tmp_path / "art.jpg")
    script = write_script("---\nvideo: {cover: art.jpg}\n---\nALEX: Hello there.\n")
    code, _, err = run_cli("render", script, "-o", tmp_path / "out", "--audio-only", "-c", fake_config)
    assert code == 0, err
    (apic,) = ID3(tmp_path / "out" / "episode.mp3").getall("APIC")
    with Image.open(io.BytesIO(apic.data)) as embedded:
        assert embedded.size == (1400, 700)  # scaled to fit, never cropped
    script.write_text("---\nvideo: {cover: nope.jpg}\n---\nALEX: Hello there.\n")
    code, _, err = run_cli("render", script, "-o", tmp_path / "out2", "--audio-only", "-c", fake_config)
    assert code == 2
    assert re.match(r"error: episode\.md:2:16: video\.cover 'nope\.jpg': cover file not found", err), err  # at its key
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


@pytest.mark.parametrize(
    ("name", "size", "fmt", "problem"),
    [
        ("ok.jpg", (1400, 1400), "JPEG", None),
        ("ok.png", (3000, 3000), "PNG", None),
        ("big.png", (3200, 3200), "PNG", "must be 1400 to 3000 px a side"),
        ("named.jpg", (1400, 1400), "PNG", "is a PNG file; name it with .png"),
        ("art.gif", (1400, 1400), "GIF", "is GIF; save it as JPEG or PNG"),
    ],
)
def test_cover_rules(tmp_path, name, size, fmt, problem):
    from podforge.artwork import cover_problems, publishable_cover

    Image.new("RGB", size, (1, 2, 3)).save(tmp_path / name, format=fmt)
    found = cover_problems(tmp_path / name)
    assert found == [] if problem is None else problem in " ".join(found)
    if problem is None:
        assert publishable_cover(tmp_path / name).data == (tmp_path / name).read_bytes()  # RGB is left as it is


def test_cmyk_jpeg_cover_is_converted_to_rgb(tmp_path):
    from podforge.artwork import publishable_cover

    Image.new("CMYK", (1500, 1500), (0, 255, 255, 0)).save(tmp_path / "print.jpg")
    cover = publishable_cover(tmp_path / "print.jpg")
    with Image.open(io.BytesIO(cover.data)) as img:
        assert (img.format, img.mode, cover.converted, cover.suffix) == ("JPEG", "RGB", True, ".jpg")
        red, green, blue = img.getpixel((750, 750))
        assert red > 200 and green < 60 and blue < 60
