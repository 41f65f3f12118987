"""What ``--model NAME|PATH`` means: an installed or registered model name, or a file.

Registered models are downloaded on first use, as ``torch.hub`` does: a notice on stderr, a
progress bar, then the converted checkpoint in ``paths.models_dir()``.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Sequence

from . import paths, registry
from .errors import StarganError

DEFAULT_MODEL = registry.DEFAULT_MODEL
# The way around a model that cannot be downloaded, added to those errors.
OWN_MODEL_HINT = "or pass a model you trained with -m RUN/final.pt"
_PATH_SUFFIXES = (".pt", ".pth", ".ckpt")


def installed_models() -> list[tuple[str, Path]]:
    """``(name, path)`` of every usable model: those bundled with the package, then every
    checkpoint in the models folder, sorted by name."""
    bundled = [(a.name, a.target()) for a in registry.ASSETS.values() if a.is_bundled and a.target().is_file()]
    folder = paths.models_dir(create=False)
    if not folder.is_dir():
        return bundled
    names = {name for name, _ in bundled}
    return bundled + sorted(
        (p.stem, p) for p in folder.glob("*.pt")
        if p.is_file() and not p.name.startswith(".") and p.stem not in names
    )


def _installed_path(name: str) -> Path | None:
    """The installed model called ``name`` (or its lower-case form), else None."""
    for installed_name, path in installed_models():
        if installed_name == name or installed_name == name.lower():
            return path
    return None


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.startswith("~") or spec.lower().endswith(_PATH_SUFFIXES)


def _known_names() -> tuple[list[str], list[str]]:
    installed = [name for name, _ in installed_models()]
    registered = [n for n in registry.model_names() if n not in installed]
    return installed, registered


def _unknown(spec: str, lead: str) -> StarganError:
    installed, registered = _known_names()
    close = difflib.get_close_matches(spec, installed + registered, n=1, cutoff=0.6)
    hint = f" did you mean {close[0]}?" if close else ""
    listed = f"installed: {', '.join(installed) or 'none'}; downloadable: {', '.join(registered) or 'none'}"
    return StarganError(f"{lead}:{hint} {listed}")


def resolve_model(spec: str | None, *, download: bool = True, quiet: bool = False) -> Path:
    """The checkpoint file ``spec`` names.

    ``None`` means the default model (:data:`DEFAULT_MODEL`, bundled with the package). An existing file (ours or an
    official ``NNNNNN-G.ckpt``) is returned as is. An installed name gives its file; a
    registered model that is not installed yet is downloaded and converted first (unless
    ``download`` is false or ``STARGAN_OFFLINE=1``: then a StarganError says how to install
    it). ``quiet`` hides the progress bar, not the one-line notice.
    """
    name = DEFAULT_MODEL if spec is None else str(spec).strip()
    if not name:
        raise StarganError("empty --model: give a model name or a checkpoint file")
    candidate = Path(name).expanduser()
    if spec is not None and candidate.is_file():
        return candidate
    if spec is not None and candidate.is_dir():
        inside = sorted(p.name for p in candidate.iterdir() if p.suffix.lower() in _PATH_SUFFIXES)
        shown = f" (it holds {', '.join(inside[:5])})" if inside else ""
        raise StarganError(f"{candidate} is a folder: pass one checkpoint file inside it{shown}")
    installed = _installed_path(name)
    if installed is not None:
        return installed
    asset = registry.ASSETS.get(name.lower())
    if asset is not None:
        return _fetch_registered(asset, download=download, quiet=quiet)
    if _looks_like_path(name):
        raise _unknown(name, f"no such checkpoint file: {candidate}")
    raise _unknown(name, f"unknown model {name!r}")


def needs_download(spec: str | None) -> bool:
    """Whether :func:`resolve_model` would download ``spec`` (a registered model not installed
    yet), so that commands can check everything else first."""
    name = DEFAULT_MODEL if spec is None else str(spec).strip()
    if spec is not None and Path(name).expanduser().exists():
        return False
    if _installed_path(name) is not None:
        return False
    asset = registry.ASSETS.get(name.lower())
    return asset is not None and asset.is_model and not asset.target().is_file()


def known_attributes(spec: str | None) -> tuple[str, ...] | None:
    """The attributes of the model ``spec`` names when the registry knows them, so that
    ``--to`` can be checked before the model is loaded or downloaded: a registered model name,
    or None for the default model. None for files and any other name."""
    name = DEFAULT_MODEL if spec is None else str(spec).strip()
    if spec is not None and Path(name).expanduser().exists():
        return None
    asset = registry.ASSETS.get(name.lower())
    return tuple(asset.attributes) if asset is not None and asset.is_model and asset.attributes else None


def check_targets_early(to: Sequence[str] | None, spec: str | None) -> dict[str, float] | None:
    """``--to`` values checked before any model is loaded: against the model's attributes when
    the registry knows them (typos get a did-you-mean, names the model lacks an error),
    else only when every name is one of the 40 CelebA attributes (a file may hold a model of
    other domains). Returns the parsed targets, or None when that needs the model itself."""
    from .attributes import CELEBA_ATTRIBUTES, parse_targets, split_names

    if not to:
        return None
    known = known_attributes(spec)
    if known is not None:
        return parse_targets(to, known)
    celeba = {a.lower() for a in CELEBA_ATTRIBUTES}
    if all(item.partition("=")[0].strip().lower() in celeba for item in split_names(to)):
        return parse_targets(to, CELEBA_ATTRIBUTES)
    return None


def _fetch_registered(asset: registry.Asset, *, download: bool, quiet: bool) -> Path:
    from . import download as downloader
    from .transfer import OFFLINE_ENV, is_offline

    if not asset.is_model:
        if asset.install == "collection":
            members = [n for n, _ in installed_models() if n.startswith(asset.prefix)]
            what = f"use one of: {', '.join(members)}" if members else f"install it with `stargan download {asset.name}`, then use one of its models"
            raise StarganError(f"{asset.name} is a set of models, not one: {what}")
        raise StarganError(f"{asset.name} is a {asset.kind}, not a model: choose one of {', '.join(registry.model_names())}")
    target = asset.target()
    if target.is_file():
        return target
    if asset.is_bundled:
        raise StarganError(
            f"model {asset.name} should ship with the package but {target} is missing: "
            "reinstall stargan (pip install --force-reinstall stargan)"
        )
    if not download:
        raise StarganError(f"model {asset.name} is not installed: run `stargan download {asset.name}`")
    if is_offline():
        raise StarganError(
            f"model {asset.name} is not installed and {OFFLINE_ENV}=1 forbids downloading it: "
            f"get {asset.urls[0]} by hand and run `stargan download {asset.name} --from FILE`, "
            f"{OWN_MODEL_HINT}"
        )
    print(
        f'Downloading "{asset.urls[0]}" to {target} (first use of {asset.name}; {asset.licence})',
        file=sys.stderr, flush=True,
    )
    try:
        result = downloader.install(asset.name, quiet=quiet)
    except StarganError as err:
        raise StarganError(
            f"model {asset.name} is not installed and the download failed: {err}; {OWN_MODEL_HINT}"
        ) from None
    return result.paths[0]


def display_names(specs: Sequence[str]) -> list[str]:
    """Short unique names for ``--model`` values, for tables and sheets.

    A model name stays as given; a file is named by its stem, except a training run's
    ``final.pt`` (the run folder's name) and ``checkpoints/NNNNNN.pt`` (``RUN@STEP``). Names
    that still repeat get their parent folders until they differ (``a/model``, ``b/model``),
    and the same file given twice gets `` #2``, `` #3``, ...
    """
    names = []
    for spec in specs:
        if not ("/" in spec or "\\" in spec or Path(spec).suffix):
            names.append(spec)
            continue
        path = Path(spec)
        run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        if path.stem == "final" and run.name:
            names.append(run.name)
        elif path.stem.isdigit() and run.name:
            names.append(f"{run.name}@{int(path.stem)}")
        else:
            names.append(path.stem)
    for depth in (1, 2, 3):
        counts = {n: len({spec for spec, m in zip(specs, names) if m == n}) for n in names}  # distinct files
        if all(c == 1 for c in counts.values()):
            break
        names = [
            "/".join(Path(p).with_suffix("").parts[-(depth + 1):]) if counts[n] > 1 else n
            for n, p in zip(names, specs)
        ]
    unique: list[str] = []
    for name in names:
        candidate, k = name, 2
        while candidate in unique:
            candidate, k = f"{name} #{k}", k + 1
        unique.append(candidate)
    return unique
