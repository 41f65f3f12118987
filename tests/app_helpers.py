"""Shared by the `stargan app` tests: tiny checkpoints, the sample photo, a server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

import torch

from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.image_files import example_image_path
from stargan_cli.models import ModelConfig, build_discriminator, build_generator

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def tiny_checkpoint(path: Path, attributes: Sequence[str] = ATTRS, seed: int = 0, with_d: bool = True,
                    label_mode: str = "multi") -> Path:
    """A random 32 px model with a few channels, saved at ``path``."""
    torch.manual_seed(seed)
    config = ModelConfig(attributes=tuple(attributes), image_size=32, g_conv_dim=8, g_repeat=1,
                         d_conv_dim=8, d_repeat=2, label_mode=label_mode)
    G, D = build_generator(config), build_discriminator(config)
    save_checkpoint(Checkpoint(config, G.state_dict(), D.state_dict() if with_d else None), path)
    return path


def sample_bytes() -> bytes:
    """The bundled portrait (one face), as uploaded."""
    return example_image_path().read_bytes()


@contextlib.contextmanager
def running_server(engine, **kwargs) -> Iterator[str]:
    """Serve ``engine`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    import uvicorn

    from stargan_cli.app.server import create_app
    from stargan_cli.cli.webapp import bind, url_of

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(engine, **kwargs), log_level="warning", lifespan="off"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread (older uvicorn)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield url_of(sock, "127.0.0.1")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
