"""`stargan train` (placeholder until it is built)."""

from __future__ import annotations

import typer

from .common import not_built


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def train_cmd() -> None:
        """Not built yet."""
        not_built("train")
