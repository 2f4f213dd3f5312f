"""The studio's HTTP layer: routes that translate requests into workspace, check, voice and job calls.

Security (local app, no accounts; see security.py): requests whose Host is not the address the server is bound to are
refused (DNS rebinding); unsafe methods from another origin are refused (Sec-Fetch-Site, else Origin
against Host, as Datasette does); files are served only from inside the workspace; uploads go only
into media/. No user text reaches a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..config import RenderConfig, with_video_flags
from ..errors import EngineError, InputError, PodforgeError, error_lines
from ..video import check_window
from . import workspace as wsp
from .jobs import TERMINAL, JobOptions, JobStore, start_worker
from .lines import ROUTES as LINE_ROUTES
from .security import SecurityMiddleware, hosts_for


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SaveBody(Body):
    text: str


class CreateBody(Body):
    title: str = ""
    template: str = "blank"


class RenameBody(Body):
    to: str


class CastBody(Body):
    voice: str | None = None
    avatar: str | None = None
    color: str | None = None


class PreviewBody(Body):
    voice: str
    text: str | None = None
    episode: str | None = None
    speaker: str | None = None


class JobBody(Body):
    episode: str
    audio_only: bool = False
    size: str | None = None
    layout: str | None = None
    preview_start: float | None = None
    preview_end: float | None = None


async def _body(request: Request, model: type[Body]) -> Any:
    try:
        return model.model_validate(json.loads(await request.body() or b"{}"))
    except (ValueError, ValidationError) as exc:
        raise InputError(f"bad request body: {' '.join(str(exc).split())[:300]}") from exc


def _ws(request: Request) -> wsp.Workspace:
    return request.app.state.ws


def _store(request: Request) -> JobStore:
    return request.app.state.store


def _episode_info(ws: wsp.Workspace, path: Path, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    from ..script.parser import load_script_leniently

    try:
        script, _ = load_script_leniently(path)
        title, speakers = script.title, list(script.speakers)
    except PodforgeError:
        title, speakers = path.stem, []
    last = next((job for job in jobs if job["episode"] == path.name), None)
    thumb = ws.out_dir(path.name) / f"{path.stem}.mp4"
    return {
        "name": path.name, "title": title, "speakers": speakers, "mtime": path.stat().st_mtime,
        "last_job": None if last is None else {key: last[key] for key in ("id", "state", "finished", "metrics")},
        "thumbnail": f"/api/episodes/{path.name}/thumbnail.jpg" if thumb.is_file() else None,
    }  # fmt: skip


def list_episodes(request: Request) -> JSONResponse:
    ws, store = _ws(request), _store(request)
    jobs = store.list(200)
    return JSONResponse({"episodes": [_episode_info(ws, p, jobs) for p in ws.episodes()]})


async def create_episode(request: Request) -> JSONResponse:
    body = await _body(request, CreateBody)
    path = await run_in_threadpool(wsp.create_episode, _ws(request), body.title, body.template)
    return JSONResponse({"name": path.name}, status_code=201)


def get_episode(request: Request) -> JSONResponse:
    path = _ws(request).episode(request.path_params["name"])
    return JSONResponse({"name": path.name, "text": wsp.read_text(path), "mtime": path.stat().st_mtime})


async def save_episode(request: Request) -> JSONResponse:
    body = await _body(request, SaveBody)
    ws = _ws(request)
    path = ws.episode(request.path_params["name"])
    await run_in_threadpool(wsp.save_text, path, body.text)
    report = await run_in_threadpool(wsp.check_report, ws, path)
    return JSONResponse({"saved": True, "mtime": path.stat().st_mtime, "check": report})


async def rename_episode(request: Request) -> JSONResponse:
    body = await _body(request, RenameBody)
    path = wsp.rename_episode(_ws(request), request.path_params["name"], body.to)
    return JSONResponse({"name": path.name})


def check_episode(request: Request) -> JSONResponse:
    ws = _ws(request)
    return JSONResponse(wsp.check_report(ws, ws.episode(request.path_params["name"])))


async def edit_speaker(request: Request) -> JSONResponse:
    body = await _body(request, CastBody)
    ws, name = _ws(request), request.path_params["name"]
    changes = {key: value for key, value in body.model_dump().items() if value is not None}
    text = await run_in_threadpool(wsp.edit_cast, ws, name, request.path_params["label"], changes)
    report = await run_in_threadpool(wsp.check_report, ws, ws.episode(name))
    return JSONResponse({"text": text, "mtime": ws.episode(name).stat().st_mtime, "check": report})


async def upload_portrait(request: Request) -> JSONResponse:
    ws, name, label = _ws(request), request.path_params["name"], request.path_params["label"]
    ws.episode(name)
    kind = request.query_params.get("kind", "photo")
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > wsp.MAX_UPLOAD_BYTES + 64 * 1024:
        raise InputError(f"portrait too large; the limit is {wsp.MAX_UPLOAD_BYTES // 2**20} MB")
    async with request.form(max_files=1, max_fields=4, max_part_size=wsp.MAX_UPLOAD_BYTES + 1) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InputError("no portrait file in the upload; send it as the multipart field `file`")
        data = await upload.read(wsp.MAX_UPLOAD_BYTES + 1)
    dest = await run_in_threadpool(wsp.save_portrait, ws, label, data, kind)
    avatar = f"{kind}:{dest.relative_to(ws.root).as_posix()}"
    text = await run_in_threadpool(wsp.edit_cast, ws, name, label, {"avatar": avatar})
    report = await run_in_threadpool(wsp.check_report, ws, ws.episode(name))
    return JSONResponse({"avatar": avatar, "url": ws.url(dest), "text": text, "check": report}, status_code=201)


def mouth_strip(request: Request) -> Response:
    ws = _ws(request)
    portrait = ws.file(request.query_params.get("path", ""))
    return Response(wsp.mouth_strip(portrait), media_type="image/png")


def thumbnail(request: Request) -> Response:
    from .media import video_thumbnail

    ws, name = _ws(request), request.path_params["name"]
    ws.episode(name)
    video = ws.out_dir(name) / f"{Path(name).stem}.mp4"
    if not video.is_file():
        raise wsp.NotFound(f"{name}: not rendered yet")
    return Response(video_thumbnail(video), media_type="image/jpeg")


def voices(request: Request) -> JSONResponse:
    from ..voices.cast import VoiceBook
    from ..voices.catalog import list_voices

    ws = _ws(request)
    book = VoiceBook(ws.config().voices, ws.root)  # podforge.yaml's named voices too
    return JSONResponse({"voices": [voice.to_dict() for voice in list_voices(ws.root, book)]})


async def preview(request: Request) -> Response:
    from ..cache import ContentCache
    from ..voices.cast import VoiceBook
    from ..voices.files import VoiceFileProblem
    from ..voices.preview import preview_voice

    body = await _body(request, PreviewBody)
    ws = _ws(request)
    text = body.text
    if not text:
        if not (body.episode and body.speaker):
            raise InputError("preview needs `text`, or `episode` and `speaker` to take that speaker's first line")
        text = await run_in_threadpool(wsp.sample_text, ws, body.episode, body.speaker)
    named = ws.config().voices
    try:  # derived (hibari:heart~bright) and named voices too, as `podforge say` takes them
        VoiceBook(named, ws.root).resolve(body.voice)
    except (EngineError, VoiceFileProblem) as exc:  # an unknown or missing voice is the request's fault here
        raise InputError(str(exc)) from exc
    result = await run_in_threadpool(
        lambda: preview_voice(body.voice, text, ContentCache(), voices=named, base_dir=ws.root)
    )
    headers = {"X-Preview-Text": quote(result.text[:200])}  # percent-encoded: headers are Latin-1
    return Response(result.wav_bytes(), media_type="audio/wav", headers=headers)


async def create_job(request: Request) -> JSONResponse:
    body = await _body(request, JobBody)
    _ws(request).episode(body.episode)
    options = JobOptions(body.audio_only, body.size or None, body.layout or None, body.preview_start, body.preview_end)
    with_video_flags(RenderConfig(), options.video_flags())  # a bad size, layout or window is refused now, not later
    if options.preview:
        check_window(options.preview)
    job_id = _store(request).create(body.episode, options)
    return JSONResponse(_store(request).get(job_id), status_code=201)


def list_jobs(request: Request) -> JSONResponse:
    return JSONResponse({"jobs": _store(request).list()})


def _job(request: Request) -> dict[str, Any]:
    job = _store(request).get(int(request.path_params["id"]))
    if job is None:
        raise wsp.NotFound(f"job {request.path_params['id']}: no such job")
    return job


def get_job(request: Request) -> JSONResponse:
    return JSONResponse(_job(request))


def job_transcript(request: Request) -> JSONResponse:
    """The rendered episode's lines with their written words, timed (what captions and word VTT show)."""
    from ..outputs import written_words
    from ..timeline import Timeline

    url = _job(request).get("outputs", {}).get("timeline")
    if not url:
        raise wsp.NotFound(f"job {request.path_params['id']}: no transcript (not finished)")
    timeline = Timeline.from_json(wsp.read_text(_ws(request).file(url.removeprefix("/files/"))))
    lines = [{"speaker": seg.speaker, "name": timeline.speakers[seg.speaker].display_name,
              "color": timeline.speakers[seg.speaker].color, "words": timed}
             for seg, timed in written_words(timeline)]  # fmt: skip
    return JSONResponse({"lines": lines})


