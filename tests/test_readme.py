"""Every YAML example in the README is a valid configuration, as `check-config` sees it."""

import re
from pathlib import Path

import pytest
import yaml

from streamdash.app import check_settings
from streamdash.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)


def test_readme_has_yaml_examples():
    """The README shows configuration examples (so the test below checks something)."""
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_yaml_example_is_valid(block):
    """Each example builds a whole app without a ConfigError."""
    check_settings(Settings(yaml.safe_load(block)))


def quick_start_commands() -> list[str]:
    """The shell commands of the README's quick start, in order."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quick_start_is_two_commands_that_work_on_debian():
    """Two commands, each working on its own on a fresh machine: both make (or reuse) the same
    virtual environment (Debian 12's Python refuses a system-wide pip install); the first
    installs and runs the dashboard, the second the tests; the README says which Debian
    package provides venv."""
    install, tests = quick_start_commands()
    assert "\n" not in install and "\n" not in tests
    steps = [step.strip() for step in install.split("&&")]
    assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert steps[2:] == ["pip install .", "streamdash"]
    assert tests.startswith("python3 -m venv .venv && . .venv/bin/activate && "
                            "pip install '.[test]' && pytest ")
    assert "python3-venv" in README and "externally-managed-environment" in README


def test_ci_runs_the_readme_test_command_verbatim():
    """.ci/run's last command is the README's test command, character for character."""
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    last = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last == quick_start_commands()[1]
    assert "python3 -m venv .venv" in ci  # the environment the command activates exists
