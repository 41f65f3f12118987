"""The step losses summed on the device between log steps, read by name at log steps.

Like stylegan2-ada's ``training_stats`` in miniature: adding a step's :class:`~.step.Losses`
is one in-place add on the device, with no host synchronisation; a log step reads every sum
at once (one transfer, one all-reduce under torchrun) and gets means by name.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .step import Losses


class LossMeter:
    """Sums and counts of the losses of each dataset part since the last :meth:`reset`.

    ``groups`` are the name tuples the steps report (e.g. the D and the G losses); each part
    keeps one device tensor per group, so that every process holds the same layout (one
    all-reduce of :meth:`packed` averages them all).
    """

    def __init__(self, device: torch.device, parts: int, groups: Sequence[tuple[str, ...]]):
        self.device = device
        self.parts = parts
        self._layout = [(part, tuple(names)) for part in range(parts) for names in groups]
        self.reset()

    def reset(self) -> None:
        """Start new sums (after a log step)."""
        self._sums = {key: torch.zeros(len(key[1]), device=self.device) for key in self._layout}
        self._counts = dict.fromkeys(self._layout, 0)

    def add(self, part: int, losses: Losses) -> None:
        """Add one step's losses of dataset part ``part`` (no host sync)."""
        key = (part, losses.names)
        self._sums[key] += losses.values
        self._counts[key] += 1

    def packed(self) -> torch.Tensor:
        """Every sum in one device tensor (to all-reduce, check or read at once)."""
        return torch.cat([self._sums[key] for key in self._layout])

    def means(self, packed: Sequence[float]) -> tuple[dict[str, float], list[dict[str, float]]]:
        """From :meth:`packed`'s values read on the host: each loss's mean over every step of
        every part, and each part's own means. Losses no step reported since the reset (the D
        losses during the G warm-up) are absent."""
        sums: dict[str, list[float]] = {}
        counts: dict[str, int] = {}
        per_part: list[dict[str, float]] = [{} for _ in range(self.parts)]
        offset = 0
        for key in self._layout:
            part, names = key
            count = self._counts[key]
            for name, value in zip(names, packed[offset : offset + len(names)]):
                if count:
                    sums.setdefault(name, []).append(value)
                    counts[name] = counts.get(name, 0) + count
                    per_part[part][name] = value / count
            offset += len(names)
        return {name: sum(values) / counts[name] for name, values in sums.items()}, per_part
