"""The package version: one place, imported by the package, the CLI, the runtime and setup.py."""

__version__ = "0.1.0"
