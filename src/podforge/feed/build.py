"""``publish``: a show folder in, a static site out (feed.xml, cover, pages, media), swapped in whole.

Every episode is rendered on every publish, through the content cache: an unchanged episode costs a parse,
cache look-ups and file copies (bench/publish.py: 0.18 s per one-minute hibari episode, against 9.7 s cold), and nothing
can go stale the way a hash of the script alone would let it (a music file or sound effect the script names
changing under it). The site is built in a staging folder beside SITE, checked against the directories'
rules, and only then renamed into place; a bad show folder or a failed check leaves the previous site as it
was, and the guids of a failed publish are not recorded.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._atomic import atomic_write_bytes, atomic_write_text
from ..artwork import GENERATED_SIDE, generated_cover, publishable_cover
from ..cache import ContentCache, content_key
from ..config import RenderConfig
from ..errors import ConfigError, Location, ScriptError
from ..pipeline import ProgressEvent, RenderOptions, render
from .rss import Item, feed_xml
from .rules import feed_problems
from .show import Episode, Show, load_show
from .site import episode_html, index_html
from .state import Published, read_state, with_new_episodes, write_state

Progress = Callable[[ProgressEvent], None]
_KEEP = ("mp3", "vtt", "srt", "chapters", "mp4")  # the render's timeline and metrics stay out of the site
COVER_VERSION = "1"


def _ignore(event: ProgressEvent) -> None:
    return None


@dataclass(frozen=True)
class PublishOptions:
    site_dir: Path
    base_url: str | None = None
    video: bool = False
    config: RenderConfig = field(default_factory=RenderConfig)
    cache_dir: Path | None = None


@dataclass(frozen=True)
class PublishResult:
    site: Path
    items: list[Item]
    wall_seconds: float


def publish_show(show_dir: Path, options: PublishOptions, on_progress: Progress = _ignore) -> PublishResult:
    """Render what the show folder holds and replace SITE with the finished, checked site."""
    started = time.perf_counter()
    site = options.site_dir.resolve()  # "-o ." must name the folder, not stage inside it
    _check_site_folder(site)
    show = load_show(show_dir, options.config, options.base_url)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    state = with_new_episodes(read_state(show_dir), [e.slug for e in show.episodes], now)
    site.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{site.name}.staging-", dir=site.parent))
    try:
        staging.chmod(0o755)  # mkdtemp's 0o700 would hide the site from the web server
        items = _build(show, staging, state, options, on_progress)
        problems = feed_problems(staging)
        if problems:
            raise ScriptError([(Location("feed.xml"), problem) for problem in problems])
        _swap(staging, site)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_state(show_dir, state)
    return PublishResult(site, items, time.perf_counter() - started)


def check_site(site: Path) -> int:
    """Raise ScriptError listing every rule ``site``'s feed breaks; else return how many episodes it has."""
    problems = feed_problems(site)
    if problems:
        raise ScriptError([(Location("feed.xml"), problem) for problem in problems])
    return len(ET.parse(site / "feed.xml").getroot().findall("channel/item"))


def _check_site_folder(site: Path) -> None:
    # SITE is replaced whole; never do that to a folder podforge did not make.
    if site.exists() and (not site.is_dir() or (any(site.iterdir()) and not (site / "feed.xml").is_file())):
        raise ConfigError(f"{site}: exists and is not a podforge site (no feed.xml); give a new or empty folder")


def _build(
    show: Show, staging: Path, state: dict[str, Published], options: PublishOptions, on_progress: Progress
) -> list[Item]:
    cache = ContentCache(options.cache_dir)
    cover_name, render_cover = _cover(show, staging, cache)
    config = options.config
    if config.video.cover is None:  # a cover the -c config names stays; else every episode gets the show's
        video = config.video.model_copy(update={"cover": str(render_cover)})
        config = config.model_copy(update={"video": video})
    items = []
    for number, episode in enumerate(show.episodes, start=1):
        items.append(_episode(episode, staging, config, state[episode.slug], options, on_progress))
        on_progress(ProgressEvent("episodes", number, len(show.episodes)))
    atomic_write_bytes(staging / "feed.xml", feed_xml(show, cover_name, items, _generator()))
    atomic_write_text(staging / "index.html", index_html(show, cover_name, items))
    (staging / "episodes").mkdir()
    for item in items:
        atomic_write_text(staging / item.files["page"], episode_html(show, cover_name, item))
    return items


def _cover(show: Show, staging: Path, cache: ContentCache) -> tuple[str, Path]:
    """(the cover's name in the site, the file renders embed): the user's image, or one drawn once and cached."""
    if show.cover is not None:
        cover = publishable_cover(show.cover)
        atomic_write_bytes(staging / f"cover{cover.suffix}", cover.data)
        return f"cover{cover.suffix}", show.cover
    color = show.episodes[0].color if show.episodes else "#3b82f6"
    config = show.config
    key = content_key(kind="cover", version=COVER_VERSION, title=config.title, author=config.author, color=color,
                      side=GENERATED_SIDE)  # fmt: skip
    cached = cache.get_file("covers", key, ".jpg")
    if cached is not None:
        shutil.copyfile(cached, staging / "cover.jpg")
        return "cover.jpg", cached
    drawn = atomic_write_bytes(staging / "cover.jpg", generated_cover(config.title, config.author, color).data)
    cache.put_file("covers", key, ".jpg", drawn)
    # From the cache, the renders see the same path every time, so their cached videos stay valid.
    return "cover.jpg", cache.get_file("covers", key, ".jpg") or drawn


def _episode(
    episode: Episode,
    staging: Path,
    config: RenderConfig,
    published: Published,
    options: PublishOptions,
    on_progress: Progress,
) -> Item:
    from mutagen.mp3 import MP3

    from ..outputs import episode_chapters, transcript_cues

    media = staging / "media"
    render_options = RenderOptions(out_dir=media, audio_only=not options.video, config=config, stem=episode.slug,
                                   cache_dir=options.cache_dir)  # fmt: skip
    result = render(episode.path, render_options, on_progress)
    for kind, path in result.outputs.items():
        if kind not in _KEEP:
            path.unlink(missing_ok=True)
    files = {kind: f"media/{path.name}" for kind, path in result.outputs.items() if kind in _KEEP}
    files["page"] = f"episodes/{episode.slug}.html"
    sizes = {kind: (staging / path).stat().st_size for kind, path in files.items() if kind != "page"}
    seconds = float(MP3(result.outputs["mp3"]).info.length)  # type: ignore[attr-defined]
    return Item(episode, published.guid, _published_at(episode, published), seconds, files, sizes,
                episode_chapters(result.timeline), transcript_cues(result.timeline))  # fmt: skip


def _published_at(episode: Episode, published: Published) -> datetime.datetime:
    if episode.date is not None:
        return datetime.datetime.combine(episode.date, datetime.time(), tzinfo=datetime.UTC)
    return published.first_published


def _generator() -> str:
    from ..outputs import versions

    return f"podforge {versions().get('podforge') or ''}".strip()


def _swap(staging: Path, site: Path) -> None:
    """Put the staged site where SITE was: two renames on one filesystem, the old one removed after."""
    if not site.exists():
        os.replace(staging, site)
        return
    old = site.with_name(f".{site.name}.old-{secrets.token_hex(4)}")
    os.replace(site, old)
    try:
        os.replace(staging, site)
    except OSError:
        os.replace(old, site)
        raise
    shutil.rmtree(old, ignore_errors=True)
