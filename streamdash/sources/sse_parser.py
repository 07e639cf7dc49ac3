"""The ``text/event-stream`` parser of the ``sse`` source (WHATWG HTML, 9.2.6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its type, data (lines joined by newlines) and last event id."""

    type: str
    data: str
    id: str


class SseParser:
    """Incremental parser of the ``text/event-stream`` format (WHATWG HTML, 9.2.6).

    Feed decoded text in arbitrary pieces; complete events come out. ``retry`` holds the
    server's reconnection time in milliseconds once it sent one; ``last_id`` persists across
    events (and reconnects) as the spec requires.
    """

    def __init__(self) -> None:
        self.last_id = ""
        self.retry: int | None = None
        self._pending = ""
        self._data: list[str] = []
        self._type = ""
        self._first = True

    def feed(self, text_: str) -> list[SseEvent]:
        """Parse more text; returns the events completed by it."""
        if self._first and text_:
            self._first = False
            text_ = text_.removeprefix("\ufeff")
        buf = self._pending + text_
        events: list[SseEvent] = []
        start = 0
        n = len(buf)
        i = 0
        while i < n:
            ch = buf[i]
            if ch == "\r" or ch == "\n":
                if ch == "\r" and i + 1 == n:
                    break  # a CR at the end may be the first half of CRLF: wait for more
                line = buf[start:i]
                i += 2 if ch == "\r" and buf[i + 1] == "\n" else 1
                start = i
                event = self._line(line)
                if event is not None:
                    events.append(event)
                continue
            i += 1
        self._pending = buf[start:]
        return events

    @property
    def pending_chars(self) -> int:
        """Characters of a line not yet ended (bounded by the reader's ``max_event_bytes``)."""
        return len(self._pending)

    def reset_stream(self) -> None:
        """Forget a half-received event (the connection dropped); keep last_id and retry."""
        self._pending, self._data, self._type, self._first = "", [], "", True

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (servers use them as keep-alives)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry":
            if value.isdigit():
                self.retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, etype = self._data, self._type
        self._data, self._type = [], ""
        if not data:
            return None
        return SseEvent(etype or "message", "\n".join(data), self.last_id)
