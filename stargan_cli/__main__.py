"""``python -m stargan_cli``."""

from .cli import main

main()
