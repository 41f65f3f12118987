"""The app's photos: decoding an upload within bounds, and keeping photos by memory and age.

What the app promises under load (the README's "Reliability" section):

- at most :data:`DECODE_AT_ONCE` uploads are decoded at a time; the others wait their turn;
- a photo is kept as a working copy of at most :data:`WORK_PIXELS` pixels (the faces are
  translated at 64 to 256 px, so a few megapixels lose nothing the model could use); JPEGs are
  decoded straight at a reduced scale, so a 40-megapixel photo never exists in memory whole;
  the page shows results at the working copy's size; the original file of a photo that was
  reduced is kept on disk (not in memory), and a download reopens it for the final paste, so
  the file a user downloads has the photo's full size;
- the photos kept use at most ``memory_bytes`` (``stargan app --memory-mb``); past it, and
  past ``max_age`` seconds unused, the least recently used photos are dropped, and a request
  for one is answered "this photo expired, upload it again".
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PIL import ExifTags, Image, UnidentifiedImageError

from ..errors import StarganError
from ..photos.pipeline import open_photo
from .errors import Expired, NotFound, TooLarge
from .limits import (
    DECODE_AT_ONCE, DEFAULT_KEEP_MINUTES, DEFAULT_MEMORY_MB, MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, WORK_PIXELS,
)

# Bytes a kept photo takes beyond its pixels: its faces' crops, results prepared for models.
_PHOTO_OVERHEAD = 2 * 1024 * 1024
# Ids of dropped photos remembered to say "expired" rather than "unknown".
_REMEMBER_EXPIRED = 100_000


def megabytes(n: float) -> str:
    """``n`` bytes as "2.5 MB", or "64 KB" below one megabyte (three significant digits)."""
    if n < 2**20:
        return f"{n / 2**10:.3g} KB"
    return f"{n / 2**20:.3g} MB"


def too_large_message(size: int | None, limit: int, what: str = "photos") -> str:
    """What the page says about an upload (or a request: ``what``) of ``size`` bytes (None:
    more than it read) over ``limit``."""
    shown = f"is {megabytes(size)}" if size is not None else f"is over {megabytes(limit)}"
    noun = "file" if what == "photos" else "request"
    return f"the {noun} {shown}; {what} up to {megabytes(limit)} are accepted"


def _reduced_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (aspect kept) to at most ``max_pixels`` pixels."""
    if width * height <= max_pixels:
        return width, height
    scale = (max_pixels / (width * height)) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


@dataclass
class Decoded:
    """An upload decoded: the RGB working copy, the photo's full size (EXIF orientation
    applied) and its file format (``"JPEG"``, ``"PNG"``, ...)."""

    image: Image.Image
    full_size: tuple[int, int]
    format: str

    @property
    def reduced(self) -> bool:
        """Whether the working copy is smaller than the photo."""
        return self.image.size != self.full_size


def decode_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS,
                  work_pixels: int = WORK_PIXELS) -> Image.Image:
    """The uploaded bytes as the RGB working copy of the photo (EXIF orientation applied, at
    most ``work_pixels`` pixels), or a StarganError that says what is wrong: empty, too many
    bytes or pixels, or not an image PIL can read."""
    return decode_photo(data, max_bytes, max_pixels, work_pixels).image


def decode_photo(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS,
                 work_pixels: int = WORK_PIXELS) -> Decoded:
    """:func:`decode_upload`, with the photo's full size and format."""
    if not data:
        raise StarganError("the upload is empty: choose a photo (JPEG, PNG, WebP or BMP)")
    if len(data) > max_bytes:
        raise TooLarge(too_large_message(len(data), max_bytes))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size  # read from the header, before decoding any pixels
            if width * height > max_pixels:
                raise TooLarge(
                    f"the photo is {width}x{height} pixels; up to {max_pixels / 1e6:.0f} megapixels are accepted"
                )
            target = _reduced_size(width, height, work_pixels)
            turned = probe.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8)  # a quarter turn
            full_size = (height, width) if turned else (width, height)
            kind = probe.format or "PNG"
            probe.draft("RGB", target)  # JPEG: decode at 1/2, 1/4 or 1/8 scale, still >= target
            probe.load()
            image = open_photo(probe)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise StarganError("that file is not an image we can read: choose a JPEG, PNG, WebP or BMP photo") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise StarganError(f"the image could not be decoded ({err}): it may be truncated or damaged") from None
    reduced = _reduced_size(image.width, image.height, work_pixels)
    if reduced != image.size:
        image = image.resize(reduced, Image.LANCZOS, reducing_gap=3.0)
    return Decoded(image, full_size, kind)


