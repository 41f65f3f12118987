"""The named assets ``stargan download`` knows: where they come from and where they go.

Each :class:`Asset` names its address(es), the files the download must contain, its size and
sha256 where known, a licence note, and how it is installed (``install``):

- ``dataset``: an archive unpacked into ``paths.datasets_dir() / name``;
- ``official``: an archive holding an official ``NNNNNN-G.ckpt``/``-D.ckpt`` pair, converted
  into ``paths.models_dir() / "<name>.pt"``;
- ``collection``: an archive of foreign checkpoints; each one whose layout is recognised
  becomes ``paths.models_dir() / "<prefix><stem>.pt"``;
- ``file``: a plain file stored as is under ``paths.models_dir()``;
- ``bundled``: a model that ships inside the package (``stargan_cli/assets/models/``): always
  installed, nothing to download, nothing to remove.

The Dropbox archives are published without size or checksum, so those fields are ``None``
and only the structure of what arrives is checked. Tests replace entries of :data:`ASSETS`
(e.g. with :func:`dataclasses.replace`) to point them at a local server.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .attributes import DEFAULT_ATTRIBUTES
from .errors import StarganError, UsageError

INSTALL_KINDS = ("dataset", "official", "collection", "file", "bundled")

BUNDLED_MODELS_DIR = Path(__file__).resolve().parent / "assets" / "models"
# The model every command uses without --model: the bundled one, so it works offline.
DEFAULT_MODEL = "stargan-celeba-mini"


@dataclass(frozen=True)
class Asset:
    """One downloadable thing.

    ``expected`` holds glob patterns (``/``-separated, ``**`` allowed) that must each match at
    least one file: for ``dataset`` relative to the dataset folder, for the others anywhere in
    the unpacked archive. ``sha256`` may be the full hex digest or a prefix of it (as in
    torch.hub file names); a prefix is checked as a prefix.
    """

    name: str
    kind: str  # shown in --list: dataset, model, models, weights
    install: str  # one of INSTALL_KINDS
    urls: tuple[str, ...]
    filename: str  # name of the downloaded file in paths.downloads_dir()
    expected: tuple[str, ...]
    description: str
    licence: str
    size: int | None = None
    sha256: str | None = None
    attributes: tuple[str, ...] | None = None
    image_size: int | None = None
    prefix: str = ""  # for ``collection``: file-name prefix of the installed models
    approx_size: str = ""  # a published size for --list when the exact one is not registered
    homepage: str = ""

    def __post_init__(self) -> None:
        if self.install not in INSTALL_KINDS:
            raise ValueError(f"install must be one of {INSTALL_KINDS}, not {self.install!r}")

    @property
    def is_archive(self) -> bool:
        """Whether the download is unpacked (everything but plain files and bundled models)."""
        return self.install not in ("file", "bundled")

    @property
    def is_model(self) -> bool:
        """Whether installing gives exactly one model usable with ``--model NAME``."""
        return self.install in ("official", "bundled")

    @property
    def is_bundled(self) -> bool:
        """Whether the asset ships inside the package (nothing to download or remove)."""
        return self.install == "bundled"

    def target(self, create: bool = False) -> Path:
        """Where the installed asset lives (a folder, a checkpoint file or, for collections,
        the models folder its files go into)."""
        if self.install == "dataset":
            return paths.datasets_dir(create) / self.name
        if self.install == "official":
            return paths.models_dir(create) / f"{self.name}.pt"
        if self.install == "file":
            return paths.models_dir(create) / self.filename
        if self.install == "bundled":
            return BUNDLED_MODELS_DIR / self.filename
        return paths.models_dir(create)

    def installed_paths(self) -> list[Path]:
        """The files or folders this asset has put in place (empty when not installed)."""
        target = self.target()
        if self.install == "collection":
            if not target.is_dir():
                return []
            return sorted(p for p in target.glob(f"{self.prefix}*.pt") if p.is_file())
        if self.install == "dataset":
            return [target] if target.is_dir() else []
        return [target] if target.is_file() else []

    def is_installed(self) -> bool:
        """Whether :meth:`installed_paths` finds anything."""
        return bool(self.installed_paths())


def _dropbox(url: str) -> str:
    """A Dropbox share link that answers with the file itself instead of a web page."""
    return url.replace("?dl=0", "?dl=1")


_CELEBA_LICENCE = (
    "CelebA: non-commercial research and educational use only "
    "(https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html)"
)


def _official(size: int, share_link: str) -> Asset:
    """One of the released StarGAN CelebA models (5 attributes), at ``size`` px."""
    return Asset(
        name=f"stargan-celeba-{size}",
        kind="model",
        install="official",
        urls=(_dropbox(share_link),),
        filename=f"celeba-{size}x{size}-5attrs.zip",
        expected=("**/200000-G.ckpt", "**/200000-D.ckpt"),
        description=f"official StarGAN, CelebA {size} px, 5 attributes",
        licence="StarGAN code and models: MIT (yunjey/stargan); trained on CelebA (non-commercial research)",
        attributes=DEFAULT_ATTRIBUTES,
        image_size=size,
        homepage="https://github.com/yunjey/stargan",
    )


ASSETS: dict[str, Asset] = {
    asset.name: asset
    for asset in (
        Asset(
            name="stargan-celeba-mini",
            kind="model",
            install="bundled",
            urls=(),
            filename="stargan-celeba-mini.pt",
            expected=(),
            description="StarGAN trained by this project, CelebA 64 px, 5 attributes (ships with the package; default)",
            licence="stargan (MIT); trained on CelebA images (non-commercial research and educational use only)",
            attributes=DEFAULT_ATTRIBUTES,
            image_size=64,
            homepage="stargan_cli/assets/models/MODEL_CARD.md",
        ),
        Asset(
            name="celeba",
            kind="dataset",
            install="dataset",
            # The archive of the StarGAN authors' download.sh `celeba` target.
            urls=(_dropbox("https://www.dropbox.com/s/d1kjpkqklf0uw77/celeba.zip?dl=0"),),
            filename="celeba.zip",
            expected=("list_attr_celeba.txt", "images/*.jpg"),
            description="CelebA aligned images + list_attr_celeba.txt (default training set)",
            licence=_CELEBA_LICENCE,
            homepage="https://github.com/yunjey/stargan",
        ),
        # download.sh `pretrained-celeba-128x128` and `pretrained-celeba-256x256`.
        _official(128, "https://www.dropbox.com/s/7e966qq0nlxwte4/celeba-128x128-5attrs.zip?dl=0"),
        _official(256, "https://www.dropbox.com/s/zdq6roqf63m0v5f/celeba-256x256-5attrs.zip?dl=0"),
        Asset(
            name="dlim2020-models",
            kind="models",
            install="collection",
            # The "Run a pre-trained Network" link of the DLIM2020 README
            # (github.com/nigalsan1/DLIM2020). That project's download.sh fetches a different
            # archive (s/h8h2mebvugsppzn/test2.zip), kept as a second address. Neither is
            # verified by us: if both fail, download the archive by hand and use --from FILE
            # (or --url for another copy).
            urls=(
                _dropbox("https://www.dropbox.com/s/fgc5wnql9o7u3sd/Models.zip?dl=0"),
                _dropbox("https://www.dropbox.com/s/h8h2mebvugsppzn/test2.zip?dl=0"),
            ),
            filename="dlim2020-models.zip",
            expected=("**/*.ckpt",),
            description="DLIM2020 study models (baseline and lookup-norm), converted one by one",
            licence="DLIM2020 student project (github.com/nigalsan1/DLIM2020): no licence stated; trained on CelebA",
            prefix="dlim2020-",
            homepage="https://github.com/nigalsan1/DLIM2020",
        ),
        Asset(
            name="inception",
            kind="weights",
            install="file",
            # pytorch-fid's port of TensorFlow's 2015-12-05 Inception graph: the FID network.
            urls=("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                  "pt_inception-2015-12-05-6726825d.pth",),
            filename="pt_inception-2015-12-05-6726825d.pth",
            expected=("pt_inception-2015-12-05-6726825d.pth",),
            description="TF-FID Inception-v3 weights (as in published FIDs), for FID in `stargan eval`",
            licence="pytorch-fid: Apache-2.0; weights ported from TensorFlow's 2015-12-05 Inception (Apache-2.0)",
            sha256="6726825d",  # prefix in the file name, as torch.hub checks it; no full digest is published
            homepage="https://github.com/mseitzer/pytorch-fid",
        ),
    )
}


def names() -> list[str]:
    """Every registered asset name, in registry order."""
    return list(ASSETS)


def model_names() -> list[str]:
    """Names that install one model usable as ``--model NAME``."""
    return [name for name, asset in ASSETS.items() if asset.is_model]


def suggest(name: str, choices: list[str]) -> str:
    """`` did you mean X?`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(name.strip().lower(), choices, n=1, cutoff=0.6)
    return f" did you mean {close[0]}?" if close else ""


def get_asset(name: str) -> Asset:
    """The asset called ``name``; an unknown name raises a StarganError with did-you-mean."""
    asset = ASSETS.get(name.strip().lower())
    if asset is not None:
        return asset
    raise UsageError(
        f"unknown download {name!r}:{suggest(name, names())} available: {', '.join(names())}"
    )
