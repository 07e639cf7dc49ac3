"""``python -m streamdash.cli``: the ``streamdash`` command."""

from .main import _main

_main()
