"""The transformation rules, one module per family, and the registry that names them.

:data:`RULES` maps a rule's name in the ``transforms`` settings to its class; the processor
builds the chain from it (``processor.build_rules``) and knows no rule by name. What a rule
class provides (``Params``, ``build``, the call, the optional protocols) is described in
:mod:`streamdash.pipeline.rules.base`; ``docs/architecture.md`` ("Adding a rule") walks through
adding one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .base import BatchContext, EndsBatch, Fusable, Fused, Holds, Rule, RuleContext, column
from .convert import Convert
from .dedup import Dedup
from .derive import Derive
from .filter import Filter, conditions
from .late import Late
from .outlier import Outlier
from .watermark import Watermark
from .window import Windows

#: Rule name → rule class, in the order the documentation lists them (read-only: the
#: registry is declared here, never filled in at run time).
RULES: Mapping[str, Any] = MappingProxyType({cls.name: cls for cls in (
    Dedup, Filter, Derive, Convert, Outlier, Late, Windows)})

__all__ = ["RULES", "BatchContext", "Convert", "Dedup", "Derive", "EndsBatch", "Filter",
           "Fusable", "Fused", "Holds", "Late", "Outlier", "Rule", "RuleContext", "Watermark",
           "Windows", "column", "conditions"]
