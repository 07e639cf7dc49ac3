"""Hostile settings (issue #13 case 9) make the `streamdash` command fail with one line on
stderr and exit 2, never a traceback; the YAML limits hold before anything walks the document.

The command runs in the test's process (``main(argv)``: a traceback there is an exception the
test sees); one test runs the alias bomb through a real process too.
"""

import time

import pytest
import yaml

from streamdash.config_file import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_NODES, parse_yaml
from tests.cli.invoke import in_process, real_process

#: A 342-byte "billion laughs": nine levels of nine aliases, ~4 * 10^8 values when expanded.
ALIAS_BOMB = '''a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
'''


@pytest.fixture
def streamdash(capsys, monkeypatch):
    """``streamdash(*args)``: the command in this process; its Result."""
    return lambda *args: in_process(capsys, monkeypatch, *args)


def assert_one_line_exit_2(proc, *words):
    """Exit 2, no traceback, and the error is one line (`run` may log its start before it)."""
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if not line[:4].isdigit()]
    assert len(errors) == 1, proc.stderr[-2000:]
    for word in words:
        assert word in errors[0], errors[0]


BAD_FILES = {
    "derive240": ("transforms:\n  - derive: {field: x, expr: \"" + "+".join(["v"] * 240)
                  + "\"}\n", ("transforms[0].derive.expr", "nested")),
    "derive_unary": ("transforms:\n  - derive: {field: x, expr: \"" + "-" * 400 + "v\"}\n",
                     ("expr",)),
    "deep": ("a: " + "[" * 5000 + "]" * 5000 + "\n", ("deeper",)),
    "deep_maps": ("".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n",
                  ("deeper",)),
    "recursive_alias": ("a: &a [*a]\n", ("aliases",)),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_settings_files_are_one_line_exit_2(streamdash, tmp_path, name):
    """Deep derive expressions and deeply nested or self-referencing YAML are refused in one
    line by `run`."""
    text, words = BAD_FILES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    assert_one_line_exit_2(streamdash("run", "--config", str(path), "--port", "0"), *words)


def test_non_utf8_file_is_one_line_exit_2(streamdash, tmp_path):
    """A Latin-1 settings file is named as not UTF-8, with the line of the bad byte."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"source:\n  name: caf\xe9\n")
    assert_one_line_exit_2(streamdash("check-config", str(path)), "UTF-8", "line 2")


def test_oversized_file_is_refused_before_parsing(streamdash, tmp_path):
    """A settings file over MAX_CONFIG_BYTES is refused by its size."""
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    assert_one_line_exit_2(streamdash("check-config", str(path)), "larger than")


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:99999/", "http://h:port/"])
def test_malformed_url_flag_is_one_line_exit_2(streamdash, url):
    """`--url` with an unclosed IPv6 bracket or a bad port is a one-line error naming the key."""
    assert_one_line_exit_2(streamdash("run", "--source", "http", "--url", url, "--port", "0"),
                           "source.url")


@pytest.mark.parametrize("command", ["run", "check-config"])
def test_alias_bomb_fails_before_anything_walks_it(streamdash, tmp_path, command):
    """The 342-byte alias bomb is refused with the alias message by the size check on the
    composed graph, within 5 s of what the same command takes to fail on a bad flag (it took
    `run` 60 s and 2.5 GB before)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    args = ("run", "--config", str(path), "--port", "0") if command == "run" \
        else ("check-config", str(path))
    start = time.monotonic()
    proc = streamdash(*args)
    elapsed = time.monotonic() - start
    assert_one_line_exit_2(proc, "aliases", str(MAX_CONFIG_NODES))
    # The baseline: the same command, failing on a flag instead.
    start = time.monotonic()
    assert streamdash("run", "--interval", "0.01").returncode == 2
    baseline = time.monotonic() - start
    assert elapsed < baseline + 5, f"{elapsed:.1f}s vs {baseline:.1f}s baseline"


def test_alias_bomb_in_a_real_process_is_one_line_exit_2(tmp_path):
    """`python -m streamdash.cli run` with the alias bomb exits 2 with one line, not a
    traceback or a process that runs out of memory (the timeout bounds a hang)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    proc = real_process("run", "--config", str(path), "--port", "0", timeout=60)
    assert_one_line_exit_2(proc, "aliases", str(MAX_CONFIG_NODES))


def test_parse_yaml_limits_in_process():
    """The bounded parser refuses depth and expansion past its limits and keeps ordinary
    anchors (a shared mapping used twice) working."""
    ok = parse_yaml("base: &b {x: 1}\none: *b\ntwo: *b\n")
    assert ok == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1}}
    inside = MAX_CONFIG_DEPTH - 1  # the top-level mapping is the first level
    assert parse_yaml("a: " + "[" * inside + "]" * inside) is not None
    with pytest.raises(yaml.YAMLError, match="deeper"):
        parse_yaml("a: " + "[" * (inside + 1) + "]" * (inside + 1))
    start = time.monotonic()
    with pytest.raises(yaml.YAMLError, match="aliases"):
        parse_yaml(ALIAS_BOMB)
    assert time.monotonic() - start < 1.0
