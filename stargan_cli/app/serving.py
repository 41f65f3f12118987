"""Where ``stargan app`` listens: the socket, its address, and a server run in a thread.

The command binds the socket itself (so a port in use is one clear error and ``--port 0``
prints the port it got) and hands it to uvicorn; :func:`background` runs the same server in a
thread for tests and for ``docs/app_screenshot.py``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import StarganError

if TYPE_CHECKING:
    from .engine import Engine

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port), or a StarganError."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise StarganError(f"--host {host}: {err.strerror or err}: give an address such as 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        if port and err.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise StarganError(f"port {port} is in use: pass another --port (or --port 0 for any free one)") from None
        raise StarganError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    """The address to open in a browser for a server listening on ``sock``."""
    port = sock.getsockname()[1]
    shown = host.strip("[]")
    if shown in ("0.0.0.0", "::", ""):
        shown = "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def server(app: Any) -> Any:
    """A uvicorn server for the ASGI ``app``: warnings only, no lifespan events."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))


@contextlib.contextmanager
def background(engine: "Engine", host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> Iterator[str]:
    """Serve ``engine`` from a thread while the block runs; yields the page's address."""
    from .server import create_app

    sock = bind(host, port)
    running = server(create_app(engine, **app_options))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not running.started:
        sock.close()
        raise StarganError("the app server did not start")
    try:
        yield url_of(sock, host)
    finally:
        running.should_exit = True
        thread.join(10)
        sock.close()
