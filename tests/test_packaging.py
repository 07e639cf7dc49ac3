"""The wheel ships the dashboard assets (so an installed app works without a checkout)."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_assets_and_console_script(tmp_path):
    """`pip wheel .` yields a wheel with streamdash/assets/bootstrap.min.css and the entry point."""
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
           "-w", str(tmp_path), str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("streamdash-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        entry_points = zf.read(entry).decode()
    assert "streamdash/assets/bootstrap.min.css" in names
    assert "streamdash/assets/bootstrap.LICENSE" in names
    assert "streamdash = streamdash.cli:_main" in entry_points
