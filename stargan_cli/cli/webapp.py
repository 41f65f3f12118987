"""`stargan app`: serve the translation page on this machine.

Thin layer: the page and its API are :mod:`stargan_cli.app`; this module checks the extra is
installed, binds the socket, prints the address, opens the browser and stops on Ctrl-C.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..app.limits import DEFAULT_KEEP_MINUTES, DEFAULT_MEMORY_MB, MAX_UPLOAD_BYTES
from ..errors import StarganError
from .common import DeviceOption, console, err_console, model_lines
from .options import model_option

# Rich markup would read [app] as a tag: the backslash keeps the bracket.
HELP = """Serve a web page to translate photos, on this machine.

Upload a photo or take one with the camera, pick a face, choose the hair colour and other
attributes, set the intensity, and download the result. The page uses the same face detection,
framing and blending as `stargan translate`. It listens on 127.0.0.1 unless --host says
otherwise; Ctrl-C stops it. Needs the app extra: pip install -e ".[app]".

Examples:

  stargan app

  stargan app -m runs/mine/final.pt -m stargan-celeba-128 --port 8000 --no-browser
"""

def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("app", help=HELP)
    def app_cmd(
        model: Annotated[
            Optional[list[str]],
            model_option(
                "Model name, checkpoint or official NNNNNN-G.ckpt; repeat to offer several (the first is shown "
                "first). Default: the default model, plus every installed model."
            ),
        ] = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on. Anything but 127.0.0.1/localhost lets other machines use the page.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).", min=0, max=65535)] = 7860,
        no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open the page in a browser.")] = False,
        max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest photo accepted, in MB.", min=0.1, max=1024)] = MAX_UPLOAD_BYTES / 2**20,
        memory_mb: Annotated[float, typer.Option(
            "--memory-mb", help="Memory for the photos kept, in MB: past it the least recently used are dropped "
            "(the page then asks to upload them again).", min=16, max=1024 * 1024)] = DEFAULT_MEMORY_MB,
        keep_minutes: Annotated[float, typer.Option(
            "--keep-minutes", help="Drop a photo unused for this many minutes.", min=1, max=7 * 24 * 60)] = DEFAULT_KEEP_MINUTES,
        device: DeviceOption = None,
    ) -> None:
        from ..app import INSTALL_HINT, missing_dependency

        if missing_dependency() is not None:
            raise StarganError(INSTALL_HINT)
        import threading
        import time
        import webbrowser

        from ..app import serving
        from ..app.engine import Engine, Models
        from ..app.server import create_app

        models = Models(model or (), device=device)
        translator = models.get()  # load (or download) the first model now: its errors end the command here
        console.print(model_lines(models.default, translator), highlight=False)
        sock = serving.bind(host, port)
        engine = Engine(models, max_bytes=int(max_upload_mb * 2**20), memory_mb=memory_mb, keep_minutes=keep_minutes)
        loopback = serving.is_loopback(host)
        server = serving.server(create_app(engine, allowed_hosts=[*serving.LOOPBACK_NAMES] if loopback else None))
        url = serving.url_of(sock, host)
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
        interrupted = False
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has stopped
            interrupted = True
        finally:
            engine.close()
            sock.close()
        console.print("Stopped.", highlight=False)
        if interrupted or server.should_exit:  # (older uvicorn returns without re-raising)
            raise typer.Exit(130)  # Ctrl-C ends every command with 130, a served page too
