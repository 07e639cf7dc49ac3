"""``python -m streamdash``: the ``streamdash`` command (see :mod:`streamdash.cli`)."""

from .cli import _main

if __name__ == "__main__":
    _main()
