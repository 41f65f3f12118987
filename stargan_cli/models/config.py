"""What a model is: the settings that fully describe a generator/discriminator pair."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from ..choices import G_OUTPUTS, NORMS, UPSAMPLES

LABEL_MODES = ("multi", "single", "joint")

_S = TypeVar("_S", bound="JsonSettings")


class JsonSettings:
    """``to_dict``/``from_dict`` for a dataclass of settings stored as JSON (a checkpoint's model,
    a run's config.json): tuples are written as lists."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls: type[_S], data: dict[str, Any]) -> _S:
        """Inverse of :meth:`to_dict`; unknown keys (newer files) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ModelConfig(JsonSettings):
    """Settings of a StarGAN model, stored inside every checkpoint.

    ``label_mode``: ``multi`` (independent binary attributes, as CelebA; BCE classification),
    ``single`` (one domain of several, as a folder dataset; cross-entropy), or ``joint``
    (CelebA attributes then folder domains, plus the paper's 2-dim mask vector). In joint
    mode the first ``joint_split`` attributes are the CelebA ones.

    ``g_output``: ``rgb`` (G draws every pixel, as the paper) or ``mask`` (G gives a colour image
    and an attention mask and blends the colour into its input where the mask is open).
    ``upsample``: ``transposed`` convolutions (the paper) or ``resize`` (nearest x2, then a 3x3
    convolution, which leaves no checkerboard). The defaults are the published models' layout.
    """

    attributes: tuple[str, ...]
    image_size: int = 128
    norm: str = "concat"
    g_conv_dim: int = 64
    g_repeat: int = 6
    d_conv_dim: int = 64
    d_repeat: int = 6
    loss: str = "wgan-gp"
    label_mode: str = "multi"
    joint_split: int = 0
    g_output: str = "rgb"
    upsample: str = "transposed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", tuple(self.attributes))
        if self.norm not in NORMS:
            raise ValueError(f"norm must be concat or lookup, not {self.norm!r}")
        if self.g_output not in G_OUTPUTS:
            raise ValueError(f"g_output must be one of {G_OUTPUTS}, not {self.g_output!r}")
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {UPSAMPLES}, not {self.upsample!r}")
        if self.label_mode not in LABEL_MODES:
            raise ValueError(f"label_mode must be one of {LABEL_MODES}, not {self.label_mode!r}")
        if not self.attributes:
            raise ValueError("a model needs at least one attribute")

    @property
    def c_dim(self) -> int:
        """Length of the label vector the networks take (attributes, plus the mask in joint mode)."""
        return len(self.attributes) + (2 if self.label_mode == "joint" else 0)

    @property
    def d_cls_dim(self) -> int:
        """Outputs of D's classification head: one per attribute or domain. The joint mode's
        mask only tells G which block is in use; D never predicts it (as the original)."""
        return len(self.attributes)

    def describe(self) -> str:
        """Key settings in a few words, e.g. ``128px concat wgan-gp 5 attrs``."""
        n = len(self.attributes)
        labels = {
            "multi": f"{n} attrs",
            "single": f"{n} domains",
            "joint": f"{self.joint_split} attrs + {n - self.joint_split} domains",
        }[self.label_mode]
        extras = "".join(f" {v}" for v, default in ((self.g_output, "rgb"), (self.upsample, "transposed"))
                         if v != default)
        return f"{self.image_size}px {self.norm}{extras} {self.loss} {labels}"
