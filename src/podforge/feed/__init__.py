"""Publishing: a show folder (show.yaml and episode scripts) becomes a podcast feed and a static site.

show.py        show.yaml and the episodes' front matter, checked with file:line:col
state.py       feed-state.json in the show folder: guids and first publication times, never changed
rss.py         feed.xml (RSS 2.0 + itunes + podcast + atom)
site.py        index.html and one page per episode (players, chapters, transcript)
rules.py       Apple Podcasts' and Spotify's documented feed rules, checked on a built site
build.py       render, build in a staging folder, check, swap in
"""

from __future__ import annotations

from .build import PublishOptions, PublishResult, check_site, publish_show

__all__ = ["PublishOptions", "PublishResult", "check_site", "publish_show"]
