"""Downloading and installing the assets of :mod:`stargan_cli.registry`: the entry points.

:func:`install` fetches an asset (:mod:`stargan_cli.transfer`: resumable HTTP with retries and
checks) or takes ``--from`` a local file, then puts it in place the way its install kind says
(:mod:`stargan_cli.installers`: unpack safely, check the expected files, convert checkpoints
into our format, move the result into the cache). After a failure nothing is left but the
``.part`` of an interrupted transfer, which the next run resumes. :func:`remove` and
:func:`statuses` are ``stargan download --remove`` and ``--list``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import archive, paths
from .errors import StarganError
from .installers import InstallResult, install_file, install_given
from .registry import Asset, get_asset, names
from .transfer import RetryPolicy, download_file, download_lock, part_path, validator_path
from .transfer import fetch  # noqa: F401 (one file, no install: part of this module's API)


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
    with download_lock(paths.downloads_dir() / asset.filename, asset.name, quiet):
        if asset.is_installed() and not force:  # another process installed it while we waited
            return InstallResult(asset, asset.installed_paths(), already=True)
        return _install(asset, url=url, from_file=from_file, quiet=quiet, policy=policy,
                        max_bytes=max_bytes, max_entries=max_entries)


def _install(
    asset: Asset, *, url: str | None, from_file: str | os.PathLike | None, quiet: bool,
    policy: RetryPolicy | None, max_bytes: int, max_entries: int,
) -> InstallResult:
    limits = {"max_bytes": max_bytes, "max_entries": max_entries}
    if from_file is not None:
        return install_given(asset, Path(from_file).expanduser(), **limits)
    urls = [url] if url else list(asset.urls)
    downloaded, used = download_file(
        urls, paths.downloads_dir() / asset.filename, name=asset.name, size=asset.size,
        sha256=asset.sha256, quiet=quiet, policy=policy,
    )
    try:
        return install_file(asset, downloaded, used, owned=True, **limits)
    finally:
        downloaded.unlink(missing_ok=True)


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
    part = part_path(downloads / asset.filename)
    validator_path(part).unlink(missing_ok=True)
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
        part = part_path(part_dir / asset.filename)
        rows.append(AssetStatus(asset, found, size, part.stat().st_size if part.is_file() else None))
    return rows
