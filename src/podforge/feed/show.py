"""A show folder: ``show.yaml`` and the episode scripts beside it, read and checked with locations.

Every problem in the folder (the show file, each script, numbers shared by two episodes) is collected and
raised at once as a :class:`ScriptError`, so a user fixes the whole folder in one pass.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._yamlpos import locate
from ..config import RenderConfig, describe_validation_error
from ..errors import Location, ScriptError
from ..script.model import Script
from .categories import Category, parse_category

SHOW_FILE = "show.yaml"
EPISODE_SUFFIXES = (".md", ".txt")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")  # ISO 639 code, optionally with a region
_SLUG = re.compile(r"[^a-z0-9]+")

Problems = list[tuple[Location, str]]


class ShowConfig(BaseModel):
    """``show.yaml``: exactly these keys, so a show folder means the same thing on every machine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=255)
    author: str = Field(min_length=1, max_length=255)
    email: str
    description: str = Field(min_length=1, max_length=4000)
    language: str = "en"
    categories: list[str] = Field(min_length=1)
    explicit: bool = Field(default=False, strict=True)
    cover: str | None = None
    base_url: str | None = None
    type: Literal["episodic", "serial"] = "episodic"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value.strip()):
            raise ValueError(f"{value!r} is not an email address; directories send ownership checks there")
        return value.strip()

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not _LANGUAGE.match(value.strip()):
            raise ValueError(f"{value!r} is not an ISO 639 language code; write e.g. en, en-us, fr")
        return value.strip().lower()

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else checked_base_url(value)

    @property
    def apple_categories(self) -> list[Category]:
        return [parse_category(name) for name in self.categories]


def checked_base_url(value: str) -> str:
    """An absolute http(s) URL ending in one slash, where the site will be served."""
    url = value.strip()
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
        raise ValueError(
            f"{value!r} is not an http(s) URL; write where the site is served, e.g. https://example.com/show/"
        )
    return url.rstrip("/") + "/"


@dataclass(frozen=True)
class Episode:
    """One script of the show and what its front matter says about it in the feed."""

    path: Path
    slug: str
    title: str
    number: int | None
    season: int | None
    date: datetime.date | None
    description: str
    explicit: bool | None
    color: str


@dataclass(frozen=True)
class Show:
    folder: Path
    config: ShowConfig
    base_url: str
    cover: Path | None
    episodes: tuple[Episode, ...]


def load_show(folder: Path, render_config: RenderConfig, base_url: str | None = None) -> Show:
    """Read and check the whole folder; raises ScriptError listing every problem, in file order."""
    problems: Problems = []
    show_path = folder / SHOW_FILE
    if not folder.is_dir():
        raise ScriptError.at(Location(folder), "no such show folder; give the folder that holds show.yaml")
    config, text = _read_show_file(show_path, problems)
    url = _base_url(show_path, config, base_url, problems)
    cover = _cover(show_path, text, config, problems)
    episodes = _episodes(folder, render_config, problems)
    if config is not None:
        _check_numbers(episodes, config, problems)
    if problems:
        raise ScriptError(sorted(problems, key=lambda p: (str(p[0].path), p[0].line, p[0].col)))
    assert config is not None and url is not None
    return Show(folder, config, url, cover, tuple(episodes))


def _read_show_file(path: Path, problems: Problems) -> tuple[ShowConfig | None, str]:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except FileNotFoundError:
        problems.append((Location(path), "no show.yaml in the show folder; write one (see README 'Publishing')"))
        return None, ""
    except (OSError, UnicodeDecodeError) as exc:
        problems.append((Location(path, 1, 1), f"cannot read show.yaml ({exc}); save it as UTF-8 text"))
        return None, ""
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        problems.append((where, f"not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax"))
        return None, ""
    if not isinstance(data, dict):
        problems.append((Location(path, 1, 1), "show.yaml must be `key: value` pairs (title:, author:, …)"))
        return None, text
    try:
        config = ShowConfig.model_validate(data)
    except ValidationError as exc:
        for key_path, message in describe_validation_error(exc):
            dotted = ".".join(str(p) for p in key_path)
            hint = "; add it" if message == "Field required" else ""
            problems.append((Location(path, *locate(text, key_path)), f"{dotted}: {message}{hint}"))
        return None, text
    bad = _category_problems(path, text, config.categories)
    problems.extend(bad)
    return (None if bad else config), text


