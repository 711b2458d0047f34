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

A server that stops answering without closing anything (a frozen process or VM, a full disk
on some storage) is the other danger: the kernel still acknowledges what psycopg sends, so
neither `statement_timeout` (the server is not running to enforce it) nor TCP keepalives
notice, and psycopg waits for ever, holding a worker thread, until no thread is left for any
request, `/healthz` included. So every query, commit, rollback and health check is watched:
one that has no answer `QUERY_DEADLINE_SECONDS` after it was sent (the server's
`statement_timeout` plus a margin, so a slow query is always ended by the server first) has
its socket shut down, which psycopg reports as an OperationalError (a 503 with
`Retry-After`). For `UNAVAILABLE_SECONDS` after that, this process's queries fail at once
rather than wait again, except one at a time that tries whether the server is back.
"""

import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import OperationalError
from django.db.backends.postgresql import base

# /readyz asks for a shorter deadline than a request's (core/health.py).
deadline_override: ContextVar[float | None] = ContextVar("deadline_override", default=None)


class QueryWatchdog:
    """Shuts down the socket of a database call that outlives its deadline (one per process).

    An entry is registered while its thread is inside the call and removed, under the same
    lock, as the call returns; so the socket the watchdog shuts down is always the one still
    waiting, never a closed descriptor's number reused by something else.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[int, tuple[float, int]] = {}
        self.keys = itertools.count()
        self.thread: threading.Thread | None = None
        # Until when (time.monotonic()) calls fail at once, after a call that went unanswered.
        self.unavailable_until = 0.0
        self.tripped = False

    @contextmanager
    def watch(self, fileno: int, seconds: float, retry_seconds: float) -> Iterator[None]:
        self.admit(retry_seconds)
        key = next(self.keys)  # not the thread's id: an entry must never stand for another
        with self.lock:
            self.waiting[key] = (time.monotonic() + seconds, fileno)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="db-watchdog", daemon=True)
                self.thread.start()
        try:
            yield
        finally:
            with self.lock:
                ended = self.waiting.pop(key, None) is None
                if ended:
                    self.tripped = True
                    self.unavailable_until = time.monotonic() + retry_seconds
                elif self.tripped:
                    self.tripped = False  # an answer: the server is back
                    self.unavailable_until = 0.0

    def admit(self, retry_seconds: float) -> None:
        """Fails at once while the server is known not to answer, but lets one call a
        window through to find out whether it is back."""
        with self.lock:
            now = time.monotonic()
            if now < self.unavailable_until:
                raise OperationalError("the database did not answer a moment ago")
            if self.tripped:
                self.unavailable_until = now + retry_seconds

    def run(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self.lock:
                for key, (deadline, fileno) in list(self.waiting.items()):
                    if now >= deadline:
                        del self.waiting[key]
                        shut_down(fileno)


def shut_down(fileno: int) -> None:
    try:
        with socket.socket(fileno=os.dup(fileno)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


watchdog = QueryWatchdog()


class DatabaseWrapper(base.DatabaseWrapper):
    # When this connection last ran a query (time.monotonic()).
    last_used_at = float("-inf")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(self.watched_execute)

    @contextmanager
    def watched(self) -> Iterator[None]:
        """The current call on this connection, ended if the server does not answer in time."""
        seconds = deadline_override.get() or self.settings_dict.get("QUERY_DEADLINE_SECONDS")
        fileno = None
        if seconds and self.connection is not None:
            try:
                fileno = self.connection.fileno()
            except base.Database.Error:
                pass  # a lost connection: the call fails by itself, at once
        if fileno is None:
            yield
            return
        retry = self.settings_dict.get("UNAVAILABLE_SECONDS", 5)
        with watchdog.watch(fileno, seconds, retry):
            yield

    def watched_execute(
        self, execute: Callable, sql: str, params: Any, many: bool, context: dict
    ) -> Any:
        with self.watched():
            return execute(sql, params, many, context)

    def _commit(self) -> None:
        with self.watched():
            return super()._commit()

    def _rollback(self) -> None:
        with self.watched():
            return super()._rollback()

    def is_usable(self) -> bool:
        try:
            with self.watched():
                return super().is_usable()
        except OperationalError:
            return False

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
