"""The source registry: every kind is found in its own module, declares its settings model,
and refuses an unknown setting; a kind two modules declare fails at import."""

from __future__ import annotations

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError, RegistryError
from streamdash.params import Params
from streamdash.registry import discover
from streamdash.sources import SOURCES, Source, build_source, declared_kinds


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_kind_declares_a_settings_model(kind):
    """Each entry has a Params model; a class entry is named by its own kind and lives in a
    module of the sources package."""
    entry = SOURCES[kind]
    assert issubclass(entry.Params, Params) and callable(entry.build)
    if isinstance(entry, type):
        assert issubclass(entry, Source) and entry.kind == kind
        assert entry.__module__.startswith("streamdash.sources.")


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_kind_refuses_an_unknown_setting(kind):
    """A misspelt setting of any kind is one ConfigError at ``source.<key>``, before any I/O."""
    with pytest.raises(ConfigError) as err:
        build_source(Settings({"source.type": kind, "source.no_such_setting": 1}))
    assert err.value.key == "source.no_such_setting"


def test_an_unknown_kind_suggests_the_closest_one():
    """``source.type`` is looked up in the registry, with a suggestion."""
    with pytest.raises(ConfigError, match="did you mean 'replay'"):
        build_source(Settings({"source.type": "replya"}))


def test_the_built_in_kinds_and_the_presets_are_found():
    """Classes with their own kind and the presets' ``kinds()`` entries are all registered;
    the abstract bases (no kind of their own) are not."""
    assert {"simulated", "http", "sse", "replay", "usgs-earthquakes", "open-meteo",
            "coinbase-spot"} <= set(SOURCES)
    assert "source" not in SOURCES
    assert not {"RequestsSource", "JsonResponses"} & {getattr(e, "__name__", "")
                                                      for e in SOURCES.values()}


def test_a_kind_declared_twice_fails_naming_both_modules(scratch_package):
    """A copied source module whose kind was not changed is refused when the package is read."""
    body = """
        from streamdash.sources.base import Source

        class {cls}(Source):
            kind = "toy"
    """
    pkg, path = scratch_package({"one": body.format(cls="One"), "two": body.format(cls="Two")})
    with pytest.raises(RegistryError, match=rf"source kind 'toy' is declared twice: in "
                                            rf"{pkg}\.one and in {pkg}\.two"):
        discover(pkg, path, declared_kinds, "source kind")


@pytest.mark.parametrize(("body", "problem"), [
    ("kind = ''", "kind must be a non-empty string"),
    ("kind = 'x'\n    Params = dict", "Params must be a streamdash.params.Params model"),
])
def test_a_bad_declaration_fails_when_the_class_is_defined(body, problem):
    """A kind that is not a name, or settings that are not a Params model, fail at import."""
    with pytest.raises(TypeError, match=problem):
        exec(f"class Bad(Source):\n    {body}\n", {"Source": Source, "__name__": "here"})