def return_free_memory() -> None:
    """Hand the memory freed by a decode or a detection back to the system (glibc only; a
    no-op elsewhere). Each of the server's worker threads allocates from its own malloc arena,
    which otherwise keeps what a large photo or the face detector used, once per thread."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


@dataclass
class Upload:
    """One photo (its working copy) and the faces found in it (left to right); ``original``:
    the uploaded file, kept on disk when the working copy is smaller than the photo, in
    ``format``; ``results``: the latest translations, for a full-size download."""

    id: str
    image: Image.Image
    name: str
    file: str
    faces: list[Any]
    prepared: dict[tuple[int, int | None], Any] = field(default_factory=dict)
    original: Path | None = None
    format: str = "PNG"
    results: OrderedDict[str, Any] = field(default_factory=OrderedDict)

    @property
    def nbytes(self) -> int:
        """About what the photo takes in memory."""
        return self.image.width * self.image.height * len(self.image.getbands()) + _PHOTO_OVERHEAD


class PhotoStore:
    """The photos kept, least recently used first, within ``memory_bytes`` and ``max_age``
    seconds since last use. ``forget(upload)`` is called for each photo dropped (to delete its
    file). Thread-safe; ``clock`` is for tests."""

    def __init__(self, memory_bytes: int, max_age: float, forget: Callable[[Upload], None] = lambda u: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.memory_bytes = memory_bytes
        self.max_age = max_age
        self._forget = forget
        self._clock = clock
        self._photos: OrderedDict[str, tuple[Upload, float]] = OrderedDict()
        self._expired: deque[str] = deque(maxlen=_REMEMBER_EXPIRED)
        self._expired_set: set[str] = set()
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes the photos kept take."""
        with self._lock:
            return sum(u.nbytes for u, _ in self._photos.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._photos)

    def add(self, upload: Upload) -> None:
        """Keep ``upload``, dropping the least recently used photos it does not fit beside."""
        if upload.nbytes > self.memory_bytes:
            raise TooLarge(
                f"the photo needs {megabytes(upload.nbytes)} of memory, more than the server keeps for all "
                f"photos ({megabytes(self.memory_bytes)}, stargan app --memory-mb)"
            )
        with self._lock:
            self._photos[upload.id] = (upload, self._clock())
            dropped = self._drop_old()
            used = sum(u.nbytes for u, _ in self._photos.values())
            while used > self.memory_bytes:
                _, (old, _) = self._photos.popitem(last=False)
                used -= old.nbytes
                dropped.append(old)
            self._remember(dropped)
        for old in dropped:
            self._forget(old)

    def get(self, photo_id: str) -> Upload:
        """The photo ``photo_id`` (now its most recent use); Expired when it was dropped,
        NotFound when it never was here."""
        with self._lock:
            dropped = self._drop_old()
            self._remember(dropped)
            entry = self._photos.get(photo_id)
            if entry is not None:
                self._photos[photo_id] = (entry[0], self._clock())
                self._photos.move_to_end(photo_id)
            expired = photo_id in self._expired_set
        for old in dropped:
            self._forget(old)
        if entry is not None:
            return entry[0]
        if expired:
            raise Expired("this photo expired, upload it again")
        raise NotFound("that photo is not on the server: upload it again")

    def clear(self) -> None:
        """Forget every photo."""
        with self._lock:
            self._photos.clear()

    def _drop_old(self) -> list[Upload]:
        """Take out the photos unused for ``max_age`` (lock held)."""
        now = self._clock()
        old = [key for key, (_, used) in self._photos.items() if now - used > self.max_age]
        return [self._photos.pop(key)[0] for key in old]

    def _remember(self, dropped: list[Upload]) -> None:
        for upload in dropped:
            if len(self._expired) == self._expired.maxlen:
                self._expired_set.discard(self._expired[0])
            self._expired.append(upload.id)
            self._expired_set.add(upload.id)


__all__ = [
    "DECODE_AT_ONCE", "DEFAULT_KEEP_MINUTES", "DEFAULT_MEMORY_MB", "Decoded", "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_PIXELS", "PhotoStore", "Upload", "WORK_PIXELS", "decode_photo", "decode_upload",
    "megabytes", "return_free_memory", "too_large_message",
]
