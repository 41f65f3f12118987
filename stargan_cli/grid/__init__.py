"""Comparison sheets and label-interpolation animations (what ``stargan grid`` draws).

A sheet is a table of square cells. Columns are the input then one translation per target;
rows are input faces, and with several models one row per face per model, grouped by face
(face1/model A, face1/model B, face2/model A, ...), so the same input lines up across models.

Layout (all sizes in pixels; ``S`` = cell size, ``p`` = padding, ``g`` = group gap)::

    cell (r, c) left = L + p + c * (S + p)
    cell (r, c) top  = T + p + r * (S + p) + (r // group_size) * g
    width  = L + p + columns * (S + p)
    height = T + p + rows * (S + p) + (groups - 1) * g

``L``/``T`` are the row-label and header margins (0 with ``labels=False``), ``g`` is ``p``
when rows are grouped (several models) and 0 otherwise. With ``p = 0`` and no labels the sheet
is exactly the original StarGAN test grid. Cells a model cannot produce (a target attribute it
was not trained on) are left as background with a grey diagonal cross.

Everything that touches the model (preprocessing, face framing, source attributes, labels,
running G) goes through :class:`stargan_cli.translate.Translator`; this package only decides
what to compute and how to lay it out:

- :mod:`.text`: colours, fonts, measuring and wrapping text;
- :mod:`.layout`: :class:`SheetStyle`, :class:`SheetLayout` and drawing a sheet from its cells;
- :mod:`.columns`: the target columns (defaults or ``--to``);
- :mod:`.models`: loading the models, their names and row labels;
- :mod:`.inputs`: the input faces (image files or dataset images) with their source labels;
- :mod:`.sheet`: running the models for every cell and drawing the sheet; one translation's
  strip (:func:`result_strip`, ``translate --all``'s NAME.all.png);
- :mod:`.animation`: label-interpolation animations, computed and written;
- :mod:`.files`: output names and atomic saving of sheets and animations.

Every public name is importable from ``stargan_cli.grid`` itself.
"""

from .animation import (
    ANIMATION_MODES, FrameStep, animation_frames, animation_schedule, frame_count, interpolate, write_animations,
)
from .columns import INPUT_HEADER, Column, default_columns, parse_columns
from .files import (
    ANIMATION_FORMATS, JPEG_MAX_SIDE, SHEET_FORMATS, animation_paths, animation_plan, check_output, save_animation,
    save_sheet,
)
from .inputs import GridInput, dataset_inputs, file_inputs, source_names
from .layout import SheetLayout, SheetStyle, draw_blank, fit_cell, plan_layout, render_sheet
from .models import (
    GridModel, load_models, model_labels, model_settings, models_from_translators,
    train_config_of,
)
from .sheet import STRIP_CELL, SheetData, count_jobs, default_cell_size, make_sheet, result_strip, translate_cells
from .text import (
    MIN_FONT, RGB, ellipsize, fit_lines, line_height, load_font, mark_color, parse_color, text_color, text_width,
    wrap_text,
)

__all__ = [
    "Column", "FrameStep", "GridInput", "GridModel", "STRIP_CELL", "SheetData", "SheetLayout", "SheetStyle",
    "animation_frames", "animation_paths", "animation_plan", "animation_schedule", "check_output", "dataset_inputs",
    "default_cell_size", "default_columns", "file_inputs", "frame_count", "load_models",
    "make_sheet", "model_labels", "model_settings", "models_from_translators", "parse_color",
    "parse_columns", "plan_layout", "render_sheet", "result_strip", "save_animation", "save_sheet",
    "translate_cells", "write_animations",
]
