"""How each kind of asset is put in place once its file is here and checked.

:data:`STRATEGIES` is a table keyed by the asset's install kind (:data:`registry.INSTALL_KINDS`;
a ``bundled`` model ships with the package and is never installed): what ``--from FOLDER``
means for it, a given file installed as it is, and how the unpacked archive (or, for a plain
``file``, the file itself) becomes installed files. Archives are unpacked safely into a
temporary folder beside the target and moved into the cache only when complete; after a
failure nothing new is left there.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from . import archive
from .errors import StarganError
from .fileio import atomic_write
from .registry import Asset
from .transfer import verify_file

_CHECKPOINT_SUFFIXES = (".ckpt", ".pth", ".pt")


@dataclass
class InstallResult:
    """What :func:`stargan_cli.download.install` did: the installed paths, whether they were
    there already, and the files of a collection that were left out (with the reason)."""

    asset: Asset
    paths: list[Path]
    already: bool = False
    skipped: list[str] = field(default_factory=list)


def install_given(asset: Asset, source: Path, *, max_bytes: int, max_entries: int) -> InstallResult:
    """Install ``asset`` from ``--from source`` (a file downloaded by hand, or a folder the
    asset's kind knows how to read): the same checks and conversion as a download."""
    strategy = STRATEGIES[asset.install]
    if source.is_dir():
        source = strategy.in_folder(asset, source)
    if not source.is_file():
        raise StarganError(f"--from {source}: no such file")
    as_is = strategy.as_is(asset, source)
    if as_is is not None:
        return as_is
    verify_file(source, size=asset.size, sha256=asset.sha256, name=asset.name)
    return install_file(asset, source, str(source.resolve()), owned=False, max_bytes=max_bytes,
                        max_entries=max_entries)


def install_file(
    asset: Asset, source: Path, origin: str, *, owned: bool, max_bytes: int, max_entries: int
) -> InstallResult:
    """Install ``asset`` from its checked file ``source`` (which came from ``origin``): placed
    as it is (moved when ``owned``, else copied), or unpacked and handed to its strategy."""
    strategy = STRATEGIES[asset.install]
    if strategy.unpacked is None:
        return InstallResult(asset, [_place_file(source, asset.target(create=True), move=owned)])
    target = asset.target(create=True)
    parent = target if strategy.unpack_in_target else target.parent
    _sweep_stale(parent, asset.name)
    tmp = archive.extract_to_temp(
        source, parent, max_bytes=max_bytes, max_entries=max_entries, prefix=f".{asset.name}"
    )
    try:
        result = strategy.unpacked(asset, tmp, source, _meta(asset, origin))
        result.skipped = [_in_archive(note, tmp, source) for note in result.skipped]
        return result
    except StarganError as err:
        raise StarganError(_in_archive(str(err), tmp, source)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _meta(asset: Asset, origin: str) -> dict[str, Any]:
    """What an installed checkpoint records about where it came from."""
    return {"asset": asset.name, "downloaded_from": origin, "licence": asset.licence}


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


def _check_expected(asset: Asset, tmp: Path, source: Path) -> None:
    """Refuse an unpacked archive that lacks one of the asset's expected files."""
    missing = _missing(tmp, asset.expected)
    if missing:
        raise _structure_error(asset, source, missing)


def _place_file(source: Path, dest: Path, *, move: bool) -> Path:
    """Put a verified file at ``dest`` atomically (moving our download, copying a user's file)."""
    if move:
        try:
            os.replace(source, dest)
            return dest
        except OSError:  # another file system: copy instead
            pass
    return atomic_write(dest, lambda tmp: shutil.copyfile(source, tmp))


# --- what --from FOLDER means -------------------------------------------------------------------


def _folder_refused(asset: Asset, folder: Path) -> Path:
    raise StarganError(f"--from {folder} is a folder: pass the downloaded file itself")


def _official_in_folder(asset: Asset, folder: Path) -> Path:
    """The newest official generator inside an unpacked model release."""
    from .legacy import is_official_generator_name, official_step

    found = [p for p in folder.rglob("*-G.ckpt") if is_official_generator_name(p)]
    if found:
        return max(found, key=lambda p: (official_step(p), str(p)))
    raise StarganError(f"--from {folder} is a folder without an official NNNNNN-G.ckpt: "
                       "pass the downloaded .zip or the -G.ckpt file")


def _dataset_folder_refused(asset: Asset, folder: Path) -> Path:
    """An unpacked dataset needs no install: say how to use it where it is."""
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


# --- a given file installed as it is --------------------------------------------------------------


def _not_as_is(asset: Asset, source: Path) -> InstallResult | None:
    return None


def _official_generator_as_is(asset: Asset, source: Path) -> InstallResult | None:
    """The unpacked release's ``NNNNNN-G.ckpt`` itself (with its ``-D.ckpt`` beside it) is
    converted directly; anything else goes the archive's way."""
    from .legacy import is_official_generator_name

    if not is_official_generator_name(source):
        return None
    meta = _meta(asset, str(source.resolve()))
    return InstallResult(asset, [_convert_official(asset, source, asset.target(create=True), meta)])


# --- unpacked archives ----------------------------------------------------------------------------


def _install_dataset(asset: Asset, tmp: Path, source: Path, meta: dict[str, Any]) -> InstallResult:
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
        return InstallResult(asset, [target])
    old = target.with_name(f".{asset.name}.old.{os.getpid()}.tmp")
    os.replace(target, old)
    try:
        os.replace(root, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return InstallResult(asset, [target])


def _install_official(asset: Asset, tmp: Path, source: Path, meta: dict[str, Any]) -> InstallResult:
    _check_expected(asset, tmp, source)
    # expected[0] is the generator, expected[1] the discriminator (beside it)
    g_path = sorted(tmp.glob(asset.expected[0]))[0]
    return InstallResult(asset, [_convert_official(asset, g_path, asset.target(create=True), meta)])


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
    from .legacy import is_official_generator_name

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
        words = folders if (is_official_generator_name(f) and folders) else [*folders, f.stem]
        stem = _slug("-".join(words)) or "model"
        unique, n = stem, 2
        while unique in stems:
            unique, n = f"{stem}-{n}", n + 1
        stems.append(unique)
    return stems


def _install_collection(asset: Asset, tmp: Path, source: Path, meta: dict[str, Any]) -> InstallResult:
    from . import legacy
    from .checkpoints import read_state_file, save_checkpoint

    _check_expected(asset, tmp, source)
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


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """How one install kind puts its asset in place.

    ``unpacked(asset, folder, archive, meta)`` installs from the unpacked archive (``None``:
    the file is installed as it is); ``unpack_in_target``: the archive is unpacked inside the
    target (a collection's models folder) instead of beside it; ``in_folder`` is what
    ``--from FOLDER`` names (or a StarganError saying what to pass instead); ``as_is`` installs
    a ``--from`` file without the download checks when it is one the kind takes directly.
    """

    unpacked: Callable[[Asset, Path, Path, dict[str, Any]], InstallResult] | None
    unpack_in_target: bool = False
    in_folder: Callable[[Asset, Path], Path] = _folder_refused
    as_is: Callable[[Asset, Path], InstallResult | None] = _not_as_is


STRATEGIES: dict[str, Strategy] = {
    "dataset": Strategy(_install_dataset, in_folder=_dataset_folder_refused),
    "official": Strategy(_install_official, in_folder=_official_in_folder, as_is=_official_generator_as_is),
    "collection": Strategy(_install_collection, unpack_in_target=True),
    "file": Strategy(None),
}
