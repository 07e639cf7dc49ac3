"""The dependency direction of docs/architecture.md, checked on every import in the package
(function-level imports included): the core never imports dash or flask, dashboard and server
never import each other, nothing imports the CLI or the benchmarks, only the app (and the
benchmarks) import the dashboard."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "streamdash"
#: Top-level parts allowed to import dash/flask (everything else is "the core").
WEB = {"dashboard", "server", "app", "wsgi", "serving", "bench"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def part(module: str) -> str:
    """The top-level part of a streamdash module: ``streamdash.pipeline.rules.x`` → pipeline."""
    return module.split(".")[1] if module.count(".") else ""


def importers_of(target: str) -> set[str]:
    return {m for m, names in MODULES.items()
            if any(n == target or n.startswith(target + ".") for n in names)}


def test_the_walk_sees_the_package():
    """The check reads every module and resolves relative imports (a sanity check of itself)."""
    assert len(MODULES) > 100
    assert "streamdash.errors" in MODULES["streamdash.config"]
    assert "streamdash.threads" in MODULES["streamdash.pipeline.workers"]  # from ..threads
    assert importers_of("dash") and importers_of("streamdash.dashboard")


@pytest.mark.parametrize("web", ["dash", "flask", "dash_ag_grid", "dash_bootstrap_components",
                                 "dash_auth"])
def test_the_core_never_imports_the_web_stack(web):
    """No module up to the runtime imports dash, flask or a Dash component library."""
    offenders = sorted(m for m in importers_of(web) if part(m) not in WEB)
    assert offenders == []


def test_dashboard_and_server_never_import_each_other():
    """The dashboard and the HTTP routes meet only in the app factory."""
    assert sorted(m for m in importers_of("streamdash.server") if part(m) == "dashboard") == []
    assert sorted(m for m in importers_of("streamdash.dashboard") if part(m) == "server") == []


def test_nothing_imports_the_cli_or_the_benchmarks():
    """The command and the benchmarks sit on top: the product never imports them."""
    for top in ("cli", "bench"):
        outside = {m for m in importers_of(f"streamdash.{top}") if part(m) != top}
        assert sorted(outside - {"streamdash.__main__"}) == []


def test_only_the_app_imports_the_dashboard():
    """The dashboard is imported by the app factory (and measured by the benchmarks)."""
    outside = {m for m in importers_of("streamdash.dashboard") if part(m) != "dashboard"}
    assert sorted(outside - {"streamdash.app"}) == sorted(m for m in outside if part(m) == "bench")


@pytest.mark.parametrize("store", ["streamdash.store.ring", "streamdash.store.recent",
                                   "streamdash.store.quarantine", "streamdash.metrics",
                                   "streamdash.quality.monitor", "streamdash.reporter",
                                   "streamdash.pipeline"])
def test_the_web_side_reads_a_stream_only_through_the_state_interface(store):
    """The dashboard and the routes never reach into the runtime's stores: they read a stream
    through ``streamdash.state`` (the memory backend or what a worker published)."""
    offenders = sorted(m for m in importers_of(store) if part(m) in ("dashboard", "server"))
    assert offenders == []
