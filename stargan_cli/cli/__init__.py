"""The ``stargan`` command: a thin Typer layer over the library.

Each subcommand lives in its own module with a ``register(app)`` function. A
:class:`~stargan_cli.errors.StarganError` raised anywhere below becomes one ``Error:`` line and
exit code 1; a usage mistake (unknown option, bad value) one ``Error:`` line naming ``--help``
and exit code 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any, Optional

import typer
import typer.core
from typer.core import TyperGroup

from .. import __version__
from ..errors import StarganError
from .common import fail, print_error

# Typer >= 0.20 carries its own copy of Click as typer._click; older releases use click itself.
_click_exceptions = importlib.import_module(
    "typer._click.exceptions" if hasattr(typer.core, "_click") else "click.exceptions")


class _Group(TyperGroup):
    """Turns user errors into one line instead of a traceback or a boxed usage message."""

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except StarganError as err:
            raise fail(str(err)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", code=130) from None
        except _click_exceptions.UsageError as err:
            if getattr(err, "ctx", None) is None:  # raised before the subcommand had a context
                err.root_path = ctx.command_path  # type: ignore[attr-defined]
            raise

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # noqa: D102
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _click_exceptions.UsageError as err:
            if type(err).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                print_error(_usage_message(err, self._command_path(err, args, kwargs)))
            sys.exit(err.exit_code)
        except _click_exceptions.ClickException as err:
            print_error(err.format_message())
            sys.exit(err.exit_code)
        except _click_exceptions.Abort:
            print_error("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def _command_path(self, err: Any, args: tuple, kwargs: dict) -> str:
        """``stargan SUBCOMMAND`` for the subcommand named on the command line, else ``stargan``
        (for errors raised before the subcommand's context exists, e.g. a missing option value)."""
        root = getattr(err, "root_path", None) or self.name or "stargan"
        argv = kwargs.get("args", args[0] if args else None)
        argv = sys.argv[1:] if argv is None else argv
        name = next((a for a in argv if a in self.commands), None)
        return f"{root} {name}" if name else root


def _usage_message(err: Any, fallback: str) -> str:
    """``err``'s message on one line, pointing at the command's --help."""
    message = " ".join(err.format_message().split())
    ctx = getattr(err, "ctx", None)
    command = ctx.command_path if ctx is not None else fallback
    end = "" if message.endswith((".", "?", "!")) else "."
    return f"{message}{end} See '{command} --help'."


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
    from . import download, eval as eval_cmd, grid, info, train, translate, webapp, webcam

    for module in (download, train, translate, grid, webcam, webapp, eval_cmd, info):
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()
