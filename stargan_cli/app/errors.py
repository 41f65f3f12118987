"""The app's own errors, each answered with its HTTP status by :mod:`.server`."""

from __future__ import annotations

from ..errors import StarganError


class TooLarge(StarganError):
    """An upload over the size limit (answered with HTTP 413)."""


class NotFound(StarganError):
    """An image, face, model or file id the server does not have (HTTP 404)."""


class Expired(NotFound):
    """A photo the server had, and dropped to stay within its memory or age bound (HTTP 410)."""


__all__ = ["Expired", "NotFound", "TooLarge"]
