"""The source examples in docs/sources.md and the README are valid configurations."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from streamdash.cli import build_parser, settings_from_args
from streamdash.config import Settings
from streamdash.sources import build_source

ROOT = Path(__file__).resolve().parents[2]


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def data_files(tmp_path, monkeypatch):
    """The files and variables the examples name, in a scratch directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRICES_API_KEY", "example-key-123")
    monkeypatch.setenv("MQTT_PASSWORD", "example-password")
    (tmp_path / "readings.jsonl").write_text('{"id": 1, "ts": 1700000000}\n')
    (tmp_path / "readings.csv").write_text("id,ts\n1,1700000000\n")
    (tmp_path / "quakes.jsonl").write_text('{"id": "a", "time": 1700000000000}\n')
    return tmp_path


def test_yaml_examples_build_their_sources(data_files):
    """Every `source:` YAML example in docs/sources.md builds a source without error."""
    examples = [yaml.safe_load(b) for b in blocks(ROOT / "docs" / "sources.md", "yaml")]
    kinds = set()
    for example in examples:
        src = build_source(Settings(example))
        kinds.add(src.kind)
        src.close()
    assert kinds == {"http", "sse", "replay", "mqtt", "redis-stream"}


@pytest.mark.parametrize("doc", ["docs/sources.md", "README.md"])
def test_command_line_examples_build_their_sources(data_files, doc):
    """Every `streamdash run --source …` example parses and builds its source."""
    commands = []
    for block in blocks(ROOT / doc, "bash"):
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.split("#", 1)[0].strip()
            if cmd.startswith("streamdash run --source"):
                commands.append(cmd)
    assert commands
    for cmd in commands:
        argv = shlex.split(cmd)[1:]
        src = build_source(settings_from_args(build_parser().parse_args(argv)))
        src.close()


def test_readme_run_synopsis_lists_only_real_flags():
    """Every flag in the README's `streamdash [run]` synopsis exists on `streamdash run`."""
    synopsis = re.search(r"## Running\n\n```\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    run_block = synopsis.group(1).split("streamdash check-config")[0]
    flags = set(re.findall(r"\[(--[a-z-]+)", run_block)) | set(re.findall(r"\| (--[a-z-]+)",
                                                                           run_block))
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]
    known = {opt for action in run._actions for opt in action.option_strings}
    assert {"--url", "--field", "--header", "--speed"} <= flags
    assert flags <= known, flags - known
