"""Django's PostgreSQL backend, checking a kept connection's health only after it sat idle.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request
that reuses a connection: a round trip on every request, about a tenth of a cached read's
cost. A connection that finished a request a moment ago has just shown that it works; the
ones that go bad are the ones left idle, which servers, poolers and firewalls close. So the
check runs only when the connection has been idle for longer than the database's
`HEALTH_CHECK_IDLE_SECONDS` (0 checks before every request, as Django does). A connection
that breaks in the middle of busy traffic fails its next query with or without the check,
and Django replaces it after that request.
"""

import time

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    # When the connection last started or finished serving a request (time.monotonic()).
    last_request_at = float("-inf")

    def close_if_unusable_or_obsolete(self) -> None:
        # Django calls this as each request starts and as it finishes; the parent marks the
        # health check as due, and it is waived here for a connection that was just in use.
        super().close_if_unusable_or_obsolete()
        if self.connection is None:
            return
        now = time.monotonic()
        if now - self.last_request_at <= self.settings_dict["HEALTH_CHECK_IDLE_SECONDS"]:
            self.health_check_done = True
        self.last_request_at = now
