"""The cast panel's writer: one speaker's settings into the front matter, every other byte unchanged."""

from __future__ import annotations

import pytest
import yaml

from podforge.errors import ConfigError
from podforge.script.cast import set_speaker
from studio_support import SHORT

CLOSING = "\n---\n"


def _split(text: str) -> tuple[str, str]:
    """(front matter YAML, everything from the closing --- on)."""
    end = text.index(CLOSING, 4)
    return text[4:end], text[end:]


def _speakers(text: str) -> dict[str, dict[str, str]]:
    return yaml.safe_load(_split(text)[0])["speakers"]


def test_changing_a_flow_entry_touches_only_its_values() -> None:
    new = set_speaker(SHORT, "ALEX", {"voice": "fake:b", "color": "#112233"})
    assert _split(new)[1] == _split(SHORT)[1]  # the body, byte for byte
    assert _speakers(new)["ALEX"] == {"voice": "fake:b", "color": "#112233", "avatar": "illustrated"}
    assert _speakers(new)["SAM"] == _speakers(SHORT)["SAM"]
    assert "# the host" in new  # the comment on the edited line stays
    changed = [(a, b) for a, b in zip(SHORT.splitlines(), new.splitlines(), strict=True) if a != b]
    assert changed == [
        (SHORT.splitlines()[3], '  ALEX: {voice: "fake:b", color: "#112233", avatar: illustrated}  # the host')
    ]


def test_block_entry_gets_a_new_key_beside_its_siblings() -> None:
    new = set_speaker(SHORT, "SAM", {"avatar": "photo:media/sam.jpg"})
    assert _split(new)[1] == _split(SHORT)[1]
    assert '    avatar: "photo:media/sam.jpg"\n' in new
    assert _speakers(new)["SAM"] == {"voice": "piper:joe", "color": "#3b82f6", "avatar": "photo:media/sam.jpg"}
    assert _speakers(new)["ALEX"] == _speakers(SHORT)["ALEX"]


def test_new_speaker_and_missing_front_matter() -> None:
    added = set_speaker(SHORT, "CAROL", {"voice": "fake:c"})
    assert _speakers(added)["CAROL"] == {"voice": "fake:c"}
    assert _split(added)[1] == _split(SHORT)[1]
    body = "ALEX: Hi.\r\nSAM: Hello.\r\n"
    created = set_speaker(body, "ALEX", {"color": "red"})
    assert created.endswith(body) and created.startswith('---\r\nspeakers:\r\n  ALEX: {color: "red"}\r\n---\r\n')


def test_crlf_and_empty_entries_are_kept() -> None:
    text = "---\r\ntitle: x\r\nspeakers:\r\n  ALEX:\r\n  SAM: ~\r\n---\r\nALEX: hi\r\n"
    new = set_speaker(set_speaker(text, "ALEX", {"voice": "fake:a"}), "SAM", {"color": "#abc"})
    assert (
        new
        == '---\r\ntitle: x\r\nspeakers:\r\n  ALEX: {voice: "fake:a"}\r\n  SAM: {color: "#abc"}\r\n---\r\nALEX: hi\r\n'
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"color": "not-a-colour"}, "not a colour"),
        ({"voice": "bad voice!"}, "not a voice id"),
        ({"speed": "2"}, "cannot set"),
    ],
)
def test_bad_values_are_refused_before_writing(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        set_speaker(SHORT, "ALEX", changes)


def test_unclosed_front_matter_is_refused() -> None:
    with pytest.raises(ConfigError, match="no closing"):
        set_speaker("---\ntitle: x\nALEX: hi\n", "ALEX", {"voice": "fake:a"})
