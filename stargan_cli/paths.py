"""Where stargan keeps its files.

Models and downloads live in the user cache folder, datasets and training runs in the user
data folder (both from platformdirs). Setting ``STARGAN_HOME`` moves all of them below one
folder, which is what the tests do.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "stargan"
HOME_ENV = "STARGAN_HOME"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def cache_root() -> Path:
    """Root of the cache (models, partial downloads)."""
    home = _home()
    if home is not None:
        return home / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def data_root() -> Path:
    """Root of the data folder (datasets, training runs)."""
    home = _home()
    if home is not None:
        return home / "data"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def _ensure(path: Path, create: bool) -> Path:
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir(create: bool = True) -> Path:
    """Folder of installed models (one checkpoint file per model name)."""
    return _ensure(cache_root() / "models", create)


def downloads_dir(create: bool = True) -> Path:
    """Folder of partial and finished archive downloads."""
    return _ensure(cache_root() / "downloads", create)


def preprocessed_dir(create: bool = True) -> Path:
    """Folder of the preprocessed-image caches (one subfolder per dataset and image size)."""
    return _ensure(cache_root() / "preprocessed", create)


def datasets_dir(create: bool = True) -> Path:
    """Folder of installed datasets (one subfolder per dataset name)."""
    return _ensure(data_root() / "datasets", create)


def runs_dir(create: bool = True) -> Path:
    """Default parent folder of training runs."""
    return _ensure(data_root() / "runs", create)


def studies_dir(create: bool = True) -> Path:
    """Default parent folder of studies (``stargan study NAME``)."""
    return _ensure(data_root() / "studies", create)


def all_dirs() -> dict[str, Path]:
    """Every folder by role, without creating any (for ``stargan info``)."""
    return {
        "models": models_dir(create=False),
        "downloads": downloads_dir(create=False),
        "preprocessed": preprocessed_dir(create=False),
        "datasets": datasets_dir(create=False),
        "runs": runs_dir(create=False),
        "studies": studies_dir(create=False),
    }


# The folders whose content can be made again (re-downloaded, re-built), so ``stargan cache
# clear`` may empty them; datasets and training runs are not caches.
CACHES: dict[str, str] = {
    "preprocessed": "preprocessed training images (rebuilt on the next run that needs them)",
    "downloads": "downloaded archives and partial downloads (fetched again when needed)",
    "models": "installed models and eval classifiers (downloaded or trained again when needed)",
}


def disk_size(path: Path) -> int:
    """Bytes of the file ``path``, or of every file below the folder ``path`` (0 if absent)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for item in path.rglob("*") if path.is_dir() else ():
        try:
            if item.is_file() and not item.is_symlink():
                total += item.stat().st_size
        except OSError:  # removed while we looked
            pass
    return total
