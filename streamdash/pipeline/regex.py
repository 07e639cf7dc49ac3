"""Regular expressions from settings, compiled by RE2 so every match runs in linear time.

Python's ``re`` backtracks: a pattern such as ``(a+)+$`` against ``"a" * 30 + "b"`` takes
minutes while holding the GIL, which freezes every thread of the process (probes included).
RE2 (``google-re2``) guarantees time linear in the input, and refuses what it cannot do in
linear time (backreferences, lookarounds), which we turn into a ``ConfigError`` at startup.
Differences from ``re`` users may notice: ``\\d``, ``\\w`` and ``\\s`` match ASCII only.
"""

from __future__ import annotations

from typing import Any

import re2

from ..errors import ConfigError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print its own line on stderr; ConfigError says it all


def compile_pattern(key: str, pattern: Any) -> Any:
    """``pattern`` compiled by RE2 (``search``/``fullmatch`` like ``re``); a pattern RE2
    refuses is a ``ConfigError`` naming ``key``."""
    if not isinstance(pattern, str):
        raise ConfigError(key, f"expected a regular expression, got {pattern!r}")
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args and \
            isinstance(exc.args[0], bytes) else str(exc)
        raise ConfigError(key, f"invalid regular expression (RE2 syntax, matched in linear "
                               f"time; no backreferences or lookarounds): {why}") from None
