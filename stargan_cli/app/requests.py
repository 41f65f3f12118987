"""Every field of the app's JSON requests, checked for type and range before any work.

A request is a JSON object; each endpoint reads its fields through the functions here, which
answer a wrong type or an out-of-range value with a StarganError (HTTP 400) naming the field,
so that no odd value (a list, ``null``, ``Infinity``, a string) reaches the model code.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from ..errors import StarganError

MAX_JSON_BYTES = 64 * 1024
MAX_FACE = 10_000
MAX_NAME_CHARS = 200
MAX_ATTRIBUTES = 1024


def parse_json(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (an empty body: ``{}``); NaN and Infinity, which
    Python's parser would take, are refused like any other invalid JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        data = json.loads(body or b"{}", parse_constant=refuse)
    except (ValueError, RecursionError):
        raise StarganError("the request is not valid JSON") from None
    if not isinstance(data, dict):
        raise StarganError("the request must be a JSON object")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def photo_id(data: Mapping[str, Any]) -> str:
    """``image``: the id an upload answered with."""
    value = data.get("image")
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARS:
        raise StarganError("image must be the id of an uploaded photo (a string): upload a photo first")
    return value


def model_name(data: Mapping[str, Any]) -> str | None:
    """``model``: a model's name, or absent/null for the default."""
    value = data.get("model")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise StarganError("model must be the name of one of the models offered (a string) or null")
    return value or None


def face_number(data: Mapping[str, Any]) -> int | None:
    """``face``: a face number from 1, or absent/null for the whole photo as one face."""
    value = data.get("face")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_FACE:
        raise StarganError("face must be a face number (1 = the leftmost) or null")
    return value


def strength(data: Mapping[str, Any]) -> float:
    """``strength``: the intensity, a number from 0 to 1 (default 1)."""
    value = data.get("strength", 1.0)
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise StarganError("strength (the intensity) must be a number between 0 and 1")
    return float(value)


def attribute_values(data: Mapping[str, Any], key: str) -> dict[str, float] | None:
    """``source`` or ``to``: an object of attribute name -> number from 0 to 1 (true/false
    count as 1/0), or absent/null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_ATTRIBUTES:
        raise StarganError(f"{key} must be an object of attribute: value")
    checked = {}
    for name, number in value.items():
        if isinstance(number, bool):
            number = float(number)
        if not _is_number(number) or not 0.0 <= number <= 1.0:
            raise StarganError(f"{key} values must be numbers from 0 to 1 (not {json.dumps(number)[:40]} for {name[:60]})")
        checked[name[:MAX_NAME_CHARS]] = float(number)
    return checked


__all__ = [
    "MAX_JSON_BYTES", "attribute_values", "face_number", "model_name", "parse_json", "photo_id", "strength",
]
