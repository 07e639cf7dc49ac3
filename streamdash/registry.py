"""Registries found in a package's modules: each module declares its own entries.

The source kinds (``sources.SOURCES``), the transformation rules (``pipeline.rules.RULES``) and
the dashboard's charts (``dashboard.panels.PANELS``) are not listed anywhere: adding one is
adding its module (and its test). :func:`discover` imports every module of the package, in
the order of their names so the registry's order never depends on the file system, and asks
the registry's ``entries`` function what each module declares. A name declared twice is a
:class:`~streamdash.errors.RegistryError` at import naming both modules: a copied module whose
name was not changed must not silently replace the original.

Nothing is kept between calls (no module-level registry filled in as classes are defined):
the package's ``__init__`` builds its mapping once, when it is imported.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import TypeVar

from .errors import RegistryError

T = TypeVar("T")


def modules(package: str, path: Iterable[str]) -> Iterator[ModuleType]:
    """Every module of ``package`` (its ``__path__``), imported, sorted by name.

    Modules whose name starts with ``_`` are private and skipped; sub-packages are not entered.
    Every module is imported, so one that imports a library which is not installed (the client
    of an optional extra, at the top of the module) would break the whole package: that is a
    :class:`RegistryError` saying to import it where it is used instead.
    """
    for info in sorted(pkgutil.iter_modules(list(path)), key=lambda i: i.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        name = f"{package}.{info.name}"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] == package.split(".")[0]:
                raise
            raise RegistryError(
                f"{name} imports {exc.name!r}, which is not installed: every module of {package} "
                f"is imported to find what it declares, so a library that is optional must be "
                f"imported where it is used (in the function that needs it), not at the top of "
                f"the module") from exc


def discover(package: str, path: Iterable[str],
             entries: Callable[[ModuleType], Iterable[tuple[str, T]]], what: str) -> dict[str, T]:
    """``{name: entry}`` of every entry ``entries(module)`` yields for the modules of
    ``package``, in module-name order (within a module, in the order it yields them).

    ``what`` names an entry in errors (``source kind``, ``rule``, ``panel``).
    """
    found: dict[str, T] = {}
    where: dict[str, str] = {}
    for module in modules(package, path):
        for name, entry in entries(module):
            claim(where, name, module.__name__, what)
            found[name] = entry
    return found


def claim(where: dict[str, str], name: str, module: str, what: str) -> None:
    """Record that ``module`` declares ``name`` in ``where`` (name → module), or raise
    :class:`RegistryError` naming both modules when another one declared it first."""
    if name in where:
        raise RegistryError(f"{what} {name!r} is declared twice: in {where[name]} and in "
                            f"{module}; rename one of them")
    where[name] = module


def own_classes(module: ModuleType, attribute: str) -> Iterator[type]:
    """The classes defined in ``module`` (not imported into it) that set ``attribute`` in their
    own body, in definition order: a base class that leaves it unset is not an entry."""
    for value in vars(module).values():
        if isinstance(value, type) and value.__module__ == module.__name__ \
                and attribute in vars(value):
            yield value
