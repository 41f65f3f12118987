"""`stargan grid`: comparison sheets (and label-interpolation animations) of one or more models.

Thin layer: flags are parsed here; the work is :mod:`stargan_cli.grid`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import StarganError, UsageError
from .common import DeviceOption, console, err_console, model_lines
from .options import (
    OverwriteOption, RecursiveOption, batch_size_option, data_option, face_option, model_option, no_detect_option,
    output_option, source_attrs_option, to_option,
)

HELP = """Compare models on the same faces: one sheet, or an animation per input with --gif.

Rows are the input faces (with several models, one row per face per model, grouped by face);
columns are the input, then each target. Default targets: every attribute of the models, as
the original StarGAN test grid (hair colour set on, other attributes flipped, relative to each
face's own attributes). Targets a model was not trained on are left blank and crossed out.

With --gif, each input (and model) gets an animation that moves the label smoothly from the
input's own attributes to each target: 2 x FRAMES x TARGETS frames (--gif-mode back: out to
each target and back) or FRAMES x (TARGETS + 1) (--gif-mode chain: from target to target).

Examples:

  stargan grid me.jpg friends/ -m stargan-celeba-128 -o sheet.png

  stargan grid --dataset celeba --n 16 --seed 7 -m runs/a/final.pt -m runs/b/final.pt -o ab.png

  stargan grid me.jpg --to Blond_Hair --to Male=0+Young --no-labels --padding 0 -o bare.jpg

  stargan grid me.jpg --gif --frames 8 -o me.gif
