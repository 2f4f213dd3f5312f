"""The studio's workspace folder: episode scripts, their check reports, uploads and outputs.

    WORKSPACE/*.md                 episodes (one script each)
    WORKSPACE/podforge.yaml        optional render settings, as `podforge render -c` reads them
    WORKSPACE/media/               portraits uploaded from the cast panel
    WORKSPACE/out/<stem>/          what a render writes
    WORKSPACE/.podforge-studio/    the job database and small caches (never served)

Everything here is a plain function over paths; app.py only translates HTTP to these calls.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from .._atomic import atomic_write_bytes, atomic_write_text
from ..config import RenderConfig, load_render_config
from ..errors import InputError, Location, MediaError, PodforgeError, ScriptError, error_lines
from ..script.cast import set_speaker
from ..validate import assign_voices, spoken_rows

STATE_DIR = ".podforge-studio"
MEDIA_DIR = "media"
OUT_DIR = "out"
CONFIG_NAME = "podforge.yaml"
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 64, 4096
IMAGE_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
NOT_EPISODES = {"readme", "changelog", "changes", "license", "contributing", "credits", "code_of_conduct", "security"}
_EPISODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}\.md")
TEMPLATE = """---
title: {title}
speakers:
  ALEX: {{voice: "hibari:heart", color: "#e4572e", avatar: illustrated}}
  SAM: {{voice: "piper:joe", color: "#3b82f6", avatar: illustrated}}
---
# {title}

ALEX: Welcome to {title}. I'm Alex.

SAM (warmly): And I'm Sam. Let's get started.
"""


class NotFound(InputError):
    """An episode, job or file the request names does not exist (HTTP 404)."""


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, folder: Path) -> Workspace:
        root = Path(folder).resolve()
        if not root.is_dir():
            raise InputError(f"{folder}: no such folder; give the workspace folder that holds your scripts")
        (root / STATE_DIR).mkdir(exist_ok=True)
        return cls(root)

    @property
    def db_path(self) -> Path:
        return self.root / STATE_DIR / "jobs.sqlite"

    def config(self) -> RenderConfig:
        path = self.root / CONFIG_NAME
        return load_render_config(path if path.is_file() else None)

    def episode(self, name: str) -> Path:
        if not _EPISODE_NAME.fullmatch(name):
            raise InputError(f"{name!r} is not an episode name; use letters, digits, spaces, - _ . and end in .md")
        path = self.root / name
        if not path.is_file():
            raise NotFound(f"{name}: no such episode in {self.root.name}/")
        return path

    def episodes(self) -> list[Path]:
        """The scripts in the folder; a project's README and the like are not episodes."""
        found = (p for p in self.root.glob("*.md") if _EPISODE_NAME.fullmatch(p.name) and p.is_file())
        return sorted(p for p in found if p.stem.lower() not in NOT_EPISODES)

    def out_dir(self, name: str) -> Path:
        return self.root / OUT_DIR / Path(name).stem

    def file(self, relative: str) -> Path:
        """A file inside the workspace, after resolving links; anything outside or in the state folder is refused."""
        target = (self.root / relative).resolve()
        try:
            parts = target.relative_to(self.root).parts
        except ValueError as exc:
            raise NotFound(f"{relative}: not a file in this workspace") from exc
        if not parts or parts[0] == STATE_DIR or any(p.startswith(".") for p in parts) or not target.is_file():
            raise NotFound(f"{relative}: not a file in this workspace")
        return target

    def url(self, path: Path) -> str:
        return "/files/" + path.resolve().relative_to(self.root).as_posix()


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig", errors="replace")


def save_text(path: Path, text: str) -> None:
    """Write the editor's text; a file that had CRLF line ends or a BOM keeps them (a textarea drops both)."""
    old = path.read_bytes() if path.is_file() else b""
    if b"\r\n" in old and "\r\n" not in text:
        text = text.replace("\n", "\r\n")
    bom = "\ufeff" if old.startswith(b"\xef\xbb\xbf") and not text.startswith("\ufeff") else ""
    atomic_write_text(path, bom + text)


def create_episode(ws: Workspace, title: str, template: str = "blank") -> Path:
    """A new script from the two-speaker template, or a copy of the bundled demo (its media into media/)."""
    if template not in ("blank", "demo"):
        raise InputError(f"template {template!r}: choose blank or demo")
    title = " ".join(title.split())[:80] or ("Tiny Machines" if template == "demo" else "New episode")
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "episode"
    name, n = f"{stem}.md", 2
    while (ws.root / name).exists():
        name, n = f"{stem}-{n}.md", n + 1
    text = _demo_text(ws) if template == "demo" else TEMPLATE.format(title=title.replace(":", " -"))
    save_text(ws.root / name, text)
    return ws.root / name


def _demo_text(ws: Workspace) -> str:
    from ..demo import demo_script

    with demo_script() as path:
        (ws.root / MEDIA_DIR).mkdir(exist_ok=True)
        for media in ("alex.jpg", "theme.mp3"):
            atomic_write_bytes(ws.root / MEDIA_DIR / media, (path.parent / media).read_bytes())
        text = read_text(path)
    text = text.replace('"photo:alex.jpg"', '"photo:media/alex.jpg"')
    return text.replace("[MUSIC: theme.mp3", "[MUSIC: media/theme.mp3")


