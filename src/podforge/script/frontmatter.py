"""YAML front matter: split it off the script and validate it with locations."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from .._yamlpos import describe_yaml_error, locate
from ..config import FrontMatter, describe_validation_error, dotted_path
from ..errors import Location


def split_front_matter(text: str) -> tuple[str | None, int, list[str]]:
    """(yaml text or None, 1-based line of the first body line, body lines)."""
    # Only "\n" ends a line (the caller has turned \r\n and \r into it): splitlines() would also break at
    # form feeds, vertical tabs (Word's line break) and U+2028, and every later line number would be wrong.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].strip() != "---":
        return None, 1, lines
    for index in range(1, len(lines)):
        if lines[index].strip() in {"---", "..."}:
            return "\n".join(lines[1:index]), index + 2, lines[index + 1 :]
    return "\n".join(lines[1:]), len(lines) + 1, []


def parse_front_matter(yaml_text: str | None, path: Path, problems: list[tuple[Location, str]]) -> FrontMatter:
    """Validated front matter; problems are appended (with locations) rather than raised."""
    if yaml_text is None:
        return FrontMatter()
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        line, col, reason = describe_yaml_error(exc, yaml_text)
        problems.append((Location(path, line + 1, col), f"front matter is not valid YAML ({reason}); fix the syntax"))
        return FrontMatter()
    if data is None:
        return FrontMatter()
    if not isinstance(data, dict):
        problems.append((Location(path, 2, 1), "front matter must be `key: value` pairs (title:, speakers:, …)"))
        return FrontMatter()
    try:
        return FrontMatter.model_validate(data)
    except ValidationError as exc:
        for key_path, message in describe_validation_error(exc):
            line, col = locate(yaml_text, key_path)
            dotted = dotted_path(key_path)
            problems.append((Location(path, line + 1, col), f"front matter {dotted}: {message}"))
        return FrontMatter()
