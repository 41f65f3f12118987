"""`stargan app`: serve the translation page on this machine.

Thin layer: the page and its API are :mod:`stargan_cli.app`; this module checks the extra is
installed, binds the socket, prints the address, opens the browser and stops on Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated, Optional

import typer

from ..errors import StarganError
from .common import DeviceOption, console, err_console

HELP = """Serve a web page to translate photos, on this machine.

Upload a photo or take one with the camera, pick a face, choose hair colour and other
attributes, set the intensity, and download the result. The page uses the same face detection,
framing and blending as `stargan translate`. Needs the app extra: pip install "stargan[app]".

Examples:

  stargan app

  stargan app -m runs/mine/final.pt -m stargan-celeba-128 --port 8000 --no-browser
"""

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


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("app", help=HELP)
    def app_cmd(
        model: Annotated[
            Optional[list[str]],
            typer.Option("--model", "-m", help="Model name, checkpoint or official NNNNNN-G.ckpt; repeat to offer several (the first is shown first). Default: the default model, plus every installed model.", show_default=False),
        ] = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on. Anything but 127.0.0.1/localhost lets other machines use the page.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).", min=0, max=65535)] = 7860,
        no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open the page in a browser.")] = False,
        max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest photo accepted, in MB.", min=0.1)] = 20.0,
        device: DeviceOption = None,
    ) -> None:
        from ..app import INSTALL_HINT, missing_dependency

        if missing_dependency() is not None:
            raise StarganError(INSTALL_HINT)
        import threading
        import time
        import webbrowser

        import uvicorn

        from ..app.engine import Engine, Models
        from ..app.server import create_app

        models = Models(model or (), device=device)
        translator = models.get()  # load (or download) the first model now: its errors end the command here
        console.print(
            f"Model: {models.default}: {', '.join(translator.attributes)} ({translator.config.describe()}) on {translator.device}",
            highlight=False, soft_wrap=True,
        )
        sock = bind(host, port)
        engine = Engine(models, max_bytes=int(max_upload_mb * 2**20))
        loopback = is_loopback(host)
        server = uvicorn.Server(uvicorn.Config(
            create_app(engine, allowed_hosts=[*LOOPBACK_NAMES] if loopback else None),
            log_level="warning", lifespan="off",
        ))
        url = url_of(sock, host)
        if not loopback:
            err_console.print(
                f"[bold yellow]Warning:[/] listening on {host}: anyone who can reach this machine on the "
                "network can use the page, upload photos and run the model.", highlight=False, soft_wrap=True,
            )
        console.print(f"Serving on {url} (Ctrl-C to stop)", highlight=False, soft_wrap=True)

        if not no_browser:
            def open_when_ready() -> None:
                for _ in range(200):
                    if server.started:
                        webbrowser.open(url)
                        return
                    time.sleep(0.05)

            threading.Thread(target=open_when_ready, daemon=True).start()
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has stopped
            pass
        finally:
            engine.close()
            sock.close()
        console.print("Stopped.", highlight=False)
