"""`stargan info`: version, devices, folders and what is in them."""

from __future__ import annotations

import typer

from .common import console


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("info")
    def info_cmd() -> None:
        """Show the version, torch/CUDA/MPS status, the device that would be picked, and every
        folder and cache with its size."""
        import platform

        import torch
        from rich.table import Table

        from .. import __version__
        from ..devices import best_device_name
        from rich.markup import escape

        from ..paths import CACHES, all_dirs, disk_size
        from ..progress import human_bytes

        table = Table(show_header=False, box=None)
        table.add_row("stargan", __version__)
        table.add_row("python", platform.python_version())
        table.add_row("torch", torch.__version__)
        cuda = torch.cuda.is_available()
        cuda_text = "not available"
        if cuda:
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            cuda_text = f"{torch.version.cuda}: " + ", ".join(f"cuda:{i} {n}" for i, n in enumerate(names))
        table.add_row("CUDA", cuda_text)
        mps = getattr(torch.backends, "mps", None)
        table.add_row("MPS", "available" if mps is not None and mps.is_available() else "not available")
        table.add_row("device", f"{best_device_name()} (auto)")
        for role, path in all_dirs().items():
            if path.exists():
                entries = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
                what = f"{len(entries)} item(s), {human_bytes(disk_size(path))}"
                what += f": {escape(', '.join(entries[:8]))}" if entries else ""
            else:
                what = "empty"
            kind = "cache" if role in CACHES else "folder"
            table.add_row(f"{role} {kind}", f"{escape(str(path))}  [dim]({what})[/]")
        from ..model_store import installed_models

        models = installed_models()
        table.add_row("models", ", ".join(name for name, _ in models) if models else "none installed (stargan download --list)")
        console.print(table)
        console.print("[dim]Clear a cache with `stargan cache clear preprocessed` (or downloads, models); "
                      "`stargan cache list` shows what each holds.[/]", highlight=False)
