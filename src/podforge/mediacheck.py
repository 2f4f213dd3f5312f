"""The pictures and fonts a video render will read, checked before any synthesis.

Avatars, portraits and cover art must exist, decode and have sane dimensions (see
``visuals._draw.load_image``). A photo avatar in which no face is found is still a fine picture:
it is shown as a still, and the user is warned rather than stopped. Sound files are checked in
``validate``; voice files by the voice registry.
"""

from __future__ import annotations

from pathlib import Path

from .cache import ContentCache
from .config import VideoConfig
from .errors import EngineError, Location, MediaError
from .script.model import Script

Problems = list[tuple[Location, str]]
AVATAR_WORDS = ("illustrated", "photo")


def check_pictures(
    script: Script, video: VideoConfig, problems: Problems, warnings: Problems, cache: ContentCache | None = None
) -> None:
    """Append a located problem for every avatar or portrait that cannot be used, and warnings."""
    for label, speaker in script.speakers.items():
        if speaker.avatar:
            span = script.front_span("speakers", label, "avatar")
            at = Location(script.path, span.line, span.col)
            # The audiogram shows cover art and nobody's face: a face there would be looked for in vain.
            faces = warnings if video.layout != "audiogram" else None
            _check_avatar(script, label, speaker.avatar.strip(), at, (problems, faces), cache)
    check_fonts(script, problems)


def check_cover(script: Script, video: VideoConfig, problems: Problems) -> None:
    """The cover art (the audiogram's picture and the MP3's APIC), if one is named."""
    if video.cover:
        span = script.front_span("video", "cover")
        reason = picture_problem(script.base_dir / video.cover, "cover")
        if reason:
            problems.append((Location(script.path, span.line, span.col), f"video.cover {video.cover!r}: {reason}"))


def _check_avatar(
    script: Script,
    label: str,
    value: str,
    at: Location,
    out: tuple[Problems, Problems | None],
    cache: ContentCache | None,
) -> None:
    from .visuals.cards import ENGINE_PREFIX

    problems, warnings = out
    match = ENGINE_PREFIX.match(value)
    name = match[2].strip() if match else value
    if match and match[1] != "photo":
        # An external tool's avatar ("sadtalker:faces/x.jpg"): the tile shows the file as a still if it is there.
        there = bool(name) and file_problem(script.base_dir / name) is None
        reason = picture_problem(script.base_dir / name, "avatar") if there else None
        if reason:
            problems.append((at, f"speaker {label}: avatar {name!r}: {reason}"))
        return
    if match and not name:
        problems.append((at, f"speaker {label}: avatar {value!r} names no picture; write photo:faces/NAME.jpg"))
        return
    if not match and (value in AVATAR_WORDS or not value):
        return
    if not match and not any(mark in value for mark in "/\\."):
        problems.append((at, f"speaker {label}: unknown avatar {value!r}; use illustrated, photo:faces/NAME.jpg "
                             "or the path of a picture"))  # fmt: skip
        return
    path = script.base_dir / name
    reason = picture_problem(path, "avatar")
    if reason:
        problems.append((at, f"speaker {label}: avatar {name!r}: {reason}"))
        return
    face = _face_problem(path, cache) if warnings is not None else None
    if face and warnings is not None:
        warnings.append((at, f"speaker {label}: avatar {name!r}: {face}; it will be shown as a still picture"))


def picture_problem(path: Path, what: str) -> str | None:
    """Why the picture at ``path`` cannot be used, or None when it decodes within the limits."""
    from .visuals._draw import load_image

    missing = file_problem(path)
    if missing:
        return f"{what} file {missing}"
    try:
        load_image(path, what)
    except MediaError as exc:
        return str(exc).removeprefix(f"{path}: ")
    return None


def file_problem(path: Path) -> str | None:
    """Why no file is at ``path`` ("not found ...", or a name no system accepts), or None."""
    if "\x00" in str(path):  # is_file() says False, and resolve() raises
        return "holds a NUL character in its name; retype the name"
    try:
        if path.is_file():
            return None
    except OSError as exc:
        return f"is a name that cannot be used ({exc.strerror}); shorten or fix it"
    return f"not found (looked in {shown(path)}); check the path (relative to the script)"


def _face_problem(path: Path, cache: ContentCache | None) -> str | None:
    try:
        from .visuals.avatars._landmarks import fit_face

        fit_face(path, cache)
    except ImportError:
        return "the photo avatar needs the `photo` extra (pip install 'podforge[photo]')"
    except (MediaError, EngineError) as exc:
        return str(exc).removeprefix(f"{path.name}: ").removeprefix(f"{path}: ")
    return None


def check_fonts(script: Script, problems: Problems) -> None:
    """The bundled fonts every video frame's text is drawn with."""
    from PIL import ImageFont

    from .visuals._draw import WEIGHTS

    for file in WEIGHTS.values():
        try:
            ImageFont.truetype(file, 12)
        except OSError as exc:
            hint = "reinstall it: pip install --force-reinstall font-roboto"
            problems.append(
                (Location(script.path), f"the bundled font {Path(file).name} cannot be loaded ({exc}); {hint}")
            )


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())