"""


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("grid", help=HELP)
    def grid_cmd(
        inputs: Annotated[
            Optional[list[str]],
            typer.Argument(help="Image files, folders or globs (or use --dataset).", show_default=False),
        ] = None,
        model: Annotated[
            Optional[list[str]],
            model_option(
                "Model name, checkpoint or official NNNNNN-G.ckpt; repeat to compare. Default: stargan-celeba-mini (bundled)."
            ),
        ] = None,
        to: Annotated[
            Optional[list[str]],
            to_option(
                "A target column (Blond_Hair, Male=0, Blond_Hair+Young=0); repeat or comma-separate. Default: every attribute."
            ),
        ] = None,
        output: Annotated[
            Optional[Path],
            output_option("Sheet (.png/.jpg) or, with --gif, animation (.gif/.webp). Default: grid.png / grid.gif."),
        ] = None,
        dataset: Annotated[
            Optional[str],
            typer.Option("--dataset", help="Take the images from an installed dataset instead: celeba.", show_default=False),
        ] = None,
        data: Annotated[
            Optional[Path], data_option("Dataset folder (default: where `stargan download celeba` puts it).")
        ] = None,
        split: Annotated[str, typer.Option("--split", help="Dataset images from the held-out test set or the training set.")] = "test",
        n: Annotated[int, typer.Option("--n", help="Number of dataset images.", min=1, max=10_000)] = 16,
        seed: Annotated[int, typer.Option("--seed", help="Which dataset images: same seed, same images.")] = 1234,
        no_detect: Annotated[bool, no_detect_option("Take each image as an aligned face crop (no face detection).")] = False,
        face: Annotated[
            Optional[int], face_option("Only face N of each photo (1 = leftmost). Default: every face, one row each.")
        ] = None,
        source_attrs: Annotated[
            Optional[str],
            source_attrs_option(
                "The inputs' attributes that are on (the rest off), instead of estimating them; 'none' for all off."
            ),
        ] = None,
        recursive: RecursiveOption = False,
        labels: Annotated[
            bool, typer.Option("--labels/--no-labels", help="Draw column headers, row labels and title (--no-labels: bare grid).")
        ] = True,
        padding: Annotated[int, typer.Option("--padding", help="Pixels between and around cells.", min=0)] = 2,
        background: Annotated[str, typer.Option("--background", help="Background colour: name, #rrggbb or R,G,B.")] = "white",
        cell_size: Annotated[
            Optional[int],
            typer.Option("--cell-size", help="Side of each cell in pixels. Default: the largest model's image size, at least 256.", min=8, show_default=False),
        ] = None,
        font_size: Annotated[
            Optional[int], typer.Option("--font-size", help="Label text size. Default: cell size / 10 (10-22).", min=8, show_default=False)
        ] = None,
        gif: Annotated[bool, typer.Option("--gif", help="Write an animation per input (and model) instead of a sheet.")] = False,
        frames: Annotated[int, typer.Option("--frames", help="Frames per move between two labels (--gif).", min=1, max=240)] = 8,
        gif_mode: Annotated[
            str, typer.Option("--gif-mode", help="back: input -> each target -> input; chain: input -> target 1 -> target 2 ... -> input.")
        ] = "back",
        frame_ms: Annotated[int, typer.Option("--frame-ms", help="Milliseconds per frame (input and targets held 4x).", min=1)] = 80,
        batch_size: Annotated[int, batch_size_option("Images per batch on the device.")] = 16,
        overwrite: OverwriteOption = False,
        device: DeviceOption = None,
    ) -> None:
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

        from .. import grid as lib
        from ..progress import make_progress, print_line

        if dataset is None and not inputs:
            raise UsageError("no input given: name image files or folders, or use --dataset celeba")
        if dataset is not None and inputs:
            raise UsageError("give image files or --dataset, not both")
        if dataset is None and data is not None:
            raise UsageError("--data names the dataset folder: use it with --dataset celeba")
        if no_detect and face is not None:
            raise UsageError("--face picks one of the detected faces: it cannot be used with --no-detect")
        if dataset is not None and (no_detect or face is not None or source_attrs is not None):
            raise UsageError("dataset images are aligned crops with known attributes: drop --no-detect/--face/--source-attrs")
        if gif_mode not in lib.ANIMATION_MODES:
            raise UsageError(f"--gif-mode must be one of {', '.join(lib.ANIMATION_MODES)}, not {gif_mode!r}")
        style_args = dict(padding=padding, background=lib.parse_color(background), labels=labels, font_size=font_size)
        if output is None:
            output = Path("grid.gif" if gif else "grid.png")
        formats = lib.ANIMATION_FORMATS if gif else lib.SHEET_FORMATS
        # With --gif, -o may be a name pattern: existing files are checked once the names are known.
        lib.check_output(output, formats, overwrite or gif)

        files: list[Path] = []
        if dataset is None:
            from ..attributes import CELEBA_ATTRIBUTES
            from ..image_files import collect_inputs

            found, failures = collect_inputs(inputs or [], recursive=recursive, skip_names=CELEBA_ATTRIBUTES)
            for message in failures:
                err_console.print(f"[yellow]Skipped:[/] {escape(message)}", highlight=False, soft_wrap=True)
            if not found:
                raise StarganError("no image to put on the sheet")
            files = [f.path for f in found]

        if to:  # the names, before any model is loaded, when the registry knows the models' attributes
            from ..model_store import known_attributes

            known = [known_attributes(spec) for spec in (model or [None])]
            if all(attrs is not None for attrs in known):
                lib.parse_columns(to, known)

        models = lib.load_models(model or [], device)
        for m in models:
            console.print(model_lines(m.name, m.translator), highlight=False)
        columns = (
            lib.parse_columns(to, [m.translator.attributes for m in models])
            if to else lib.default_columns([m.translator.config for m in models])
        )
        if dataset is not None:
            grid_inputs = lib.dataset_inputs(
                models, dataset=dataset, root=data, split=split, n=n, seed=seed, batch_size=batch_size,
            )
            problems: list[str] = []
        else:
            grid_inputs, problems = lib.file_inputs(
                models, files, detect=not no_detect, face=face, source=source_attrs, batch_size=batch_size,
            )
        for problem in problems:
            err_console.print(f"[yellow]Skipped:[/] {escape(problem)}", highlight=False, soft_wrap=True)
        if not grid_inputs:
            raise StarganError("none of the inputs gave a face to show")

        progress = make_progress(
            err_console, TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), transient=True,
        )
        if gif:
            plan = lib.animation_plan(output, grid_inputs, models, overwrite=overwrite)
            style = lib.SheetStyle(cell_size=cell_size or lib.default_cell_size(models), **style_args)
            with progress:
                task = progress.add_task("Animating", total=len(plan))

                def written(path: Path, count: int) -> None:
                    progress.advance(task)
                    print_line(progress, console, escape(f"{path}: {count} frames"), highlight=False)

                lib.write_animations(
                    plan, models, grid_inputs, columns, frames=frames, mode=gif_mode, style=style,
                    frame_ms=frame_ms, batch_size=batch_size, written=written,
                )
            return

        with progress:
            task = progress.add_task("Translating", total=lib.count_jobs(models, grid_inputs, columns))
            sheet = lib.make_sheet(
                models, grid_inputs, columns, cell_size=cell_size, batch_size=batch_size,
                progress=lambda done, total: progress.update(task, completed=done), **style_args,
            )
        lib.save_sheet(sheet, output)
        rows = len(grid_inputs) * len(models)
        console.print(
            escape(f"Wrote {output} ({sheet.size[0]}x{sheet.size[1]}: {rows} rows, {len(columns) + 1} columns)"),
            highlight=False,
        )
