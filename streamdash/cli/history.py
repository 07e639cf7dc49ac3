"""``streamdash history migrate`` / ``streamdash history copy``: look after a history store.

``migrate`` brings the schema of the history (the settings', or ``--history LOCATION``) to this
version's and says which version it is at (PostgreSQL: the numbered migrations, under an
advisory lock, so it is safe beside running processes; SQLite: the file's tables). ``copy``
moves a whole history, oldest rows first, into an *empty* one, so a user can go from a data
dir to PostgreSQL without losing anything::

    streamdash history copy --from sqlite:./streamdash-data --to "$DATABASE_URL"

A location is ``sqlite:PATH`` (a data dir or the file) or a ``postgres://`` URL. The commands
that read a history (``metrics``, ``dlq export``) find it as :func:`history_location` says.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_UNAVAILABLE = 1
MIGRATE = ("Create or migrate the schema of the history (the settings' storage, or --history) "
           "and say which version it is at. PostgreSQL: numbered migrations under an advisory "
           "lock, safe beside running processes.")
COPY = ("Copy a whole history, oldest rows first, into an empty one: e.g. --from "
        "sqlite:./streamdash-data --to \"$DATABASE_URL\". A location is sqlite:PATH (a data "
        "dir or the file) or a postgres:// URL.")


def add_location_arguments(p: argparse.ArgumentParser) -> None:
    """``--history``/``--data-dir``/``--config``: which history a command reads."""
    p.add_argument("--history", metavar="LOCATION",
                   help="sqlite:PATH or a postgres:// URL (default: the settings' storage)")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding history.sqlite3")
    p.add_argument("--config", metavar="FILE", help="YAML settings file (storage, data_dir)")


def history_location(args: argparse.Namespace) -> tuple[str, Any]:
    """The history a command uses, and the storage options: ``--history``, else
    ``--data-dir`` (SQLite), else the settings' (``storage.backend: postgres`` → its URL, which
    ``DATABASE_URL`` sets), else SQLite in the settings' ``data_dir`` or ``./streamdash-data``
    (where ``streamdash run`` writes)."""
    from ..config import load_settings, with_default_data_dir
    from ..store.history import database_path, storage_options

    data_dir = getattr(args, "data_dir", None)
    settings = load_settings(getattr(args, "config", None), overrides={"data_dir": data_dir})
    options = storage_options(settings.section("storage"))
    if getattr(args, "history", None):
        return args.history, options
    if options.backend == "postgres" and not data_dir:
        return options.url, options
    return f"sqlite:{database_path(with_default_data_dir(settings).get('data_dir'))}", options


def reader_from_args(args: argparse.Namespace) -> Any:
    """The reader of the history :func:`history_location` finds."""
    from ..store.history import open_reader

    location, options = history_location(args)
    return open_reader(location, options)


def register(sub: Any) -> None:
    """Add the ``history`` command group (``migrate``, ``copy``) to the parser."""
    group = sub.add_parser("history", help="migrate or copy the history store",
                           description=__doc__.split("\n\n")[0])
    group.set_defaults(func=lambda args: group.print_help() or 2)
    actions = group.add_subparsers(dest="history_command", metavar="ACTION")
    migrate = actions.add_parser("migrate", help="bring the history's schema up to date",
                                 description=MIGRATE)
    add_location_arguments(migrate)
    migrate.set_defaults(func=cmd_migrate)
    copy = actions.add_parser("copy", help="copy a whole history into an empty one",
                              description=COPY)
    copy.add_argument("--from", dest="source", required=True, metavar="LOCATION",
                      help="the history to read: sqlite:PATH or a postgres:// URL")
    copy.add_argument("--to", dest="target", required=True, metavar="LOCATION",
                      help="the empty history to fill: sqlite:PATH or a postgres:// URL")
    copy.add_argument("--batch", type=int, default=5000, metavar="ROWS",
                      help="rows per transaction (default 5000)")
    copy.set_defaults(func=cmd_copy)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Migrate the history's schema; 1 with the reason when the store cannot be reached."""
    from ..store.history import StorageUnavailable, open_store
    from ..store.history.copy import migrate

    location, options = history_location(args)
    store = open_store(location, options, "--history")
    try:
        print(migrate(store))
    except (StorageUnavailable, *store.failures) as exc:
        print(f"streamdash: history migrate: {store.location}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        store.disconnect()
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy every row; 1 with the reason when a store cannot be read or is not empty."""
    from ..errors import ConfigError
    from ..store.history import StorageUnavailable, open_store
    from ..store.history.copy import copy_history

    if not 1 <= args.batch <= 1_000_000:
        raise ConfigError("--batch", f"must be between 1 and 1000000, got {args.batch}")
    source = open_store(args.source, key="--from")
    target = open_store(args.target, key="--to")
    try:
        copied = copy_history(source.reader, target, batch=args.batch)
    except (StorageUnavailable, LookupError, *source.failures, *target.failures) as exc:
        print(f"streamdash: history copy: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        target.disconnect()
    skipped = copied.pop("skipped")
    rows = ", ".join(f"{table} {n}" for table, n in copied.items())
    print(f"copied {sum(copied.values())} rows from {source.location} to {target.location} "
          f"({rows})" + (f"; {skipped} rows refused by the target, skipped" if skipped else ""))
    return 0
