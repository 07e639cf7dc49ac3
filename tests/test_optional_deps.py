"""The quick start needs no optional extra: without psycopg (the `postgres` extra) installed,
the package imports, the default app builds and the CLI answers.

`pip install .` (the README's first command) installs no extra; CI installs them all with
`.[test]`, so this test hides them in a child interpreter to see what a newcomer sees.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

OPTIONAL = ("psycopg", "psycopg_pool")

BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys

    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {OPTIONAL!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Missing())
""")


def run_without_extras(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_the_default_app_builds_without_any_extra() -> None:
    done = run_without_extras("""
        import sys
        from streamdash.app import check_settings, create_app
        from streamdash.config import Settings
        from streamdash.sources import SOURCES
        app = create_app(Settings(), start=False)
        app.runtime.source.close()
        check_settings(Settings())
        loaded = sorted(m for m in {OPTIONAL!r} if m in sys.modules)
        print("kinds", len(SOURCES), "loaded", loaded)
    """.replace("{OPTIONAL!r}", repr(OPTIONAL)))
    assert done.returncode == 0, done.stderr
    assert "loaded []" in done.stdout


def test_the_cli_answers_without_any_extra() -> None:
    done = run_without_extras("""
        from streamdash.cli.main import main
        try:
            main(["--help"])
        except SystemExit as stop:
            assert stop.code == 0, stop.code
    """)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()
