"""What Apple Podcasts and Spotify document a feed must satisfy, checked against a built site.

Sources: Apple's "A Podcaster's Guide to RSS" (Podcasts Connect: required show tags title, description,
itunes:image, language, itunes:category, itunes:explicit; required episode tags title, enclosure; guid
unique and unchanging; artwork square, 1400-3000 px, JPEG or PNG, RGB, extension matching the format;
enclosure types audio/x-m4a, audio/mpeg, video/quicktime, video/mp4, video/x-m4v; explicit true/false;
episode and season non-zero integers, every episode numbered in a serial show; tag values up to 255
characters, descriptions up to 4000 bytes) and Spotify's Podcast Delivery Specification (the same tags,
plus itunes:author and an owner email, at least one episode, guid and an enclosure with its byte length on
every episode). Enclosure types are kept to those both accept: MP3, AAC (M4A) and MP4.

Each problem is one line saying where (channel, or item N with its title) and what to change.
"""

from __future__ import annotations

import email.utils
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..artwork import cover_problems
from .categories import is_apple_category
from .rss import ATOM, ITUNES, PODCAST

ENCLOSURE_TYPES = {"audio/mpeg": (".mp3",), "audio/x-m4a": (".m4a",), "video/mp4": (".mp4", ".m4v")}
_DURATION = re.compile(r"^(\d+|(\d+:)?[0-5]?\d:[0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
_MAX_TEXT = 255  # characters
_MAX_DESCRIPTION = 4000  # bytes


def _it(name: str) -> str:
    return f"{{{ITUNES}}}{name}"


def _pc(name: str) -> str:
    return f"{{{PODCAST}}}{name}"


class _Site:
    """Maps the feed's absolute URLs back to files in the site folder."""

    def __init__(self, folder: Path, base: str) -> None:
        self.folder, self.base = folder, base

    def file(self, url: str) -> Path | None:
        if not self.base or not url.startswith(self.base):
            return None
        path = (self.folder / url[len(self.base) :]).resolve()
        return path if path.is_file() and path.is_relative_to(self.folder.resolve()) else None


def feed_problems(site: Path) -> list[str]:
    """Every way ``site/feed.xml`` (and the files it names) breaks Apple's or Spotify's rules."""
    path = site / "feed.xml"
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        return ["no feed.xml in the site; run podforge publish first"]
    except ET.ParseError as exc:
        return [f"not well-formed XML ({exc}); publish again to rewrite it"]
    channel = root.find("channel")
    if root.tag != "rss" or root.get("version") != "2.0" or channel is None:
        return ['the root must be <rss version="2.0"> holding one <channel>']
    self_link = channel.find(f"{{{ATOM}}}link[@rel='self']")
    href = self_link.get("href", "") if self_link is not None else ""
    problems = [] if href else ['channel: atom:link rel="self" is missing; it names the feed\'s own URL']
    files = _Site(site, href.rsplit("/", 1)[0] + "/" if href else "")
    problems += _channel_problems(channel, files)
    items = channel.findall("item")
    if not items:
        problems.append("channel: no episodes; directories list a show only once it has one <item>")
    serial = (channel.findtext(_it("type")) or "episodic") == "serial"
    problems += _unique(items, "guid", "guid")
    problems += _unique(items, "enclosure URL", "enclosure", "url")
    for number, item in enumerate(items, start=1):
        where = f"item {number} ({(item.findtext('title') or '').strip() or 'untitled'!r})"
        problems += [f"{where}: {p}" for p in _item_problems(item, files, serial)]
    return problems


def _text_problem(node: ET.Element, tag: str, label: str, *, required: bool = True) -> list[str]:
    """A missing, empty or too long value: descriptions are limited in bytes, other tags in characters."""
    value = (node.findtext(tag) or "").strip()
    if not value:
        return [f"<{label}> is missing or empty"] if required else []
    if label == "description" and len(value.encode()) > _MAX_DESCRIPTION:
        return [f"<{label}> is {len(value.encode())} bytes; the limit is {_MAX_DESCRIPTION}"]
    if label != "description" and len(value) > _MAX_TEXT:
        return [f"<{label}> is {len(value)} characters; the limit is {_MAX_TEXT}"]
    return []


def _channel_problems(channel: ET.Element, files: _Site) -> list[str]:
    found = _text_problem(channel, "title", "title") + _text_problem(channel, "description", "description")
    found += _text_problem(channel, _it("author"), "itunes:author")
    language = (channel.findtext("language") or "").strip()
    if not _LANGUAGE.match(language):
        found.append(f"<language> {language!r} is not an ISO 639 code (en, en-us, fr, …)")
    if (channel.findtext(_it("explicit")) or "").strip() not in ("true", "false"):
        found.append("<itunes:explicit> must be true or false")
    if not _EMAIL.match((channel.findtext(f"{_it('owner')}/{_it('email')}") or "").strip()):
        found.append("<itunes:owner><itunes:email> is missing; directories verify ownership by email")
    if (channel.findtext(_it("type")) or "episodic") not in ("episodic", "serial"):
        found.append("<itunes:type> must be episodic or serial")
    found += _category_problems(channel) + _artwork_problems(channel, files)
    return [f"channel: {p}" for p in found]


def _category_problems(channel: ET.Element) -> list[str]:
    categories = channel.findall(_it("category"))
    if not categories:
        return ["<itunes:category> is missing; name one of Apple's categories"]
    found = []
    for node in categories:
        subs: list[ET.Element | None] = [*node.findall(_it("category"))]
        for sub in subs or [None]:
            name = sub.get("text") if sub is not None else None
            if not is_apple_category(node.get("text", ""), name):
                shown = node.get("text", "") + (f" > {name}" if name else "")
                found.append(f"<itunes:category> {shown!r} is not one of Apple's categories")
    return found


def _artwork_problems(channel: ET.Element, files: _Site) -> list[str]:
    image = channel.find(_it("image"))
    url = image.get("href", "") if image is not None else ""
    if not url:
        return ["<itunes:image> is missing; the show needs artwork"]
    path = files.file(url)
    if path is None:
        return [f"<itunes:image> {url} is not a file in the site"]
    problems = cover_problems(path)
    try:
        with Image.open(path) as img:
            mode = img.mode
    except (UnidentifiedImageError, OSError):
        return problems
    return problems + ([] if mode == "RGB" else [f"artwork {path.name} is in {mode}, not RGB; publish again"])


def _unique(items: list[ET.Element], label: str, tag: str, attr: str | None = None) -> list[str]:
    seen: dict[str, int] = {}
    found = []
    for number, item in enumerate(items, start=1):
        node = item.find(tag)
        value = (node.get(attr, "") if attr else (node.text or "")).strip() if node is not None else ""
        if value and value in seen:
            found.append(f"item {number}: {label} {value!r} is also item {seen[value]}'s; each must be unique")
        seen.setdefault(value, number)
    return found


def _item_problems(item: ET.Element, files: _Site, serial: bool) -> list[str]:
    found = _text_problem(item, "title", "title") + _text_problem(item, "description", "description", required=False)
    if not (item.findtext("guid") or "").strip():
        found.append("<guid> is missing; apps tell episodes apart by it")
    if email.utils.parsedate_tz((item.findtext("pubDate") or "").strip()) is None:
        found.append("<pubDate> is missing or not an RFC 2822 date")
    duration = (item.findtext(_it("duration")) or "").strip()
    if duration and not _DURATION.match(duration):
        found.append(f"<itunes:duration> {duration!r} must be seconds or [HH:]MM:SS")
    if (item.findtext(_it("explicit")) or "false").strip() not in ("true", "false"):
        found.append("<itunes:explicit> must be true or false")
    for tag in ("episode", "season"):
        value = item.findtext(_it(tag))
        if value is not None and not (value.strip().isdigit() and int(value) > 0):
            found.append(f"<itunes:{tag}> {value!r} must be a whole number from 1")
    if serial and item.find(_it("episode")) is None:
        found.append("<itunes:episode> is missing; a serial show numbers every episode")
    return found + _enclosure_problems(item, files) + _linked_problems(item, files)


def _enclosure_problems(item: ET.Element, files: _Site) -> list[str]:
    node = item.find("enclosure")
    if node is None:
        return ["<enclosure> is missing; it is the episode's audio"]
    url, kind, length = node.get("url", ""), node.get("type", ""), node.get("length", "")
    if kind not in ENCLOSURE_TYPES:
        return [f"enclosure type {kind!r} is not one of {', '.join(ENCLOSURE_TYPES)}"]
    found = []
    if not url.lower().endswith(ENCLOSURE_TYPES[kind]):
        found.append(f"enclosure {url} does not end in {' or '.join(ENCLOSURE_TYPES[kind])}, as {kind} must")
    found += _size_problems("enclosure", url, length, files)
    return found


def _size_problems(what: str, url: str, length: str, files: _Site) -> list[str]:
    path = files.file(url)
    if path is None:
        return [f"{what} {url} is not a file in the site"]
    if not length.isdigit() or int(length) != path.stat().st_size:
        return [f"{what} length {length!r} is not the file's size ({path.stat().st_size} bytes)"]
    return []


def _linked_problems(item: ET.Element, files: _Site) -> list[str]:
    found = []
    for node in item.findall(_pc("transcript")) + item.findall(_pc("chapters")):
        url = node.get("url", "")
        if files.file(url) is None:
            found.append(f"{node.tag.split('}')[1]} {url or '(no url)'} is not a file in the site")
    for node in item.findall(_pc("alternateEnclosure")):
        source = node.find(_pc("source"))
        url = source.get("uri", "") if source is not None else ""
        found += _size_problems("alternate enclosure", url, node.get("length", ""), files)
    return found
