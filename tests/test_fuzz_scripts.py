"""Property tests: generated and mutated scripts, front matter and configs never crash podforge.

Every case either checks clean or gives `error:` lines that name file:line:col, with no traceback,
no hang and nothing written. About 1,320 cases a run (see MAX_EXAMPLES), a dozen of them full renders,
in well under a minute.
"""

from __future__ import annotations

import io
import os
import re
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from podforge.cli import main
from podforge.config import RenderConfig, load_render_config
from podforge.errors import ConfigError, ScriptError
from podforge.pipeline import check

MAX_EXAMPLES = {"scripts": 650, "bytes": 150, "front": 250, "config": 200, "cli": 60, "render": 12}


def fuzz(kind: str) -> settings:
    # PODFORGE_FUZZ_SCALE=20 runs a longer campaign (a nightly job, or by hand after touching the parser).
    examples = round(MAX_EXAMPLES[kind] * float(os.environ.get("PODFORGE_FUZZ_SCALE", "1")))
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)


LOCATED = re.compile(r"^(?P<name>[^:]+):(?P<line>\d+):(?P<col>\d+): \S")
CONFIG = RenderConfig(tts_engine="fake")

names = st.sampled_from(["ALEX", "SAM", "Host", "HOST A", "**Alex**", "Runtime", "Tone", "Music", "P1", "Dr. Q", "é"])
words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
durations = st.sampled_from(["1s", "1.5s", "0s", "-2s", "500ms", "5m", "x", "", "99999s", "1e9s", "nan", "2 s"])
cue = st.one_of(
    st.builds("[MUSIC: {}, {}]".format, st.sampled_from(["calm", "upbeat intro", "x.mp3", "", "stop"]), durations),
    st.builds("[pause {}]".format, durations),
    st.builds("[SFX: {}]".format, st.sampled_from(["bell.wav", "", "a b.mp3", "../../etc/passwd", "whoosh"])),
    st.sampled_from(["[Music fade out]", "[Soft intro music – warm piano]", "[", "]", "[[x]]", "[MUSIC:]"]),
    st.builds("[{}]".format, words),
)
line = st.one_of(
    st.builds("{}: {}".format, names, words),
    st.builds("{} ({}): {}".format, names, words, words),
    cue,
    st.sampled_from(["(beat)", "(laughs)", "---", "***", "Production Notes:", "END OF SCRIPT", "", "", "INTRO"]),
    st.builds("# {}".format, words),
    st.builds("<Person1>{}</Person1>".format, words),
    st.builds('Podcast Script - "{}"'.format, words),
    words,
)
front_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), words),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(words, inner, max_size=3)),
    max_leaves=8,
)
front_keys = st.sampled_from(["title", "speakers", "music", "video", "output", "author", "year", "titel", "voice"])
speaker = st.fixed_dictionaries(
    {},
    optional={
        "voice": st.sampled_from(["fake:a", "fake:b", "nope:x", "bad id", "hibari"]),
        "avatar": st.sampled_from(["illustrated", "photo", "photo:none.png", "ilustrated", "", "x.png"]),
        "color": st.sampled_from(["red", "#fff", "blurple", "#12345"]),
        "speed": st.one_of(st.floats(allow_nan=True), st.integers()),
    },
)
front = st.one_of(
    st.dictionaries(front_keys, front_values, max_size=4),
    st.fixed_dictionaries({"speakers": st.dictionaries(names, speaker, max_size=3)}),
    st.fixed_dictionaries(
        {"video": st.dictionaries(st.sampled_from(["size", "fps", "layout", "cover"]), front_values)}
    ),
)


@st.composite
def scripts(draw: st.DrawFn) -> str:
    body = draw(st.lists(line, max_size=12))
    head = draw(st.one_of(st.none(), front.map(lambda d: yaml.safe_dump(d, allow_unicode=True)), words))
    text = "\n".join(([f"---\n{head}---"] if head is not None else []) + body)
    for _ in range(draw(st.integers(0, 3))):  # mutations: what an editor, a paste or a crash does to a file
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "truncate"]))
        if op == "insert":
            text = (
                text[:at]
                + draw(st.sampled_from(["\n", ":", "[", "]", "(", "---\n", "\r", "\t", "\x00", "**"]))
                + text[at:]
            )
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif op == "duplicate":
            text = text[:at] + text[max(0, at - 30) : at] + text[at:]
        else:
            text = text[:at]
    return text


