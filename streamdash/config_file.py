"""Reading a YAML settings file within bounds: size, nesting depth and expanded size.

A settings file is hostile input like any other: :func:`read_yaml` refuses a file that is too
big, not UTF-8, nested too deep or an alias bomb, with one line naming the file (and the line),
before anything walks the document.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

# Bounds on a settings file, checked before anything walks the document. A real settings
# file is a few KB, a few levels deep, with a handful of anchors; these leave ample room.
#: Largest settings file read (bytes): more is not a settings file.
MAX_CONFIG_BYTES = 1024 * 1024
#: Deepest nesting of mappings/lists: PyYAML composes recursively, 5,000 levels overflow it.
MAX_CONFIG_DEPTH = 64
#: Most nodes the document may have once aliases are expanded: a 349-byte "billion laughs"
#: file expands to ~10^9 nodes, which walking (merge, validate, deepcopy) takes minutes and GBs.
MAX_CONFIG_NODES = 100_000


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses documents nested deeper than ``MAX_CONFIG_DEPTH``."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_CONFIG_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"nested deeper than {MAX_CONFIG_DEPTH} levels at line "
                                     f"{mark.line + 1}, column {mark.column + 1}")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """Nodes under ``node`` with every alias expanded (memoised, so this costs the graph's
    size, not the expansion's); a recursive alias counts as too many."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        return MAX_CONFIG_NODES + 1
    open_.add(key)
    total = 1
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        total += _expanded_size(child, sizes, open_)
        if total > MAX_CONFIG_NODES:
            break
    open_.discard(key)
    sizes[key] = total
    return total


def parse_yaml(text: str, where: str = "settings") -> Any:
    """Parse YAML text within the bounds above; every problem is a ``yaml.YAMLError`` whose
    message says what (the alias and depth checks run before any object is built)."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, set()) > MAX_CONFIG_NODES:
            raise yaml.YAMLError(f"more than {MAX_CONFIG_NODES} values once aliases (*name) "
                                 "are expanded (an alias bomb?)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML settings file; a missing, oversized, non-UTF-8 or bad YAML file (too deep,
    alias bomb) is a one-line ``ConfigError``."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {p}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("--config", f"{p} is larger than {MAX_CONFIG_BYTES // 1024} KiB; "
                                      "not a settings file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError("--config", f"{p} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                                      f"line {line}); save it as UTF-8") from None
    try:
        data = parse_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError("--config", f"{p} is not valid YAML{where}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("--config", f"{p} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("--config", f"{p} must hold a mapping of settings, not "
                                      f"{type(data).__name__}")
    return data


