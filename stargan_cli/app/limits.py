"""The app's limits and defaults, in one place for the server and `stargan app`'s options.

Kept free of imports so the command line can show them without loading the app.
"""

from __future__ import annotations

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
WORK_PIXELS = 6_000_000
DECODE_AT_ONCE = 2
DEFAULT_MEMORY_MB = 1024
DEFAULT_KEEP_MINUTES = 60

__all__ = [
    "DECODE_AT_ONCE", "DEFAULT_KEEP_MINUTES", "DEFAULT_MEMORY_MB", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS",
    "WORK_PIXELS",
]