def cancel_job(request: Request) -> JSONResponse:
    job = _job(request)
    _store(request).cancel(job["id"])
    return JSONResponse(_job(request))


async def job_events(request: Request) -> StreamingResponse:
    """Server-sent events: the job as JSON each time it changes, until it ends."""
    job = _job(request)
    store = _store(request)

    async def stream() -> AsyncIterator[str]:
        seen, quiet = None, 0
        current: dict[str, Any] | None = job
        while current is not None and not await request.is_disconnected():
            stamp = (current["updated"], current["state"])
            if stamp != seen:
                seen, quiet = stamp, 0
                yield f"event: job\ndata: {json.dumps(current)}\n\n"
            elif (quiet := quiet + 1) % 40 == 0:
                yield ": still working\n\n"
            if current["state"] in TERMINAL:
                return
            await asyncio.sleep(0.25)
            current = await run_in_threadpool(store.get, current["id"])

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def serve_file(request: Request) -> FileResponse:
    return FileResponse(_ws(request).file(request.path_params["path"]))


def index(request: Request) -> FileResponse:
    return FileResponse(Path(str(files("podforge.studio") / "static" / "index.html")))


async def _podforge_error(request: Request, exc: Exception) -> JSONResponse:
    status = 404 if isinstance(exc, wsp.NotFound) else 400 if isinstance(exc, InputError) else 500
    return JSONResponse({"error": error_lines(exc)}, status_code=status)


