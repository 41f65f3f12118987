"""`stargan webcam`: live translation of a camera, stream or video file."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer

from .common import DeviceOption, console, err_console
from .options import model_option, output_option, paste_option, source_attrs_option, to_option


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("webcam")
    def webcam_cmd(
        source: Annotated[
            str,
            typer.Option(
                "--source", "-s",
                help="Camera index (0 = the default camera), a video file, or a stream URL (rtsp://, http://).",
            ),
        ] = "0",
        model: Annotated[
            Optional[str], model_option("Model name or checkpoint file (default: stargan-celeba-mini, bundled).")
        ] = None,
        to: Annotated[
            Optional[list[str]],
            to_option(
                "A target to cycle through; repeat for several. ATTR turns it on, ATTR=0 off, "
                "A,B=0 combines. Default: one per attribute (hair colour set, others flipped)."
            ),
        ] = None,
        source_attrs: Annotated[
            Optional[str],
            source_attrs_option(
                "The face's own attributes (those that are on, e.g. Brown_Hair,Young; 'none'). "
                "Default: estimated by the model's discriminator."
            ),
        ] = None,
        detect_every: Annotated[
            int,
            typer.Option(
                "--detect-every", min=1,
                help="Detect the face (and its landmarks) every N frames; optical flow follows it in between.",
            ),
        ] = 5,
        paste: Annotated[
            str,
            paste_option(
                "How the translated face goes back into the frame: delta (only what the model changed), "
                "masked (the same, only where the change is large) or replace (the model's square)."
            ),
        ] = "masked",
        no_paste: Annotated[
            bool,
            typer.Option("--no-paste", help="Show the model's square alone instead of the frame (key p toggles)."),
        ] = False,
        snapshots: Annotated[
            Optional[Path],
            typer.Option(
                "--snapshots", help="Folder for snapshots (space key). Default: the current folder.",
                show_default=False,
            ),
        ] = None,
        output: Annotated[Optional[Path], output_option("Record what is shown to a video file (.mp4).")] = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing --output file.")
        ] = False,
        headless: Annotated[
            bool, typer.Option("--headless", help="No window (servers, recording with --output).")
        ] = False,
        max_frames: Annotated[
            Optional[int],
            typer.Option(
                "--max-frames", min=1, show_default=False,
                help="Stop after N frames of the source (with frames dropped when behind, those count too).",
            ),
        ] = None,
        cycle_every: Annotated[
            Optional[int],
            typer.Option(
                "--cycle-every", min=1, show_default=False,
                help="Move on to the next target every N processed frames. With --headless and "
                "several targets it is needed: there are no keys to pick one.",
            ),
        ] = None,
        realtime: Annotated[
            Optional[bool],
            typer.Option(
                "--realtime/--all-frames",
                help="Drop frames when translation is slower than the source (always for cameras), "
                "or process every frame of a video file. Default: all frames for a file with "
                "--headless, realtime otherwise.",
                show_default=False,
            ),
        ] = None,
        device: DeviceOption = None,
        half: Annotated[
            bool, typer.Option("--half/--no-half", help="Half precision on GPUs (bf16/fp16); CPUs always use fp32.")
        ] = True,
    ) -> None:
        """Translate faces live from a camera, stream or video file.

        Shows the input and the result side by side. Keys: 1-9 pick a target, left/right cycle
        targets, space saves a snapshot, p toggles paste-back, q or Esc quits.

        Examples:

          stargan webcam --to Blond_Hair --to Male=0

          stargan webcam --source clip.mp4 --headless --to Blond_Hair --output translated.mp4

          stargan webcam --source clip.mp4 --headless --cycle-every 30 --output all.mp4
        """
        from ..errors import StarganError, UsageError
        from ..model_store import check_targets_early
        from ..photos.paste import MODES, check_paste
        from ..translate import Translator
        from ..webcam import (
            KEY_HELP, HeadlessDisplay, ModelEngine, WebcamOptions, WindowDisplay, check_video_path,
            display_problem, open_source, parse_source, run_webcam,
        )

        # Cheap checks first, before loading a model or opening a camera.
        check_paste(paste)
        if MODES[paste].needs_mask:
            raise UsageError(f"--paste {paste} is for photos (stargan translate): use masked, delta or replace here")
        if not headless:
            problem = display_problem()
            if problem is not None:
                raise StarganError(problem)
        for target in to or []:  # attribute names, before any model is loaded
            check_targets_early([target], model)
        if headless and cycle_every is None and to and len(to) > 1:
            raise UsageError(_NO_KEYS.format(count=len(to)))
        spec = parse_source(source)
        if realtime is False and spec.live:
            raise UsageError(
                f"--all-frames needs a video file: {spec.describe()} is live and its frames cannot wait"
            )
        if realtime is None:
            realtime = spec.live or not headless
        if output is not None:
            output = check_video_path(output, overwrite=overwrite)
        if snapshots is not None and snapshots.exists() and not snapshots.is_dir():
            raise StarganError(f"--snapshots {snapshots} is a file: give a folder")

        # The source first: a missing camera is reported before a model is downloaded.
        frames = open_source(spec, realtime=realtime, limit=max_frames)
        try:
            translator = Translator.from_pretrained(model, device=device, half=half)
            engine = ModelEngine(translator, to, source_attrs=source_attrs)
            if headless and cycle_every is None and len(engine) > 1:  # the model's default targets
                raise UsageError(_NO_KEYS.format(count=len(engine)))
            display = HeadlessDisplay() if headless else WindowDisplay(f"stargan webcam - {spec.describe()}")
            width, height = frames.size
            dtype = str(translator.dtype).replace("torch.", "")
            err_console.print(
                f"{spec.describe()}: {width}x{height} at {frames.fps:.0f} fps"
                f"{', dropping frames when behind' if frames.realtime else ', every frame'} · "
                f"model {translator.config.image_size} px on {translator.device} ({dtype}) · "
                f"{len(engine)} target(s)" + (f", the next every {cycle_every} frames" if cycle_every and len(engine) > 1 else ""),
                highlight=False,
            )
            if not headless:
                err_console.print(KEY_HELP, highlight=False)
            elif spec.live and max_frames is None:
                err_console.print("running until Ctrl-C (or use --max-frames N)", highlight=False)
            options = WebcamOptions(
                detect_every=detect_every, paste_back=not no_paste, paste_mode=paste, max_frames=max_frames,
                output=output, snapshots=snapshots, cycle_every=cycle_every,
            )
            with _file_progress(frames, max_frames) as advance:
                stats = run_webcam(
                    frames, engine, options, display=display, on_frame=advance,
                    log=lambda message: err_console.print(message, highlight=False),
                )
        finally:
            frames.close()
        summary = stats.summary()
        console.print(summary[0].upper() + summary[1:], highlight=False)
        if stats.output is not None:
            console.print(f"Recorded {stats.output} ({stats.frames_written} frames)", highlight=False)
        if stats.snapshots:
            saved = len(stats.snapshots) // 2
            console.print(f"Saved {saved} snapshot(s) in {stats.snapshots[0].parent}", highlight=False)


_NO_KEYS = (
    "{count} targets and no window to pick one with keys: give a single --to, or --cycle-every N "
    "to go through them every N frames"
)


@contextmanager
def _file_progress(frames, max_frames: int | None) -> Iterator[Callable[..., None] | None]:
    """For a video file, a bar (or plain lines in a log) of the frames processed; the
    ``on_frame`` callback that moves it. Nothing for a live source, which has no end."""
    if frames.spec.live:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from ..progress import make_progress

    total = frames.length
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    progress = make_progress(
        err_console, TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), unit="frames", transient=True,
    )
    with progress:
        task = progress.add_task("Translating frames", total=total)
        # Counted in frames of the file: one processed, plus those dropped just before it.
        yield lambda result: progress.advance(task, 1 + result.skipped)
