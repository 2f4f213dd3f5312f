"""Change one speaker's voice, avatar or colour in a script's front matter, leaving every other byte alone.

The studio's cast panel writes through `set_speaker`. Only the scalars that change are replaced
(or, for a key the speaker does not have yet, one `key: value` is added beside its siblings), so
comments, key order, quoting and the whole body after the closing `---` stay exactly as the user
wrote them. Values are written as YAML double-quoted strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from ..config import SpeakerConfig, describe_validation_error
from ..errors import ConfigError

FIELDS = ("voice", "avatar", "color")
_PLAIN_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .-]*")
Edit = tuple[int, int, str]  # replace text[start:end] with the string


@dataclass(frozen=True)
class _Block:
    start: int  # offset of the first YAML character, after the opening `---` line
    end: int  # offset of the closing `---` line
    newline: str


def set_speaker(text: str, label: str, changes: dict[str, str]) -> str:
    """`text` with speaker `label`'s `changes` (voice/avatar/color) written into its front matter."""
    _validate(label, changes)
    if not changes:
        return text
    block = _front_block(text)
    if block is None:
        newline = "\r\n" if "\r\n" in text else "\n"
        return f"---{newline}speakers:{newline}  {_key(label)}: {_flow(changes)}{newline}---{newline}{text}"
    body = text[block.start : block.end]
    edits = _edits(body, label, changes, block.newline)
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        body = body[:start] + new + body[end:]
    result = text[: block.start] + body + text[block.end :]
    _verify(result[block.start : block.start + len(body)], label, changes)
    return result


def _validate(label: str, changes: dict[str, str]) -> None:
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise ConfigError(f"speaker {label}: cannot set {', '.join(unknown)}; the cast panel sets {', '.join(FIELDS)}")
    if not label.strip() or "\n" in label:
        raise ConfigError("speaker label must be a non-empty single line")
    try:
        SpeakerConfig.model_validate(changes)
    except ValidationError as exc:
        (path, message), *_ = describe_validation_error(exc)
        raise ConfigError(f"speaker {label}: {path[0]}: {message}") from exc


def _front_block(text: str) -> _Block | None:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    offset = len(lines[0])
    start = offset
    for line in lines[1:]:
        if line.strip() in {"---", "..."}:
            return _Block(start, offset, newline)
        offset += len(line)
    raise ConfigError("the front matter has no closing `---` line; add one before changing the cast")


def _edits(body: str, label: str, changes: dict[str, str], newline: str) -> list[Edit]:
    try:
        root = yaml.compose(body, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"the front matter is not valid YAML ({exc}); fix it in the editor first") from exc
    entry_text = f"{_key(label)}: {_flow(changes)}"
    if root is None or (isinstance(root, yaml.ScalarNode) and not root.value):
        return [(len(body), len(body), f"speakers:{newline}  {entry_text}{newline}")]
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("the front matter must be `key: value` pairs; fix it in the editor first")
    speakers = _child(root, "speakers")
    if speakers is None:
        return [(_line_after(body, root), _line_after(body, root), f"speakers:{newline}  {entry_text}{newline}")]
    if isinstance(speakers, yaml.ScalarNode) and speakers.value in ("", "~", "null"):
        return [(speakers.start_mark.index, speakers.end_mark.index, f"{newline}  {entry_text}")]
    if not isinstance(speakers, yaml.MappingNode):
        raise ConfigError("front matter speakers: must be a mapping of LABEL: {voice: ..., ...}")
    entry = _child(speakers, label)
    if entry is None:
        return [_add_keys(body, speakers, {label: _flow(changes)}, newline, raw=True)]
    if isinstance(entry, yaml.MappingNode):
        return _entry_edits(body, entry, changes, newline)
    prefix = " " if entry.start_mark.index == entry.end_mark.index else ""
    return [(entry.start_mark.index, entry.end_mark.index, prefix + _flow(changes))]


def _entry_edits(body: str, entry: yaml.MappingNode, changes: dict[str, str], newline: str) -> list[Edit]:
    edits: list[Edit] = []
    missing: dict[str, str] = {}
    for key, value in changes.items():
        node = _child(entry, key)
        if isinstance(node, yaml.ScalarNode):
            prefix = " " if node.start_mark.index == node.end_mark.index else ""
            edits.append((node.start_mark.index, node.end_mark.index, prefix + _scalar(value)))
        elif node is None:
            missing[key] = value
        else:
            raise ConfigError(f"speaker setting {key} must be a plain value; fix it in the editor first")
    if missing:
        edits.append(_add_keys(body, entry, {k: _scalar(v) for k, v in missing.items()}, newline))
    return edits


def _add_keys(body: str, mapping: yaml.MappingNode, items: dict[str, str], newline: str, raw: bool = False) -> Edit:
    """One insertion adding `key: value` items to a flow `{...}` or block mapping, after its last entry."""
    pairs = [f"{_key(k) if raw else k}: {v}" for k, v in items.items()]
    if mapping.flow_style:
        close = mapping.end_mark.index - 1  # the `}`
        separator = ", " if mapping.value else ""
        return (close, close, separator + ", ".join(pairs))
    indent = " " * mapping.value[0][0].start_mark.column
    at = _line_after(body, mapping)
    return (at, at, "".join(f"{indent}{pair}{newline}" for pair in pairs))


def _line_after(body: str, node: yaml.Node) -> int:
    """Offset of the line after the node's last value, where a sibling line can go."""
    last = node.value[-1][1] if isinstance(node, yaml.MappingNode) and node.value else node
    end = last.end_mark.index
    if end > 0 and body[end - 1] == "\n":
        return end
    newline = body.find("\n", end)
    return len(body) if newline < 0 else newline + 1


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((value for k, value in node.value if str(k.value) == key), None)


def _key(label: str) -> str:
    return label if _PLAIN_LABEL.fullmatch(label) and not label.endswith(" ") else _scalar(label)


def _scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _flow(changes: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key}: {_scalar(value)}" for key, value in changes.items()) + "}"


def _verify(body: str, label: str, changes: dict[str, str]) -> None:
    """The edit must read back as intended; anything else is a bug here, never a half-changed script."""
    data = yaml.safe_load(body) or {}
    entry = (data.get("speakers") or {}).get(label) or {}
    if any(entry.get(key) != value for key, value in changes.items()):
        raise ConfigError(f"speaker {label}: could not update the front matter safely; edit it by hand")
