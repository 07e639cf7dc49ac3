"""The dashboard's streams: a :class:`~.live.LiveView` each, the chosen one, the overview.

A browser says which stream it shows in its ``stream`` store (set from ``?stream=`` in the
URL or the stream picker); every callback reads the view of that stream. The name comes from
the browser: :meth:`StreamViews.pick` takes only a configured name (the request guard refuses
the others with a 400 before a callback runs), and :func:`stream_from_search` reads the URL's
query within a bound. The overview — one status line per stream — is computed at most once a
second for every viewer (``state.overview.status_line``, the one ``/api/streams`` serves).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

from dash import html

from ..models import utc_iso
from ..state.overview import status_line
from .live import LiveView
from .shared import SharedValues
from .texts import STATUS_COLORS

#: Longest URL query read for ``stream=`` (a name is at most 32 characters; the rest of a
#: longer query is not looked at).
MAX_SEARCH = 256


def stream_from_search(search: Any, names: list[str]) -> str | None:
    """The configured stream ``?stream=NAME`` in a URL's query names, else ``None``."""
    if not isinstance(search, str) or not search:
        return None
    try:
        found = parse_qs(search[:MAX_SEARCH].lstrip("?"), max_num_fields=16).get("stream")
    except ValueError:  # more fields than any link of ours has
        return None
    return found[0] if found and found[0] in names else None


class StreamViews:
    """The live view of every stream by name, in config order (the first is the default);
    ``titles`` is what the header says each stream is (``title (kind)``)."""

    def __init__(self, views: dict[str, LiveView], *, clock: Callable[[], float] | None = None):
        self.views = views
        self.names = list(views)
        self.first = views[self.names[0]]
        self._clock = clock or self.first.state.clock
        self._lock = threading.Lock()
        self._overview: tuple[int, list[dict[str, Any]]] | None = None
        # The overview's rows as sent, per chosen stream (a configured name: at most one
        # entry per stream; the bound holds whatever a caller passes).
        self.shared = SharedValues(len(self.names) + 1)

    def pick(self, name: Any) -> LiveView | None:
        """The view of stream ``name``; ``None`` (absent) is the default stream; a name no
        stream has is ``None`` too (the caller refuses it)."""
        if name is None:
            return self.first
        return self.views.get(name) if isinstance(name, str) else None

    def label(self, name: str) -> str:
        """The header's ``title (kind)`` of stream ``name``."""
        info = self.views[name].state.info()
        return f"{info.title} ({info.kind})"

    def overview(self) -> list[dict[str, Any]]:
        """Every stream's status line, computed at most once a second for all viewers."""
        second = int(self._clock())
        with self._lock:
            if self._overview is None or self._overview[0] != second:
                lines = [status_line(name, view.state) for name, view in self.views.items()]
                self._overview = (second, lines)
            return self._overview[1]


def overview_cells(lines: list[dict[str, Any]]) -> list[list[str]]:
    """Each stream's overview cells as shown: name, source, records/s, last update, health,
    active alerts, and the reasons (the health cell's hover text). Pure: the tick compares
    these, so a browser is sent the overview only when what it shows changed."""
    cells = []
    for line in lines:
        rate = "–" if line["rate"] is None else f"{line['rate']:,.1f}/s"
        alerts = "–" if line["active_alerts"] is None else f"{line['active_alerts']:,}"
        cells.append([line["name"], f"{line['title']} ({line['kind']})", rate,
                      utc_iso(line["last_update"]) if line["last_update"] else "never",
                      line["status"], alerts, "\n".join(line["reasons"])])
    return cells


def overview_rows(cells: list[list[str]], chosen: str) -> list[html.Tr]:
    """The overview's rows (:func:`overview_cells`): the name links to the stream, the
    health is coloured, the chosen stream is marked. Every text is a plain string (React
    escapes it): a source's name is never markup."""
    rows = []
    for name, source, rate, updated, status, alerts, reasons in cells:
        row = [html.Td(html.A(name, href=f"?stream={quote(name)}", className="sd-stream-link")),
               html.Td(source), html.Td(rate), html.Td(updated),
               html.Td(status.upper(), title=reasons,
                       className=f"text-{STATUS_COLORS.get(status, 'secondary')}"),
               html.Td(alerts)]
        rows.append(html.Tr(row, className="table-active" if name == chosen else ""))
    return rows


def as_json(value: Any) -> Any:
    """Dash components (and lists of them) as the plain JSON Dash sends for them: the same
    answer, which orjson writes at once; a component left in an answer makes plotly's
    encoder fall back to walking the whole answer in Python (milliseconds a request)."""
    if hasattr(value, "to_plotly_json"):
        plain = value.to_plotly_json()
        return {**plain, "props": {k: as_json(v) for k, v in plain["props"].items()}}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value
