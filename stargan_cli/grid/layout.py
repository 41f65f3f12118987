"""Sheet geometry and drawing: where every cell and label goes, and the picture itself.

See :mod:`stargan_cli.grid` for the layout formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from PIL import Image, ImageDraw

from ..checkpoints import CONFIG_LIMITS
from ..errors import UsageError
from ..memory import check_fits
from .text import (
    MIN_FONT, RGB, ellipsize, fit_lines, line_height, load_font, mark_color, text_color, text_width, wrap_text,
)


# A long title wraps onto at most this many lines (the last one shortened with an ellipsis).
TITLE_LINES = 4
# Upper bounds of the style's sizes: a cell as large as the largest model, fonts and gaps far
# past any real sheet. What the whole sheet needs is checked against memory (check_sheet_fits).
MAX_CELL = CONFIG_LIMITS["image_size"][1]
MAX_PADDING = 1024
MAX_FONT = 512
# Bytes a sheet takes per pixel at its peak: the RGB picture and its encoded copy, with room.
_SHEET_BYTES_PER_PIXEL = 9


def check_sheet_fits(width: int, height: int, pictures: int = 1) -> None:
    """Refuse, in one line and before anything is drawn, ``pictures`` sheets (animation frames)
    of ``width`` x ``height`` that would not fit in the machine's memory."""
    what = f"a {width}x{height} sheet" + (f" x {pictures} frames" if pictures > 1 else "")
    check_fits(_SHEET_BYTES_PER_PIXEL * width * height * pictures, what,
               "use fewer images, a smaller --cell-size or --padding, or --no-labels")


