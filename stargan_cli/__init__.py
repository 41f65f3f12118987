"""stargan: multi-domain face attribute translation with StarGAN (Choi et al., CVPR 2018).

The public API is imported lazily so that ``stargan --help`` starts without loading torch::

    from stargan_cli import Translator
    translator = Translator.from_pretrained("stargan-celeba-128")
    out = translator(image, to=["Blond_Hair"])
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Translator": "stargan_cli.translate",
    "ModelConfig": "stargan_cli.models",
    "Generator": "stargan_cli.models",
    "Discriminator": "stargan_cli.models",
    "Checkpoint": "stargan_cli.checkpoints",
    "load_checkpoint": "stargan_cli.loading",
    "save_checkpoint": "stargan_cli.checkpoints",
    "select_device": "stargan_cli.devices",
    "resolve_model": "stargan_cli.model_store",
    "StarganError": "stargan_cli.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stargan_cli' has no attribute {name!r}")
