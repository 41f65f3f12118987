"""The names a model or training setting can take, defined once for the library and the CLI.

Plain tuples with no imports, so that the CLI builds its choice types from them at start-up
without loading torch; :mod:`.models` and :mod:`.training` check settings against them.
"""

NORMS = ("concat", "lookup")  # how the generator takes the label (models.generator)
ADVERSARIAL_LOSSES = ("wgan-gp", "hinge")  # training.losses
DATASETS = ("celeba", "folder", "both")  # what `stargan train` trains on
SCHEDULES = ("paper", "official")  # learning-rate schedules (training.schedule)
PRECISIONS = ("fp32", "bf16", "fp16")  # compute precisions of training
# The first of each is the paper's (and the published checkpoints') layout.
G_OUTPUTS = ("rgb", "mask")  # what G's last layer gives (models.generator)
UPSAMPLES = ("transposed", "resize")  # how G doubles its resolution (models.generator)