@contextmanager
def no_hang(seconds: int = 10) -> Iterator[None]:
    def hung(signum: int, frame: object) -> None:
        raise TimeoutError(f"no answer in {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_located(exc: ScriptError, text: str) -> None:
    assert exc.problems
    for line in exc.lines():
        match = LOCATED.match(line)
        assert match and match["name"] == "episode.md", line
        lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n")  # as the parser counts them
        assert 1 <= int(match["line"]) <= lines + 2, (line, text)


def check_text(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder, no_hang():
        path = Path(folder) / "episode.md"
        path.write_bytes(raw)
        try:
            checked = check(path, CONFIG)
        except ScriptError as exc:
            assert_located(exc, raw.decode("utf-8", "replace"))
            event(f"{len(exc.problems)} problems" if len(exc.problems) < 3 else "3+ problems")
            return
        event("clean")
        assert checked.script.lines and all(line.spoken.strip() for line in checked.script.lines)
        assert sorted(p.name for p in Path(folder).iterdir()) == ["episode.md"]  # check writes nothing


@fuzz("scripts")
@given(scripts())
def test_generated_and_mutated_scripts_check_clean_or_give_located_errors(text: str) -> None:
    check_text(text.encode("utf-8", "surrogatepass"))


@fuzz("bytes")
@given(st.binary(max_size=200), scripts())
def test_arbitrary_bytes_in_a_script(noise: bytes, text: str) -> None:
    raw = text.encode("utf-8")
    check_text(raw[: len(raw) // 2] + noise + raw[len(raw) // 2 :])


@fuzz("front")
@given(front, st.lists(line, min_size=1, max_size=3))
def test_any_front_matter_is_accepted_or_located(data: dict[str, object], body: list[str]) -> None:
    text = "---\n" + yaml.safe_dump(data, allow_unicode=True) + "---\nALEX: Hello there.\n" + "\n".join(body)
    check_text(text.encode("utf-8", "surrogatepass"))


@fuzz("config")
@given(st.one_of(st.dictionaries(st.sampled_from([*RenderConfig.model_fields, "oops"]), front_values), words))
def test_any_config_file_loads_or_names_the_line(data: object) -> None:
    with tempfile.TemporaryDirectory() as folder, no_hang():
        path = Path(folder) / "config.yaml"
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), "utf-8")
        try:
            load_render_config(path)
        except ConfigError as exc:
            for line in str(exc).splitlines():
                assert LOCATED.match(line) and line.startswith("config.yaml:"), line


@fuzz("cli")
@given(scripts())
def test_the_cli_answers_with_error_lines_and_exit_2(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder, no_hang():
        path, config = Path(folder) / "episode.md", Path(folder) / "fake.yaml"
        path.write_text(text, "utf-8", errors="surrogatepass")
        config.write_text("tts_engine: fake\n", "utf-8")
        with pytest.MonkeyPatch.context() as patch, _captured() as streams:
            patch.setattr("sys.argv", ["podforge"])
            code = main(["check", str(path), "-c", str(config)])
        err = streams()
        assert code in (0, 2), err
        assert "Traceback" not in err and "internal error" not in err, err
        lines = [line for line in err.splitlines() if line]
        assert all(re.match(r"^(error|warning): episode\.md:\d+:\d+: ", line) for line in lines), err
        assert (code == 2) == any(line.startswith("error:") for line in lines)


@fuzz("render")
@given(scripts())
def test_a_render_leaves_out_complete_or_as_it_was(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder, no_hang(60), _captured():
        path, out = Path(folder) / "episode.md", Path(folder) / "out"
        path.write_text(text, "utf-8", errors="surrogatepass")
        out.mkdir()
        (out / "episode.mp3").write_bytes(b"last week's episode")
        code = main(["render", str(path), "-o", str(out), "--audio-only", "-c", str(_fake_config(Path(folder)))])
        names = sorted(p.name for p in out.iterdir())
        event("rendered" if code == 0 else f"exit {code}")
        if code == 2:
            assert names == ["episode.mp3"] and (out / "episode.mp3").read_bytes() == b"last week's episode"
        else:
            assert code == 0
            kinds = ("chapters.json", "metrics.json", "mp3", "srt", "timeline.json", "vtt")
            assert names == [f"episode.{kind}" for kind in kinds]  # complete, no staging folder left behind
            assert (out / "episode.mp3").stat().st_size > 1000


def _fake_config(folder: Path) -> Path:
    (folder / "fake.yaml").write_text("tts_engine: fake\nmusic: {engine: fake}\n", "utf-8")
    return folder / "fake.yaml"


@contextmanager
def _captured() -> Iterator[Callable[[], str]]:
    """stderr of the CLI: its rich Console writes to whatever sys.stderr is when it prints."""
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        yield buffer.getvalue


def test_enough_cases_are_generated() -> None:
    assert sum(MAX_EXAMPLES.values()) >= 1000
