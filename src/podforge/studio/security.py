"""The studio's guard: only its own Host names (DNS rebinding), and no state changes from other origins.

Unsafe methods from another origin are refused by Sec-Fetch-Site, else Origin against Host, as Datasette does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class SecurityMiddleware:
    """Refuse foreign Host headers (400) and cross-origin state-changing requests (403)."""

    def __init__(self, app: ASGIApp, allowed_hosts: set[str]) -> None:
        self.app, self.allowed = app, {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").lower()
        if host not in self.allowed:
            await _refuse(400, f"error: Host {host!r} is not this studio; open it at its own address")(
                scope, receive, send
            )
            return
        if scope["method"] not in SAFE_METHODS and not _same_origin(headers, host):
            await _refuse(403, "error: cross-origin request refused; use the studio page itself")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _same_origin(headers: dict[str, str], host: str) -> bool:
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    return origin is None or urlsplit(origin).netloc.lower() == host


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": [message]}, status_code=status)


def hosts_for(host: str, port: int) -> set[str]:
    """The Host values this server answers to: its own address (and this machine's names when bound to all)."""
    names = {host}
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    if host in ("0.0.0.0", "::"):
        import socket

        hostname = socket.gethostname()
        with contextlib.suppress(OSError):
            names |= {hostname, socket.getfqdn(), *socket.gethostbyname_ex(hostname)[2]}
    return {f"{name}:{port}" for name in names} | (names if port == 80 else set())
