"""`stargan info`: version, devices, folders and what is in them."""

from __future__ import annotations

import typer

from .common import console


def _size(path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    for unit in ("B", "KiB", "MiB", "GiB"):
        if total < 1024 or unit == "GiB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1024
    return ""


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("info")
    def info_cmd() -> None:
        """Show the version, torch/CUDA/MPS status, the device that would be picked and the folders."""
        import platform

        import torch
        from rich.table import Table

        from .. import __version__
        from ..devices import best_device_name
        from ..paths import all_dirs

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
                what = f"{len(entries)} item(s), {_size(path)}" + (f": {', '.join(entries[:8])}" if entries else "")
            else:
                what = "empty"
            table.add_row(f"{role} folder", f"{path}  [dim]({what})[/]")
        from ..model_store import installed_models

        models = installed_models()
        table.add_row("models", ", ".join(name for name, _ in models) if models else "none installed (stargan download --list)")
        console.print(table)
