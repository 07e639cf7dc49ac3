"""The transformation rules, one module per family, and the registry that names them.

:data:`RULES` maps a rule's name in the ``transforms`` settings to its class; the processor
builds the chain from it (``processor.build_rules``) and knows no rule by name. The registry is
found, not listed: every class defined in a module of this package that sets its own ``name``
is a rule (see :mod:`streamdash.registry`), so adding a rule is adding its module and its test.
What a rule class provides (``Params``, ``build``, the call, the optional protocols) is
described in :mod:`streamdash.pipeline.rules.base`; ``docs/architecture.md`` ("Adding a rule")
walks through adding one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from ...errors import RegistryError
from ...params import Params
from ...registry import discover, own_classes
from .base import (
    BatchContext,
    EndsBatch,
    Fusable,
    Fused,
    Holds,
    Rule,
    RuleContext,
    Stateful,
    column,
)
from .convert import Convert
from .dedup import Dedup
from .derive import Derive
from .filter import Filter, conditions
from .late import Late
from .outlier import Outlier
from .watermark import Watermark
from .window import Windows


def declared_rules(module: ModuleType) -> Iterator[tuple[str, Any]]:
    """The rule classes ``module`` defines (those that set their own ``name``); one without a
    ``Params`` model or a ``build`` fails here, at import, naming it."""
    for cls in own_classes(module, "name"):
        where = f"{module.__name__}.{cls.__qualname__}"
        if not isinstance(cls.name, str) or not cls.name:
            raise RegistryError(f"{where}: a rule's name must be a non-empty string")
        params = getattr(cls, "Params", None)
        if not (isinstance(params, type) and issubclass(params, Params)) \
                or not callable(getattr(cls, "build", None)):
            raise RegistryError(f"{where} sets name {cls.name!r} but lacks a Params model or "
                                f"a build() classmethod: a class with its own name is a rule")
        yield cls.name, cls


#: Rule name → rule class, in module-name order (read-only: built once, when the package is
#: imported, from the modules found in it).
RULES: Mapping[str, Any] = MappingProxyType(discover(__name__, __path__, declared_rules, "rule"))

__all__ = ["RULES", "BatchContext", "Convert", "Dedup", "Derive", "EndsBatch", "Filter",
           "Fusable", "Fused", "Holds", "Late", "Outlier", "Rule", "RuleContext", "Stateful",
           "Watermark", "Windows", "column", "conditions", "declared_rules"]
