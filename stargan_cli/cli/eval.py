"""`stargan eval`: score models with an independent attribute classifier, cycle error and FID.

Thin layer: flags are parsed here, the work is :mod:`stargan_cli.evaluation`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import DeviceOption, console, err_console
from .options import batch_size_option, data_option, model_option

HELP = (
    "Evaluate models on held-out CelebA images.\n\n"
    "Each model translates N held-out images to every one of its targets (a hair colour set with "
    "the others off, any other attribute flipped) and back. Per target it reports: success (the "
    "classifier reads the target value), preservation (the other attributes read as in the input: "
    "the model's own, and all 40), cycle L1 and PSNR, the face shift on hair targets (mean absolute "
    "change of the face, eyes to chin, in 8-bit levels), and FID against real held-out images of the "
    "target value; and per model the identity PSNR and SSIM (each image translated to its own labels, "
    "against the input). The judge is a ResNet-18 attribute classifier trained once with "
    "--train-classifier, never the GAN's discriminator.\n\n"
    "Examples:\n\n"
    "  stargan eval --train-classifier --image-size 128\n\n"
    "  stargan eval --model stargan-celeba-128 --n 500 --json scores.json\n\n"
    "  stargan eval -m runs/a/final.pt -m runs/b/final.pt\n"
)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("eval", help=HELP, no_args_is_help=True)
    def eval_cmd(
        model: Annotated[
            Optional[list[str]], model_option("Model name or checkpoint; repeat to compare models side by side.")
        ] = None,
        dataset: Annotated[str, typer.Option("--dataset", help="Evaluation dataset (celeba).")] = "celeba",
        data: Annotated[
            Optional[Path], data_option("CelebA folder. Default: the one `stargan download celeba` installs.")
        ] = None,
        split: Annotated[str, typer.Option("--split", help="Images to evaluate on: test (held out) or train.")] = "test",
        n: Annotated[int, typer.Option("--n", help="Number of input images per model.", min=1)] = 200,
        n_real: Annotated[
            Optional[int],
            typer.Option("--n-real", help="Real images of the split for the FID reference. Default: all.", min=2, show_default=False),
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the choice of images (and of classifier training).")] = 0,
        batch_size: Annotated[
            Optional[int],
            batch_size_option("Images per batch on the device (default 32; 64 for classifier training).", show_default=False),
        ] = None,
        fid: Annotated[
            str,
            typer.Option("--fid", help="FID features: auto (Inception-v3 if installed, else a random-weight stand-in), inception, standin or off."),
        ] = "auto",
        classifier: Annotated[
            Optional[Path],
            typer.Option("--classifier", help="Classifier file to use (or, with --train-classifier, to write). Default: the cached one.", show_default=False),
        ] = None,
        train: Annotated[
            bool, typer.Option("--train-classifier", help="Train the attribute classifier on the CelebA training split and cache it.")
        ] = False,
        image_size: Annotated[
            Optional[int],
            typer.Option("--image-size", help="Classifier training size. Default: the first model's size, else 128.", min=8, show_default=False),
        ] = None,
        epochs: Annotated[float, typer.Option("--epochs", help="Classifier training epochs.", min=0.0)] = 3.0,
        iters: Annotated[
            Optional[int],
            typer.Option("--iters", help="Classifier training steps (instead of --epochs).", min=1, show_default=False),
        ] = None,
        lr: Annotated[float, typer.Option("--lr", help="Classifier learning rate (Adam).")] = 1e-3,
        json_file: Annotated[
            Optional[Path],
            typer.Option("--json", help="Also write the results to this JSON file (layout in the README).", show_default=False),
        ] = None,
        device: DeviceOption = None,
    ) -> None:
        from rich.markup import escape

        from ..loading import load_checkpoint
        from ..data.celeba import find_attribute_file
        from ..devices import select_device
        from ..evaluation.classifier import installed_classifiers
        from ..evaluation.fid import FID_MODES
        from ..evaluation import EvalSettings, choose_extractor, evaluate_models, find_classifier, load_classifier
        from ..evaluation.report import RichProgress, accuracy_table, check_json_path, print_report, write_json
        from ..evaluation.runner import celeba_block, train_celeba_classifier
        from ..model_store import display_names, needs_download, resolve_model

        specs = list(model or [])
        if not specs and not train:
            raise UsageError("nothing to do: pass --model NAME|PATH to evaluate, or --train-classifier")
        if json_file is not None and not specs:
            raise UsageError("--json saves evaluation results: pass --model NAME|PATH too")
        settings = EvalSettings(data=data, dataset=dataset, split=split, n=n, n_real=n_real, seed=seed,
                                batch_size=batch_size or 32)
        # Every check that needs no download comes before any download and any long work.
        if json_file is not None:
            check_json_path(json_file)
        if fid.strip().lower() not in FID_MODES:
            raise UsageError(f"unknown --fid {fid!r}: choose from {', '.join(FID_MODES)}")
        dev = select_device(device)
        later = [spec for spec in specs if needs_download(spec)]
        paths, configs = {}, {}

        def load(spec: str) -> None:
            paths[spec] = resolve_model(spec)
            configs[spec] = load_checkpoint(paths[spec]).config
            celeba_block(configs[spec])  # a model eval cannot judge fails now, not after the work

        for spec in specs:
            if spec not in later:
                load(spec)
        if not train and (classifier is not None or not installed_classifiers()):
            find_classifier(0, classifier)  # raises: the file is missing, or none is installed
        find_attribute_file(data)
        for spec in later:
            load(spec)
        sizes = [configs[spec].image_size for spec in specs]
        quiet = False  # on a terminal bars, else plain lines every STARGAN_PROGRESS_SECONDS
        notes: list[str] = []  # printed with the results, not above an unrelated error

        with RichProgress(quiet=quiet, console=err_console) as progress:
            if train:
                size = image_size or (sizes[0] if sizes else 128)
                trained = train_celeba_classifier(
                    data, size, epochs=epochs, iters=iters, batch_size=batch_size or 64, lr=lr, seed=seed,
                    device=dev, path=classifier, progress=progress, quiet=quiet,
                )
                console.print(accuracy_table(trained))
                console.print(f"Classifier saved to {escape(str(trained.path))}", highlight=False, soft_wrap=True)
                if not specs:
                    return
                judge = trained
            else:
                judge = load_classifier(find_classifier(sizes[0], classifier), dev)
            extractor = choose_extractor(fid, dev, warn=notes.append)
            report = evaluate_models(
                list(zip(display_names(specs), [paths[spec] for spec in specs])), judge, settings,
                extractor=extractor, device=dev, progress=progress, quiet=quiet,
            )
        for note in notes:
            err_console.print(f"[yellow]Note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        print_report(report, console)
        if json_file is not None:
            written = write_json(report, json_file)
            console.print(f"Results written to {escape(str(written))}", highlight=False, soft_wrap=True)
