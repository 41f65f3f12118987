"""Training: one Trainer for every StarGAN variant, with pure losses, labels and schedules.

    from stargan_cli.training import TrainConfig, train
    run_dir = train(TrainConfig(attrs=("Blond_Hair", "Male"), image_size=64, iters=10_000))
"""

from .config import TrainConfig, read_run_config, resume_config
from .loop import Trainer, TrainingDiverged, TrainingInterrupted, train
from .runs import latest_checkpoint

__all__ = [
    "TrainConfig", "Trainer", "TrainingDiverged", "TrainingInterrupted", "latest_checkpoint",
    "read_run_config", "resume_config", "train",
]
