"""The HTTP layer of ``stargan app``: a Starlette application over :class:`.engine.Engine`.

Routes: ``/`` the page (and ``/favicon.ico``, its icon); ``/static/*`` its script and style (from this package); ``/files/NAME``
images the engine wrote; ``/api/full/IMAGE/TOKEN`` a translation pasted into the full-size
photo (the download of a photo larger than its working copy); ``/api/*`` JSON. Every problem is answered as ``{"error": message}``
with a 4xx status (5xx only for a bug), so the page can show it; nothing a request sends can
stop the server. Every JSON field is checked by :mod:`.requests` before the engine sees it; a
photo dropped to stay within the memory or age bound is answered 410 "this photo expired". Model work runs in worker threads behind the engine's lock.
"""

from __future__ import annotations

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
from . import requests as fields
from .engine import Engine
from .errors import Expired, NotFound, TooLarge
from .uploads import too_large_message

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
    except Expired as err:
        return _error(str(err), 410)
    except NotFound as err:
        return _error(str(err), 404)
    except StarganError as err:
        return _error(str(err), 400)
    except Exception as err:  # a bug: keep serving, tell the page, log the traceback
        log.exception("request failed")
        return _error(f"internal error ({type(err).__name__}): see the server's terminal", 500)


async def _read_body(request: Request, limit: int, what: str = "photos") -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all
    (``what`` the body is, for the message)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(too_large_message(int(declared), limit, what))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(too_large_message(None, limit, what))
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request) -> dict[str, Any]:
    return fields.parse_json(await _read_body(request, fields.MAX_JSON_BYTES, "requests"))


def create_app(engine: Engine, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The ASGI application serving ``engine``. ``allowed_hosts``: the Host headers accepted
    (a server on 127.0.0.1 accepts only loopback names, which stops DNS-rebinding pages)."""

    async def index(request: Request) -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    async def favicon(request: Request) -> Response:
        # Browsers ask for /favicon.ico whatever the page links; the page's own icon answers.
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

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
            name = request.query_params.get("name", "photo")[:fields.MAX_NAME_CHARS]
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
                engine.estimate, fields.photo_id(data), fields.model_name(data), fields.face_number(data)))
        return await _guarded(work)

    async def translate(request: Request) -> Response:
        async def work() -> Response:
            data = await _json(request)
            return JSONResponse(await run_in_threadpool(
                engine.translate, fields.photo_id(data), fields.model_name(data), fields.face_number(data),
                fields.attribute_values(data, "source"), fields.attribute_values(data, "to"), fields.strength(data)))
        return await _guarded(work)

    async def strip(request: Request) -> Response:
        async def work() -> Response:
            data = await _json(request)
            return JSONResponse(await run_in_threadpool(
                engine.strip, fields.photo_id(data), fields.model_name(data), fields.face_number(data),
                fields.attribute_values(data, "source")))
        return await _guarded(work)

    async def full(request: Request) -> Response:
        async def work() -> Response:
            path, name = await run_in_threadpool(
                engine.full_size, request.path_params["image"], request.path_params["token"])
            return FileResponse(path, filename=name, headers={"Cache-Control": "no-store"})
        return await _guarded(work)

    async def files(request: Request) -> Response:
        async def work() -> Response:
            path = engine.workspace.path(request.path_params["name"])
            return FileResponse(path, headers={"Cache-Control": "no-store"})
        return await _guarded(work)

    routes = [
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/api/models", models),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/example", example, methods=["POST"]),
        Route("/api/estimate", estimate, methods=["POST"]),
        Route("/api/translate", translate, methods=["POST"]),
        Route("/api/strip", strip, methods=["POST"]),
        Route("/api/full/{image}/{token}", full),
        Route("/files/{name}", files),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))] if allowed_hosts else []
    return Starlette(routes=routes, middleware=middleware)


def _locked(engine: Engine, fn: Callable[..., Any], *args: Any) -> Any:
    with engine.lock:
        return fn(*args)
