"""Pieces shared by the subcommands: consoles, common options, error display."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)

def _device_name(name: Optional[str]) -> Optional[str]:
    from ..devices import check_device_name

    return check_device_name(name)  # an unknown name stops the command before anything loads


DeviceOption = Annotated[
    Optional[str],
    typer.Option(
        "--device",
        help="Where to compute: auto (default: cuda > mps > cpu), cpu, cuda, cuda:N or mps.",
        show_default=False,
        callback=_device_name,
    ),
]


def model_lines(name: str, translator) -> str:
    """What a command says about the model it loaded, in two lines that read at 80 columns:
    ``Model: NAME (64px concat hinge 5 attrs) on cpu``, then its attributes (a long list is
    wrapped between names by the console, never inside one)."""
    config = translator.config
    return escape(
        f"Model: {name} ({config.describe()}) on {translator.device}\n"
        f"  attributes: {', '.join(translator.attributes)}"
    )


def print_error(message: str | None, console: Console | None = None) -> None:
    """One ``Error: message`` line on stderr (or on ``console``, e.g. a progress bar's)."""
    (console or err_console).print(f"[bold red]Error:[/] {escape(message or '')}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print ``Error: message`` on one line to stderr and return the Exit to raise."""
    print_error(message)
    return typer.Exit(code)
