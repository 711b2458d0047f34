"""Django's PostgreSQL backend, checking a kept connection's health only after it sat idle.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request
that reuses a connection: a round trip on every request, about a tenth of a cached read's
cost. A connection that ran a query a moment ago has just shown that it works; the ones that
go bad unseen are those left idle, which servers, poolers and firewalls close. So the check
runs only when the connection has run no query for longer than the database's
`HEALTH_CHECK_IDLE_SECONDS` (0 checks before every request, as Django does).

The price: when the server drops connections that were busy a moment ago (a restart, a
failover, `pg_terminate_backend`), the next request on each of them fails, at most one per
worker thread, where the check would have replaced the connection first. That request gets a
503 asking to retry (core/errors.py), and Django replaces the connection after it.
"""

import time
from typing import Any

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    # When this connection last ran a query (time.monotonic()).
    last_used_at = float("-inf")

    def create_cursor(self, name: str | None = None) -> Any:
        self.last_used_at = time.monotonic()
        return super().create_cursor(name)

    def close_if_unusable_or_obsolete(self) -> None:
        # Django calls this as each request starts and as it finishes; the parent marks the
        # health check as due, and it is waived here for a connection that was just in use.
        super().close_if_unusable_or_obsolete()
        idle_seconds = time.monotonic() - self.last_used_at
        if self.connection is not None and idle_seconds <= self.settings_dict.get(
            "HEALTH_CHECK_IDLE_SECONDS", 0
        ):
            self.health_check_done = True
