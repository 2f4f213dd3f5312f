"""The show's web pages: an index and one page per episode, self-contained (inline CSS and JS, relative
links), so the site works from any URL, from a folder on disk, and offline.

An episode page has the audio player (and the video, where one was rendered), chapters that seek the
player, and the transcript, whose lines seek too.
"""

from __future__ import annotations

from html import escape

from .rss import Item
from .show import Show

_CSS = """
:root{color-scheme:light dark;--fg:#1b1e24;--bg:#f6f5f2;--muted:#5d6470;--card:#fff;--accent:ACCENT}
@media (prefers-color-scheme:dark){:root{--fg:#e9e9ec;--bg:#14171f;--muted:#a3a9b5;--card:#1d212b}}
*{box-sizing:border-box}body{margin:0;font:17px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}main,header{max-width:860px;margin:0 auto;padding:24px}
header a{display:flex;gap:16px;align-items:center;color:inherit;text-decoration:none;font-weight:700}
img.cover{border-radius:10px;width:96px;height:96px}.hero img.cover{width:220px;height:220px}
.hero{display:flex;gap:28px;align-items:flex-start;flex-wrap:wrap}.meta{color:var(--muted);font-size:15px}
h1{line-height:1.2;margin:.2em 0}audio,video{width:100%;margin:12px 0}a{color:var(--accent)}
ol.episodes{list-style:none;padding:0}ol.episodes li{background:var(--card);border-radius:10px;
padding:14px 18px;margin:10px 0}ol.chapters{padding-left:1.4em}
button.seek{all:unset;cursor:pointer;color:var(--accent)}button.seek:hover{text-decoration:underline}
li.current button.seek{font-weight:700}.transcript p{margin:.35em 0}.transcript b{margin-right:.4em}
"""

_JS = """
const audio = document.getElementById('audio'), video = document.getElementById('video');
let player = audio;
for (const [mine, other] of [[audio, video], [video, audio]]) {
  if (mine) mine.addEventListener('play', () => { player = mine; if (other) other.pause(); });
}
document.querySelectorAll('[data-start]').forEach((el) => el.addEventListener('click', () => {
  player.currentTime = parseFloat(el.dataset.start);
  player.play();
}));
const marks = [...document.querySelectorAll('ol.chapters li')];
function mark() {
  const t = player.currentTime;
  marks.forEach((li, i) => li.classList.toggle('current',
    t >= parseFloat(li.dataset.at) && (i + 1 === marks.length || t < parseFloat(marks[i + 1].dataset.at))));
}
for (const media of [audio, video]) if (media) media.addEventListener('timeupdate', mark);
"""


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _page(show: Show, title: str, body: str, up: str) -> str:
    lang = escape(show.config.language)
    css = _CSS.replace("ACCENT", show.episodes[0].color if show.episodes else "#3b82f6")
    return (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
        f'<link rel="alternate" type="application/rss+xml" title="{escape(show.config.title)}" href="{up}feed.xml">\n'
        f"<style>{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _meta(item: Item) -> str:
    episode, parts = item.episode, []
    if episode.season is not None:
        parts.append(f"Season {episode.season}")
    if episode.number is not None:
        parts.append(f"Episode {episode.number}")
    parts += [item.published.strftime("%d %B %Y").lstrip("0"), _clock(item.seconds)]
    return " · ".join(escape(p) for p in parts)


def index_html(show: Show, cover_name: str, items: list[Item]) -> str:
    config = show.config
    rows = "\n".join(
        f'<li><a href="{escape(item.files["page"])}"><strong>{escape(item.episode.title)}</strong></a>'
        f'<div class="meta">{_meta(item)}</div><div>{escape(item.episode.description)}</div></li>'
        for item in sorted(items, key=lambda i: (i.published, i.episode.number or 0), reverse=True)
    )
    body = (
        f'<main>\n<div class="hero"><img class="cover" src="{cover_name}" alt="{escape(config.title)} cover art">'
        f'<div><h1>{escape(config.title)}</h1><p class="meta">{escape(config.author)}</p>'
        f"<p>{escape(config.description)}</p>"
        f'<p><a href="feed.xml">Subscribe: the podcast feed (RSS)</a></p></div></div>\n'
        f'<h2>Episodes</h2>\n<ol class="episodes">\n{rows}\n</ol>\n</main>'
    )
    return _page(show, config.title, body, "")


def episode_html(show: Show, cover_name: str, item: Item) -> str:
    files = {kind: "../" + path for kind, path in item.files.items()}
    header = (
        f'<header><a href="../index.html"><img class="cover" src="../{cover_name}" alt="">'
        f"{escape(show.config.title)}</a></header>"
    )
    video = (
        f'<video id="video" controls preload="metadata" src="{files["mp4"]}">'
        f'<track kind="captions" src="{files["vtt"]}" srclang="{escape(show.config.language)}" label="Transcript">'
        "</video>\n"
        if "mp4" in files
        else ""
    )
    body = (
        f'{header}\n<main>\n<h1>{escape(item.episode.title)}</h1>\n<p class="meta">{_meta(item)}</p>\n'
        f"<p>{escape(item.episode.description)}</p>\n{video}"
        f'<audio id="audio" controls preload="auto" src="{files["mp3"]}"></audio>\n'
        f"{_chapters(item)}{_transcript(item)}{_downloads(files)}</main>\n<script>{_JS}</script>"
    )
    return _page(show, f"{item.episode.title} · {show.config.title}", body, "../")


def _chapters(item: Item) -> str:
    if not item.chapters:
        return ""
    rows = "\n".join(
        f'<li data-at="{c.start:.3f}"><button class="seek" data-start="{c.start:.3f}">'
        f"{_clock(c.start)} {escape(c.title)}</button></li>"
        for c in item.chapters
    )
    return f'<h2>Chapters</h2>\n<ol class="chapters">\n{rows}\n</ol>\n'


def _transcript(item: Item) -> str:
    rows = "\n".join(
        f'<p><button class="seek" data-start="{cue.start:.3f}">{_clock(cue.start)}</button> '
        f"<b>{escape(cue.speaker)}</b>{escape(cue.text)}</p>"
        for cue in item.cues
    )
    return f'<h2>Transcript</h2>\n<div class="transcript">\n{rows}\n</div>\n' if rows else ""


def _downloads(files: dict[str, str]) -> str:
    names = {"mp3": "MP3", "mp4": "MP4", "vtt": "WebVTT", "srt": "SRT", "chapters": "chapters (JSON)"}
    links = " · ".join(f'<a href="{files[k]}">{label}</a>' for k, label in names.items() if k in files)
    return f'<p class="meta">Files: {links}</p>\n'
