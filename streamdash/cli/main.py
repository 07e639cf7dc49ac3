"""The ``streamdash`` command line.

``streamdash`` (same as ``streamdash run``) starts the pipeline and serves the dashboard through
gunicorn (:mod:`streamdash.serving`); ``streamdash check-config FILE`` validates a settings file;
``streamdash hash-password`` prints a hash for ``auth.users``; ``streamdash --version``. Errors
print one line, never a traceback, with one exit-code convention for every subcommand
(:data:`EXIT_CODES`): 2 for usage and configuration, 1 at run time.

Modules are imported when a command needs them: ``--version`` answers without building the
parser (no dash, Flask or HTTP stack), so it stays instant.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._version import __version__
from ..errors import ConfigError, StreamdashError

EXIT_RUNTIME = 1
EXIT_CONFIG = 2
#: Shown at the end of every command's --help (subcommands added later included).
EXIT_CODES = ("Exit status: 0 success; 1 run-time failure (port in use, no history to read, "
              "source or server unreachable); 2 usage or configuration error (bad flag, "
              "unknown or invalid setting).")

#: CLI flag (argparse dest) → dotted settings key.
RUN_FLAGS = {"source": "source.type", "interval": "source.interval", "host": "server.host",
             "port": "server.port", "data_dir": "data_dir", "log_level": "log.level",
             "log_format": "log.format", "refresh": "dashboard.refresh"}


def build_parser(bench: str | None = None, benchmarks: bool = True) -> argparse.ArgumentParser:
    """The argument parser with every subcommand.

    ``bench`` names the benchmark about to run: the ``bench`` group's modules are then
    imported only up to the one that registers it (see :func:`register_subcommands`). Without
    ``benchmarks`` the group has no subcommands: a command other than ``bench`` then imports no
    benchmark (one imports dash), so ``check-config`` or a bad flag answers in a fraction of a
    second.
    """
    parser = argparse.ArgumentParser(
        prog="streamdash",
        description="Ingest a data stream, validate it, and watch it live in a web dashboard.",
        epilog="Without a command, 'run' is assumed. Settings precedence: defaults < --config "
               "file < STREAMDASH_* environment variables < flags.")
    parser.add_argument("--version", action="version", version=f"streamdash {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the pipeline and the dashboard (default)",
                         description="Run the pipeline and serve the dashboard.")
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a settings file and exit",
                           description="Validate a YAML settings file: exit 0 when valid, "
                                       "2 with the reason when not.")
    check.add_argument("file", help="YAML settings file")
    check.set_defaults(func=cmd_check_config)

    # `streamdash worker` / `streamdash web` (the pipeline and the dashboard as separate
    # processes sharing Redis), `streamdash metrics` (the persisted history, no server needed),
    # `streamdash dlq export` (quarantined records as JSON Lines), `streamdash history
    # migrate|copy` (the history store), `streamdash hash-password` (auth.users / api_tokens).
    from . import auth, dlq, history, metrics, roles

    for command in (roles, metrics, dlq, history, auth):
        command.register(sub)

    # Groups whose subcommands live in their own modules (each adds a parser to the group).
    bench_group = sub.add_parser("bench", help="benchmarks (pipeline, dashboard)",
                                 description="Benchmarks that print measured figures.")
    bench_group.set_defaults(func=lambda args: bench_group.print_help() or 2)
    bench_commands = bench_group.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    if benchmarks:
        register_subcommands(bench_commands, "bench", only=bench)
    finish_help(parser)
    return parser


def finish_help(parser: argparse.ArgumentParser) -> None:
    """Every parser's help as a terminal shows it: reST markup of the docstrings it reuses
    made plain, and the exit-code convention (:data:`EXIT_CODES`) at the end."""
    parser.description = plain_text(parser.description)
    parser.epilog = " ".join(filter(None, [plain_text(parser.epilog), EXIT_CODES]))
    for action in parser._actions:
        action.help = plain_text(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = plain_text(choice.help)
            for sub in set(action.choices.values()):
                finish_help(sub)


_ROLE = re.compile(r":[a-z]+:`~?(?:[\w.]*\.)?([^`]+)`")


def plain_text(text: str | None) -> str | None:
    """``text`` without reST markup: ````x```` → x, ``:func:`~a.b``` → b, ```x``` → 'x'."""
    if not text or "`" not in text:
        return text
    text = _ROLE.sub(r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r"`([^`]+)`", r"'\1'", text)


def register_subcommands(group: Any, name: str, only: str | None = None) -> None:
    """Let modules add subcommands to a group: each ``register(group)`` in ``EXTENSIONS``.

    With ``only`` (the subcommand about to run), stop at the module that registers it: a
    benchmark's whole-process figures must not include importing the others (the dashboard
    benchmark imports dash, ~1.5 s and ~45 MiB before the pipeline benchmark starts).
    """
    import importlib

    for module_name in EXTENSIONS.get(name, ()):
        importlib.import_module(module_name).register(group)
        if only is not None and only in group.choices:
            return


#: Group name → modules with a ``register(subparsers)`` function adding their subcommands.
EXTENSIONS: dict[str, tuple[str, ...]] = {"bench": ("streamdash.bench.pipeline",
                                                    "streamdash.bench.alerts",
                                                    "streamdash.bench.dashboard",
                                                    "streamdash.bench.history",
                                                    "streamdash.bench.history_chart",
                                                    "streamdash.bench.hostile",
                                                    "streamdash.bench.push")}


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``streamdash run``."""
    add_pipeline_arguments(p)
    add_server_arguments(p)