ROUTES = [
    Route("/", index),
    Route("/api/episodes", list_episodes),
    Route("/api/episodes", create_episode, methods=["POST"]),
    Route("/api/episodes/{name}", get_episode),
    Route("/api/episodes/{name}", save_episode, methods=["PUT"]),
    Route("/api/episodes/{name}/rename", rename_episode, methods=["POST"]),
    Route("/api/episodes/{name}/check", check_episode),
    Route("/api/episodes/{name}/thumbnail.jpg", thumbnail),
    Route("/api/episodes/{name}/speakers/{label}", edit_speaker, methods=["PATCH"]),
    Route("/api/episodes/{name}/speakers/{label}/portrait", upload_portrait, methods=["POST"]),
    Route("/api/mouths.png", mouth_strip),
    Route("/api/voices", voices),
    Route("/api/preview", preview, methods=["POST"]),
    Route("/api/jobs", list_jobs),
    Route("/api/jobs", create_job, methods=["POST"]),
    Route("/api/jobs/{id:int}", get_job),
    Route("/api/jobs/{id:int}/transcript", job_transcript),
    Route("/api/jobs/{id:int}/cancel", cancel_job, methods=["POST"]),
    Route("/api/jobs/{id:int}/events", job_events),
    Route("/files/{path:path}", serve_file),
    *LINE_ROUTES,
]


def create_app(folder: Path, allowed_hosts: set[str], *, worker: bool = True) -> Any:
    """The studio over `folder`; `worker=False` leaves rendering to a worker started elsewhere (tests)."""
    import font_roboto

    ws = wsp.Workspace.open(folder)
    store = JobStore(ws.db_path)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store.recover()
        process = start_worker(ws.root, ws.db_path) if worker else None
        threading.Thread(target=_warm_voices, args=(ws,), name="podforge-warm-voices", daemon=True).start()
        try:
            yield
        finally:
            if process is not None:
                _stop_worker(process)

    static = StaticFiles(directory=str(files("podforge.studio") / "static"))
    fonts = StaticFiles(directory=str(Path(font_roboto.__file__).parent / "files"))
    routes = [*ROUTES, Mount("/static", static), Mount("/fonts", fonts)]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={PodforgeError: _podforge_error})
    app.state.ws, app.state.store = ws, store
    return SecurityMiddleware(app, allowed_hosts)


def _warm_voices(ws: wsp.Workspace) -> None:
    """Load and run the workspace's default voices once (the first synthesis of a process costs ~2 s more than
    the next), so the first ▶ Play answers as fast as the next. Nothing is written."""
    from ..voices.preview import PREVIEW_RATE
    from ..voices.registry import default_voices
    from ..voices.synth import ClipRequest, synthesize_clip

    with contextlib.suppress(PodforgeError, ImportError, OSError):
        for voice in default_voices(ws.config().tts_engine):
            synthesize_clip(ClipRequest(voice, "Hello.", 1.0), PREVIEW_RATE)


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets a render end at its next progress report (its job marked failed, staging removed)."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(folder: Path, host: str, port: int, open_browser: bool) -> None:
    import webbrowser

    import uvicorn

    app = create_app(folder, hosts_for(host, port))
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(f"http://{host}:{port}/",)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
