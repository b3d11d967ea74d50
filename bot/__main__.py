"""``python -m bot`` is ``citewatch``."""

from bot.cli import main

if __name__ == "__main__":  # detection workers are spawned: they import this module as __mp_main__
    main()
