"""The HTTP layer of ``stargan app``: a Starlette application over :class:`.engine.Engine`.

Routes: ``/`` the page; ``/static/*`` its script and style (from this package); ``/files/NAME``
images the engine wrote; ``/api/*`` JSON. Every problem is answered as ``{"error": message}``
with a 4xx status (5xx only for a bug), so the page can show it; nothing a request sends can
stop the server. Model work runs in worker threads behind the engine's lock.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any, Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import StarganError
from .engine import Engine, NotFound, TooLarge, too_large_message

log = logging.getLogger("stargan.app")

STATIC = resources.files("stargan_cli.app") / "static"


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _guarded(work: Callable[[], Awaitable[Response]]) -> Response:
    """Run one request's work; user mistakes become 4xx messages, bugs a 500 message."""
    try:
        return await work()
    except TooLarge as err:
        return _error(str(err), 413)
    except NotFound as err:
        return _error(str(err), 404)
    except StarganError as err:
        return _error(str(err), 400)
    except Exception as err:  # a bug: keep serving, tell the page, log the traceback
        log.exception("request failed")
        return _error(f"internal error ({type(err).__name__}): see the server's terminal", 500)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(too_large_message(int(declared), limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(too_large_message(None, limit))
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request) -> dict[str, Any]:
    body = await _read_body(request, 64 * 1024)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise StarganError("the request is not valid JSON") from None
    if not isinstance(data, dict):
        raise StarganError("the request must be a JSON object")
    return data


def _face(data: dict[str, Any]) -> int | None:
    face = data.get("face")
    if face is None:
        return None
    try:
        return int(face)
    except (TypeError, ValueError):
        raise StarganError("face must be a face number") from None


def create_app(engine: Engine, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The ASGI application serving ``engine``. ``allowed_hosts``: the Host headers accepted
    (a server on 127.0.0.1 accepts only loopback names, which stops DNS-rebinding pages)."""

    async def index(request: Request) -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    async def models(request: Request) -> Response:
        async def work() -> Response:
            name = request.query_params.get("name")
            info = await run_in_threadpool(_locked, engine, engine.models.describe, name)
            return JSONResponse({"models": engine.models.names(), "default": engine.models.default, "model": info,
                                 "max_upload_bytes": engine.max_bytes})
        return await _guarded(work)

    async def upload(request: Request) -> Response:
        async def work() -> Response:
            data = await _read_body(request, engine.max_bytes)
            name = request.query_params.get("name", "photo")
            return JSONResponse(await run_in_threadpool(engine.upload, data, name))
        return await _guarded(work)

    async def example(request: Request) -> Response:
        async def work() -> Response:
            from ..image_files import example_image_path

            path = example_image_path()
            return JSONResponse(await run_in_threadpool(engine.upload, path.read_bytes(), path.stem))
        return await _guarded(work)

    async def estimate(request: Request) -> Response:
        async def work() -> Response:
            data = await _json(request)
            return JSONResponse(await run_in_threadpool(
                engine.estimate, data.get("image", ""), data.get("model"), _face(data)))
        return await _guarded(work)

    async def translate(request: Request) -> Response:
        async def work() -> Response:
            data = await _json(request)
            return JSONResponse(await run_in_threadpool(
                engine.translate, data.get("image", ""), data.get("model"), _face(data),
                data.get("source"), data.get("to"), data.get("strength", 1.0)))
        return await _guarded(work)

    async def strip(request: Request) -> Response:
        async def work() -> Response:
            data = await _json(request)
            return JSONResponse(await run_in_threadpool(
                engine.strip, data.get("image", ""), data.get("model"), _face(data), data.get("source")))
        return await _guarded(work)

    async def files(request: Request) -> Response:
        async def work() -> Response:
            path = engine.workspace.path(request.path_params["name"])
            return FileResponse(path, headers={"Cache-Control": "no-store"})
        return await _guarded(work)

    routes = [
        Route("/", index),
        Route("/api/models", models),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/example", example, methods=["POST"]),
        Route("/api/estimate", estimate, methods=["POST"]),
        Route("/api/translate", translate, methods=["POST"]),
        Route("/api/strip", strip, methods=["POST"]),
        Route("/files/{name}", files),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))] if allowed_hosts else []
    return Starlette(routes=routes, middleware=middleware)


def _locked(engine: Engine, fn: Callable[..., Any], *args: Any) -> Any:
    with engine.lock:
        return fn(*args)
