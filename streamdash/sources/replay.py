"""The ``replay`` source: a JSON Lines or CSV file played back as a live stream.

Two pacings: a fixed ``rate`` (records per second) or a ``speed`` factor of the records' own
event times (``speed: 10`` plays an hour of data in six minutes; needs ``time_field``). Each
``fetch()`` returns the records that have come due since the last one (at most ``max_batch``;
the rest stay due for the next poll), so the source never sleeps. With ``loop`` the file starts
over at its end (event times keep their spacing); without, the source then returns nothing.

The file is read lazily, line by line, so big files cost no memory. A line that is not JSON is
an ingestion error naming the file and line (logged, counted, skipped); a JSON value that is
not an object is passed on so validation quarantines it. CSV values are text; with
``csv_numbers`` (default) integers and decimals become numbers and empty cells ``null``.
Without a ``fields`` map the source's hints (time, key and value fields for the dashboard) are
guessed from the file's head (:mod:`.sniff`).
"""

from __future__ import annotations

import csv
import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field

from ..errors import ConfigError
from ..params import Float, Int, Params
from .base import SECTION, FieldHints, Source
from .fields import CastError, FieldSpec, RecordMapper, parse_time
from .ingest_log import IngestLog
from .options import FieldMap, Text
from .session import body_excerpt, hints_for
from .sniff import read_head, sniff_hints

log = logging.getLogger("streamdash.sources.replay")

_INT = re.compile(r"^-?(0|[1-9]\d*)$")
_FLOAT = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
FORMATS = ("auto", "jsonl", "csv")
_TOO_LONG = "\0too long\0"  # stands for a skipped line (a real line ends with a newline)


class _SkipRow(Exception):
    """Raised into the csv reader for a line too long to read: that record is skipped."""


class _Checked:
    """Lines for ``csv.reader``, raising :class:`_SkipRow` for a skipped one (an iterator
    class, not a generator: a generator that raises is finished, this one goes on)."""

    def __init__(self, lines: Iterator[str]):
        self.lines = lines

    def __iter__(self) -> _Checked:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        if line is _TOO_LONG:
            raise _SkipRow
        return line


def infer_number(value: str | None) -> Any:
    """CSV cell → int, float, None (empty) or the text itself (ids like ``007`` stay text)."""
    if value is None or value == "":
        return None
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value) and not re.match(r"^-?0\d", value):
        return float(value)
    return value


class ReplayParams(Params):
    """Settings of ``source.type: replay``."""

    path: Text | None = None
    format: Literal["auto", "jsonl", "csv"] = "auto"
    # Bounds on the field itself (not inside the Optional) so errors can name them.
    rate: Float | None = Field(None, ge=0.001, le=10_000_000)
    speed: Float | None = Field(None, ge=0.001, le=1_000_000)
    time_field: Text = ""
    loop: bool = False
    max_batch: Annotated[Int, Field(ge=1)] = 10_000
    max_line_chars: Annotated[Int, Field(ge=1, le=64 * 1024 * 1024)] = 1024 * 1024
    fields: FieldMap = ()
    csv_numbers: bool = True


