"""Which stream an ``/api/*`` request asks for: ``?stream=NAME`` (default: the first).

A name is a query parameter, so hostile: given twice or longer than a stream name can be is a
400, a name no stream has is a 404; both answers name the streams there are (at most
:data:`MAX_NAMES_SHOWN` of them, so the answer stays small whatever the config holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..stream_settings import MAX_STREAM_NAME

#: Stream names listed in an error answer (the rest are counted).
MAX_NAMES_SHOWN = 20


class UnknownStream(Exception):
    """A request's ``stream`` parameter names no stream: ``status`` (400/404) and ``body``."""

    def __init__(self, status: int, problem: str, names: Sequence[str]):
        self.status = status
        self.body = {"error": problem, "streams": list(names[:MAX_NAMES_SHOWN]),
                     "streams_count": len(names)}
        super().__init__(problem)


def chosen_stream(args: Mapping[str, list[str]], names: Sequence[str]) -> str:
    """The stream ``args`` (``request.args.to_dict(flat=False)``) name, or the first of
    ``names``; :class:`UnknownStream` for one given twice, too long, or unknown."""
    values = args.get("stream") or []
    if not values:
        return names[0]
    if len(values) > 1:
        raise UnknownStream(400, f"stream: give it once, got {len(values)} values", names)
    name = values[0]
    if len(name) > MAX_STREAM_NAME:
        raise UnknownStream(400, f"stream: a stream name has at most {MAX_STREAM_NAME} "
                                 f"characters, got {len(name)}", names)
    if name not in names:
        shown = ", ".join(names[:MAX_NAMES_SHOWN]) + (" …" if len(names) > MAX_NAMES_SHOWN
                                                       else "")
        raise UnknownStream(404, f"stream: unknown stream {name!r} (streams: {shown})", names)
    return name


def without_stream(args: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """``args`` without ``stream`` (the query parameters the endpoint itself validates)."""
    return {k: v for k, v in args.items() if k != "stream"}
