"""Event-time windows per key: tumbling and sliding, with count, mean, min, max and p95.

Windows are aligned to the Unix epoch (a 10 s window starts at a multiple of 10 s). A window
is emitted when the watermark passes its end (``watermark >= end``), when the stream has been
idle for ``idle_timeout`` seconds of processing time (so a stream that stops does not hold its
last windows forever), or on :meth:`Windows.flush` (shutdown, end of a file). Emitted windows
are ``{key, start, end, count, mean, min, max, p95, closed_by}`` dicts with ISO-8601 UTC times.

Open windows are kept as ``start → {key → [values]}``: adding a value is one list append, and
the aggregates are computed once, in C (``sum``, ``min``, ``max``, ``sorted``), when the window
closes. A window emitted by the idle timeout that later receives records opens again and is
emitted again (``closed_by`` tells which emission is which).

The open windows are the rule's state (:class:`~.base.Stateful`): ``{size, slide,
own_watermark, watermark, open: [[start, [[key, [values…]], …]], …]}`` (``watermark`` only for
a window that keeps its own; non-finite values as the strings ``"nan"``, ``"inf"``,
``"-inf"``). A restored window's idle timeout counts from the first idle tick after the
restore: a monotonic time means nothing in another process.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field

from ...errors import ConfigError
from ...models import utc_iso
from ...params import Duration
from ...params import Params as BaseParams
from .base import Access, BatchContext, Fused, RuleContext, Sink, column, shape, time_in, time_out
from .watermark import Watermark

#: Sizes and slides below a millisecond are refused (a window per record is not a window).
MIN_SIZE = 1e-3


def aggregate(values: list[Any]) -> tuple[Any, Any, Any, Any]:
    """``(min, max, p95, sum)`` of a window's values: ``min`` the first smallest, ``max`` the
    last largest, ``p95`` the value of rank ⌈0.95·n⌉ in sorted order, ``sum`` in arrival order.

    One sort, in C: on floats ``sorted`` compares without the generic protocol, so for the
    ~10 values a window holds in the benchmark workload it costs less than ``min`` plus
    ``max`` (measured 0.7 vs 1.0 µs a window).
    """
    ordered = sorted(values)
    rank = max(0, math.ceil(0.95 * len(values)) - 1)
    return ordered[0], ordered[-1], ordered[rank], sum(values)


class Windows:
    """Aggregates ``field`` per ``key`` over event-time windows of ``size`` seconds.

    ``slide`` (sliding windows) must divide ``size``; each value then belongs to
    ``size / slide`` windows. Null and non-numeric values are not aggregated.
    """

    name = "window"
    state_version = 1

    class Params(BaseParams):
        """``field``/``key`` default to the source's value and key fields; ``lateness`` only
        for a window with no ``late`` rule before it (which it otherwise follows)."""

        kind: Literal["tumbling", "sliding"] = "tumbling"
        size: Annotated[Duration, Field(ge=MIN_SIZE)] = 10.0
        slide: Duration = Field(None, ge=MIN_SIZE)  # None: tumbling
        idle_timeout: Annotated[Duration, Field(ge=0)] = 60.0
        field: str | None = None
        key: str | None = None
        lateness: Duration = Field(None, ge=0)  # None: 30 s, or the late rule's

    @classmethod
    def build(cls, params: Windows.Params, context: RuleContext) -> Windows:
        """Windows following the watermark of the late rule before them, else their own."""
        context.require_event_time()
        at, given, hints = context.where, params.model_fields_set, context.hints
        own = context.watermark is None
        if not own and "lateness" in given:
            raise ConfigError(f"{at}.lateness", "set the lateness on the late rule, which "
                                                "this window follows")
        watermark = context.watermark or Watermark(
            params.lateness if params.lateness is not None else 30.0)
        if params.kind == "sliding" and params.slide is None:
            raise ConfigError(f"{at}.slide", "a sliding window needs a slide (seconds)")
        if params.kind == "tumbling" and params.slide is not None:
            raise ConfigError(f"{at}.slide", "only sliding windows take a slide")
        value_field = params.field if "field" in given else hints.value_field
        try:
            return cls(context.field_name("field", value_field),
                       params.key if "key" in given else hints.key_field or None, watermark,
                       size=params.size, slide=params.slide, idle_timeout=params.idle_timeout,
                       sink=context.sink("window"), advance_watermark=own)
        except ConfigError as exc:  # the slide does not divide the size
            raise ConfigError(f"{at}.{exc.key.rpartition('.')[2]}", exc.problem) from None

    def __init__(self, value_field: str, key: str | None, watermark: Watermark, *,
                 size: float = 10.0, slide: float | None = None, idle_timeout: float = 60.0,
                 sink: Sink | None = None, advance_watermark: bool = False):
        if size <= 0:
            raise ConfigError("window.size", f"must be > 0, got {size!r}")
        if slide is not None:
            if slide <= 0 or slide > size:
                raise ConfigError("window.slide", f"must be > 0 and ≤ size ({size}), got {slide!r}")
            ratio = size / slide
            if abs(ratio - round(ratio)) > 1e-9:
                raise ConfigError("window.slide",
                                  f"must divide size ({size}) evenly, got {slide!r}")
        self.field = value_field
        self.key = key
        self.watermark = watermark
        self.size = size
        self.slide = slide if slide is not None and slide != size else None
        self.idle_timeout = idle_timeout
        self.sink = sink
        self.advance_watermark = advance_watermark
        self.open: dict[float, dict[Any, list[float]]] = {}
        self.last_input: float | None = None
        self.emitted = 0
        #: Records that reached the rule with a null (or non-numeric) value: not aggregated.
        self.skipped = 0
        self._iso: dict[float, str] = {}

    def __call__(self, records: list[dict], times: list, ctx: BatchContext) -> tuple[list, list]:
        if records:
            self.last_input = ctx.mono
            if self.slide is None:
                self._add_tumbling(records, times)
            else:
                self._add_sliding(records, times)
        return records, times

    def end_batch(self, ctx: BatchContext) -> None:
        """After the whole batch (and after the late rule moved the watermark): close the
        windows the watermark has passed. Closing only here keeps the chunks of one batch
        from closing a window a later chunk of the same batch still adds to."""
        self.close(ctx)

    def _add_tumbling(self, records: list[dict], times: list) -> None:
        open_, size, vf, kf = self.open, self.size, self.field, self.key
        advance = self.advance_watermark
        mx = self.watermark.max_time
        last_start = None
        slot: dict[Any, list[float]] = {}
        keys = column(records, kf) if kf else [None] * len(records)
        skipped = 0
        for v, t, k in zip(column(records, vf), times, keys, strict=True):
            if v is None or (type(v) is not float and type(v) is not int):
                skipped += 1
                continue
            if advance and t > mx:
                mx = t
            start = (t // size) * size
            if start != last_start:
                slot = open_.get(start)
                if slot is None:
                    slot = open_[start] = {}
                last_start = start
            values = slot.get(k)
            if values is None:
                slot[k] = [v]
            else:
                values.append(v)
        self.skipped += skipped
        if advance:
            self.watermark.max_time = mx

    def fuse(self, j: int, access: Access, ns: dict[str, Any]) -> Fused | None:
        """Generated code adding values inside the validator's loop (tumbling windows that
        follow a late rule only); windows close in :meth:`end_batch`, as after
        :meth:`__call__`."""
        if self.slide is not None or self.advance_watermark:
            return None
        ns.update({f"RULE_{j}": self, f"FIELD_{j}": self.field, f"KEY_{j}": self.key})
        setup = [f"open_{j} = RULE_{j}.open; size_{j} = RULE_{j}.size",
                 f"last_start_{j} = None; slot_{j} = None; reached_{j} = False; skipped_{j} = 0"]
        key = access.read(self.key, f"KEY_{j}") if self.key else "None"
        # A flag, not a count: an int past 256 is a new object at every increment.
        body = [f"reached_{j} = True",
                f"x_{j} = {access.read(self.field, f'FIELD_{j}')}",
                f"if x_{j} is not None and (type(x_{j}) is FLOAT or type(x_{j}) is INT):",
                f"    start_{j} = (t // size_{j}) * size_{j}",
                f"    if start_{j} != last_start_{j}:",
                f"        slot_{j} = open_{j}.get(start_{j})",
                f"        if slot_{j} is None:",
                f"            slot_{j} = open_{j}[start_{j}] = {{}}",
                f"        last_start_{j} = start_{j}",
                f"    k_{j} = {key}",
                f"    values_{j} = slot_{j}.get(k_{j})",
                f"    if values_{j} is None:",
                f"        slot_{j}[k_{j}] = [x_{j}]",
                "    else:",
                f"        values_{j}.append(x_{j})",
                "else:",
                f"    skipped_{j} += 1"]
        teardown = [f"if reached_{j}:", f"    RULE_{j}.last_input = ctx.mono",
                    f"RULE_{j}.skipped += skipped_{j}"]
        return setup, body, teardown

    def _add_sliding(self, records: list[dict], times: list) -> None:
        open_, size, slide, vf, kf = self.open, self.size, self.slide, self.field, self.key
        steps = int(round(size / slide))
        for rec, t in zip(records, times, strict=True):
            v = rec.get(vf)
            if v is None or (type(v) is not float and type(v) is not int):
                self.skipped += 1
                continue
            if self.advance_watermark:
                self.watermark.advance(t)
            last = (t // slide) * slide
            k = rec.get(kf) if kf else None
            for j in range(steps):
                start = last - j * slide
                slot = open_.get(start)
                if slot is None:
                    slot = open_[start] = {}
                values = slot.get(k)
                if values is None:
                    slot[k] = [v]
                else:
                    values.append(v)

    def close(self, ctx: BatchContext | None = None) -> int:
        """Emit the windows the watermark has passed; returns how many."""
        wm = self.watermark.value
        size = self.size
        due = [s for s in self.open if s + size <= wm]
        if not due:
            return 0
        return self._emit(sorted(due), "watermark")

    def tick(self, mono: float) -> int:
        """Emit every open window when no record arrived for ``idle_timeout`` seconds."""
        if self.open and self.last_input is None:  # restored: idle from now on
            self.last_input = mono
        if self.open and self.last_input is not None \
                and mono - self.last_input >= self.idle_timeout:
            return self._emit(sorted(self.open), "idle")
        return 0

    def flush(self) -> int:
        """Emit every open window now (end of input, shutdown)."""
        return self._emit(sorted(self.open), "flush") if self.open else 0

    def _emit(self, starts: list[float], why: str) -> int:
        out: list[dict[str, Any]] = []
        append = out.append
        size, pop = self.size, self.open.pop
        for start in starts:
            slot = pop(start)
            start_iso, end_iso = self._time(start), self._time(start + size)
            for key, values in slot.items():
                n = len(values)
                low, high, p95, total = aggregate(values)
                append({"key": key, "start": start_iso, "end": end_iso, "count": n,
                        "mean": total / n, "min": low, "max": high, "p95": p95,
                        "closed_by": why})
        self.emitted += len(out)
        if self.sink is not None and out:
            self.sink(out)
        return len(out)

    def _time(self, t: float) -> str:
        iso = self._iso.get(t)
        if iso is None:
            if len(self._iso) > 10_000:
                self._iso.clear()
            iso = self._iso[t] = utc_iso(t)
        return iso

    # -- keyed state (the Stateful protocol) ---------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """The open windows with their values, and the watermark when the window keeps its
        own (a window after a late rule follows that rule's, which the late rule saves)."""
        out: dict[str, Any] = {
            "size": self.size, "slide": self.slide, "own_watermark": self.advance_watermark,
            "open": [[start, [[key, _values_out(values)] for key, values in slot.items()]]
                     for start, slot in self.open.items()]}
        if self.advance_watermark:
            out["watermark"] = time_out(self.watermark.max_time)
        return out

    def restore_state(self, state: dict[str, Any]) -> None:
        """Reopen the saved windows (``ValueError``, nothing changed, when ``state`` does not
        fit: another size or slide, another watermark arrangement, a bad shape)."""
        saved = (state.get("size"), state.get("slide"), state.get("own_watermark"))
        if saved != (self.size, self.slide, self.advance_watermark):
            raise ValueError(f"window: saved for size, slide, own watermark {saved!r}; this "
                             f"window has {(self.size, self.slide, self.advance_watermark)!r}")
        mark = time_in(state.get("watermark"), "window.watermark") \
            if self.advance_watermark else None
        opened: dict[float, dict[Any, list[float]]] = {}
        for i, item in enumerate(shape(state.get("open"), list, "window.open")):
            where = f"window.open[{i}]"
            if not isinstance(item, list) or len(item) != 2:
                raise ValueError(f"{where}: expected [start, [[key, [values]]]]")
            start = shape(item[0], (int, float), f"{where}.start")
            slot = opened.setdefault(float(start), {})
            for j, pair in enumerate(shape(item[1], list, where)):
                if not isinstance(pair, list) or len(pair) != 2 or not (
                        pair[0] is None or isinstance(pair[0], (str, int, float))):
                    raise ValueError(f"{where}[{j}]: expected [key (a scalar), [values]]")
                slot[pair[0]] = _values_in(pair[1], f"{where}[{j}]")
        self.open = opened
        self.last_input = None  # the idle timeout restarts at the first tick
        if mark is not None:
            self.watermark.max_time = mark
            self.watermark.pending = -math.inf

    def stats(self) -> dict[str, Any]:
        """Windows emitted and open, and records whose value was not aggregated (null or
        not a number)."""
        return {"emitted": self.emitted, "open": sum(len(s) for s in self.open.values()),
                "skipped": self.skipped}


#: Non-finite values, which JSON has no number for, as the strings Python prints them as.
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _values_out(values: list[float]) -> list[Any]:
    """A copy of a window's values for JSON (checked in C; a non-finite one is rare)."""
    if all(map(math.isfinite, values)):
        return values.copy()  # later batches append to the open window
    return [v if math.isfinite(v) else repr(float(v)) for v in values]


def _values_in(raw: Any, where: str) -> list[float]:
    """A window's values back from JSON; ``ValueError`` for anything but numbers."""
    values = shape(raw, list, where)
    if not values:
        raise ValueError(f"{where}: an open window holds at least one value")
    out = []
    for v in values:
        if isinstance(v, str) and v in _NONFINITE:
            v = _NONFINITE[v]
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{where}: values must be numbers, got {type(v).__name__}")
        out.append(v)
    return out