class ReplaySource(Source):
    """Replays a file at a fixed rate or at a multiple of its event times (see module doc)."""

    kind = "replay"
    Params = ReplayParams

    def __init__(self, name: str = "", *, path: str | Path, format: str = "auto",
                 rate: float | None = None, speed: float | None = None, time_field: str = "",
                 loop: bool = False, max_batch: int = 10_000, fields: tuple[FieldSpec, ...] = (),
                 csv_numbers: bool = True, max_line_chars: int = 1024 * 1024,
                 on_error: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time):
        super().__init__(name or Path(path).name)
        self.path = Path(path)
        self.format = self._format(format)
        if rate is not None and speed is not None:
            raise ValueError("give either rate or speed, not both")
        if speed is not None and not time_field:
            raise ValueError("speed needs time_field (the records' event time)")
        self.rate = rate if rate is not None or speed is not None else 10.0
        self.speed = speed
        self.time_field = time_field
        self.loop = loop
        self.max_batch = max_batch
        self.csv_numbers = csv_numbers
        #: Longest line read (characters); a longer one is skipped and reported, never held.
        self.max_line_chars = max_line_chars
        self._lineno = 0
        self.fields = tuple(fields)
        self.mapper = RecordMapper(self.fields)
        self.hints = self._hints(time_field)
        self.clock = clock
        self.wall_clock = wall_clock
        self.errors = IngestLog(self.name, clock=wall_clock)
        if on_error is not None:
            self.errors.add_listener(on_error)
        self._rows: Iterator[tuple[int, Any]] | None = None
        self._file: Any = None
        self._started: float | None = None
        self._pending: tuple[int, Any, float] | None = None  # the next record and its due time
        self._cycle_origin = 0.0     # virtual time (s since start) when this pass began
        self._first_time: float | None = None
        self._last_due = 0.0
        self._pass_lines = 0
        self.finished = False
        self.stats = {"emitted": 0, "lines": 0, "malformed": 0, "loops": 0, "untimed": 0}

    @classmethod
    def from_params(cls, name: str, params: ReplayParams, settings: Any) -> ReplaySource:
        """The file replay source (``source.type: replay``); the file must exist."""
        p = params
        if not p.path:
            raise ConfigError(f"{SECTION}.path", "required for a replay source "
                                                 "(a .jsonl or .csv file)")
        path = Path(p.path).expanduser()
        if not path.is_file():
            raise ConfigError(f"{SECTION}.path", f"cannot read {path}: no such file")
        if p.rate is not None and p.speed is not None:
            raise ConfigError(f"{SECTION}.speed", "give either rate (records/s) or speed (a "
                                                  "factor of the event times), not both")
        if p.speed is not None and not p.time_field:
            raise ConfigError(f"{SECTION}.time_field", "speed replays by event time: name the "
                                                       "field that holds it")
        return cls(name, **{**dict(p), "path": path})

    def _hints(self, time_field: str) -> FieldHints:
        """What the dashboard charts by default: from ``fields`` when given, else guessed
        from the file's first records (time, key and value columns; see ``sniff``)."""
        if self.fields:
            hints = hints_for(self.fields)
            return FieldHints(value_field=hints.value_field,
                              time_field=time_field or hints.time_field,
                              numeric_fields=hints.numeric_fields)
        dialect = "excel-tab" if self.path.suffix.lower() == ".tsv" else "excel"
        try:
            rows = read_head(self.path, self.format, infer_number if self.csv_numbers else None,
                             dialect)
        except (OSError, UnicodeError, csv.Error) as exc:
            log.debug("could not sample %s for field hints: %s", self.path, exc)
            rows = []
        return sniff_hints(rows, time_field)

    def _format(self, fmt: str) -> str:
        if fmt != "auto":
            return fmt
        return "csv" if self.path.suffix.lower() in (".csv", ".tsv") else "jsonl"

    # -- Source protocol ---------------------------------------------------------------------
    def fetch(self) -> list[dict[str, Any]]:
        """The records due now (never more than ``max_batch``)."""
        now = self.clock()
        if self._started is None:
            self._started = now
            self._open()
        elapsed = now - self._started
        out: list[Any] = []
        while len(out) < self.max_batch and not self.finished:
            nxt = self._peek()
            if nxt is None:
                break
            _line, record, due = nxt
            if due > elapsed:
                break
            out.append(record)
            self._pending = None
        self.stats["emitted"] += len(out)
        return self.mapper.map(out, None, self.wall_clock()) if out else out

    def bind_events(self, bus: Any) -> None:
        """Publish every ingestion error (a line not JSON, too long) on ``bus``'s
        ``ingest_error`` topic: the runtime counts it (``ingest_errors``), the API lists it
        and the history keeps it, as it does for the other sources."""
        self.errors.bind(bus)

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def describe(self) -> dict[str, Any]:
        """File, pacing, position and counters."""
        pacing = {"speed": self.speed} if self.speed is not None else {"rate": self.rate}
        return {**super().describe(), "path": str(self.path), "format": self.format, **pacing,
                "time_field": self.time_field, "loop": self.loop, "finished": self.finished,
                "stats": dict(self.stats), "ingest_errors": self.errors.snapshot()}

    # -- reading -----------------------------------------------------------------------------
    def _open(self) -> None:
        self.close()
        self._file = self.path.open("r", encoding="utf-8", newline="")
        self._rows = self._csv_rows(self._file) if self.format == "csv" \
            else self._json_rows(self._file)

    def _lines(self, f: Any) -> Iterator[str]:
        """The file's lines, each at most ``max_line_chars`` long: a longer one is read past
        (never held whole), reported with its line number and replaced by :class:`_TooLong`
        for the reader to skip. ``self._lineno`` is the number of the last line read."""
        self._lineno = 0
        limit = self.max_line_chars
        while True:
            line = f.readline(limit + 1)
            if not line:
                return
            self._lineno += 1
            if len(line) > limit and not line.endswith("\n"):
                while (rest := f.readline(64 * 1024)) and not rest.endswith("\n"):
                    pass
                self._skip("too_long", f"line longer than max_line_chars ({limit})", line)
                yield _TOO_LONG
                continue
            yield line

    def _skip(self, kind: str, what: str, line: str) -> None:
        self.stats["malformed"] += 1
        self.errors.report(kind, f"{self.path.name}:{self._lineno}: {what}; "
                                 f"line: {body_excerpt(line.encode())!r}",
                           url=str(self.path), level=logging.WARNING)

    def _json_rows(self, f: Any) -> Iterator[tuple[int, Any]]:
        for line in self._lines(f):
            if line is _TOO_LONG or not line.strip():
                continue
            try:
                yield self._lineno, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                self._skip("not_json", f"not JSON ({exc})", line)

    def _csv_rows(self, f: Any) -> Iterator[tuple[int, Any]]:
        dialect = "excel-tab" if self.path.suffix.lower() == ".tsv" else "excel"
        reader = csv.DictReader(_Checked(self._lines(f)), dialect=dialect)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except _SkipRow:
                continue  # reported by _lines; the reader starts afresh at the next line
            except csv.Error as exc:  # e.g. a field over csv.field_size_limit
                self._skip("not_csv", f"not CSV ({exc})", "")
                continue
            if None in row:  # more cells than header columns: keep them, visibly
                row["_extra"] = row.pop(None)
            if self.csv_numbers:
                row = {k: infer_number(v) if isinstance(v, str) or v is None else v
                       for k, v in row.items()}
            yield self._lineno, row

    def _peek(self) -> tuple[int, Any, float] | None:
        if self._pending is not None:
            return self._pending
        assert self._rows is not None
        for _attempt in range(2):
            try:
                line, record = next(self._rows)
            except StopIteration:
                if not self.loop or self.stats["lines"] == 0:
                    self.finished = True
                    self.close()
                    return None
                self.stats["loops"] += 1
                self._new_pass()
                continue
            self.stats["lines"] += 1
            self._pass_lines += 1
            self._pending = (line, record, self._due(record))
            return self._pending
        self.finished = True  # looping over a file with no usable line
        return None

    def _new_pass(self) -> None:
        self._open()
        if self.speed is not None:
            # The next pass starts one average record-spacing after the last one ended, so the
            # loop sounds like the file does.
            span = self._last_due - self._cycle_origin
            gap = span / (self._pass_lines - 1) if self._pass_lines > 1 else 1.0 / self.speed
            self._cycle_origin = self._last_due + gap
            self._first_time = None
        self._pass_lines = 0

    def _due(self, record: Any) -> float:
        """Seconds after the start at which ``record`` is due."""
        if self.speed is None:
            return self.stats["lines"] / self.rate - 1 / self.rate
        t = None
        if isinstance(record, dict) and self.time_field in record:
            try:
                t = parse_time(record[self.time_field])
            except CastError:
                t = None
        if t is None:
            self.stats["untimed"] += 1
            return self._last_due  # no time: goes out with its predecessor
        if self._first_time is None:
            self._first_time = t
        due = self._cycle_origin + (t - self._first_time) / self.speed
        self._last_due = max(self._last_due, due)  # never wait backwards in time
        return self._last_due
