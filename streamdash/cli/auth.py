"""``streamdash hash-password``: print the hash to put in ``auth.users`` or ``auth.api_tokens``.

The secret is read from standard input (one line; ``echo -n … |`` or a file) or, on a
terminal, typed twice without echo — never from the command line, where it would stay in the
shell history and in ``ps`` for every local user to read.

* ``streamdash hash-password`` → ``scrypt:…`` for ``STREAMDASH_AUTH__USERS__<NAME>``
* ``streamdash hash-password --token`` → ``sha256:…`` for ``STREAMDASH_AUTH__API_TOKENS__<NAME>``
* ``streamdash hash-password --new-token`` → a fresh random token, then its hash
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from ..auth_config import hash_token, new_token
from ..errors import ConfigError

#: Shortest password accepted (a shorter one is refused, not hashed).
MIN_PASSWORD = 8
#: Shortest API token accepted: tokens are machine-made, long and random.
MIN_TOKEN = 16


def register(sub: Any) -> None:
    """Add the ``hash-password`` subcommand to the ``streamdash`` parser."""
    p = sub.add_parser("hash-password", help="print a password (or API token) hash for auth",
                       description="Read a password from stdin (or type it twice on a "
                                   "terminal) and print its salted hash for auth.users.")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--token", action="store_true",
                      help="hash an API token instead (sha256:…, for auth.api_tokens)")
    kind.add_argument("--new-token", action="store_true",
                      help="make a random API token; print it, then its hash")
    p.set_defaults(func=cmd_hash_password)


def read_secret(what: str, stdin: TextIO | None = None) -> str:
    """The secret from ``stdin`` (first line) or, on a terminal, typed twice without echo."""
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"{what}: ")
    if getpass.getpass(f"{what} (again): ") != first:
        raise ConfigError("hash-password", f"the two {what.lower()}s differ")
    return first


def cmd_hash_password(args: argparse.Namespace, stdin: TextIO | None = None,
                      stdout: TextIO | None = None) -> int:
    """Print the hash of the secret read from stdin; exit 2 when it is too short."""
    out = stdout or sys.stdout
    if args.new_token:
        token = new_token()
        print(token, file=out)
        print(hash_token(token), file=out)
        return 0
    what, shortest = ("Token", MIN_TOKEN) if args.token else ("Password", MIN_PASSWORD)
    secret = read_secret(what, stdin)
    if len(secret) < shortest:
        raise ConfigError("hash-password", f"{what.lower()} too short: at least {shortest} "
                                           "characters")
    if args.token:
        print(hash_token(secret), file=out)
    else:
        from werkzeug.security import generate_password_hash  # only this command needs it

        print(generate_password_hash(secret), file=out)
    return 0
