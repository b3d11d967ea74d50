"""``python -m bot`` is ``citewatch``."""

from bot.cli import main

main()
