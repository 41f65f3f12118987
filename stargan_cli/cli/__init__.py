"""The ``stargan`` command: a thin Typer layer over the library.

Each subcommand lives in its own module with a ``register(app)`` function. A
:class:`~stargan_cli.errors.StarganError` raised anywhere below becomes one ``Error:`` line and
exit code 1; a usage mistake (unknown option, bad value) one ``Error:`` line naming ``--help``
and exit code 2; Ctrl-C exits with 130. Any other exception is a bug: one ``Error:`` line asking
for a report, exit code 1, and the traceback only with ``--debug`` or ``STARGAN_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import StarganError
from ..fileio import storage_error
from .common import err_console, fail, print_error

DEBUG_ENV = "STARGAN_DEBUG"
REPORT_HINT = "this is a bug in stargan: please report it with the command you ran"


def _click_class(name: str) -> type:
    """Click's exception class ``name``, found from Typer's public ``BadParameter``: Typer >= 0.20
    carries its own copy of Click, older releases use click itself, and neither exports these."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


_UsageError = _click_class("UsageError")
_ClickException = _click_class("ClickException")
_debug = False  # set by --debug


class _Group(TyperGroup):
    """Turns user errors into one line instead of a traceback or a boxed usage message."""

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except StarganError as err:
            raise fail(str(err)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", code=130) from None
        except OSError as err:  # a full disk or a refused write that no write point named
            failure = storage_error(err, err.filename or "a file")
            if failure is None:
                raise
            raise fail(str(failure)) from None
        except _UsageError as err:
            if getattr(err, "ctx", None) is None:  # raised before the subcommand had a context
                err.root_path = ctx.command_path  # type: ignore[attr-defined]
            raise

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # noqa: D102
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _UsageError as err:
            if type(err).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                print_error(_usage_message(err, self._command_path(err, args, kwargs)))
            sys.exit(err.exit_code)
        except _ClickException as err:
            print_error(err.format_message())
            sys.exit(err.exit_code)
        except typer.Abort:
            print_error("aborted")
            sys.exit(1)
        except Exception as err:  # a bug: say so in one line, the traceback only on request
            _report_unexpected(err)
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


def debugging() -> bool:
    """Whether ``--debug`` or ``STARGAN_DEBUG=1`` asks for tracebacks of unexpected errors."""
    return _debug or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _report_unexpected(err: BaseException) -> None:
    if debugging():
        err_console.print("".join(traceback.format_exception(err)), highlight=False, markup=False)
    detail = (str(err).splitlines() or [""])[0][:200]
    what = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
    hint = "" if debugging() else f" (the traceback: run again with --debug or {DEBUG_ENV}=1)"
    print_error(f"unexpected {what}; {REPORT_HINT}{hint}")


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
    debug: Annotated[
        bool, typer.Option("--debug", help=f"Show the traceback of an unexpected error (or set {DEBUG_ENV}=1).")
    ] = False,
) -> None:
    """StarGAN face attribute translation."""
    global _debug
    _debug = debug


def _register_all() -> None:
    from . import download, eval as eval_cmd, grid, info, train, translate, webcam

    for module in (download, train, translate, grid, webcam, eval_cmd, info):
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()
