"""Label-interpolation animations: the frame schedule, the interpolated labels, the frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from PIL import Image, ImageDraw

from ..errors import UsageError
from .columns import INPUT_HEADER, Column
from .files import save_animation
from .inputs import GridInput
from .layout import SheetStyle, check_sheet_fits, fit_cell
from .models import GridModel
from .sheet import Progress
from .text import fit_lines, line_height, load_font, mark_color, text_color, text_width

ANIMATION_MODES = ("back", "chain")


@dataclass(frozen=True)
class FrameStep:
    """One animation frame: the label is ``(1 - t) * start + t * end``; ``start``/``end`` index
    the targets, -1 meaning the input's own label. ``hold`` frames (input and targets
    reached) are shown longer."""

    start: int
    end: int
    t: float
    hold: bool = False


def animation_schedule(n_targets: int, frames: int, mode: str = "back") -> list[FrameStep]:
    """The frames of an animation through ``n_targets`` targets, ``frames`` steps per move.

    ``back``: input -> target 1 -> input -> target 2 -> ... (loops): ``2 * frames * n_targets``
    frames. ``chain``: input -> target 1 -> target 2 -> ... -> last target -> input:
    ``frames * (n_targets + 1)`` frames. Each move shows its start, not its end (the next move
    starts there), so a looping GIF never shows a frame twice in a row.
    """
    if frames < 1:
        raise UsageError("--frames must be at least 1")
    if mode not in ANIMATION_MODES:
        raise UsageError(f"--gif-mode must be one of {', '.join(ANIMATION_MODES)}, not {mode!r}")
    if n_targets < 1:
        return [FrameStep(-1, -1, 0.0, True)]
    if mode == "back":
        moves = [m for k in range(n_targets) for m in ((-1, k), (k, -1))]
    else:
        stops = [-1, *range(n_targets), -1]
        moves = list(zip(stops[:-1], stops[1:]))
    return [FrameStep(a, b, i / frames, hold=(i == 0)) for a, b in moves for i in range(frames)]


def frame_count(n_targets: int, frames: int, mode: str = "back") -> int:
    """``len(animation_schedule(...))``: ``2*F*T`` (back) or ``F*(T+1)`` (chain)."""
    if n_targets < 1:
        return 1
    return 2 * frames * n_targets if mode == "back" else frames * (n_targets + 1)


def interpolate(a: Sequence[float], b: Sequence[float], t: float) -> list[float]:
    """``(1 - t) * a + t * b``."""
    return [(1 - t) * x + t * y for x, y in zip(a, b)]


def _caption(frame: Image.Image, text: str, t: float, style: SheetStyle) -> Image.Image:
    """Frame with a strip below: the target being moved to and a bar showing how far."""
    pad = style.text_pad
    font, lines = fit_lines(text, style.text_size, frame.size[0] - 2 * pad, 1)
    bar = max(2, style.text_size // 5)
    # The strip's height comes from the full-size font, not from the one shrunk to fit this
    # caption: every frame of an animation must have the same size.
    height = line_height(load_font(style.text_size)) + 2 * pad + bar
    out = Image.new("RGB", (frame.size[0], frame.size[1] + height), style.background)
    out.paste(frame, (0, 0))
    draw = ImageDraw.Draw(out)
    fg = text_color(style.background)
    line = lines[0] if lines else ""
    draw.text(((frame.size[0] - text_width(font, line)) // 2, frame.size[1] + pad), line, fill=fg, font=font)
    y = out.size[1] - bar
    draw.rectangle((0, y, frame.size[0] - 1, out.size[1] - 1), fill=mark_color(style.background))
    if t > 0:
        draw.rectangle((0, y, max(0, round(t * frame.size[0]) - 1), out.size[1] - 1), fill=fg)
    return out


def animation_frames(
    model: GridModel,
    item: GridInput,
    m_index: int,
    columns: Sequence[Column],
    *,
    frames: int = 8,
    mode: str = "back",
    style: SheetStyle | None = None,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> list[tuple[Image.Image, bool]]:
    """The frames of one input's animation with one model: ``(image, hold)`` pairs.

    Targets are the columns the model supports; each frame's label interpolates the input's
    own label (:meth:`LabelLayout.start_label <stargan_cli.label_layout.LabelLayout.start_label>`)
    and a target label. Frames are ``cell_size``
    squares, with a caption strip when ``style.labels``.
    """
    translator = model.translator
    source = item.sources[m_index]
    start_label = translator.layout.start_label(source)
    usable = [c for c in columns if c.supported(translator)]
    targets = [c.label(translator, source) for c in usable]
    schedule = animation_schedule(len(targets), frames, mode)
    ends = {-1: start_label, **dict(enumerate(targets))}
    labels = [interpolate(ends[s.start], ends[s.end], s.t) for s in schedule]
    style = style or SheetStyle(cell_size=model.image_size, labels=False)
    check_sheet_fits(style.cell_size, style.cell_size, pictures=len(schedule))
    images: list[Image.Image] = []
    for start in range(0, len(labels), batch_size):
        chunk = labels[start : start + batch_size]
        images += translator.generate_squares([item.crops[m_index]] * len(chunk), chunk)
        if progress is not None:
            progress(len(images), len(labels))
    out = []
    for step, image in zip(schedule, images):
        frame = fit_cell(image, style.cell_size)
        if style.labels:
            toward = step.end if step.end >= 0 else step.start
            name = usable[toward].name if toward >= 0 else INPUT_HEADER
            t = step.t if step.end >= 0 else 1 - step.t
            if step.start == -1 and step.end == -1:
                t = 0.0
            frame = _caption(frame, name, t, style)
        out.append((frame, step.hold))
    return out


def write_animations(
    plan: Sequence[tuple[int, int, Path]],
    models: Sequence[GridModel],
    inputs: Sequence[GridInput],
    columns: Sequence[Column],
    *,
    frames: int = 8,
    mode: str = "back",
    style: SheetStyle | None = None,
    frame_ms: int = 80,
    batch_size: int = 16,
    written: Callable[[Path, int], None] | None = None,
) -> None:
    """Compute and save every animation of ``plan`` (``(input index, model index, path)``, see
    :func:`~stargan_cli.grid.files.animation_plan`); ``written(path, frame count)`` after each."""
    for i, m, path in plan:
        frames_out = animation_frames(
            models[m], inputs[i], m, columns, frames=frames, mode=mode, style=style, batch_size=batch_size,
        )
        save_animation(frames_out, path, frame_ms=frame_ms)
        if written is not None:
            written(path, len(frames_out))
