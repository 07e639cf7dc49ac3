"""The ``streamdash`` command: one module per command group, wired in :mod:`.main`.

``main`` (the parser and ``run``/``check-config``), ``metrics`` (``streamdash metrics``), ``dlq``
(``streamdash dlq export``), ``auth`` (``streamdash hash-password``). Benchmarks live in
:mod:`streamdash.bench` and register themselves under ``streamdash bench``.
"""

from .main import EXIT_CODES, _main, build_parser, main, settings_from_args

__all__ = ["EXIT_CODES", "_main", "build_parser", "main", "settings_from_args"]
