"""Run the ``streamdash`` command in the test's own process, or in a real one.

In process (:func:`in_process`) a call costs what the command itself does; a real process
(:func:`real_process`, ``python -m streamdash.cli``) adds an interpreter, its imports and
coverage's start, 1–2 s a call on the 2-core CI machine. So tests call ``main(argv)`` and keep a
real process for what only a process shows (the module entry point, ``sys.exit``, stdin from a
pipe, a bound that must hold without taking the test process down with it).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from streamdash.cli import main

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    """What the command did: its exit status and everything it wrote."""

    returncode: int
    stdout: str
    stderr: str


def in_process(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *args: str,
               stdin: str = "") -> Result:
    """``streamdash ARGS`` through ``main(argv)``, with ``stdin`` as its (non-terminal) input and
    the environment a real process gets from :func:`real_process`."""
    monkeypatch.delenv("STREAMDASH_CONFIG", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    # `run` sets urllib3's level for the whole process (configure_logging): undone below.
    urllib3_level = logging.getLogger("urllib3").level
    capsys.readouterr()  # only what this command writes
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's usage errors (2) and --help (0)
        code = exc.code
    finally:
        logging.getLogger("urllib3").setLevel(urllib3_level)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def real_process(*args: str, stdin: str = "", timeout: float = 60) -> Result:
    """``python -m streamdash.cli ARGS`` in a new interpreter, ``stdin`` piped in."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STREAMDASH_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "streamdash.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    return Result(proc.returncode, proc.stdout, proc.stderr)