@dataclass(frozen=True)
class SheetStyle:
    """How a sheet looks.

    ``cell_size``: side of every cell (outputs are resized to it). ``padding``: space between
    cells and around the grid. ``labels``: draw column headers, row labels and a title.
    ``font_size``: text size (default ``clamp(cell_size // 10, 10, 22)``).
    """

    cell_size: int
    padding: int = 2
    background: RGB = (255, 255, 255)
    labels: bool = True
    font_size: int | None = None

    def __post_init__(self) -> None:
        if not 8 <= self.cell_size <= MAX_CELL:
            raise UsageError(f"--cell-size must be between 8 and {MAX_CELL} px, not {self.cell_size}")
        if not 0 <= self.padding <= MAX_PADDING:
            raise UsageError(f"--padding must be between 0 and {MAX_PADDING} px, not {self.padding}")
        if self.font_size is not None and not MIN_FONT <= self.font_size <= MAX_FONT:
            raise UsageError(f"--font-size must be between {MIN_FONT} and {MAX_FONT}, not {self.font_size}")

    @property
    def text_size(self) -> int:
        """The font size in use."""
        return self.font_size or max(10, min(22, self.cell_size // 10))

    @property
    def text_pad(self) -> int:
        """Space around text blocks."""
        return max(2, self.text_size // 3)


@dataclass
class SheetLayout:
    """Where everything goes on a sheet; see the module docstring for the formulas."""

    rows: int
    columns: int
    style: SheetStyle
    group_size: int = 1
    left: int = 0  # row-label margin
    top: int = 0  # title + header margin
    title_height: int = 0
    header_font: Any = None
    headers: list[list[str]] = field(default_factory=list)  # wrapped lines per column
    header_fonts: list[Any] = field(default_factory=list)
    row_font: Any = None
    row_lines: list[list[str]] = field(default_factory=list)
    title: str | None = None
    title_lines: list[str] = field(default_factory=list)  # the title wrapped to the sheet's width

    @property
    def group_gap(self) -> int:
        """Extra space between groups of rows (one group per input with several models)."""
        return self.style.padding if self.group_size > 1 else 0

    @property
    def groups(self) -> int:
        """Number of row groups."""
        return max(1, math.ceil(self.rows / self.group_size))

    @property
    def width(self) -> int:
        """Sheet width."""
        s, p = self.style.cell_size, self.style.padding
        return self.left + p + self.columns * (s + p)

    @property
    def height(self) -> int:
        """Sheet height."""
        s, p = self.style.cell_size, self.style.padding
        return self.top + p + self.rows * (s + p) + (self.groups - 1) * self.group_gap

    def cell_origin(self, row: int, column: int) -> tuple[int, int]:
        """(left, top) of cell ``(row, column)``."""
        s, p = self.style.cell_size, self.style.padding
        x = self.left + p + column * (s + p)
        y = self.top + p + row * (s + p) + (row // self.group_size) * self.group_gap
        return x, y


def plan_layout(
    rows: int,
    columns: int,
    style: SheetStyle,
    column_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    group_size: int = 1,
) -> SheetLayout:
    """Work out the margins and wrapped text of a sheet (nothing is drawn)."""
    if rows < 1 or columns < 1:
        raise ValueError("a sheet needs at least one row and one column")
    layout = SheetLayout(rows=rows, columns=columns, style=style, group_size=max(1, group_size))
    if not style.labels:
        return layout
    size, pad, cell = style.text_size, style.text_pad, style.cell_size
    if column_labels:
        if len(column_labels) != columns:
            raise ValueError(f"{len(column_labels)} column labels for {columns} columns")
        fitted = [fit_lines(text, size, cell, 3) for text in column_labels]
        layout.header_fonts = [f for f, _ in fitted]
        layout.headers = [lines for _, lines in fitted]
        header_h = max(len(lines) * line_height(f) for f, lines in fitted)
        layout.top += header_h + 2 * pad
    if row_labels:
        if len(row_labels) != rows:
            raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
        font = load_font(size)
        cap = max(3 * cell, 12 * size)
        max_lines = max(1, (cell + style.padding) // line_height(font))
        wrapped = [[ellipsize(line, font, cap) for line in wrap_text(text, font, cap)][:max_lines] for text in row_labels]
        layout.row_font = font
        layout.row_lines = wrapped
        widest = max((text_width(font, line) for lines in wrapped for line in lines), default=0)
        if widest:
            layout.left = widest + 2 * pad
    if title:
        font = load_font(size)
        layout.title = title
        lines = wrap_text(title, font, max(1, layout.width - 2 * pad))
        if len(lines) > TITLE_LINES:
            lines = [*lines[: TITLE_LINES - 1], ellipsize(" ".join(lines[TITLE_LINES - 1 :]), font, layout.width - 2 * pad)]
        layout.title_lines = lines
        layout.title_height = len(lines) * line_height(font) + pad
        layout.top += layout.title_height + (0 if column_labels else pad)
    return layout


def draw_blank(draw: ImageDraw.ImageDraw, origin: tuple[int, int], style: SheetStyle) -> None:
    """Mark a cell the model cannot produce: a grey diagonal cross (and ``n/a`` with labels)."""
    x, y = origin
    s = style.cell_size
    color = mark_color(style.background)
    width = max(1, s // 64)
    inset = max(2, s // 8)
    draw.line([(x + inset, y + inset), (x + s - 1 - inset, y + s - 1 - inset)], fill=color, width=width)
    draw.line([(x + inset, y + s - 1 - inset), (x + s - 1 - inset, y + inset)], fill=color, width=width)
    if style.labels:
        font = load_font(style.text_size)
        w, h = text_width(font, "n/a"), line_height(font)
        box = (x + (s - w) // 2 - 2, y + (s - h) // 2 - 1, x + (s + w) // 2 + 2, y + (s + h) // 2 + 1)
        draw.rectangle(box, fill=style.background)
        draw.text((x + (s - w) // 2, y + (s - h) // 2), "n/a", fill=color, font=font)


def fit_cell(image: Image.Image, size: int) -> Image.Image:
    """``image`` as an RGB ``size`` x ``size`` cell (resized with Lanczos when needed)."""
    image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.LANCZOS)
    return image


def render_sheet(
    cells: Sequence[Sequence[Image.Image | None]],
    style: SheetStyle,
    column_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    group_size: int = 1,
) -> Image.Image:
    """Draw a sheet: ``cells[r][c]`` is a PIL image (resized to the cell size) or ``None``
    (blank, marked). Labels are drawn only when ``style.labels``."""
    rows = len(cells)
    columns = max((len(r) for r in cells), default=0)
    layout = plan_layout(rows, columns, style, column_labels, row_labels, title, group_size)
    check_sheet_fits(layout.width, layout.height)
    sheet = Image.new("RGB", (layout.width, layout.height), style.background)
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(cells):
        for c in range(columns):
            cell = row[c] if c < len(row) else None
            origin = layout.cell_origin(r, c)
            if cell is None:
                draw_blank(draw, origin, style)
            else:
                sheet.paste(fit_cell(cell, style.cell_size), origin)
    if style.labels:
        _draw_labels(draw, layout)
    return sheet


def _draw_labels(draw: ImageDraw.ImageDraw, layout: SheetLayout) -> None:
    style = layout.style
    fg, pad, s = text_color(style.background), style.text_pad, style.cell_size
    if layout.title:
        font = load_font(style.text_size)
        for i, line in enumerate(layout.title_lines):
            draw.text((pad, pad + i * line_height(font)), line, fill=fg, font=font)
    for c, (font, lines) in enumerate(zip(layout.header_fonts, layout.headers)):
        x0, y0 = layout.cell_origin(0, c)
        lh = line_height(font)
        y = y0 - style.padding - pad - len(lines) * lh
        for line in lines:
            draw.text((x0 + (s - text_width(font, line)) // 2, y), line, fill=fg, font=font)
            y += lh
    if layout.row_font is not None:
        font = layout.row_font
        lh = line_height(font)
        for r, lines in enumerate(layout.row_lines):
            _, y0 = layout.cell_origin(r, 0)
            y = y0 + (s - len(lines) * lh) // 2
            for line in lines:
                draw.text((pad, y), line, fill=fg, font=font)
                y += lh