def add_pipeline_arguments(p: argparse.ArgumentParser) -> None:
    """Flags naming the settings, the source and the logging (``run``, ``worker``, ``web``)."""
    p.add_argument("--config", metavar="FILE", help="YAML settings file")
    p.add_argument("--source", metavar="NAME", help="source type or preset (default: simulated)")
    p.add_argument("--interval", type=float, metavar="S", help="seconds between fetches (0.1–3600)")
    p.add_argument("--data-dir", metavar="DIR", help="folder for persisted history")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                   type=str.upper)
    p.add_argument("--log-format", choices=["text", "json"])
    from ..sources.flags import add_source_arguments  # --url, --field, --param, --header …

    add_source_arguments(p)


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of a process serving the dashboard (``run``, ``web``)."""
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8050, or $PORT)")
    p.add_argument("--refresh", type=float, metavar="S",
                   help="dashboard refresh in seconds (default 5; 0 = paused)")
    p.add_argument("--access-log", action="store_true",
                   help="log every HTTP request (off: the console is for the pipeline)")


def settings_from_args(args: argparse.Namespace, flags: dict[str, str] = RUN_FLAGS):
    """Load settings with the flags given on the command line laid on top."""
    from ..config import load_settings
    from ..sources.flags import source_overrides

    overrides = {key: getattr(args, dest, None) for dest, key in flags.items()}
    overrides.update(source_overrides(args))
    return load_settings(getattr(args, "config", None), overrides=overrides)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the pipeline and serve the dashboard until SIGTERM or Ctrl-C.

    Everything that can refuse to start is checked before the pipeline exists: the settings
    (every section, exit 2), then the port (bound here, exit 1). The runtime itself starts in
    gunicorn's worker process (see :mod:`streamdash.serving`).
    """
    from ..config import with_default_data_dir
    from ..logs import configure_logging, log_settings, secret_values

    settings = with_default_data_dir(settings_from_args(args))
    configure_logging(settings.get("log.level"), settings.get("log.format"),
                      secrets=secret_values(settings.as_dict()))
    from ..auth_config import enforce_secure_default  # no login on 0.0.0.0: refuse to start

    enforce_secure_default(settings, [settings.get("server.host")],
                           logging.getLogger("streamdash.cli"))
    from ..app import check_settings  # dash: imported once the file and flags have passed
    from ..serving import StreamdashServer, bind_listener

    logging.disable(logging.WARNING)  # a dry run: the worker's build logs its warnings, once
    try:
        check_settings(settings)
    finally:
        logging.disable(logging.NOTSET)
    log_settings(logging.getLogger("streamdash.cli"), settings)
    listener = bind_listener(settings.get("server.host"), settings.get("server.port"),
                             settings.get("server.backlog"))
    return StreamdashServer(settings, listener, access_log=args.access_log).run()


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a settings file: every component checks its own section, as ``run`` would."""
    from ..config import load_settings

    settings = load_settings(args.file, environ={})
    from ..app import check_settings  # dash: imported once the file itself has passed

    check_settings(settings)
    print(f"{args.file}: valid")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (see :data:`EXIT_CODES`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # before the parser, whose subcommands import dash and requests
        print(f"streamdash {__version__}")
        return 0
    wanted = argv[1] if len(argv) > 1 and argv[0] == "bench" and not argv[1].startswith("-") \
        else None
    parser = build_parser(bench=wanted, benchmarks=bool(argv) and argv[0] == "bench")
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "run")
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as exc:
        print(f"streamdash: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (StreamdashError, OSError) as exc:  # the port is in use, a file is missing …
        print(f"streamdash: {exc}", file=sys.stderr)
        return EXIT_RUNTIME


def _main() -> Any:  # console-script shim
    sys.exit(main())
