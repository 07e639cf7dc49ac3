"""The PostgreSQL backend of the history (``storage.backend: postgres``), for deployments whose
processes share one history (web and worker on different machines or dynos).

* ``connect``    — connections (timeouts, the schema on the search path) and the readers' pool
* ``migrations`` — the versioned schema, applied at start under an advisory lock
* ``store``      — :class:`~.store.PostgresStore`, what the writer thread writes through
* ``reader``     — :class:`~.reader.PostgresReader`, the shared queries in PostgreSQL's SQL

Needs psycopg 3 and psycopg_pool (``pip install 'streamdash[postgres]'``); nothing here is
imported unless the settings ask for PostgreSQL.
"""
