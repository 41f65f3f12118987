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
running G) goes through :class:`stargan_cli.translate.Translator`; this module only decides
what to compute and how to lay it out.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from PIL import Image, ImageColor, ImageDraw, ImageFont

from .attributes import CELEBA_ATTRIBUTES, HAIR_COLORS, resolve_attribute, split_names
from .errors import StarganError

if TYPE_CHECKING:
    import torch

    from .checkpoints import Checkpoint
    from .translate import Translator

RGB = tuple[int, int, int]
Progress = Callable[[int, int], None]

SHEET_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
ANIMATION_FORMATS = {".gif": "GIF", ".webp": "WEBP"}
ANIMATION_MODES = ("back", "chain")
INPUT_HEADER = "input"
MIN_FONT = 8
JPEG_MAX_SIDE = 65_500


# ---- colours and text ---------------------------------------------------------------------


def parse_color(text: str | Sequence[int]) -> RGB:
    """An RGB triple from a colour name (``white``), ``#rrggbb`` or ``R,G,B`` text."""
    if not isinstance(text, str):
        values = tuple(int(v) for v in text)
        if len(values) != 3 or not all(0 <= v <= 255 for v in values):
            raise StarganError(f"bad colour {text!r}: give three values 0-255")
        return values  # type: ignore[return-value]
    value = text.strip()
    if re.fullmatch(r"\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}", value):
        return parse_color([int(v) for v in value.split(",")])
    try:
        rgb = ImageColor.getrgb(value)
    except ValueError:
        raise StarganError(
            f"unknown colour {text!r}: use a name (white, black, gray), #rrggbb or R,G,B"
        ) from None
    return tuple(rgb[:3])  # type: ignore[return-value]


def text_color(background: RGB) -> RGB:
    """Black on light backgrounds, white on dark ones."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b >= 128 else (255, 255, 255)


def mark_color(background: RGB) -> RGB:
    """The grey used for blank-cell marks: a third of the way from background to text colour."""
    fg = text_color(background)
    return tuple(round(b + (f - b) * 0.35) for b, f in zip(background, fg))  # type: ignore[return-value]


_fonts: dict[int, Any] = {}


def load_font(size: int):
    """Pillow's bundled scalable font at ``size`` px (Pillow >= 10.1), else its bitmap font."""
    size = max(1, int(size))
    if size not in _fonts:
        try:
            _fonts[size] = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: fixed-size bitmap font only
            _fonts[size] = ImageFont.load_default()
    return _fonts[size]


def text_width(font, text: str) -> int:
    """Rendered width of one line."""
    if not text:
        return 0
    left, _, right, _ = font.getbbox(text)
    return int(math.ceil(right - min(left, 0)))


