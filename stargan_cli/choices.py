"""The names a model or training setting can take, defined once for the library and the CLI.

Plain tuples with no imports, so that the CLI builds its choice types from them at start-up
without loading torch; :mod:`.models` and :mod:`.training` check settings against them.
"""

NORMS = ("concat", "lookup")  # how the generator takes the label (models.generator)
ADVERSARIAL_LOSSES = ("wgan-gp", "hinge")  # training.losses
DATASETS = ("celeba", "folder", "both")  # what `stargan train` trains on
SCHEDULES = ("paper", "official")  # learning-rate schedules (training.schedule)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # compute precisions of training (auto: devices.default_precision)
# The first of each is the paper's (and the published checkpoints') layout.
G_OUTPUTS = ("rgb", "mask")  # what G's last layer gives (models.generator)
UPSAMPLES = ("transposed", "resize")  # how G doubles its resolution (models.generator)

# Training settings a resumed run may change: where and how fast it runs, how long, how often
# it reports. Everything else (model shape, data, losses, optimiser) is fixed by the run being
# resumed (training.config.resume_config); `stargan train --help` lists these as flags.
RESUMABLE_SETTINGS = (
    "iters", "decay_iters", "time_budget", "data", "folder_data", "device", "num_workers",
    "cuda_graphs", "compile", "channels_last",  # how fast, not what is computed
    "precision",  # weights and optimizer state are fp32 in every precision
    "save_every", "save_every_seconds", "keep", "sample_every", "log_every", "tensorboard", "quiet",
    "use_cache",
)
