"""HTTP transfer of one file: what :func:`stargan_cli.download.install` downloads with.

:func:`fetch` streams a URL into ``<dest>.part`` with a progress bar, resumes an interrupted
transfer with an HTTP ``Range`` request (``If-Range`` with the file's ETag or Last-Modified
date, so a file changed on the server is fetched whole again rather than spliced), retries with
exponential back-off, refuses web pages posing as files, checks size and sha256 where known,
and only then moves the file into place. :func:`download_lock` makes the download of one file
one process's at a time. Only the standard library speaks HTTP (``urllib.request``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .errors import StarganError
from .fileio import publish, writing
from .locks import LOCK_SUFFIX, Lock

OFFLINE_ENV = "STARGAN_OFFLINE"
USER_AGENT = f"stargan/{__version__} (StarGAN CLI; Python urllib)"
PART_SUFFIX = ".part"
LOCK_WAIT: float | None = None  # seconds to wait for another process's download of a file; None: until it ends
_CHUNK = 1 << 16


@dataclass(frozen=True)
class RetryPolicy:
    """How hard :func:`fetch` tries: ``attempts`` per address (reset whenever bytes arrive),
    socket ``timeout`` in seconds, and delays ``backoff * 2**n`` (at most ``max_delay``)
    passed to ``sleep``, which tests replace to run fast."""

    attempts: int = 4
    timeout: float = 30.0
    backoff: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, failure: int) -> float:
        """Seconds to wait after the ``failure``-th consecutive failure (0-based)."""
        return min(self.max_delay, self.backoff * 2**failure)


DEFAULT_POLICY = RetryPolicy()


def is_offline() -> bool:
    """Whether ``STARGAN_OFFLINE`` forbids network access."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def manual_hint(name: str, url: str | None) -> str:
    """How to install ``name`` without this tool reaching the network."""
    where = f"download {url} in a browser" if url else "download it by hand"
    return (
        f"{where} and run `stargan download {name} --from FILE`, "
        f"or use a mirror with `stargan download {name} --url URL`"
    )


def _offline_error(name: str, url: str | None) -> StarganError:
    where = f"download {url} yourself" if url else "download it yourself"
    return StarganError(
        f"{OFFLINE_ENV}=1 forbids network access and {name} is not installed: "
        f"{where} and run `stargan download {name} --from FILE`"
    )


class _Transient(Exception):
    """A failure worth retrying (connection reset, timeout, cut transfer, HTTP 5xx)."""


class _Unreachable(Exception):
    """The host cannot be reached at all (no route, refused, unknown name)."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class _Fatal(Exception):
    """A failure of this address that retrying will not fix (HTTP 404, a web page, ...)."""


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a file are a web page (what share links send by default)."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<!--"))


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(start, total)`` of a ``Content-Range`` header (``None`` where absent or ``*``)."""
    match = re.match(r"\s*bytes\s+(\*|(\d+)-\d+)/(\*|\d+)", value or "")
    if not match:
        return None, None
    start = int(match.group(2)) if match.group(2) else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, total


def _html_error(url: str) -> str:
    return (
        f"{_host(url)} sent a web page instead of the file (a share link without ?dl=1, "
        "a login or a moved file)"
    )