def rename_episode(ws: Workspace, name: str, new_name: str) -> Path:
    source = ws.episode(name)
    if not new_name.endswith(".md"):
        new_name += ".md"
    if not _EPISODE_NAME.fullmatch(new_name):
        raise InputError(f"{new_name!r} is not an episode name; use letters, digits, spaces, - _ . and end in .md")
    dest = ws.root / new_name
    if dest.exists():
        raise InputError(f"{new_name}: an episode with that name exists; choose another name")
    source.rename(dest)
    return dest


def check_report(ws: Workspace, path: Path) -> dict[str, object]:
    """What `podforge check --show` says about a script, as data: problems, speakers and the spoken table."""
    try:
        return _report(ws, path)
    except PodforgeError as exc:  # an unreadable script or a broken podforge.yaml: still one readable problem
        problems = [_problem(Location(path), line) for line in error_lines(exc)]
        return {"ok": False, "problems": problems, "title": path.stem, "speakers": [], "rows": []}


def _report(ws: Workspace, path: Path) -> dict[str, object]:
    from ..pipeline import check
    from ..script.parser import load_script_leniently

    config = ws.config()
    problems: list[tuple[Location, str]] = []
    try:
        checked = check(path, config)
        script, voices = checked.script, checked.voices
    except ScriptError as exc:
        problems = exc.problems
        script, _ = load_script_leniently(path)
        voices = {label: voice.id for label, voice in assign_voices(script, config).voices.items()}
    return {
        "ok": not problems,
        "problems": [_problem(loc, message) for loc, message in problems],
        "title": script.title,
        "speakers": [_speaker(script, label, voices) for label in script.speakers],
        "rows": [row.__dict__ for row in spoken_rows(script, voices)],
    }


def _problem(loc: Location, message: str) -> dict[str, object]:
    text = message if message.startswith("error: ") else f"error: {loc}: {message}"
    return {"line": loc.line, "col": max(loc.col, 1) if loc.line else 0, "message": message, "text": text}


def _speaker(script: object, label: str, voices: dict[str, str]) -> dict[str, object]:
    speaker = script.speakers[label]  # type: ignore[attr-defined]
    sample = next((line.spoken for line in script.lines if line.speaker == label), "")  # type: ignore[attr-defined]
    return {
        "label": label,
        "name": speaker.display_name,
        "voice": voices.get(label, speaker.voice or ""),
        "color": speaker.color,
        "avatar": speaker.avatar or "",
        "line": speaker.declared_at.line if speaker.declared_at else 0,
        "sample": sample,
    }


def sample_text(ws: Workspace, name: str, label: str) -> str:
    """The first thing `label` says in the episode, as it will be spoken (for a voice preview)."""
    from ..script.parser import load_script_leniently

    script, _ = load_script_leniently(ws.episode(name))
    spoken = next((line.spoken for line in script.lines if line.speaker == label), "")
    return spoken or f"Hello, this is {label}."


def edit_cast(ws: Workspace, name: str, label: str, changes: dict[str, str]) -> str:
    """Write one speaker's voice/avatar/colour into the script; every other byte of the file stays."""
    path = ws.episode(name)
    raw = path.read_bytes()
    bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text; save it as UTF-8 before changing the cast") from exc
    new = bom + set_speaker(text, label, changes)
    atomic_write_bytes(path, new.encode("utf-8"))
    return new


def save_portrait(ws: Workspace, label: str, data: bytes, kind: str) -> Path:
    """Validate an uploaded portrait and keep it in media/; `photo` also needs a face FaceMesh can find."""
    from PIL import Image, UnidentifiedImageError

    if kind not in ("photo", "still"):
        raise InputError(f"avatar kind {kind!r}: a portrait is for `photo` or `still`")
    if len(data) > MAX_UPLOAD_BYTES:
        raise MediaError(f"portrait is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
            if fmt in IMAGE_SUFFIX and max(width, height) <= MAX_SIDE:
                img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"portrait cannot be decoded as an image ({exc}); upload a JPEG, PNG or WebP") from exc
    if fmt not in IMAGE_SUFFIX:
        raise MediaError(f"portrait is {fmt or 'not an image'}; upload a JPEG, PNG or WebP")
    if not (min(width, height) >= MIN_SIDE and max(width, height) <= MAX_SIDE):
        raise MediaError(f"portrait is {width}x{height}; each side must be {MIN_SIDE} to {MAX_SIDE} pixels")
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "speaker"
    dest = ws.root / MEDIA_DIR / f"{slug}-{hashlib.sha256(data).hexdigest()[:10]}{IMAGE_SUFFIX[fmt]}"
    dest.parent.mkdir(exist_ok=True)
    atomic_write_bytes(dest, data)
    if kind == "photo":
        _require_face(dest)
    return dest


def _require_face(path: Path) -> None:
    from ..visuals.avatars._landmarks import fit_face

    try:
        fit_face(path)
    except PodforgeError:
        path.unlink(missing_ok=True)
        raise


def mouth_strip(path: Path, tile: int = 112) -> bytes:
    """PNG of the photo avatar's mouth shapes on this face, side by side."""
    from PIL import Image

    from ..visuals.avatars.photo import SHAPES, PhotoAvatar, PhotoPose

    avatar = PhotoAvatar(path, size=tile * 2)
    shapes = [name for name in SHAPES if name != "X"][:8]
    strip = Image.new("RGB", (tile * len(shapes), tile))
    for index, name in enumerate(shapes):
        frame = avatar.render(PhotoPose(mouth=name, openness=0.8))
        face = Image.fromarray(frame).crop((tile // 2, tile * 3 // 4, tile * 3 // 2, tile * 7 // 4))
        strip.paste(face, (index * tile, 0))
    buffer = io.BytesIO()
    strip.save(buffer, "PNG")
    return buffer.getvalue()
