"""Pure network definitions: no files, no CLI, no device choice."""

from .config import ModelConfig
from .discriminator import Discriminator
from .generator import Generator, ResidualBlock
from .norms import DomainInstanceNorm, InstanceNorm


def build_generator(config: ModelConfig) -> Generator:
    """The generator described by ``config``."""
    return Generator(config.c_dim, config.g_conv_dim, config.g_repeat, config.norm,
                     output=config.g_output, upsample=config.upsample)


def build_discriminator(config: ModelConfig) -> Discriminator:
    """The discriminator described by ``config``."""
    return Discriminator(config.image_size, config.d_cls_dim, config.d_conv_dim, config.d_repeat)


__all__ = [
    "ModelConfig", "Generator", "Discriminator", "ResidualBlock", "InstanceNorm",
    "DomainInstanceNorm", "build_generator", "build_discriminator",
]
