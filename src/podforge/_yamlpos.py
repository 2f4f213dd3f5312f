"""Find where a key path sits in a YAML document, so errors can name line:col."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def locate(text: str, key_path: Sequence[str | int]) -> tuple[int, int]:
    """1-based (line, col) of the deepest node on key_path that exists; (1, 1) when unknown."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1, 1
    best = (1, 1) if node is None else _mark(node)
    for key in key_path:
        child = _child(node, key)
        if child is None:
            break
        node, best = child[1], _mark(child[0])
        best = _mark(node) if not isinstance(node, yaml.MappingNode) else best
    return best


def _mark(node: yaml.Node) -> tuple[int, int]:
    return _line_col(node.start_mark.buffer, node.start_mark.index)


def _line_col(text: str | None, index: int) -> tuple[int, int]:
    """1-based line and column of ``index``, counting only "\n" as editors do (PyYAML also breaks at
    U+0085, U+2028 and U+2029, so its own line numbers drift after one)."""
    text = text or ""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _child(node: yaml.Node | None, key: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == str(key):
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key], node.value[key]
    return None


def describe_yaml_error(exc: yaml.YAMLError, text: str) -> tuple[int, int, str]:
    """(1-based line, col, reason in one line) of a YAML syntax error, wherever PyYAML keeps them."""
    if isinstance(exc, yaml.reader.ReaderError):
        # A control character: PyYAML has no mark for it, only a position in the text.
        line, col = _line_col(text, exc.position)
        return line, col, f"a control character {exc.character!r} YAML cannot hold; delete it"
    mark = getattr(exc, "problem_mark", None)
    reason = " ".join(str(getattr(exc, "problem", None) or "invalid YAML").split())
    return (*_line_col(text, mark.index), reason) if mark else (1, 1, reason)
