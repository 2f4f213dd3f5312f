"""The studio's line-level routes: a line's takes (list, new, choose, play) and the rendered timeline."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import takes as lib
from ..cache import ContentCache
from ..errors import InputError
from . import workspace as wsp


def _script(request: Request) -> Any:
    from ..pipeline import check

    ws: wsp.Workspace = request.app.state.ws
    return check(ws.episode(request.path_params["name"]), ws.config(), video=False)


def _line(request: Request) -> int:
    return int(request.path_params["line"])


def _takes_json(found: lib.LineTakes) -> JSONResponse:
    takes = [{"number": n, "seed": t.seed, "speed": t.speed, "voice": t.voice} for n, t in enumerate(found.takes, 1)]
    return JSONResponse({"line": found.line, "chosen": found.chosen, "takes": takes})


async def list_takes(request: Request) -> JSONResponse:
    checked = await run_in_threadpool(_script, request)
    return _takes_json(lib.list_takes(checked.script, _line(request)))


async def _json(request: Request) -> dict[str, Any]:
    import json

    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InputError(f"bad request body: {exc}") from exc
    if not isinstance(body, dict):
        raise InputError("bad request body: send a JSON object")
    return body


async def new_take(request: Request) -> JSONResponse:
    body = await _json(request)
    checked = await run_in_threadpool(_script, request)
    try:
        speed = float(body.get("speed", 1.0))
    except (TypeError, ValueError) as exc:
        raise InputError(f"speed {body.get('speed')!r}: give a number, e.g. 1.1") from exc
    found = lib.new_take(checked.script, _line(request), speed, body.get("voice") or None)
    return _takes_json(found)


async def choose_take(request: Request) -> JSONResponse:
    body = await _json(request)
    checked = await run_in_threadpool(_script, request)
    number = body.get("take")
    if not isinstance(number, int):
        raise InputError("choose needs `take`, the take's number")
    return _takes_json(lib.choose_take(checked.script, _line(request), number))


async def take_audio(request: Request) -> Response:
    def voice() -> bytes:
        checked = _script(request)
        number = int(request.path_params["take"])
        return lib.take_audio(checked, _line(request), number, ContentCache()).wav_bytes()

    return Response(await run_in_threadpool(voice), media_type="audio/wav")


async def check_take(request: Request) -> JSONResponse:
    """What the listening check hears in a take (the page asks while the take plays)."""

    def hear() -> lib.TakeCheck:
        checked = _script(request)
        return lib.check_take(checked, _line(request), int(request.path_params["take"]), ContentCache())

    return JSONResponse(asdict(await run_in_threadpool(hear)))


def timeline(request: Request) -> Response:
    ws: wsp.Workspace = request.app.state.ws
    name = request.path_params["name"]
    ws.episode(name)
    path = ws.out_dir(name) / f"{Path(name).stem}.timeline.json"
    if not path.is_file():
        raise wsp.NotFound(f"{name}: not rendered yet")
    return Response(path.read_bytes(), media_type="application/json")


ROUTES = [
    Route("/api/episodes/{name}/takes/{line:int}", list_takes),
    Route("/api/episodes/{name}/takes/{line:int}", new_take, methods=["POST"]),
    Route("/api/episodes/{name}/takes/{line:int}/choose", choose_take, methods=["POST"]),
    Route("/api/episodes/{name}/takes/{line:int}/{take:int}.wav", take_audio),
    Route("/api/episodes/{name}/takes/{line:int}/{take:int}/check", check_take),
    Route("/api/episodes/{name}/timeline", timeline),
]
