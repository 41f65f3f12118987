"""The ``stargan`` command: a thin Typer layer over the library.

Each subcommand lives in its own module with a ``register(app)`` function. A
:class:`~stargan_cli.errors.StarganError` raised anywhere below becomes one ``Error:`` line and
exit code 1 (2 for a :class:`~stargan_cli.errors.UsageError`: a value or a combination of options
we do not accept); a mistake the option parser finds (unknown option, bad value) one ``Error:``
line naming ``--help`` and exit code 2; Ctrl-C exits with 130. Any other exception is a bug:
one ``Error:`` line asking for a report, exit code 1, and the traceback only with ``--debug``
or ``STARGAN_DEBUG=1``.
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
            raise fail(str(err), code=err.exit_code) from None
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

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list with each command's first sentence whole (wrapped), not cut."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # noqa: D102
        tidy_help(self)
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _UsageError as err:
            if type(err).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                print_error(_usage_message(err, self._command_path(err, args, kwargs)))
            elif err.format_message().strip():  # plain help is the message; rich help was printed
                err.show()
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


# Placeholders for option values in --help, by option name, else by type; flags get none.
_METAVARS = {
    "to": "ATTR", "attrs": "ATTRS", "source_attrs": "ATTRS", "model": "MODEL", "device": "DEVICE",
    "output": "PATH", "out": "DIR", "data": "DIR", "folder_data": "DIR", "resume": "RUN_DIR",
    "snapshots": "DIR", "from_file": "FILE", "json_file": "FILE", "classifier": "FILE", "url": "URL",
    "source": "SOURCE", "background": "COLOR", "dataset": "NAME", "split": "[test|train]",
    "fid": "[auto|inception|standin|off]", "gif_mode": "[back|chain]",
}
_TYPE_METAVARS = {int: "N", float: "NUMBER", str: "TEXT", "integer": "N", "integer range": "N",
                  "float": "NUMBER", "float range": "NUMBER", "text": "TEXT", "path": "PATH"}


def _choices_and_kind(param: Any) -> tuple[list[str] | None, Any]:
    """The choices of ``param`` (or None) and what identifies its value type, across Typer
    versions (0.2x describes types with ``type_descriptor``, older ones with Click types)."""
    import enum
    import pathlib
    import typing

    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        kind = getattr(param, "type", None)
        choices = getattr(kind, "choices", None)
        return ([str(getattr(c, "value", c)) for c in choices] if choices else None), getattr(kind, "name", None)
    annotation = desc.annotation
    if typing.get_origin(annotation) in (list, tuple) and typing.get_args(annotation):
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation], None
    if getattr(desc, "is_choice", False) and desc.choices:
        return [str(getattr(c, "value", c)) for c in desc.choices], None
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        return None, "path"
    return None, annotation


def tidy_help(command: Any) -> None:
    """Make ``command``'s help (and its subcommands') plain text that reads at 80 columns:
    value placeholders people recognise (``--to ATTR``, ``--iters N``) instead of type names
    such as ``<list[str]>``, none for flags, and no rich-markup escapes."""
    for param in getattr(command, "params", []):
        if getattr(param, "help", None):
            param.help = param.help.replace("\\[", "[")
        if getattr(param, "is_flag", False) or getattr(param, "count", False) or param.metavar is not None:
            continue
        if param.param_type_name == "argument":
            param.metavar = param.name.upper()  # the usage line adds "..." where several may follow
            if hasattr(param, "display_type_rich"):  # Typer 0.2x would print the type after it
                param.display_type_rich = lambda ctx: None
            continue
        choices, kind = _choices_and_kind(param)
        if choices:
            param.metavar = "[" + "|".join(choices) + "]"
        else:
            param.metavar = _METAVARS.get(param.name) or _TYPE_METAVARS.get(kind, "VALUE")
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


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
    help="StarGAN face attribute translation.",  # the commands are added by _register_all
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: it reflows at any width (tidy_help sets the placeholders)
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
    from . import cache, download, eval as eval_cmd, grid, info, study, train, translate, webapp, webcam

    for module in (download, train, study, translate, grid, webcam, webapp, eval_cmd, info, cache):
        module.register(app)
    # The summary names every command, from the commands themselves, so that none is left out.
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    app.info.help = f"StarGAN face attribute translation: {', '.join(n for n in names if n)}."


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()