class _Bar:
    """A rich progress bar on stderr (bytes, rate, ETA), plain lines when stderr is not a
    terminal, or nothing when quiet."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "_Bar":
        if not self.quiet:
            from rich.console import Console
            from rich.progress import (
                BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn,
            )

            from .progress import make_progress

            self._progress = make_progress(
                Console(stderr=True), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                TransferSpeedColumn(), TimeRemainingColumn(), in_bytes=True, transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=None)
        return self

    def update(self, completed: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=completed, total=total)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def _attempt(url: str, part: Path, size: int | None, timeout: float, bar: _Bar) -> None:
    """One HTTP request continuing ``part`` (Range from its size); returns when the server
    sent everything. Raises _Transient, _Unreachable or _Fatal."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*"}
    validator_file = validator_path(part)
    if offset:
        headers["Range"] = f"bytes={offset}-"
        # The server sends the rest only if its file is still the one the partial came from,
        # else the whole new file (200), which replaces the partial instead of being spliced on.
        validator = validator_file.read_text(encoding="utf-8").strip() if validator_file.is_file() else ""
        if validator:
            headers["If-Range"] = validator
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as err:
        code, content_range = err.code, err.headers.get("Content-Range")
        err.close()
        if code == 416 and offset:
            _, total = _content_range(content_range)
            if total == offset:
                return  # the partial file is already complete
            part.unlink(missing_ok=True)  # it does not fit the server's file: start over
            raise _Transient("the partial download did not match the file on the server") from None
        if code in (408, 425, 429) or code >= 500:
            raise _Transient(f"HTTP {code}") from None
        raise _Fatal(f"{_host(url)} answered HTTP {code} {err.reason}") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, socket.gaierror):  # no DNS: offline, retrying will not help
            raise _Unreachable(f"unknown host: {reason.strerror or reason}", retry=False) from None
        if isinstance(reason, ConnectionRefusedError):
            raise _Unreachable("connection refused") from None
        if isinstance(reason, TimeoutError):
            raise _Unreachable("connection timed out") from None
        if isinstance(reason, OSError) and reason.errno in (101, 113):  # network/host unreachable
            raise _Unreachable(reason.strerror or str(reason)) from None
        raise _Transient(str(reason)) from None
    except (OSError, http.client.HTTPException) as err:  # timeouts, resets, bad status lines
        raise _Transient(str(err) or type(err).__name__) from None

    with response:
        if urllib.parse.urlsplit(response.geturl()).scheme not in ("http", "https"):
            raise _Fatal(f"{url} redirected to an unsupported address")
        if "text/html" in (response.headers.get("Content-Type") or "").lower():
            raise _Fatal(_html_error(url))
        status = response.status
        if status == 206:
            start, _ = _content_range(response.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise _Transient("the server resumed at the wrong place")
            mode = "ab"
        elif status == 200:
            mode, offset = "wb", 0  # no Range support (or no partial file): from the start
            with writing(validator_file):
                validator_file.write_text(_validator(response.headers), encoding="utf-8")
        else:
            raise _Fatal(f"{_host(url)} answered HTTP {status}")
        length_text = response.headers.get("Content-Length")
        length = int(length_text) if length_text and length_text.isdigit() else None
        total = offset + length if length is not None else size
        received = 0
        bar.update(offset, total)
        with writing(part), open(part, mode) as out:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as err:
                    raise _Transient(f"connection lost ({err or type(err).__name__})") from None
                if not chunk:
                    break
                if offset == 0 and received == 0 and looks_like_html(chunk):
                    raise _Fatal(_html_error(url))
                out.write(chunk)
                received += len(chunk)
                bar.update(offset + received, total)
        if length is not None and received < length:
            raise _Transient(f"connection closed after {offset + received} of {total} bytes")


def validator_path(part: Path) -> Path:
    """Where the ``ETag`` or ``Last-Modified`` of the file a ``.part`` came from is kept."""
    return part.with_name(part.name + ".validator")


def _validator(headers: Any) -> str:
    """The value for ``If-Range``: a strong ``ETag``, else ``Last-Modified``, else empty (the
    server names no version; size and checksum checks are all that is left)."""
    etag = (headers.get("ETag") or "").strip()
    if etag and not etag.startswith("W/"):  # If-Range takes strong validators only
        return etag
    return (headers.get("Last-Modified") or "").strip()


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, *, size: int | None, sha256: str | None, name: str) -> None:
    """Check a downloaded or given file: not a web page, size and sha256 (full or prefix)
    where known. Raises a StarganError saying what is wrong."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if looks_like_html(head):
        raise StarganError(
            f"{path.name} is a web page, not the {name} file (saved from a share link without ?dl=1?)"
        )
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise StarganError(
            f"{path.name} has {actual_size} bytes, expected {size}: it is incomplete or another file"
        )
    if sha256:
        digest = sha256_of(path)
        if not digest.startswith(sha256.lower()):
            raise StarganError(
                f"checksum mismatch for {path.name}: sha256 {digest[:16]}..., expected "
                f"{sha256[:16]}...; the file was rejected"
            )


def part_path(dest: Path) -> Path:
    """Where the download into ``dest`` is written until it is complete and checked."""
    return dest.with_name(dest.name + PART_SUFFIX)


def fetch(urls: Sequence[str], dest: str | os.PathLike, *, name: str, **options: Any) -> Path:
    """Download the first of ``urls`` that works into ``dest`` and return it: :func:`download_file`
    without the address that worked (same keyword options: ``size``, ``sha256``, ``quiet``,
    ``policy``)."""
    return download_file(urls, dest, name=name, **options)[0]


def download_file(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    name: str,
    size: int | None = None,
    sha256: str | None = None,
    quiet: bool = False,
    policy: RetryPolicy | None = None,
) -> tuple[Path, str]:
    """Download the first of ``urls`` that works into ``dest``; return it and that address.

    The transfer goes to ``dest + ".part"``, is resumed from there, and is moved onto ``dest``
    only after :func:`verify_file` passed (a failed check deletes it). ``name`` is the asset
    name used in error messages. Network failures end in one StarganError naming ``--from``
    and ``--url``. ``policy`` defaults to :data:`DEFAULT_POLICY`.
    """
    part = part_path(Path(dest))
    try:
        return _first_that_works(urls, Path(dest), name, size, sha256, quiet, policy or DEFAULT_POLICY)
    finally:
        if not part.exists():  # finished or dropped: the version it came from goes with it
            validator_path(part).unlink(missing_ok=True)


def _first_that_works(
    urls: Sequence[str], dest: Path, name: str, size: int | None, sha256: str | None, quiet: bool,
    policy: RetryPolicy,
) -> tuple[Path, str]:
    urls = [u for u in urls if u]
    if not urls:
        raise StarganError(f"no address is known for {name}: {manual_hint(name, None)}")
    if is_offline():
        raise _offline_error(name, urls[0])
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    errors: list[str] = []
    unreachable = True
    for url in urls:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            errors.append(f"{url} is not an http(s) address (use --from for a local file)")
            unreachable = False
            continue
        if url != urls[0]:
            # another address may serve another file: do not append to the last one's bytes
            part.unlink(missing_ok=True)
        failures = 0
        outcome: str | None = None
        with _Bar(name, quiet) as bar:
            high_water = part.stat().st_size if part.exists() else 0
            while True:
                if size is not None and part.exists() and part.stat().st_size >= size:
                    if part.stat().st_size > size:
                        part.unlink()
                        continue
                    outcome = "done"
                    break
                try:
                    _attempt(url, part, size, policy.timeout, bar)
                    outcome = "done"
                    break
                except _Fatal as err:
                    part.unlink(missing_ok=True)
                    errors.append(str(err))
                    unreachable = False
                    break
                except (_Transient, _Unreachable) as err:
                    if isinstance(err, _Transient):
                        unreachable = False
                    now = part.stat().st_size if part.exists() else 0
                    if now > high_water:  # a cut after progress: the retry budget restarts
                        high_water, failures = now, 0
                    failures += 1
                    if failures >= policy.attempts or (isinstance(err, _Unreachable) and not err.retry):
                        errors.append(f"{_host(url)}: {err}")
                        break
                    policy.sleep(policy.delay(failures - 1))
        if outcome == "done":
            try:
                verify_file(part, size=size, sha256=sha256, name=name)
            except StarganError as err:
                part.unlink(missing_ok=True)
                raise StarganError(f"{err}; {manual_hint(name, url)}") from None
            return publish(part, dest), url
    if unreachable:
        raise StarganError(
            f"cannot reach {_host(urls[0])} ({errors[0].split(': ', 1)[-1]}); you may be offline: "
            f"{manual_hint(name, urls[0])}"
        )
    more = f" ({len(errors) - 1} other address(es) failed too)" if len(errors) > 1 else ""
    raise StarganError(f"could not download {name}: {errors[0]}{more}; {manual_hint(name, urls[0])}")


def download_lock(dest: Path, name: str, quiet: bool) -> Lock:
    """Hold the lock of the download into ``dest`` (its ``.part``, and what its caller unpacks
    from it, are one process's at a time); while another process holds it, wait, saying once
    (unless ``quiet``) that it is installing ``name``."""

    def waiting(pid: int | None) -> None:
        if not quiet:
            from rich.console import Console

            who = f"PID {pid}" if pid is not None else "another process"
            Console(stderr=True).print(
                f"Waiting for another stargan process ({who}) that is installing {name}...",
                highlight=False,
            )

    lock = Lock(dest.with_name(dest.name + LOCK_SUFFIX), f"the download of {name}")
    return lock.acquire(wait=LOCK_WAIT, on_wait=waiting)
