"""Tests for streamdash.dashboard.tables (AG Grid rows and columns)."""

from streamdash.dashboard import tables


def test_cells_are_text_or_numbers():
    """Numbers stay numbers, None is blank, bools and nested values become text."""
    assert tables.cell(3.5) == 3.5 and tables.cell(None) == "" and tables.cell(True) == "true"
    assert tables.cell({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert tables.cell("<script>x</script>") == "<script>x</script>"  # grid renders it as text


def test_latest_records_newest_first_with_columns():
    """Rows come newest first with their seq; columns are the union of fields in order."""
    cols, rows = tables.latest_records([(1, {"a": 1}), (2, {"a": 2, "b.c": {"x": 1}})])
    assert [c["field"] for c in cols] == ["#", "a", "b.c"]
    assert rows == [{"#": 2, "a": 2, "b.c": '{"x":1}'}, {"#": 1, "a": 1}]


def test_latest_records_caps_columns():
    """Records with very many fields show at most MAX_COLUMNS columns (plus seq)."""
    cols, _ = tables.latest_records([(1, {f"f{i}": i for i in range(100)})])
    assert len(cols) == tables.MAX_COLUMNS + 1


def test_quarantine_rows_show_reasons():
    """Each rejection shows its time, source, every reason and the record as JSON text."""
    rows = tables.quarantine_rows([{"at": "2026-01-01T00:00:00.000Z", "source": "sim",
                                    "reasons": [{"field": "temperature", "rule": "type",
                                                 "value": "'abc'"},
                                                {"field": None, "rule": "object"}],
                                    "record": {"temperature": "abc"}}])
    assert rows == [{"at": "2026-01-01T00:00:00.000Z", "source": "sim",
                     "reasons": "temperature: type (value 'abc'); record: object",
                     "record": '{"temperature":"abc"}'}]


def test_error_rows_format_time():
    """Ingestion errors keep every documented field; epoch times become ISO UTC."""
    (row,) = tables.error_rows([{"at": 1_700_000_000.0, "source": "api", "url": "http://x",
                                 "kind": "http", "reason": "503", "status": 503,
                                 "attempt": 2, "next_delay": 1.5}])
    assert row["at"] == "2023-11-14T22:13:20.000Z" and row["status"] == 503
    assert set(row) == set(tables.ERROR_FIELDS)
    assert tables.error_rows([{}])[0]["at"] == ""


def test_time_and_record_columns_are_readable():
    """Time columns fit a whole ISO time; quarantine reasons and records wrap and show whole
    on hover; a latest-records column holding ISO times is as wide as a time column."""
    widths = {c["field"]: c for c in tables.QUARANTINE_COLUMNS}
    assert widths["at"]["width"] == tables.TIME_WIDTH >= 230
    assert {c["field"]: c for c in tables.ERROR_COLUMNS}["at"]["width"] == tables.TIME_WIDTH
    for name in ("reasons", "record"):
        assert widths[name]["wrapText"] and widths[name]["autoHeight"]
        assert widths[name]["tooltipField"] == name and widths[name]["cellClass"] == "sd-clamp"
    cols, _ = tables.latest_records([(1, {"ts": "2026-01-01T00:00:00.000Z", "v": 1.0,
                                          "name": "x"})])
    by_field = {c["field"]: c for c in cols}
    assert by_field["ts"]["minWidth"] == tables.TIME_WIDTH
    assert "minWidth" not in by_field["v"] and "minWidth" not in by_field["name"]
def test_late_rows_show_time_event_time_watermark_and_record():
    """Each late record shows when it was set aside, its event time, the watermark it missed,
    by how much, its source and the record as JSON text."""
    rows = tables.late_rows([{"at": 1_764_198_000.0, "source": "usgs",
                              "event_time": "2025-11-26T22:00:00.000Z",
                              "watermark": "2025-11-26T22:30:00.000Z", "lateness_s": 1800.0,
                              "record": {"id": "ak1", "mag": 1.2}}])
    assert rows == [{"at": "2025-11-26T23:00:00.000Z", "source": "usgs",
                     "event_time": "2025-11-26T22:00:00.000Z",
                     "watermark": "2025-11-26T22:30:00.000Z", "lateness_s": 1800.0,
                     "record": '{"id":"ak1","mag":1.2}'}]
    assert [c["field"] for c in tables.LATE_COLUMNS] == list(rows[0])
