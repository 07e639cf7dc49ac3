"""Safe arithmetic expressions over record fields (``(value - 32) * 5 / 9``).

User text is parsed with :func:`ast.parse` and every node is checked against a whitelist:
numbers, field names, ``+ - * / // % **``, unary ``+``/``-``, parentheses and a few math
functions (``abs min max round sqrt log log10 exp floor ceil``). Anything else — attributes,
subscripts, strings, lambdas, comprehensions, unknown names or functions — is a
``ConfigError`` naming the setting. The checked tree is then turned into Python source by this
module, using only names it chooses (``A0`` for the first field, ``C0`` for the first
constant, ``FN_sqrt`` …), and compiled once; user text is never evaluated.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "min": min, "max": max, "round": round, "sqrt": math.sqrt, "log": math.log,
    "log10": math.log10, "exp": math.exp, "floor": math.floor, "ceil": math.ceil,
}
BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
          ast.Mod: "%"}
UNARY = {ast.UAdd: "+", ast.USub: "-"}
MAX_LENGTH = 500
#: Deepest nesting of operators and calls. The generated source wraps every operation in
#: parentheses and Python's parser refuses more than 200 nested ones ("too many nested
#: parentheses"): a 240-term sum is 240 levels. 100 leaves room and still reads as a formula.
MAX_DEPTH = 100


class Expression:
    """A checked arithmetic expression; ``fields`` lists the record fields it reads.

    ``python`` is the generated source of the expression over ``A{i}`` (field ``fields[i]``)
    and ``C{i}`` (``constants[i]``); :meth:`namespace` supplies the bindings.
    """

    def __init__(self, text: str, key: str = "expr"):
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(key, f"expected an arithmetic expression, got {text!r}")
        if len(text) > MAX_LENGTH:
            raise ConfigError(key, f"expression longer than {MAX_LENGTH} characters")
        self.text = text
        self.key = key
        self.fields: list[str] = []
        self.constants: list[Any] = []
        self.functions: set[str] = set()
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ConfigError(key, f"not a valid expression: {exc.msg} in {text!r}") from None
        depth = _depth(tree.body)
        if depth > MAX_DEPTH:
            raise ConfigError(key, f"expression nested {depth} levels deep (operators and calls),"
                                   f" more than {MAX_DEPTH}; split it into several derive steps")
        self.python = self._emit(tree.body)
        try:
            self._fn = self._compile()
        except (SyntaxError, RecursionError, MemoryError) as exc:  # a limit of Python's own
            raise ConfigError(key, f"expression too complex to compile: {exc}") from None

    def _emit(self, node: ast.AST) -> str:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            # Float power: an overflow raises instead of building a gigantic integer.
            self.functions.add("pow")
            return f"FN_pow({self._emit(node.left)}, {self._emit(node.right)})"
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            return f"({self._emit(node.left)} {BINARY[type(node.op)]} {self._emit(node.right)})"
        if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
            return f"({UNARY[type(node.op)]}{self._emit(node.operand)})"
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            self.constants.append(node.value)
            return f"C{len(self.constants) - 1}"
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise ConfigError(self.key, f"{node.id!r} is a function; call it with arguments")
            if node.id not in self.fields:
                self.fields.append(node.id)
            return f"A{self.fields.index(node.id)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name = node.func.id
            if name not in FUNCTIONS:
                raise ConfigError(self.key, f"unknown function {name!r} (known: "
                                            f"{', '.join(sorted(FUNCTIONS))})")
            if not node.args:
                raise ConfigError(self.key, f"{name}() needs arguments")
            self.functions.add(name)
            return f"FN_{name}(" + ", ".join(self._emit(a) for a in node.args) + ")"
        what = type(node).__name__
        if isinstance(node, ast.Constant):
            what = f"constant {node.value!r}"
        raise ConfigError(self.key, f"{what} is not allowed in an expression (numbers, field "
                                    f"names, + - * / // % **, and math functions only): "
                                    f"{self.text!r}")

    def namespace(self) -> dict[str, Any]:
        """Bindings for the generated source: constants and functions."""
        ns: dict[str, Any] = {f"C{i}": c for i, c in enumerate(self.constants)}
        ns.update({f"FN_{n}": math.pow if n == "pow" else FUNCTIONS[n] for n in self.functions})
        return ns

    def _compile(self) -> Callable[..., Any]:
        args = ", ".join(f"A{i}" for i in range(len(self.fields)))
        src = f"def expression({args}):\n    return {self.python}\n"
        ns = self.namespace()
        exec(compile(src, "<streamdash expression>", "exec"), ns)  # noqa: S102 - generated
        return ns["expression"]

    def evaluate(self, record: dict[str, Any]) -> Any:
        """The value for ``record``; ``None`` when a field is missing or null, or on an
        arithmetic error (division by zero, overflow, a math domain error)."""
        values = [record.get(f) for f in self.fields]
        if any(v is None for v in values):
            return None
        try:
            return self._fn(*values)
        except (ArithmeticError, ValueError, TypeError):
            return None


def _depth(root: ast.AST) -> int:
    """How deep operations nest in ``root`` (iterative: a deep tree must not overflow us)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context)))
    return deepest
