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
