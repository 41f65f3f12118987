"""`stargan cache`: what the caches hold, and emptying one (with a confirmation)."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer

from ..errors import UsageError
from .common import console

HELP = """See and clear the caches: preprocessed training images, downloads, models.

Caches hold what stargan can make again: clearing one frees its disk space, and the next
command that needs its content downloads or builds it again. Datasets and training runs are
not caches (remove a dataset with `stargan download --remove celeba`).

Examples:

  stargan cache list

  stargan cache clear preprocessed

  stargan cache clear downloads --yes
"""


def _check_names(names: list[str]) -> list[str]:
    from ..paths import CACHES
    from ..registry import suggest

    checked = []
    for name in names:
        key = name.strip().lower()
        if key not in CACHES:
            raise UsageError(f"unknown cache {name!r}:{suggest(key, list(CACHES))} choose from {', '.join(CACHES)}")
        if key not in checked:
            checked.append(key)
    return checked


def _empty(path) -> None:
    """Remove the folder ``path`` whole: renamed first, so a half-deleted cache is never used.

    Refused while another process holds a lock inside it (a preprocessed cache being built, a
    download in progress): the locks are taken first and held until the folder is moved away."""
    from ..locks import LOCK_SUFFIX, Lock

    trash = path.with_name(f".{path.name}.removing.{os.getpid()}.tmp")
    held: list[Lock] = []
    try:
        for lock_path in sorted({*path.glob(f"*{LOCK_SUFFIX}"), *path.glob(f"*/*{LOCK_SUFFIX}")}):
            what = lock_path.parent if lock_path.name == LOCK_SUFFIX else lock_path.with_suffix("")
            lock = Lock(lock_path, f"{what} (in the {path.name} cache)")
            held.append(lock.acquire())
        os.replace(path, trash)
    finally:
        for lock in held:
            lock.release()
    shutil.rmtree(trash, ignore_errors=True)


def register(app: typer.Typer) -> None:
    """Add the command group to ``app``."""
    cache_app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode=None)

    @cache_app.command("list")
    def list_cmd() -> None:
        """Show every cache: its folder, its size and what it holds."""
        from rich.table import Table

        from ..paths import CACHES, all_dirs, disk_size
        from ..progress import human_bytes

        folders = all_dirs()
        table = Table(box=None)
        table.add_column("cache", style="bold", no_wrap=True)
        table.add_column("size", justify="right", no_wrap=True)
        table.add_column("folder and content", overflow="fold")
        for name, what in CACHES.items():
            path = folders[name]
            table.add_row(name, human_bytes(disk_size(path)), f"{path}\n[dim]{what}[/]")
        console.print(table)
        console.print("[dim]Empty one with `stargan cache clear NAME`.[/]", highlight=False)

    @cache_app.command("clear")
    def clear_cmd(
        names: Annotated[list[str], typer.Argument(
            help="Caches to empty: preprocessed, downloads, models.", show_default=False)],
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    ) -> None:
        """Empty caches (after a confirmation, unless --yes)."""
        from ..paths import all_dirs, disk_size
        from ..progress import human_bytes

        folders = all_dirs()
        for name in _check_names(names):
            path = folders[name]
            size = disk_size(path)
            if not path.exists() or size == 0 and not any(path.iterdir()):
                console.print(f"The {name} cache is empty ({path}).", highlight=False, soft_wrap=True)
                continue
            if not yes and not typer.confirm(f"Delete {human_bytes(size)} in {path}?", default=False):
                console.print(f"Kept the {name} cache.", highlight=False)
                continue
            _empty(path)
            console.print(f"Cleared the {name} cache: {human_bytes(size)} freed ({path}).",
                          highlight=False, soft_wrap=True)

    app.add_typer(cache_app, name="cache")
