"""The ``stargan`` command: a thin Typer layer over the library.

Each subcommand lives in its own module with a ``register(app)`` function. A
:class:`~stargan_cli.errors.StarganError` raised anywhere below becomes one ``Error:`` line and
exit code 1; Ctrl-C exits with 130.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import StarganError
from .common import fail


class _Group(TyperGroup):
    """Turns user errors into one line instead of a traceback."""

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except StarganError as err:
            raise fail(str(err)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", code=130) from None


app = typer.Typer(
    cls=_Group,
    name="stargan",
    help="StarGAN face attribute translation: download, train, translate, grid, webcam, eval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stargan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """StarGAN face attribute translation."""


def _register_all() -> None:
    from . import download, eval as eval_cmd, grid, info, train, translate, webcam

    for module in (download, train, translate, grid, webcam, eval_cmd, info):
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()
