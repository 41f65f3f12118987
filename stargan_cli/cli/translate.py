"""`stargan translate`: change attributes of the faces in photos.

Thin layer: flags are parsed here, the work is :class:`stargan_cli.translate.Translator`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..errors import StarganError, UsageError
from .common import DeviceOption, console, err_console, model_lines, print_error
from .options import (
    OverwriteOption, RecursiveOption, batch_size_option, face_option, model_option, no_detect_option, output_option,
    paste_option, source_attrs_option, to_option,
)

if TYPE_CHECKING:
    from ..translate import TranslationResult, Translator

HELP = """Translate the faces in photos to other attributes.

Faces are found, framed like CelebA, translated and blended back into the photo, which keeps
its size. Outputs go next to each input as NAME.<target>.png (or into -o), never overwriting
without --overwrite. Faces are numbered 1, 2, ... from the left (--face N).

Examples:

  stargan translate me.jpg --to Blond_Hair

  stargan translate photos/ --recursive --to Male=0,Young -o out/

  stargan translate group.jpg --to Black_Hair --face 2

  stargan translate --example --all
"""


def _describe_source(translator: "Translator", face) -> str:
    on = [a for a, v in zip(translator.attributes, face.source_label) if v > 0.5]
    if face.estimated:
        shown = ", ".join(f"{a} {face.source[a]:.2f}" for a in on)
        return f"estimated {shown}" if on else f"estimated to have none of the {len(translator.attributes)} attributes"
    return f"given {', '.join(on)}" if on else "given no attribute"


def _unchanged_note(translator: "Translator", result: "TranslationResult", name: str, to: list[str]) -> str | None:
    """A line for the faces that ``to`` asks nothing of, as they already have it (the output is
    then the face as it is), pointing to --source-attrs; None when every face changes."""
    from ..attributes import target_name

    targets = translator.parse_targets(to)
    layout = translator.layout
    same = [f for f in result.faces if layout.target_label(f.source_label, targets) == layout.start_label(f.source_label)]
    if not same:
        return None
    asked = target_name(targets)  # as the output file is named: Male, Male=0, Blond_Hair+Young
    faces = "the face" if len(result.faces) == 1 else "face " + ", ".join(str(f.number) for f in same)
    how = "is estimated to have" if any(f.estimated for f in same) else "has"
    return (f"{name}: nothing changes, {faces} {how} {asked} already; if that is wrong, "
            "give its attributes with --source-attrs")


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("translate", help=HELP, no_args_is_help=True)
    def translate_cmd(
        inputs: Annotated[
            Optional[list[str]],
            typer.Argument(help="Image files (JPEG, PNG, WebP, BMP), folders or globs.", show_default=False),
        ] = None,
        to: Annotated[
            Optional[list[str]],
            to_option("Attribute to turn on (Blond_Hair) or off (Male=0); repeat or comma-separate."),
        ] = None,
        all_domains: Annotated[
            bool,
            typer.Option("--all", help="One output per attribute (hair colour set, others flipped) plus NAME.all.png strip."),
        ] = False,
        output: Annotated[
            Optional[Path], output_option("Output file (one input) or folder. Default: next to each input.")
        ] = None,
        model: Annotated[
            Optional[str],
            model_option("Model name, checkpoint or official NNNNNN-G.ckpt. Default: stargan-celeba-mini (bundled)."),
        ] = None,
        source_attrs: Annotated[
            Optional[str],
            source_attrs_option(
                "The input's attributes that are on (the rest off), instead of estimating them; 'none' for all off."
            ),
        ] = None,
        no_detect: Annotated[
            bool,
            no_detect_option("Take each image as an aligned face crop (CelebA preprocessing); writes the model-size square."),
        ] = False,
        face: Annotated[Optional[int], face_option("Translate only face N (1 = leftmost).")] = None,
        paste: Annotated[
            Optional[str],
            paste_option(
                "How each translated face goes back into the photo: delta (add only what the model "
                "changed; keeps the photo's detail), masked (the same, only where the change is large), "
                "mask (the same, where the model's own mask is open; models trained with --g-output mask), "
                "replace (the model's square scaled up). Default: mask for a model with a mask, else masked."
            ),
        ] = None,
        save_mask: Annotated[
            bool,
            typer.Option(
                "--save-mask",
                help="Also write where the model changed each output, as NAME.<target>.mask.png (white = "
                "changed; models trained with --g-output mask).",
            ),
        ] = False,
        crop_only: Annotated[
            bool, typer.Option("--crop-only", help="Write only the translated face squares (NAME.faceN.<target>.png when several).")
        ] = False,
        recursive: RecursiveOption = False,
        overwrite: OverwriteOption = False,
        example: Annotated[
            bool, typer.Option("--example", help="Use the bundled sample portrait (output in the current folder).")
        ] = False,
        batch_size: Annotated[int, batch_size_option("Faces per batch on the device.")] = 16,
        device: DeviceOption = None,
    ) -> None:
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

        from ..attributes import CELEBA_ATTRIBUTES, target_name
        from ..image_files import InputFile, collect_inputs, example_image_path, looks_like_output
        from ..model_store import DEFAULT_MODEL, check_targets_early, display_names
        from ..output_plan import OutputPlan, write_outputs
        from ..progress import make_progress, print_line
        from ..translate import Translator, check_request

        check_request(to, all_domains=all_domains, detect=not no_detect, face=face, paste=paste, batch_size=batch_size)
        if no_detect and crop_only:
            raise UsageError("--crop-only needs face detection; with --no-detect the output is already the model-size crop")
        if not inputs and not example:
            raise UsageError("no input given: name image files, folders or globs (or try --example)")

        early = check_targets_early(to, model)  # attribute names before any model is loaded
        files, failures = collect_inputs(inputs or [], recursive=recursive, skip_names=CELEBA_ATTRIBUTES)
        example_path = example_image_path() if example else None
        if example_path is not None and all(f.path.resolve() != example_path.resolve() for f in files):
            files.insert(0, InputFile(example_path))
        for message in failures:
            print_error(message)
        if not files:
            raise typer.Exit(1)
        # The bundled example lives inside the package: its outputs go to the current folder.
        plan = OutputPlan.for_output(output, len(files), example_path)

        # Outputs known before translating that exist already: reported without loading the model.
        tokens = ["all"] if all_domains else ([target_name(early)] if early and not crop_only else [])
        if tokens and not overwrite:
            clashes = plan.existing(files, tokens, single=not all_domains)
            for path in clashes.values():
                print_error(f"{path} exists: pass --overwrite to replace it")
            failures.extend(str(path) for path in clashes.values())
            files = [f for f in files if f.path not in clashes]
            if not files:
                raise typer.Exit(1)

        translator = Translator.from_pretrained(model, device=device)
        if save_mask and not translator.has_mask:
            raise UsageError(
                "--save-mask: this model has no mask (its generator redraws every pixel); use a model "
                "trained with --g-output mask, or drop --save-mask"
            )
        # Now the model's own names are known, skip earlier outputs named after them too.
        names = [*CELEBA_ATTRIBUTES, *translator.attributes]
        files = [f for f in files if f.root is None or not looks_like_output(f.path, names)]
        if not files:
            raise StarganError(
                "nothing to translate: the images found are all earlier outputs of this model "
                "(NAME.<target>.png); name files directly to translate them again"
            )
        # Targets, source attributes and the classifier are checked here, before any work.
        results = translator.translate_many(
            [f.path for f in files], to=to, all_domains=all_domains, source=source_attrs,
            detect=not no_detect, face=face, batch_size=batch_size, paste=paste,
        )
        console.print(model_lines(display_names([model or DEFAULT_MODEL])[0], translator), highlight=False)
        by_key = {f.path: f for f in files}
        written: dict[Path, Path] = {}
        done = 0
        failed = len(failures)
        progress = make_progress(
            err_console, TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), unit="images", lines=len(files) > 1, transient=True,
        )
        with progress:
            task = progress.add_task("Translating", total=len(files))
            for result in results:
                progress.advance(task)
                item = by_key[result.key]
                if not result.ok:
                    failed += 1
                    print_error(result.error, progress.console)
                    continue
                outputs = plan.outputs(result, item, crop_only=crop_only, strip=all_domains, masks=save_mask)
                problem = write_outputs(outputs, item.path, overwrite, written)
                if problem:
                    failed += 1
                    print_error(problem, progress.console)
                    continue
                done += 1
                shown = f"{item.path.name} (bundled example)" if item.path == example_path else str(item.path)
                summary = _summary(translator, result, shown, no_detect, [p for p, _ in outputs])
                print_line(progress, console, summary, highlight=False, soft_wrap=True)  # above a live bar
                note = _unchanged_note(translator, result, shown, to) if to else None
                if note:
                    print_line(progress, console, escape(note), highlight=False, soft_wrap=True)
        total = len(files) + len(failures)
        if failed:
            if total > 1:
                err_console.print(f"{failed} of {total} inputs failed; {done} translated.", highlight=False)
            raise typer.Exit(1)
        if total > 1:
            console.print(f"Translated {done} image(s), wrote {len(written)} file(s).", highlight=False, soft_wrap=True)


def _summary(
    translator: "Translator", result: "TranslationResult", name: str, no_detect: bool, paths: list[Path]
) -> str:
    """One line per translated input: faces found, their attributes, the files written."""
    from rich.markup import escape

    if no_detect:
        where = "whole image as a face crop"
    else:
        where = f"{result.faces_found} face" + ("" if result.faces_found == 1 else "s") + " found"
    faces = "; ".join(
        (f"face {f.number}: " if not no_detect else "") + _describe_source(translator, f) for f in result.faces
    )
    shown = ", ".join(str(p) for p in paths[:3]) + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "")
    return escape(f"{name}: {where}; {faces} -> {shown}")
