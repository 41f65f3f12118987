"""`stargan download`: datasets and pretrained models into the user cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..progress import human_bytes as _human
from .common import console, err_console


def _print_list() -> None:
    """One line per asset (name, kind, size, installed), its file or folder on the line below:
    as a column of its own the path was folded every 12 characters at 80 columns."""
    from rich.markup import escape
    from rich.text import Text

    from ..download import statuses

    rows: list[tuple[str, str, str, str, str]] = []
    for row in statuses():
        asset = row.asset
        if row.installed:
            state = "[green]yes[/] (bundled)" if asset.is_bundled else "[green]yes[/]"
            if asset.install == "collection":
                where = f"{asset.target()} ({len(row.paths)} models: {', '.join(p.stem for p in row.paths)})"
            else:
                where = str(row.paths[0])
            where = escape(where)
        else:
            state = f"[yellow]partial[/] ({_human(row.partial)})" if row.partial else "no"
            where = f"[dim]{escape(str(asset.target()))}[/]"
        if row.installed or row.size is not None:
            size = _human(row.size)
        else:
            size = asset.approx_size or "not published"
        rows.append((asset.name, asset.kind, size, state, where))
    header = ("name", "kind", "size", "installed")
    widths = [max(Text.from_markup(r[i]).cell_len for r in [header, *rows]) for i in range(4)]

    def cells(values: tuple[str, ...]) -> str:
        out = []
        for i, (value, width) in enumerate(zip(values, widths)):
            pad = " " * (width - Text.from_markup(value).cell_len)
            out.append(pad + value if i == 2 else value + pad)  # sizes right-aligned
        return "  ".join(out).rstrip()

    console.print(f"[bold]{cells(header)}[/]", highlight=False, soft_wrap=True)
    for name, kind, size, state, where in rows:
        console.print(cells((f"[bold]{name}[/]", kind, size, state)), highlight=False, soft_wrap=True)
        console.print(f"  {where}", highlight=False, soft_wrap=True)
    console.print("[dim]Sizes on disk, or of the download when not installed. Install with "
                  "`stargan download NAME`.[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("download")
    def download_cmd(
        names: Annotated[
            Optional[list[str]],
            typer.Argument(help="What to install: celeba, stargan-celeba-128, stargan-celeba-256, "
                           "dlim2020-models, inception (see --list).", show_default=False),
        ] = None,
        list_: Annotated[bool, typer.Option("--list", "-l", help="Show every asset, its size and whether it is installed.")] = False,
        url: Annotated[Optional[str], typer.Option("--url", help="Download from this address (a mirror) instead of the registered one.", show_default=False)] = None,
        from_file: Annotated[Optional[Path], typer.Option("--from", help="Install from an archive or file you downloaded by hand (same checks and conversion).", show_default=False)] = None,
        force: Annotated[bool, typer.Option("--force", help="Reinstall even if already installed.")] = False,
        remove: Annotated[bool, typer.Option("--remove", help="Delete the named assets from the cache instead.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Download datasets and pretrained models into the user cache (resumable, verified).

        Models are converted on install, so `--model stargan-celeba-128` works in every command.

        Offline? Download the file elsewhere and use `--from FILE`; STARGAN_OFFLINE=1 forbids any network access.

        Examples:

          stargan download --list

          stargan download stargan-celeba-128 celeba

          stargan download celeba --from ~/Downloads/celeba.zip

          stargan download --remove stargan-celeba-256
        """
        from .. import download as dl
        from ..errors import UsageError
        from ..registry import get_asset

        if list_:
            _print_list()
            return
        if not names:
            raise UsageError(
                "name what to download, e.g. `stargan download stargan-celeba-128`; "
                "`stargan download --list` shows everything"
            )
        assets = [get_asset(n) for n in names]  # every name checked before anything starts
        if (url or from_file) and len(assets) > 1:
            raise UsageError("--url and --from apply to one asset: name exactly one")
        if remove:
            if url or from_file or force:
                raise UsageError("--remove cannot be combined with --url, --from or --force")
            for asset in assets:
                removed = dl.remove(asset.name)
                if removed:
                    console.print(f"Removed {asset.name}: " + ", ".join(str(p) for p in removed), highlight=False)
                else:
                    console.print(f"{asset.name} is not installed: nothing to remove", highlight=False)
            return
        for asset in assets:
            if not quiet and (force or not asset.is_installed()):
                err_console.print(f"[dim]{asset.name}: {asset.description}. Licence: {asset.licence}[/]", highlight=False, soft_wrap=True)
            result = dl.install(asset.name, url=url, from_file=from_file, force=force, quiet=quiet)
            where = ", ".join(str(p) for p in result.paths)
            if result.already:
                console.print(f"{asset.name} is already installed: {where} (--force reinstalls)", highlight=False)
                continue
            for note in result.skipped:
                err_console.print(f"[yellow]skipped[/] {note}", highlight=False)
            console.print(f"[green]Installed[/] {asset.name}: {where}", highlight=False)
