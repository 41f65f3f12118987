"""Learning-rate schedules: the paper's linear decay and the official code's schedule.

Both are pure functions of the iteration, so resuming needs only the step; the schedule's
settings are still stored in checkpoints so that a resumed run can tell when they changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..choices import SCHEDULES

# The official code updates its learning rates every lr_update_step = 1000 iterations.
OFFICIAL_UPDATE_STEP = 1000


@dataclass(frozen=True)
class LRSchedule:
    """Learning rates of G and D for every iteration.

    ``paper`` (default): constant for ``iters - decay_iters`` iterations, then linear decay to
    zero at ``iters``, as the paper says. ``official``: what the official code does: from
    iteration ``iters - decay_iters`` on, every 1000 iterations it subtracts ``lr / decay_iters``
    (``lr`` the initial rate) from the current rate, so it ends at about 99.9% of the initial rate.
    """

    kind: str
    g_lr: float
    d_lr: float
    iters: int
    decay_iters: int

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"lr schedule must be one of {SCHEDULES}, not {self.kind!r}")
        if not 0 <= self.decay_iters <= self.iters:
            raise ValueError("decay_iters must be between 0 and iters")

    def factor(self, step: int) -> float:
        """Multiplier of the initial rates during iteration ``step`` (0-based)."""
        start = self.iters - self.decay_iters
        if self.decay_iters == 0 or step < start:
            return 1.0
        if self.kind == "paper":
            return max(0.0, (self.iters - step) / self.decay_iters)
        # Updates happened after iterations i with (i+1) % 1000 == 0 and i+1 > start, i < step.
        # Each update subtracts the *initial* rate / decay_iters (not a fraction of the current one).
        updates = step // OFFICIAL_UPDATE_STEP - start // OFFICIAL_UPDATE_STEP
        return max(0.0, 1.0 - max(0, updates) / self.decay_iters)

    def rates(self, step: int) -> tuple[float, float]:
        """``(g_lr, d_lr)`` during iteration ``step``."""
        f = self.factor(step)
        return self.g_lr * f, self.d_lr * f

    def state_dict(self) -> dict:
        """Settings as plain values (stored in checkpoints)."""
        return asdict(self)
