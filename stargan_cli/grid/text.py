"""Colours and text on a sheet: colour parsing, Pillow's fonts, measuring, wrapping, fitting."""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from PIL import ImageColor, ImageFont

from ..errors import UsageError

RGB = tuple[int, int, int]
MIN_FONT = 8


def parse_color(text: str | Sequence[int]) -> RGB:
    """An RGB triple from a colour name (``white``), ``#rrggbb`` or ``R,G,B`` text."""
    if not isinstance(text, str):
        values = tuple(int(v) for v in text)
        if len(values) != 3 or not all(0 <= v <= 255 for v in values):
            raise UsageError(f"bad colour {text!r}: give three values 0-255")
        return values  # type: ignore[return-value]
    value = text.strip()
    if re.fullmatch(r"\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}", value):
        return parse_color([int(v) for v in value.split(",")])
    try:
        rgb = ImageColor.getrgb(value)
    except ValueError:
        raise UsageError(
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
