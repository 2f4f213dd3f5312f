"""Command line: flags → options → library; exceptions → one `error:` line and an exit code.

Exit codes: 0 done, 1 the render failed, 2 bad input (script, config, flag,
media file), 130 interrupted.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.exceptions import TyperException

from .errors import PodforgeError
from .listen import DEFAULT_THRESHOLD

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Turn a written podcast script into a finished episode, offline.",
)
cache_app = typer.Typer(help="Inspect or empty the clip cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
lexicon_app = typer.Typer(help="The pronunciation lexicon (lexicon.yaml, front matter lexicon:).", no_args_is_help=True)
app.add_typer(lexicon_app, name="lexicon")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
STATE = {"debug": False}

ScriptArg = Annotated[Path, typer.Argument(help="the episode script (.md)", show_default=False)]
OutOpt = Annotated[Path, typer.Option("-o", "--out", help="output folder")]
ConfigOpt = Annotated[Path | None, typer.Option("-c", "--config", help="render settings (YAML)")]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and debug logs")] = False,
) -> None:
    STATE["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s")


@app.command()
def render(
    script: ScriptArg,
    out_dir: OutOpt = Path("out"),
    audio_only: Annotated[bool, typer.Option("--audio-only", help="skip the video")] = False,
    wav: Annotated[bool, typer.Option("--wav", help="also write a 24-bit WAV")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="do not read or write the clip cache")] = False,
    config: ConfigOpt = None,
    size: Annotated[str | None, typer.Option(help="video size: 1280x720, 1920x1080, 1080x1920, 1080x1080")] = None,
    fps: Annotated[int | None, typer.Option(help="video frame rate: 25 or 30")] = None,
    layout: Annotated[str | None, typer.Option(help="solo, duo, active-speaker or audiogram")] = None,
    no_captions: Annotated[bool, typer.Option("--no-captions", help="no burned-in captions")] = False,
    gpu: Annotated[str | None, typer.Option(help="auto (an NVIDIA GPU when it works), on (fail without), off")] = None,
    avatar_fallback: Annotated[
        str | None, typer.Option(help="photo or illustrated: what a speaker gets when SadTalker/Wav2Lip fails")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="video from this time (2:30) or this chapter")] = None,
    end: Annotated[str | None, typer.Option("--to", help="video up to this time (3:10)")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="a quick look: small frame, fastest encode")] = False,
    executor: Annotated[str | None, typer.Option(help="local (default), inline, ray or ray=ADDRESS")] = None,
    flag_threshold: Annotated[
        float, typer.Option("--flag-threshold", help="listening check: flag lines heard with a higher word error rate")
    ] = DEFAULT_THRESHOLD,
    no_listen: Annotated[bool, typer.Option("--no-listen", help="skip the listening check")] = False,
) -> None:
    """Render SCRIPT into OUT: mp4, mp3, srt, vtt, chapters, timeline and metrics."""
    from ._cli_render import run_render
    from .preview import cli_window

    flags: dict[str, object] = {"size": size, "fps": fps, "layout": layout, "captions": False if no_captions else None}
    video_flags = {key: value for key, value in flags.items() if value is not None}
    sections: dict[str, dict[str, object]] = {"gpu": {"mode": gpu}, "avatar": {"fallback": avatar_fallback}}
    other = {name: values for name, values in sections.items() if all(v is not None for v in values.values())}
    window, chapter = cli_window(start, end)
    run_render(script, out_dir, audio_only=audio_only, wav=wav, no_cache=no_cache, config_path=config,
               video_flags=video_flags, flags=other, window=window, chapter=chapter, quick=preview,
               executor=executor, flag_threshold=None if no_listen else flag_threshold)  # fmt: skip


@app.command()
def batch(
    folder: Annotated[Path, typer.Argument(help="a folder of episode scripts (.md)", show_default=False)],
    out_dir: OutOpt = Path("out"),
    audio_only: Annotated[bool, typer.Option("--audio-only", help="skip the video")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="do not read or write the clip cache")] = False,
    config: ConfigOpt = None,
    executor: Annotated[
        str | None, typer.Option(help="local (default) or ray[=ADDRESS]: a Ray task per script")
    ] = None,
) -> None:
    """Render every script in FOLDER into OUT/<script name>/; exits 1 if any of them failed."""
    from ._cli_render import run_batch

    run_batch(folder, out_dir, audio_only=audio_only, no_cache=no_cache, config_path=config, executor=executor)


@app.command()
def demo(out_dir: OutOpt = Path("out"), no_cache: Annotated[bool, typer.Option("--no-cache")] = False) -> None:
    """Render the bundled two-host demo episode into OUT."""
    from ._cli_render import run_render
    from .demo import demo_script

    with demo_script() as path:
        run_render(path, out_dir, audio_only=False, wav=False, no_cache=no_cache, config_path=None)


@app.command()
def check(
    script: ScriptArg,
    show: Annotated[bool, typer.Option("--show", help="print what will be spoken and what is skipped")] = False,
    config: ConfigOpt = None,
) -> None:
    """Validate SCRIPT without rendering anything."""
    from ._cli_info import show_script
    from .config import load_render_config
    from .pipeline import check as check_script

    checked = check_script(script, load_render_config(config))
    for where, message in checked.warnings:
        err.print(f"warning: {where}: {message}", markup=False, soft_wrap=True)
    if show:
        show_script(out, checked)
    lines = len(checked.script.lines)
    out.print(f"ok: {script.name}: {lines} spoken lines, {len(checked.voices)} speakers")


@app.command()
def takes(
    script: ScriptArg,
    line: Annotated[
        int, typer.Argument(help="the script line number where the spoken line starts", show_default=False)
    ],
    new: Annotated[bool, typer.Option("--new", help="record another take (next seed) and choose it")] = False,
    choose: Annotated[int | None, typer.Option("--choose", help="choose take N (1 is the script's own)")] = None,
    speed: Annotated[float, typer.Option("--speed", help="with --new: speed factor of the new take")] = 1.0,
    voice: Annotated[str | None, typer.Option("--voice", help="with --new: another voice id for it")] = None,
    hear: Annotated[
        int | None, typer.Option("--hear", help="voice take N and say what the listening check hears")
    ] = None,
) -> None:
    """List, add, hear or choose takes of one line; `podforge render` voices the chosen take."""
    from . import takes as lib
    from .pipeline import check as check_script

    checked = check_script(script, video=False)
    parsed = checked.script
    if hear is not None:
        from .cache import ContentCache

        found = lib.check_take(checked, line, hear, ContentCache())
        verdict = "flagged" if found.flagged else "clean"
        out.print(f"take {hear}: {verdict}, heard {found.heard!r} (WER {found.wer:g})" if found.checked
                  else f"take {hear}: not heard (its voice speaks no words)")  # fmt: skip
        return
    if new:
        result = lib.new_take(parsed, line, speed, voice)
    elif choose is not None:
        result = lib.choose_take(parsed, line, choose)
    else:
        result = lib.list_takes(parsed, line)
    for number, take in enumerate(result.takes, start=1):
        mark = "*" if number == result.chosen else " "
        out.print(f"{mark} take {number}: seed {take.seed}, speed x{take.speed:g}, voice {take.voice or 'cast'}")


@app.command()
def publish(
    show: Annotated[Path, typer.Argument(help="the show folder: show.yaml and episode scripts", show_default=False)],
    out_dir: Annotated[Path, typer.Option("-o", "--out", help="the site folder (replaced whole)")] = Path("site"),
    base_url: Annotated[str | None, typer.Option("--base-url", help="where the site is served")] = None,
    check: Annotated[bool, typer.Option("--check", help="only check the site in OUT against the rules")] = False,
    video: Annotated[bool, typer.Option("--video", help="also render each episode's MP4")] = False,
    config: ConfigOpt = None,
) -> None:
    """Publish SHOW as a podcast feed and static site in OUT (or --check the site already there)."""
    from ._cli_publish import run_check, run_publish

    if check:
        run_check(out, show, out_dir, base_url=base_url, config_path=config)
        return
    run_publish(out, show, out_dir, base_url=base_url, video=video, config_path=config)


@app.command()
def voices(
    script: Annotated[Path | None, typer.Argument(help="also list this script's named voices")] = None,
    config: ConfigOpt = None,
) -> None:
    """List every voice: source (bundled, installed, file, derived), gender, and whether it is installed."""
    from ._cli_info import show_voices
    from .config import load_render_config
    from .voices.cast import VoiceBook

    render_config = load_render_config(config)
    defs = dict(render_config.voices)
    base = Path(".")
    if script is not None:
        from .pipeline import check as check_script

        checked = check_script(script, render_config)
        defs, base = {**defs, **checked.script.front.voices}, checked.script.base_dir
    show_voices(out, VoiceBook(defs, base))


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="what to say", show_default=False)],
    voice: Annotated[str, typer.Option("--voice", help="a voice id (see podforge voices) or a named voice")] = (
        "hibari:heart"
    ),
    out_path: Annotated[Path, typer.Option("-o", "--out", help="the WAV to write")] = Path("sample.wav"),
    config: ConfigOpt = None,
) -> None:
    """Preview a voice: speak TEXT with VOICE into a WAV file."""
    from .cache import ContentCache
    from .config import load_render_config
    from .errors import ConfigError, EngineError
    from .script.speech_text import to_speech
    from .voices.cast import VoiceBook
    from .voices.files import VoiceFileProblem
    from .voices.preview import preview_voice, write_preview

    render_config = load_render_config(config)
    spoken = to_speech(text).strip()
    if not any(c.isalnum() for c in spoken):
        raise ConfigError('say: nothing to say; give the words, e.g. podforge say "Hello there." --voice piper:joe')
    try:
        VoiceBook(render_config.voices).resolve(voice)
    except (EngineError, VoiceFileProblem) as exc:
        raise ConfigError(f"--voice {voice}: {exc}; see podforge voices") from exc
    preview = preview_voice(voice, spoken, ContentCache(), voices=render_config.voices)
    write_preview(preview, out_path)
    out.print(f"wrote {out_path} ({preview.seconds:.1f} s, {voice})")


@app.command()
def doctor(config: ConfigOpt = None) -> None:
    """Report engines, encoders, GPU (and what uses it) and cache."""
    from ._cli_info import show_doctor
    from .config import load_render_config

    gpu = load_render_config(config).gpu
    show_doctor(out, gpu.mode, gpu.device)


@app.command("sync-report")
def sync_report(video: Annotated[Path, typer.Argument(help="a rendered OUT/stem.mp4", show_default=False)]) -> None:
    """Measure lip-sync: mouth opening per frame against the speech envelope, per face."""
    from .errors import MediaError
    from .syncreport import sync_report as measure
    from .timeline import Timeline

    if not video.is_file():
        raise MediaError(f"{video.name}: no such video; give the path of a rendered .mp4")
    beside = video.with_suffix(".timeline.json")
    timeline = Timeline.from_json(beside.read_text(encoding="utf-8")) if beside.is_file() else None
    for face in measure(video, timeline):
        out.print(face.line())


@app.command()
def studio(
    folder: Annotated[Path, typer.Argument(help="workspace folder with the episode scripts")] = Path("."),
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    host: Annotated[
        str, typer.Option(help="address to bind; keep 127.0.0.1 unless you mean to share it")
    ] = "127.0.0.1",
    no_browser: Annotated[bool, typer.Option("--no-browser", help="do not open a browser")] = False,
) -> None:
    """Open the studio: write, cast, preview, render and play episodes in the browser."""
    from .studio.app import serve

    out.print(f"podforge studio on http://{host}:{port}/ over {folder.resolve()} (Ctrl+C stops it)")
    serve(folder, host, port, open_browser=not no_browser)


@lexicon_app.command("check")
def lexicon_check(
    scripts: Annotated[list[Path] | None, typer.Argument(help="scripts (default: every .md here)")] = None,
) -> None:
    """Check the lexicon and list the lines each entry changes (the lines a render re-voices)."""
    from ._cli_info import show_lexicon
    from .errors import ConfigError
    from .pipeline import check as check_script

    paths = scripts or sorted(Path(".").glob("*.md"))
    if not paths:
        raise ConfigError("lexicon check: no scripts here; give one, e.g. podforge lexicon check episode.md")
    show_lexicon(out, [check_script(path, video=False).script for path in paths])


@cache_app.command("ls")
def cache_ls(config: ConfigOpt = None) -> None:
    """Show the cache's entries, their total size and the size cap (config `cache_max_gb`)."""
    from ._cli_info import show_cache
    from .config import load_render_config

    show_cache(out, load_render_config(config).cache_max_gb)


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete every cache entry."""
    from .cache import ContentCache

    store = ContentCache()
    freed = store.clear()
    out.print(f"cleared {store.root} ({freed / 1e6:.1f} MB freed)")


def _report(exc: BaseException) -> int:
    from .errors import error_lines

    if STATE["debug"]:
        traceback.print_exception(exc)
    lines = error_lines(exc)
    if not isinstance(exc, PodforgeError) and not STATE["debug"]:
        lines[-1] += " (run with --debug for the traceback)"
    for line in lines:
        err.print(line, markup=False, soft_wrap=True)
    return exc.exit_code if isinstance(exc, PodforgeError) else 1


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[1:]:
        # `--debug` is accepted after the command too (`podforge render x.md --debug`).
        args = ["--debug", *(a for a in args if a != "--debug")]
    try:
        app(args=args, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except TyperException as exc:
        message = " ".join(exc.format_message().split())
        err.print(f"error: {message} (see podforge --help)", markup=False, soft_wrap=True)
        return 2
    except (KeyboardInterrupt, typer.Abort):
        err.print("error: interrupted; nothing was written", markup=False)
        return 130
    except Exception as exc:
        return _report(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
