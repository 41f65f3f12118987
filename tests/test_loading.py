"""The loader above the formats (stargan_cli.loading): where it sits among the modules."""

from __future__ import annotations

import subprocess
import sys

import stargan_cli
from stargan_cli import checkpoints, loading


def test_the_format_module_does_not_import_the_foreign_layouts():
    code = (
        "import sys, stargan_cli.checkpoints; "
        "print(sorted(m for m in sys.modules if m in ('stargan_cli.legacy', 'stargan_cli.loading')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_checkpoint_is_the_loader_under_every_name():
    assert stargan_cli.load_checkpoint is loading.load_checkpoint
    assert not hasattr(checkpoints, "load_checkpoint")  # our format's module knows no other format
