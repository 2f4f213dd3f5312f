"""`podforge publish`: options in, a progress bar, a summary out."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ._cli_render import progress_bar
from .config import load_render_config
from .feed import PublishOptions, check_site, publish_show
from .feed.show import load_show


def run_publish(
    out: Console, show: Path, site: Path, *, base_url: str | None, video: bool, config_path: Path | None
) -> None:
    options = PublishOptions(site, base_url=base_url, video=video, config=load_render_config(config_path))
    console = Console(stderr=True)
    with progress_bar(console, transient=True) as on_progress:
        result = publish_show(show, options, on_progress)
    out.print(f"published {len(result.items)} episodes to {result.site} in {result.wall_seconds:.1f} s")
    out.print(f"  {result.site / 'feed.xml'}  (passes Apple Podcasts' and Spotify's feed rules)")
    out.print(f"  {result.site / 'index.html'}")


def run_check(out: Console, show: Path, site: Path, *, base_url: str | None, config_path: Path | None) -> None:
    """The show folder is read and checked too (nothing is rendered), then the site already in SITE."""
    load_show(show, load_render_config(config_path), base_url)
    episodes = check_site(site)
    out.print(f"ok: {site / 'feed.xml'}: {episodes} episodes; passes Apple Podcasts' and Spotify's feed rules")
