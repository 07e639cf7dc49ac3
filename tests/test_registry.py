"""streamdash.registry: every module of a package is found in name order, and a name two
modules declare fails at import naming both."""

from __future__ import annotations

import pytest

from streamdash.errors import RegistryError
from streamdash.registry import discover, modules, own_classes


def named(module):
    """Entries: each class with its own ``name``."""
    return ((cls.name, cls) for cls in own_classes(module, "name"))


def test_modules_are_found_in_name_order_private_ones_skipped(scratch_package):
    """Discovery imports every public module, sorted by name, whatever order the files have."""
    pkg, path = scratch_package({"zeta": "class Z:\n    name = 'z'\n",
                         "alpha": "class A:\n    name = 'a'\nclass B:\n    name = 'b'\n",
                         "_private": "class P:\n    name = 'p'\n"})
    assert [m.__name__.rsplit(".", 1)[1] for m in modules(pkg, path)] == ["alpha", "zeta"]
    assert list(discover(pkg, path, named, "thing")) == ["a", "b", "z"]


def test_only_classes_that_set_the_attribute_themselves_are_entries(scratch_package):
    """A base class without the attribute, a subclass inheriting it and a class imported from
    another module are not entries of the module."""
    pkg, path = scratch_package({
        "base": "class Base:\n    pass\nclass Kind(Base):\n    name = 'kind'\n"
                "class Inherits(Kind):\n    pass\n",
        "user": "from .base import Kind\nclass Other:\n    name = 'other'\n"})
    found = discover(pkg, path, named, "thing")
    assert {n: c.__qualname__ for n, c in found.items()} == {"kind": "Kind", "other": "Other"}


def test_a_name_declared_twice_fails_naming_both_modules(scratch_package):
    """Two modules declaring one name (a copied module not renamed) raise at discovery."""
    pkg, path = scratch_package({"first": "class A:\n    name = 'same'\n",
                         "second": "class B:\n    name = 'same'\n"})
    with pytest.raises(RegistryError) as err:
        discover(pkg, path, named, "rule")
    assert str(err.value) == (f"rule 'same' is declared twice: in {pkg}.first and in "
                              f"{pkg}.second; rename one of them")


def test_a_module_importing_a_missing_library_says_to_import_it_lazily(scratch_package):
    """A module that imports an uninstalled library at its top (an optional extra's client)
    fails discovery with a message naming it, not a bare traceback from the package."""
    pkg, path = scratch_package({"needs_extra": "import no_such_client_lib\n"})
    with pytest.raises(RegistryError, match=rf"{pkg}\.needs_extra imports 'no_such_client_lib', "
                                            r"which is not installed: .* imported where it is "
                                            r"used"):
        discover(pkg, path, named, "thing")
