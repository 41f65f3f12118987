"""Downloading and installing the assets of :mod:`stargan_cli.registry`.

:func:`fetch` streams a URL into ``<downloads_dir>/<file>.part`` with a progress bar, resumes
an interrupted transfer with an HTTP ``Range`` request, retries with exponential back-off,
refuses web pages posing as files, checks size and sha256 where known, and only then moves the
file into place. :func:`install` fetches (or takes ``--from`` a local file), unpacks safely,
checks the expected files, converts checkpoints into our format and moves the result into the
cache; after a failure nothing is left but the ``.part`` of an interrupted transfer, which the
next run resumes. Only the standard library speaks HTTP (``urllib.request``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__, archive, paths
from .errors import StarganError
from .fileio import atomic_write, publish, writing
from .locks import LOCK_SUFFIX, Lock
from .registry import Asset, get_asset, names

OFFLINE_ENV = "STARGAN_OFFLINE"
USER_AGENT = f"stargan/{__version__} (StarGAN CLI; Python urllib)"
PART_SUFFIX = ".part"
LOCK_WAIT: float | None = None  # seconds to wait for another process's download of an asset; None: until it ends
_CHUNK = 1 << 16
_CHECKPOINT_SUFFIXES = (".ckpt", ".pth", ".pt")


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


# --- HTTP -------------------------------------------------------------------------------------


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
    validator_file = _validator_path(part)
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


def _validator_path(part: Path) -> Path:
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


def fetch(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    name: str,
    size: int | None = None,
    sha256: str | None = None,
    quiet: bool = False,
    policy: RetryPolicy | None = None,
) -> Path:
    """Download the first of ``urls`` that works into ``dest`` and return it.

    The transfer goes to ``dest + ".part"``, is resumed from there, and is moved onto ``dest``
    only after :func:`verify_file` passed (a failed check deletes it). ``name`` is the asset
    name used in error messages. Network failures end in one StarganError naming ``--from``
    and ``--url``.
    """
    return _fetch(urls, dest, name=name, size=size, sha256=sha256, quiet=quiet, policy=policy)[0]


def _fetch(urls: Sequence[str], dest: str | os.PathLike, **options: Any) -> tuple[Path, str]:
    """:func:`fetch`, also returning the address that worked."""
    part = Path(dest).with_name(Path(dest).name + PART_SUFFIX)
    try:
        return _fetch_into(urls, dest, **options)
    finally:
        if not part.exists():  # finished or dropped: the version it came from goes with it
            _validator_path(part).unlink(missing_ok=True)


def _fetch_into(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    name: str,
    size: int | None = None,
    sha256: str | None = None,
    quiet: bool = False,
    policy: RetryPolicy | None = None,
) -> tuple[Path, str]:
    dest = Path(dest)
    urls = [u for u in urls if u]
    if not urls:
        raise StarganError(f"no address is known for {name}: {manual_hint(name, None)}")
    if is_offline():
        raise _offline_error(name, urls[0])
    policy = policy or DEFAULT_POLICY
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + PART_SUFFIX)
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


# --- installing -------------------------------------------------------------------------------


@dataclass
class InstallResult:
    """What :func:`install` did: the installed paths, whether they were there already, and the
    files of a collection that were left out (with the reason)."""

    asset: Asset
    paths: list[Path]
    already: bool = False
    skipped: list[str] = field(default_factory=list)


def install(
    name: str,
    *,
    url: str | None = None,
    from_file: str | os.PathLike | None = None,
    force: bool = False,
    quiet: bool = False,
    policy: RetryPolicy | None = None,
    max_bytes: int = archive.DEFAULT_MAX_BYTES,
    max_entries: int = archive.DEFAULT_MAX_ENTRIES,
) -> InstallResult:
    """Install the registered asset ``name`` into the cache and return what was installed.

    Downloads from the registry's addresses, from ``url`` (a mirror) or takes ``from_file`` (an
    archive or file downloaded by hand); the same checks and conversion apply to all three.
    An installed asset is left alone unless ``force``. The downloaded archive is deleted once
    installed; after a failure nothing new is left in the cache.
    """
    asset = get_asset(name)
    if url and from_file:
        raise StarganError("use either --url or --from, not both")
    if asset.is_bundled:
        if url or from_file:
            raise StarganError(f"{asset.name} ships with the package: there is nothing to download (drop --url/--from)")
        if not asset.is_installed():
            raise StarganError(f"{asset.target()} is missing from the package: reinstall stargan")
        return InstallResult(asset, asset.installed_paths(), already=True)
    if asset.is_installed() and not force:
        return InstallResult(asset, asset.installed_paths(), already=True)
    with _asset_lock(asset, quiet):
        if asset.is_installed() and not force:  # another process installed it while we waited
            return InstallResult(asset, asset.installed_paths(), already=True)
        return _install(asset, url=url, from_file=from_file, quiet=quiet, policy=policy,
                        max_bytes=max_bytes, max_entries=max_entries)


def _asset_lock(asset: Asset, quiet: bool) -> Lock:
    """Hold ``asset``'s lock (its ``.part``, unpack folder and target are one process's at a
    time); while another process holds it, wait, saying so once unless ``quiet``."""

    def waiting(pid: int | None) -> None:
        if not quiet:
            from rich.console import Console

            who = f"PID {pid}" if pid is not None else "another process"
            Console(stderr=True).print(
                f"Waiting for another stargan process ({who}) that is installing {asset.name}...",
                highlight=False,
            )

    lock = Lock(paths.downloads_dir() / (asset.filename + LOCK_SUFFIX), f"the download of {asset.name}")
    return lock.acquire(wait=LOCK_WAIT, on_wait=waiting)


def _install(
    asset: Asset, *, url: str | None, from_file: str | os.PathLike | None, quiet: bool,
    policy: RetryPolicy | None, max_bytes: int, max_entries: int,
) -> InstallResult:
    name = asset.name
    limits = {"max_bytes": max_bytes, "max_entries": max_entries}
    if from_file is not None:
        source = Path(from_file).expanduser()
        if source.is_dir():
            source = _file_in_folder(asset, source)
        if not source.is_file():
            raise StarganError(f"--from {source}: no such file")
        if asset.install == "official" and _is_official_generator_file(source):
            # The unpacked release: NNNNNN-G.ckpt itself, with its -D.ckpt beside it.
            meta = {"asset": asset.name, "downloaded_from": str(source.resolve()), "licence": asset.licence}
            return InstallResult(asset, [_convert_official(asset, source, asset.target(create=True), meta)])
        verify_file(source, size=asset.size, sha256=asset.sha256, name=asset.name)
        return _install_from(asset, source, str(source.resolve()), owned=False, **limits)
    urls = [url] if url else list(asset.urls)
    downloaded, used = _fetch(
        urls, paths.downloads_dir() / asset.filename, name=asset.name, size=asset.size,
        sha256=asset.sha256, quiet=quiet, policy=policy,
    )
    try:
        return _install_from(asset, downloaded, used, owned=True, **limits)
    finally:
        downloaded.unlink(missing_ok=True)


def _file_in_folder(asset: Asset, folder: Path) -> Path:
    """What to install from ``--from FOLDER``: the official generator inside an unpacked model
    release; otherwise a StarganError that says what to pass instead."""
    if asset.install == "official":
        from .legacy import official_step

        found = [p for p in folder.rglob("*-G.ckpt") if _is_official_generator_file(p)]
        if found:
            return max(found, key=lambda p: (official_step(p), str(p)))
        raise StarganError(f"--from {folder} is a folder without an official NNNNNN-G.ckpt: "
                           "pass the downloaded .zip or the -G.ckpt file")
    if asset.install == "dataset":
        from .data.celeba import find_attribute_file

        try:
            find_attribute_file(folder)
            what = "holds an unpacked CelebA"
        except StarganError:
            what = "is a folder"
        raise StarganError(
            f"--from takes the downloaded archive, and {folder} {what}: an unpacked CelebA needs no "
            f"install, use it where it is with --data, e.g. `stargan train --data {folder}` "
            "(eval and grid take --data too)"
        )
    raise StarganError(f"--from {folder} is a folder: pass the downloaded file itself")


def _install_from(
    asset: Asset, source: Path, origin: str, *, owned: bool, max_bytes: int, max_entries: int
) -> InstallResult:
    if not asset.is_archive:
        return InstallResult(asset, [_place_file(source, asset.target(create=True), move=owned)])
    target = asset.target(create=True)
    parent = target if asset.install == "collection" else target.parent
    _sweep_stale(parent, asset.name)
    tmp = archive.extract_to_temp(
        source, parent, max_bytes=max_bytes, max_entries=max_entries, prefix=f".{asset.name}"
    )
    try:
        if asset.install == "dataset":
            return InstallResult(asset, [_install_dataset(asset, tmp, source)])
        missing = _missing(tmp, asset.expected)
        if missing:
            raise _structure_error(asset, source, missing)
        meta = {"asset": asset.name, "downloaded_from": origin, "licence": asset.licence}
        if asset.install == "official":
            return InstallResult(asset, [_install_official(asset, tmp, target, meta)])
        result = _install_collection(asset, tmp, source, meta)
        result.skipped = [_in_archive(note, tmp, source) for note in result.skipped]
        return result
    except StarganError as err:
        raise StarganError(_in_archive(str(err), tmp, source)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _in_archive(message: str, tmp: Path, source: Path) -> str:
    """``message`` with paths inside the temporary unpack folder named as ``archive:entry``."""
    return message.replace(f"{tmp}{os.sep}", f"{source.name}:")


def _sweep_stale(parent: Path, name: str) -> None:
    """Remove temporary folders an earlier, killed run of this asset left in ``parent``."""
    for stale in parent.glob(f".{name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def _missing(root: Path, patterns: Sequence[str]) -> list[str]:
    return [p for p in patterns if next(iter(root.glob(p)), None) is None]


def _structure_error(asset: Asset, source: Path, missing: Sequence[str]) -> StarganError:
    return StarganError(
        f"{source.name} is not the {asset.name} archive: {', '.join(missing)} not found inside; "
        "check that it is the right file"
    )


def _place_file(source: Path, dest: Path, *, move: bool) -> Path:
    """Put a verified file at ``dest`` atomically (moving our download, copying a user's file)."""
    if move:
        try:
            os.replace(source, dest)
            return dest
        except OSError:  # another file system: copy instead
            pass
    return atomic_write(dest, lambda tmp: shutil.copyfile(source, tmp))


def _install_dataset(asset: Asset, tmp: Path, source: Path) -> Path:
    # The archive may hold the files at its top or inside a folder (celeba.zip has celeba/).
    candidates = [tmp] + sorted(
        (d for d in tmp.rglob("*") if d.is_dir() and len(d.relative_to(tmp).parts) <= 3),
        key=lambda d: (len(d.relative_to(tmp).parts), str(d)),
    )
    root = next((c for c in candidates if not _missing(c, asset.expected)), None)
    if root is None:
        missing = _missing(tmp, [f"**/{p}" for p in asset.expected])
        raise _structure_error(asset, source, [m[3:] for m in missing] or asset.expected)
    if root == tmp:  # move the content, not the temporary folder itself
        root = tmp / asset.name
        root.mkdir()
        for item in list(tmp.iterdir()):
            if item != root:
                os.replace(item, root / item.name)
    target = asset.target()
    if not target.exists():
        os.replace(root, target)
        return target
    old = target.with_name(f".{asset.name}.old.{os.getpid()}.tmp")
    os.replace(target, old)
    try:
        os.replace(root, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def _is_official_generator_file(path: Path) -> bool:
    """An official ``NNNNNN-G.ckpt`` (a torch file, itself a zip, so judged by its name)."""
    from .legacy import is_official_generator_name

    return is_official_generator_name(path)


def _install_official(asset: Asset, tmp: Path, target: Path, meta: dict[str, Any]) -> Path:
    # expected[0] is the generator, expected[1] the discriminator (beside it)
    return _convert_official(asset, sorted(tmp.glob(asset.expected[0]))[0], target, meta)


def _convert_official(asset: Asset, g_path: Path, target: Path, meta: dict[str, Any]) -> Path:
    """Convert an official ``NNNNNN-G.ckpt`` (and the ``-D.ckpt`` beside it) into ``target``."""
    from . import legacy
    from .checkpoints import save_checkpoint

    checkpoint = legacy.convert_official(g_path, None, asset.attributes, asset.image_size)
    checkpoint.meta.update(meta, source=meta["downloaded_from"])
    return save_checkpoint(checkpoint, target)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _collection_stems(files: Sequence[Path], root: Path) -> list[str]:
    """Readable unique names: the folders below the common top folder, then the file stem
    (an official ``NNNNNN-G.ckpt`` is named after its folder alone)."""
    parents = [f.relative_to(root).parent.parts for f in files]
    common = 0
    if len(files) > 1:
        while all(len(p) > common for p in parents) and len({p[common] for p in parents}) == 1:
            common += 1
    elif parents and parents[0]:
        common = len(parents[0]) - 1  # a single file: keep its own folder name only
    stems: list[str] = []
    for f, parts in zip(files, parents):
        folders = list(parts[common:])
        words = folders if (_is_official_generator_file(f) and folders) else [*folders, f.stem]
        stem = _slug("-".join(words)) or "model"
        unique, n = stem, 2
        while unique in stems:
            unique, n = f"{stem}-{n}", n + 1
        stems.append(unique)
    return stems


def _install_collection(asset: Asset, tmp: Path, source: Path, meta: dict[str, Any]) -> InstallResult:
    from . import legacy
    from .checkpoints import read_state_file, save_checkpoint

    files = sorted(
        f for f in tmp.rglob("*") if f.is_file() and f.suffix.lower() in _CHECKPOINT_SUFFIXES
        and not legacy.is_official_discriminator_name(f)  # discriminators travel with their G
    )
    out_dir = tmp / ".converted"
    out_dir.mkdir()
    converted: list[Path] = []
    skipped: list[str] = []
    stems = dict(zip(files, _collection_stems(files, tmp)))
    for f in files:
        rel = f.relative_to(tmp).as_posix()
        try:
            checkpoint = legacy.convert_any(read_state_file(f), f)
        except StarganError as err:
            skipped.append(f"{rel}: {err}")
            continue
        if checkpoint is None:
            skipped.append(f"{rel}: layout not recognised")
            continue
        checkpoint.meta.update(meta, source=f"{meta['downloaded_from']}:{rel}")
        converted.append(save_checkpoint(checkpoint, out_dir / f"{asset.prefix}{stems[f]}.pt"))
    if not converted:
        raise StarganError(
            f"{source.name} holds no checkpoint this tool recognises (official StarGAN or "
            "DLIM2020 layout); check that it is the right file"
        )
    models = asset.target()
    new_names = {c.name for c in converted}
    for old in asset.installed_paths():  # a reinstall replaces the whole set
        if old.name not in new_names:
            old.unlink(missing_ok=True)
    installed = []
    for c in converted:
        os.replace(c, models / c.name)
        installed.append(models / c.name)
    return InstallResult(asset, installed, skipped=skipped)


def remove(name: str) -> list[Path]:
    """Delete what ``name`` installed and its leftover downloads; returns the removed paths."""
    asset = get_asset(name)
    if asset.is_bundled:
        raise StarganError(f"{asset.name} ships with the package and cannot be removed (pip uninstall stargan removes it)")
    removed: list[Path] = []
    for path in asset.installed_paths():
        if path.is_dir():
            # rename first so a half-deleted dataset never looks installed
            trash = path.with_name(f".{asset.name}.removing.{os.getpid()}.tmp")
            os.replace(path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    downloads = paths.downloads_dir(create=False)
    part = downloads / (asset.filename + PART_SUFFIX)
    _validator_path(part).unlink(missing_ok=True)
    for leftover in (downloads / asset.filename, part):
        if leftover.is_file():
            leftover.unlink()
            removed.append(leftover)
    return removed


@dataclass
class AssetStatus:
    """One row of ``stargan download --list``."""

    asset: Asset
    paths: list[Path]
    size: int | None  # bytes on disk when installed, else the download size when known
    partial: int | None  # bytes of an interrupted download waiting to be resumed

    @property
    def installed(self) -> bool:
        """Whether anything of the asset is in place."""
        return bool(self.paths)


def statuses(which: Sequence[str] | None = None) -> list[AssetStatus]:
    """The state of every registered asset (or of ``which``), without touching the network."""
    rows = []
    part_dir = paths.downloads_dir(create=False)
    for name in which or names():
        asset = get_asset(name)
        found = asset.installed_paths()
        size = sum(paths.disk_size(p) for p in found) if found else asset.size
        part = part_dir / (asset.filename + PART_SUFFIX)
        rows.append(AssetStatus(asset, found, size, part.stat().st_size if part.is_file() else None))
    return rows