def _category_problems(path: Path, text: str, categories: list[str]) -> Problems:
    found: Problems = []
    for index, name in enumerate(categories):
        try:
            parse_category(name)
        except ValueError as exc:
            found.append((Location(path, *locate(text, ["categories", index])), f"categories: {exc}"))
    return found


def _base_url(path: Path, config: ShowConfig | None, flag: str | None, problems: Problems) -> str | None:
    if flag is not None:
        try:
            return checked_base_url(flag)
        except ValueError as exc:
            problems.append((Location("--base-url"), str(exc)))
            return None
    if config is not None and config.base_url is None:
        problems.append((Location(path, 1, 1), "base_url: missing; add `base_url: https://…` or pass --base-url"))
    return config.base_url if config else None


def _cover(path: Path, text: str, config: ShowConfig | None, problems: Problems) -> Path | None:
    from ..artwork import cover_problems

    if config is None or config.cover is None:
        return None
    cover = (path.parent / config.cover).resolve()
    where = Location(path, *locate(text, ["cover"]))
    problems.extend((where, message) for message in cover_problems(cover))
    return cover


def _episodes(folder: Path, render_config: RenderConfig, problems: Problems) -> list[Episode]:
    from ..pipeline import check

    scripts = sorted(p for p in folder.iterdir() if p.suffix.lower() in EPISODE_SUFFIXES and p.is_file())
    if not scripts:
        problems.append((Location(folder / SHOW_FILE), "no episode scripts (*.md, *.txt) beside show.yaml"))
    episodes: list[Episode] = []
    slugs: dict[str, str] = {}
    for path in scripts:
        try:
            checked = check(path, render_config)
        except ScriptError as exc:
            problems.extend(exc.problems)
            continue
        episode = _episode(checked.script)
        if episode.slug in slugs:
            where = Location(path, 1, 1)
            problems.append((where, f"has the same web name {episode.slug!r} as {slugs[episode.slug]}; rename one"))
        slugs[episode.slug] = path.name
        episodes.append(episode)
    return episodes


def _episode(script: Script) -> Episode:
    path, title, front = script.path, script.title, script.front
    spoken = " ".join(line.text for line in script.lines[:2])
    description = front.description or (spoken[:297] + "…" if len(spoken) > 300 else spoken) or title
    color = next(iter(script.speakers.values())).color if script.speakers else "#3b82f6"
    return Episode(path, slug(path.stem), title, front.episode, front.season, front.date, description,
                   front.explicit, color)  # fmt: skip


def slug(stem: str) -> str:
    """The episode's name in the site's URLs: lower case letters, digits and dashes."""
    return _SLUG.sub("-", stem.lower()).strip("-") or "episode"


def _check_numbers(episodes: list[Episode], config: ShowConfig, problems: Problems) -> None:
    seen: dict[tuple[int | None, int], Episode] = {}
    for episode in episodes:
        if episode.number is None:
            if config.type == "serial":
                message = "a serial show numbers every episode; add `episode: N` to the front matter"
                problems.append((_front_key(episode.path, "title"), message))
            continue
        key = (episode.season, episode.number)
        if key in seen:
            first = seen[key].path.name
            season = f" of season {episode.season}" if episode.season else ""
            message = f"episode {episode.number}{season} is also {first}'s number; give each episode its own number"
            problems.append((_front_key(episode.path, "episode"), message))
        else:
            seen[key] = episode


def _front_key(path: Path, key: str) -> Location:
    """Where ``key`` is in the script's front matter (the script's first line when it is not there)."""
    from ..script.frontmatter import split_front_matter
    from ..script.parser import decode_script

    yaml_text, _, _ = split_front_matter(decode_script(path.read_bytes(), path))
    if yaml_text is None:
        return Location(path, 1, 1)
    line, col = locate(yaml_text, [key])
    return Location(path, line + 1, col)