def line_height(font) -> int:
    """Height of one line of text (ascent + descent), plus a little leading."""
    try:
        ascent, descent = font.getmetrics()
    except AttributeError:
        _, top, _, bottom = font.getbbox("Ag")
        ascent, descent = bottom - top, 0
    return int(ascent + descent + max(1, (ascent + descent) // 8))


def _break_points(word: str) -> list[str]:
    """Split a long token after ``_``, ``+`` or ``=`` (attribute names), keeping the separators."""
    return [p for p in re.split(r"(?<=[_+=])", word) if p]


def wrap_text(text: str, font, max_width: int) -> list[str]:
    """Greedy word wrap of ``text`` (``\\n`` forces a break) to lines of at most ``max_width``.

    Words wider than ``max_width`` are broken after ``_``/``+``/``=``; a piece still too wide
    stays on its own line (see :func:`fit_lines`, which then shrinks or shortens it).
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        pieces: list[tuple[str, bool]] = []  # (piece, starts a new word)
        for word in paragraph.split():
            parts = [word] if text_width(font, word) <= max_width else _break_points(word)
            pieces += [(part, i == 0) for i, part in enumerate(parts)]
        for piece, new_word in pieces:
            candidate = (current + (" " if new_word and current else "") + piece) if current else piece
            if not current or text_width(font, candidate) <= max_width:
                current = candidate
            else:
                lines.append(current)
                current = piece
        lines.append(current)
    return lines


def ellipsize(text: str, font, max_width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``max_width``."""
    if text_width(font, text) <= max_width:
        return text
    while text and text_width(font, text + "…") > max_width:
        text = text[:-1]
    return text + "…" if text else ""


def fit_lines(text: str, size: int, max_width: int, max_lines: int) -> tuple[Any, list[str]]:
    """Font and lines for ``text`` in a box ``max_width`` wide of at most ``max_lines`` lines.

    Tries the wrapped text at ``size``, then smaller sizes down to 8 px; if it still does not
    fit, the lines are cut to ``max_lines`` and shortened with an ellipsis.
    """
    for trial in range(int(size), MIN_FONT - 1, -1):
        font = load_font(trial)
        lines = wrap_text(text, font, max_width)
        if len(lines) <= max_lines and all(text_width(font, line) <= max_width for line in lines):
            return font, lines
    font = load_font(min(int(size), MIN_FONT))
    lines = wrap_text(text, font, max_width)[:max_lines]
    return font, [ellipsize(line, font, max_width) for line in lines]


# ---- layout ---------------------------------------------------------------------------------


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
        if self.cell_size < 8:
            raise StarganError(f"--cell-size must be at least 8 px, not {self.cell_size}")
        if self.padding < 0:
            raise StarganError(f"--padding must be 0 or more, not {self.padding}")
        if self.font_size is not None and self.font_size < MIN_FONT:
            raise StarganError(f"--font-size must be at least {MIN_FONT}, not {self.font_size}")

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
        layout.title_height = line_height(font) + pad
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
        text = ellipsize(layout.title, font, max(1, layout.width - 2 * pad))
        draw.text((pad, pad), text, fill=fg, font=font)
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


# ---- columns: what each translation asks for ------------------------------------------------


def exclusive_block_start(config) -> int:
    """Index of the first exclusive domain in a model's attributes (as the Translator splits them)."""
    if config.label_mode == "multi":
        return len(config.attributes)
    if config.label_mode == "single":
        return 0
    return int(config.joint_split)


@dataclass(frozen=True)
class Column:
    """One target column of a sheet.

    Either ``domain`` (a default column: the model's single-domain target for that attribute,
    as the original's test grid: a hair colour or exclusive domain set on, anything else
    flipped relative to the row's own attributes) or ``targets`` (an explicit ``--to``:
    attribute values applied on top of the row's attributes, hair colours kept exclusive).
    """

    name: str
    domain: str | None = None
    targets: tuple[tuple[str, float], ...] = ()

    @property
    def attributes(self) -> tuple[str, ...]:
        """Attributes a model must know to produce this column."""
        return (self.domain,) if self.domain is not None else tuple(a for a, _ in self.targets)

    def supported(self, translator: "Translator") -> bool:
        """Whether ``translator``'s model can produce this column."""
        attrs = translator.attributes
        if self.domain is not None:
            return self.domain in attrs and _default_header(translator.config, self.domain) == self.name
        return all(a in attrs for a in self.attributes)

    def label(self, translator: "Translator", source_label: Sequence[float]) -> list[float] | None:
        """The generator label (``c_dim`` long) for a row with ``source_label``; None if unsupported."""
        if not self.supported(translator):
            return None
        if self.domain is not None:
            return dict(translator.domain_targets(source_label))[self.domain]
        targets = translator.parse_targets([f"{a}={v:g}" for a, v in self.targets])
        return translator.target_label(source_label, targets)


def _default_header(config, attribute: str) -> str:
    index = list(config.attributes).index(attribute)
    if attribute in HAIR_COLORS or index >= exclusive_block_start(config):
        return attribute
    return f"{attribute} (flip)"


def default_columns(configs: Sequence[Any]) -> list[Column]:
    """Every model's single-domain targets, merged in first-seen order (one column per name)."""
    columns: dict[str, Column] = {}
    for config in configs:
        for attribute in config.attributes:
            name = _default_header(config, attribute)
            columns.setdefault(name, Column(name=name, domain=attribute))
    return list(columns.values())


def _format_value(value: float) -> str:
    return f"{value:g}"


def parse_columns(values: Sequence[str], attributes: Sequence[Sequence[str]]) -> list[Column]:
    """``--to`` values as columns: commas and repeats separate columns, ``+`` combines targets
    in one column (``Blond_Hair+Young=0``). Names are resolved against every model's
    attributes (did-you-mean on typos); each must be known to at least one model."""
    known = list(dict.fromkeys(a for attrs in attributes for a in attrs))
    pool = list(dict.fromkeys([*known, *CELEBA_ATTRIBUTES]))
    columns: list[Column] = []
    for item in split_names(values):
        targets: dict[str, float] = {}
        for part in item.split("+"):
            raw_name, sep, raw_value = part.strip().partition("=")
            if not raw_name.strip():
                raise StarganError(f"bad target {item!r}: write ATTR, ATTR=0 or ATTR1+ATTR2=0")
            value = 1.0
            if sep:
                try:
                    value = float(raw_value)
                except ValueError:
                    raise StarganError(f"bad target {part!r}: write ATTR, ATTR=1 or ATTR=0") from None
            name = resolve_attribute(raw_name, pool)
            if name not in known:
                raise StarganError(f"no model was trained on {name}: they know {', '.join(known)}")
            targets[name] = value
        header = "+".join(a if v == 1 else f"{a}={_format_value(v)}" for a, v in targets.items())
        if any(c.name == header for c in columns):
            raise StarganError(f"target {header} is listed twice")
        columns.append(Column(name=header, targets=tuple(targets.items())))
    if not columns:
        raise StarganError("no target given: use --to ATTR, e.g. --to Blond_Hair")
    return columns


# ---- model labels ----------------------------------------------------------------------------

# Training settings shown in row labels: (key in the stored train config, label).
_TRAIN_KEYS = (
    ("batch_size", "bs"), ("g_lr", "lr_g"), ("d_lr", "lr_d"), ("n_critic", "n_critic"),
    ("lambda_cls", "l_cls"), ("lambda_rec", "l_rec"), ("lambda_gp", "l_gp"),
    ("lr_schedule", "sched"), ("precision", "prec"), ("iters", "iters"),
)
_TRAIN_MARKERS = {"batch_size", "g_lr", "d_lr"}


def _short_number(value: Any) -> str:
    """``16``, ``200k``, ``5e-4``, ``0.5``: compact numbers for labels."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if float(value).is_integer():
        number = int(value)
        return f"{number // 1000}k" if number >= 1000 and number % 1000 == 0 else str(number)
    if abs(value) < 1e-2:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}"


def train_config_of(checkpoint: "Checkpoint") -> dict[str, Any] | None:
    """The training settings stored with a checkpoint, if any (looked for in ``meta`` and
    ``training``, under ``train``/``train_config``/``config`` or at the top level)."""
    places: list[Any] = []
    for holder in (checkpoint.meta, checkpoint.training):
        if isinstance(holder, Mapping):
            places += [holder.get("train"), holder.get("train_config"), holder.get("config"), holder]
    for place in places:
        if isinstance(place, Mapping) and _TRAIN_MARKERS & set(place):
            return dict(place)
    return None


def model_settings(checkpoint: "Checkpoint") -> dict[str, str]:
    """Key settings of a model, label -> text, in display order.

    From the model config: size (``128px``), norm, loss; from the stored training config (when
    the checkpoint was trained here): batch size, learning rates, critic steps, loss weights,
    schedule, precision; and the training step. Norm and loss show their value alone.
    """
    config = checkpoint.config
    out: dict[str, str] = {
        "size": f"{config.image_size}px", "norm": config.norm, "loss": config.loss,
        "attrs": f"{len(config.attributes)} attrs",
    }
    train = train_config_of(checkpoint) or {}
    for key, label in _TRAIN_KEYS:
        if train.get(key) is not None:
            out[label] = f"{label}={_short_number(train[key])}"
    if checkpoint.step:
        out["step"] = f"step={_short_number(int(checkpoint.step))}"
    return out


def model_labels(names: Sequence[str], settings: Sequence[Mapping[str, str]]) -> list[str]:
    """Row label of each model: its name, then (second line) the settings that differ between
    the models (all of them for a single model)."""
    labels = []
    for name, own in zip(names, settings):
        if len(settings) == 1:
            shown = list(own.values())
        else:
            shown = [v for k, v in own.items() if any(other.get(k) != v for other in settings)]
        labels.append(name + ("\n" + " ".join(shown) if shown else ""))
    return labels


def model_display_names(specs: Sequence[str], paths: Sequence[Path]) -> list[str]:
    """Short unique names for models.

    A model name stays as given; a file is named by its stem, except a training run's
    ``final.pt`` (the run folder's name) and ``checkpoints/NNNNNN.pt`` (``RUN@STEP``). Names
    that still repeat get their parent folders until they differ (``a/model``, ``b/model``).
    """
    names = []
    for spec, path in zip(specs, paths):
        if not ("/" in spec or "\\" in spec or Path(spec).suffix):
            names.append(spec)
            continue
        path = Path(spec)
        run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        if path.stem == "final" and run.name:
            names.append(run.name)
        elif path.stem.isdigit() and run.name:
            names.append(f"{run.name}@{int(path.stem)}")
        else:
            names.append(path.stem)
    for depth in (1, 2, 3):
        counts = {n: names.count(n) for n in names}
        if all(c == 1 for c in counts.values()):
            break
        names = [
            "/".join(Path(p).with_suffix("").parts[-(depth + 1):]) if counts[n] > 1 else n
            for n, p in zip(names, specs)
        ]
    return names


# ---- models and inputs ------------------------------------------------------------------------


@dataclass
class GridModel:
    """A loaded model on a sheet: the Translator that runs it and its row label."""

    name: str
    translator: "Translator"
    label: str = ""
    checkpoint: "Checkpoint | None" = None

    @property
    def image_size(self) -> int:
        """Side of the model's squares."""
        return self.translator.image_size


def load_models(
    specs: Sequence[str],
    device: "torch.device | str | None" = None,
    *,
    half: bool = True,
    download: bool = True,
    quiet: bool = False,
) -> list[GridModel]:
    """Load each ``--model`` (name, checkpoint or official ``NNNNNN-G.ckpt``) with its label."""
    from .checkpoints import load_checkpoint
    from .devices import select_device
    from .model_store import resolve_model
    from .translate import Translator

    if not specs:
        specs = [None]  # type: ignore[list-item]
    device = select_device(device) if not hasattr(device, "type") else device
    paths, checkpoints = [], []
    for spec in specs:
        path = resolve_model(spec, download=download, quiet=quiet)
        paths.append(path)
        checkpoints.append(load_checkpoint(path))
    shown = [str(s) if s is not None else p.stem for s, p in zip(specs, paths)]
    names = model_display_names(shown, paths)
    labels = model_labels(names, [model_settings(c) for c in checkpoints])
    return [
        GridModel(name=n, translator=Translator(c, device=device, half=half), label=l, checkpoint=c)
        for n, c, l in zip(names, checkpoints, labels)
    ]


def models_from_translators(
    translators: Sequence["Translator"], names: Sequence[str] | None = None
) -> list[GridModel]:
    """GridModels for Translators already in memory (library use and tests)."""
    names = list(names) if names is not None else [f"model {i + 1}" for i in range(len(translators))]
    return [GridModel(name=n, translator=t, label=n) for n, t in zip(names, translators)]


@dataclass
class GridInput:
    """One input face, prepared for every model.

    ``crops[m]`` is the model-size square model ``m`` sees (exactly the Translator's
    preprocessing), ``sources[m]`` its 0/1 source label over that model's attributes.
    """

    name: str
    crops: list[Image.Image]
    sources: list[list[float]] = field(default_factory=list)


def _prepare(translator: "Translator", item: Any, detect: bool, face: int | None):
    # Translator.prepare is the public name asked for; _prepare is what exists today.
    prepare = getattr(translator, "prepare", None) or translator._prepare
    return prepare(item, detect, face)


def source_names(text: str | None, models: Sequence[GridModel]) -> list[str] | None:
    """``--source-attrs`` checked against every model (did-you-mean on typos)."""
    if text is None:
        return None
    names = split_names(text)
    if [n.lower() for n in names] == ["none"]:
        return []
    pool = list(dict.fromkeys([*(a for m in models for a in m.translator.attributes), *CELEBA_ATTRIBUTES]))
    return [resolve_attribute(n, pool) for n in names]


def _source_for(translator: "Translator", names: Sequence[str]) -> list[float]:
    return [1.0 if a in names else 0.0 for a in translator.attributes]


def estimate_sources(translator: "Translator", crops: Sequence[Image.Image], batch_size: int) -> list[list[float]]:
    """0/1 source labels of model-size squares, from the model's discriminator."""
    import torch

    from .images import normalize, pil_to_uint8

    labels: list[list[float]] = []
    for start in range(0, len(crops), batch_size):
        x = torch.stack([normalize(pil_to_uint8(c)) for c in crops[start : start + batch_size]])
        labels += [translator.label_from_scores(p) for p in translator.classify(x).tolist()]
    return labels


def file_inputs(
    models: Sequence[GridModel],
    files: Sequence[str | os.PathLike],
    *,
    detect: bool = True,
    face: int | None = None,
    source: str | None = None,
    batch_size: int = 16,
) -> tuple[list[GridInput], list[str]]:
    """Prepare image files for every model: faces found and framed (or the whole image with
    ``detect=False``), one GridInput per face. Returns the inputs and one message per file
    that gave nothing (unreadable, no face)."""
    names = source_names(source, models)
    if names is None:
        for m in models:
            if not m.translator.has_classifier:
                from .translate import NO_CLASSIFIER

                raise StarganError(f"{m.name}: {NO_CLASSIFIER}")
    inputs: list[GridInput] = []
    problems: list[str] = []
    for path in files:
        prepared = [_prepare(m.translator, path, detect, face) for m in models]
        bad = next((r for r in prepared if not r.ok), None)
        if bad is not None:
            problems.append(bad.error or f"{path} could not be read")
            continue
        counts = {len(r.faces) for r in prepared}
        if len(counts) != 1:  # detection is deterministic; this would be a bug, not a user error
            raise RuntimeError(f"{path}: models found different numbers of faces {counts}")
        stem = Path(str(path)).name
        several = len(prepared[0].faces) > 1
        for k in range(len(prepared[0].faces)):
            number = prepared[0].faces[k].number
            label = f"{stem} #{number}" if several or face is not None else stem
            inputs.append(GridInput(name=label, crops=[r.faces[k].crop for r in prepared]))
    for m_index, m in enumerate(models):
        crops = [i.crops[m_index] for i in inputs]
        if names is not None:
            sources = [_source_for(m.translator, names)] * len(crops)
        else:
            sources = estimate_sources(m.translator, crops, batch_size) if crops else []
        for item, label in zip(inputs, sources):
            item.sources.append(list(label))
    return inputs, problems


class _Recorder:
    """Wraps a dataset so the indices that :func:`data.sample_batch` actually used are known
    (it returns images and labels only). Fetches one item at a time to see which were readable."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self.used: list[int] = []

    def __len__(self) -> int:
        return len(self.dataset)

    def fetch(self, indices: Sequence[int]):
        import torch

        from .data import fetch_batch

        images, labels, skipped = [], [], 0
        for i in indices:
            got, lab, miss = fetch_batch(self.dataset, [int(i)])
            if got is None or not len(got):
                skipped += 1
                continue
            images.append(got)
            labels.append(lab)
            self.used.append(int(i))
        if not images:
            return None, None, skipped
        return torch.cat(images), torch.cat(labels), skipped


def dataset_inputs(
    models: Sequence[GridModel],
    *,
    dataset: str = "celeba",
    root: str | os.PathLike | None = None,
    split: str = "test",
    n: int = 16,
    seed: int = 1234,
    quiet: bool = True,
    batch_size: int = 16,
) -> list[GridInput]:
    """``n`` held-out (``split="test"``) or training images of an installed dataset, the same
    ones for every model (a seeded choice: same seed, same images). Source labels come from
    the dataset's attribute file; attributes it does not have (folder domains) are estimated
    by the model's discriminator."""
    from .data import load_celeba, sample_batch

    if dataset != "celeba":
        raise StarganError(f"--dataset must be celeba, not {dataset!r}")
    if split not in ("test", "train"):
        raise StarganError(f"--split must be test or train, not {split!r}")
    if n < 1:
        raise StarganError("--n must be at least 1")
    attrs = list(dict.fromkeys(a for m in models for a in m.translator.attributes if a in CELEBA_ATTRIBUTES))
    if not attrs:
        raise StarganError("--dataset celeba needs models trained on CelebA attributes")
    by_size: dict[int, tuple[list[str], Any, Any]] = {}
    chosen: list[str] | None = None
    for size in dict.fromkeys(m.image_size for m in models):
        # The file pipeline, not the cache: the choice must not depend on whether (or at which
        # sizes) a cache was built, and only n images are decoded.
        source = load_celeba(root, attrs, size, use_cache=False, build_cache=False, quiet=quiet)
        data = source.test if split == "test" else source.train
        if len(data) == 0:
            raise StarganError(f"the CelebA {split} set is empty ({source.split})")
        recorder = _Recorder(data)
        images, labels = sample_batch(recorder, n, seed)
        files = [str(data.files[i]) if hasattr(data, "files") else f"#{i}" for i in recorder.used]
        if chosen is None:
            chosen = files
        elif files != chosen:
            raise RuntimeError("dataset sampling differs between image sizes")
        by_size[size] = (files, images, labels)
    assert chosen is not None
    inputs = [GridInput(name=Path(f).name, crops=[]) for f in chosen]
    for m in models:
        files, images, labels = by_size[m.image_size]
        attributes = m.translator.attributes
        known = [a for a in attributes if a in attrs]
        for k, item in enumerate(inputs):
            item.crops.append(Image.fromarray(images[k].permute(1, 2, 0).numpy()))
        if len(known) == len(attributes):
            sources = [[float(labels[k, attrs.index(a)]) for a in attributes] for k in range(len(inputs))]
        else:
            estimated = estimate_sources(m.translator, [i.crops[-1] for i in inputs], batch_size)
            sources = [
                [float(labels[k, attrs.index(a)]) if a in attrs else est[j] for j, a in enumerate(attributes)]
                for k, est in enumerate(estimated)
            ]
        for item, label in zip(inputs, sources):
            item.sources.append(label)
    return inputs


# ---- running the models ----------------------------------------------------------------------


def _generate(translator: "Translator", crops: Sequence[Image.Image], labels: Sequence[Sequence[float]]) -> list[Image.Image]:
    import torch

    from .images import normalize, pil_to_uint8, tensor_to_pil

    x = torch.stack([normalize(pil_to_uint8(c)) for c in crops])
    out = translator.generate(x, torch.tensor([list(l) for l in labels], dtype=torch.float32))
    return [tensor_to_pil(t) for t in out]


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
        raise StarganError("--batch-size must be at least 1")
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
            images = _generate(model.translator, [inputs[i].crops[m_index] for i, _, _ in chunk], [j[2] for j in chunk])
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
    """The largest model size: no model's output is shrunk."""
    return max(m.image_size for m in models)


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
    data = translate_cells(models, inputs, columns, batch_size=batch_size, progress=progress)
    return render_sheet(
        data.cells, style, data.column_labels, data.row_labels, title=data.title, group_size=data.group_size
    )


# ---- animations --------------------------------------------------------------------------------


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
        raise StarganError("--frames must be at least 1")
    if mode not in ANIMATION_MODES:
        raise StarganError(f"--gif-mode must be one of {', '.join(ANIMATION_MODES)}, not {mode!r}")
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
    height = line_height(font) + 2 * pad + bar
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
    own label (``target_label`` with no change) and a target label. Frames are ``cell_size``
    squares, with a caption strip when ``style.labels``.
    """
    translator = model.translator
    source = item.sources[m_index]
    start_label = translator.target_label(source, {})
    usable = [c for c in columns if c.supported(translator)]
    targets = [c.label(translator, source) for c in usable]
    schedule = animation_schedule(len(targets), frames, mode)
    ends = {-1: start_label, **dict(enumerate(targets))}
    labels = [interpolate(ends[s.start], ends[s.end], s.t) for s in schedule]
    style = style or SheetStyle(cell_size=model.image_size, labels=False)
    images: list[Image.Image] = []
    for start in range(0, len(labels), batch_size):
        chunk = labels[start : start + batch_size]
        images += _generate(translator, [item.crops[m_index]] * len(chunk), chunk)
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


def save_animation(
    frames: Sequence[tuple[Image.Image, bool]], path: str | os.PathLike, *, frame_ms: int = 80, hold: int = 4
) -> Path:
    """Write frames as a looping animated GIF or WebP (by extension), atomically.

    Each frame lasts ``frame_ms``; hold frames (input and targets) ``hold`` times longer.
    """
    from .checkpoints import atomic_write

    path = Path(path)
    fmt = ANIMATION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StarganError(f"cannot write an animation to {path.name}: use a .gif or .webp name")
    if frame_ms < 1:
        raise StarganError("--frame-ms must be at least 1")
    images = [f.convert("RGB") for f, _ in frames]
    durations = [frame_ms * (hold if h else 1) for _, h in frames]
    options: dict[str, Any] = {"save_all": True, "append_images": images[1:], "duration": durations, "loop": 0}
    if fmt == "WEBP":
        options.update(lossless=False, quality=90)
    else:
        options.update(optimize=False, disposal=1)
    return atomic_write(path, lambda tmp: images[0].save(tmp, format=fmt, **options))


def animation_paths(
    output: str | os.PathLike, inputs: Sequence[GridInput], models: Sequence[GridModel]
) -> list[tuple[int, int, Path]]:
    """``(input index, model index, path)`` of every animation.

    One input and one model: ``output`` itself. Otherwise ``STEM-NN-INPUT[-MODEL]SUFFIX``
    beside it (NN: 1-based input number; the model name only with several models).
    """
    output = Path(output)
    if len(inputs) == 1 and len(models) == 1:
        return [(0, 0, output)]
    width = max(2, len(str(len(inputs))))
    out = []
    for i, item in enumerate(inputs):
        for m, model in enumerate(models):
            parts = [output.stem, f"{i + 1:0{width}d}", _slug(Path(item.name).stem)]
            if len(models) > 1:
                parts.append(_slug(model.name))
            out.append((i, m, output.with_name("-".join(p for p in parts if p) + output.suffix)))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+]+", "_", text).strip("_.")


def check_output(path: str | os.PathLike, formats: Mapping[str, str], overwrite: bool) -> Path:
    """Refuse an unknown extension, or an existing file without ``overwrite``."""
    path = Path(path)
    if path.suffix.lower() not in formats:
        raise StarganError(f"-o {path}: name a {' or '.join(formats)} file")
    if path.is_dir():
        raise StarganError(f"-o {path} is a folder: name a file")
    if path.exists() and not overwrite:
        raise StarganError(f"{path} exists: pass --overwrite to replace it")
    return path


def save_sheet(sheet: Image.Image, path: str | os.PathLike, *, quality: int = 95) -> Path:
    """Write a sheet atomically as PNG or JPEG (by extension)."""
    from .checkpoints import atomic_write

    path = Path(path)
    fmt = SHEET_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StarganError(f"cannot write a sheet to {path.name}: use a .png or .jpg name")
    if fmt == "JPEG" and max(sheet.size) > JPEG_MAX_SIDE:
        raise StarganError(
            f"the sheet is {sheet.size[0]}x{sheet.size[1]} pixels, too large for JPEG "
            f"(at most {JPEG_MAX_SIDE} per side): write a .png, or use fewer images or a smaller --cell-size"
        )
    options = {"quality": quality} if fmt == "JPEG" else {}
    return atomic_write(path, lambda tmp: sheet.save(tmp, format=fmt, **options))


__all__ = [
    "Column", "FrameStep", "GridInput", "GridModel", "SheetData", "SheetLayout", "SheetStyle",
    "animation_frames", "animation_paths", "animation_schedule", "check_output", "dataset_inputs",
    "default_cell_size", "default_columns", "file_inputs", "frame_count", "load_models",
    "make_sheet", "model_labels", "model_settings", "models_from_translators", "parse_color",
    "parse_columns", "plan_layout", "render_sheet", "save_animation", "save_sheet",
    "translate_cells",
]
