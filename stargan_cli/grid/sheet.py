"""A comparison sheet: run every model on every input for every column, then draw the table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from PIL import Image

from ..errors import StarganError, UsageError
from .columns import INPUT_HEADER, Column, default_columns
from .inputs import GridInput
from .layout import SheetStyle, check_sheet_fits, plan_layout, render_sheet
from .models import GridModel
from .text import RGB, parse_color

if TYPE_CHECKING:
    from ..photos.pipeline import TranslationResult

Progress = Callable[[int, int], None]  # called with (done, total)
# Smallest default cell side of what people look at: the ``--all`` strip (NAME.all.png), grid
# sheets and animations. A 64 or 128 px model's squares are enlarged to stay readable.
STRIP_CELL = 256


def count_jobs(models: Sequence[GridModel], inputs: Sequence[GridInput], columns: Sequence[Column]) -> int:
    """Number of generator outputs a sheet needs (for progress bars)."""
    return sum(len(inputs) for m in models for c in columns if c.supported(m.translator))


@dataclass
class SheetData:
    """What a sheet shows, before drawing: cells, headers and row labels, rows in sheet order."""

    cells: list[list[Image.Image | None]]
    column_labels: list[str]
    row_labels: list[str]
    group_size: int
    title: str | None = None


def result_strip(result: "TranslationResult", style: SheetStyle | None = None) -> Image.Image:
    """One translation as a strip: input | each target, one row per face (like the original's
    test grid), with the columns labelled (and the rows, with several faces). The default
    ``style`` draws cells of at least :data:`STRIP_CELL` pixels, so that small models stay
    readable. ``stargan translate --all`` writes it as NAME.all.png; the app shows it."""
    if not result.faces:
        raise ValueError("no faces to show")
    side = result.faces[0].crop.size[0]
    style = style or SheetStyle(cell_size=max(side, STRIP_CELL))
    cells = [[face.crop, *(face.outputs[t] for t in result.targets)] for face in result.faces]
    rows = [f"face {face.number}" for face in result.faces] if len(result.faces) > 1 else None
    return render_sheet(cells, style, column_labels=["input", *result.targets], row_labels=rows)


def translate_cells(
    models: Sequence[GridModel],
    inputs: Sequence[GridInput],
    columns: Sequence[Column],
    *,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> SheetData:
    """Run every model on every input for every column it supports, in batches of
    ``batch_size`` on the models' devices. Rows: input 1/model 1, input 1/model 2, ..."""
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if not inputs:
        raise StarganError("no input to put on the sheet")
    total = count_jobs(models, inputs, columns)
    done = 0
    outputs: dict[tuple[int, int, int], Image.Image] = {}
    for m_index, model in enumerate(models):
        jobs = []
        for i_index, item in enumerate(inputs):
            for c_index, column in enumerate(columns):
                label = column.label(model.translator, item.sources[m_index])
                if label is not None:
                    jobs.append((i_index, c_index, label))
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            images = model.translator.generate_squares(
                [inputs[i].crops[m_index] for i, _, _ in chunk], [j[2] for j in chunk]
            )
            for (i_index, c_index, _), image in zip(chunk, images):
                outputs[(i_index, m_index, c_index)] = image
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    cells: list[list[Image.Image | None]] = []
    row_labels: list[str] = []
    several = len(models) > 1
    for i_index, item in enumerate(inputs):
        for m_index, model in enumerate(models):
            row: list[Image.Image | None] = [item.crops[m_index]]
            row += [outputs.get((i_index, m_index, c)) for c in range(len(columns))]
            cells.append(row)
            row_labels.append(f"{model.label}\n{item.name}" if several else item.name)
    title = None if several else models[0].label.replace("\n", ": ", 1)
    return SheetData(
        cells=cells, column_labels=[INPUT_HEADER, *(c.name for c in columns)], row_labels=row_labels,
        group_size=len(models), title=title,
    )


def default_cell_size(models: Sequence[GridModel]) -> int:
    """The largest model size (no model's output is shrunk), and at least
    :data:`STRIP_CELL` (small models' squares are enlarged, as in ``translate --all``'s strip)."""
    return max(STRIP_CELL, *(m.image_size for m in models))


def make_sheet(
    models: Sequence[GridModel],
    inputs: Sequence[GridInput],
    columns: Sequence[Column] | None = None,
    *,
    cell_size: int | None = None,
    padding: int = 2,
    background: str | RGB = "white",
    labels: bool = True,
    font_size: int | None = None,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> Image.Image:
    """The whole comparison sheet as one PIL image (see the module docstring for the layout).

    ``columns`` default to :func:`default_columns` of the models.
    """
    if columns is None:
        columns = default_columns([m.translator.config for m in models])
    style = SheetStyle(
        cell_size=cell_size or default_cell_size(models), padding=padding,
        background=parse_color(background), labels=labels, font_size=font_size,
    )
    bare = plan_layout(max(1, len(inputs) * len(models)), len(columns) + 1, style)  # labels only add to it
    check_sheet_fits(bare.width, bare.height)
    data = translate_cells(models, inputs, columns, batch_size=batch_size, progress=progress)
    return render_sheet(
        data.cells, style, data.column_labels, data.row_labels, title=data.title, group_size=data.group_size
    )
