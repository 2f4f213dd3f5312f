"""``feed.xml``: RSS 2.0 with the itunes, podcast (Podcasting 2.0) and atom namespaces, by ElementTree.

Every URL is absolute (the show's base URL plus the file's path in the site); the enclosure length is the
file's size in bytes and ``itunes:duration`` whole seconds of the real MP3, as Apple recommends.
"""

from __future__ import annotations

import datetime
import email.utils
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ..transcripts import ChapterMark, Cue
from .show import Episode, Show

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
NAMESPACES = {"itunes": ITUNES, "podcast": PODCAST, "atom": ATOM}
# podcast:guid is a UUIDv5 of the feed URL without its scheme, in this namespace (podcast namespace spec).
_PODCAST_GUID_NS = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
MIME = {
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "chapters": "application/json+chapters",
}
for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


@dataclass(frozen=True)
class Item:
    """A published episode: its script's details, its guid and date, and its files in the site."""

    episode: Episode
    guid: str
    published: datetime.datetime
    seconds: float
    files: dict[str, str]  # kind (mp3, vtt, srt, chapters, mp4, page) → path inside the site
    sizes: dict[str, int]  # kind → bytes
    chapters: list[ChapterMark] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)


def rfc2822(moment: datetime.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(datetime.UTC), usegmt=True)


def _q(prefix: str, name: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{name}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def feed_xml(show: Show, cover_name: str, items: list[Item], generator: str) -> bytes:
    """The whole feed, items newest first, as UTF-8 bytes with an XML declaration."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _channel(channel, show, cover_name, items, generator)
    for item in sorted(items, key=_order, reverse=True):
        _item(channel, show, item)
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"


def _order(item: Item) -> tuple[datetime.datetime, int, int, str]:
    return item.published, item.episode.season or 0, item.episode.number or 0, item.episode.slug


def _channel(channel: ET.Element, show: Show, cover_name: str, items: list[Item], generator: str) -> None:
    config, base = show.config, show.base_url
    _sub(channel, "title", config.title)
    _sub(channel, "link", base)
    _sub(channel, "description", config.description)
    _sub(channel, "language", config.language)
    _sub(channel, "generator", generator)
    if items:
        _sub(channel, "lastBuildDate", rfc2822(max(item.published for item in items)))
    _sub(channel, _q("atom", "link"), href=base + "feed.xml", rel="self", type="application/rss+xml")
    image = _sub(channel, "image")
    for tag, text in (("url", base + cover_name), ("title", config.title), ("link", base)):
        _sub(image, tag, text)
    _sub(channel, _q("itunes", "image"), href=base + cover_name)
    _sub(channel, _q("itunes", "author"), config.author)
    owner = _sub(channel, _q("itunes", "owner"))
    _sub(owner, _q("itunes", "name"), config.author)
    _sub(owner, _q("itunes", "email"), config.email)
    for parent, sub in config.apple_categories:
        # The category's name is its `text` attribute, which _sub's text argument would not set.
        category = ET.SubElement(channel, _q("itunes", "category"), {"text": parent})
        if sub:
            ET.SubElement(category, _q("itunes", "category"), {"text": sub})
    _sub(channel, _q("itunes", "explicit"), "true" if config.explicit else "false")
    _sub(channel, _q("itunes", "type"), config.type)
    feed_url = (base + "feed.xml").split("://", 1)[1]
    _sub(channel, _q("podcast", "guid"), str(uuid.uuid5(_PODCAST_GUID_NS, feed_url)))


def _item(channel: ET.Element, show: Show, item: Item) -> None:
    base, episode = show.base_url, item.episode
    node = _sub(channel, "item")
    _sub(node, "title", episode.title)
    _sub(node, "description", episode.description)
    _sub(node, "link", base + item.files["page"])
    _sub(node, "guid", item.guid, isPermaLink="false")
    _sub(node, "pubDate", rfc2822(item.published))
    _sub(node, "enclosure", url=base + item.files["mp3"], length=str(item.sizes["mp3"]), type=MIME["mp3"])
    _sub(node, _q("itunes", "duration"), str(max(1, round(item.seconds))))
    explicit = show.config.explicit if episode.explicit is None else episode.explicit
    _sub(node, _q("itunes", "explicit"), "true" if explicit else "false")
    _sub(node, _q("itunes", "episodeType"), "full")
    if episode.number is not None:
        _sub(node, _q("itunes", "episode"), str(episode.number))
    if episode.season is not None:
        _sub(node, _q("itunes", "season"), str(episode.season))
    for kind in ("vtt", "srt"):
        _sub(node, _q("podcast", "transcript"), url=base + item.files[kind], type=MIME[kind])
    _sub(node, _q("podcast", "chapters"), url=base + item.files["chapters"], type=MIME["chapters"])
    if "mp4" in item.files:
        video = _sub(node, _q("podcast", "alternateEnclosure"), type=MIME["mp4"], length=str(item.sizes["mp4"]),
                     title="Video")  # fmt: skip
        _sub(video, _q("podcast", "source"), uri=base + item.files["mp4"])
