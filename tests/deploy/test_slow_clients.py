"""Slow clients: bare gunicorn is held by a dozen; behind the proxy, 200 change nothing.

Each slow client sends the start of a request and then a header byte now and then, never
the end (slowloris). gthread hands a connection to a thread as soon as its first bytes
arrive, and that thread then blocks on reads that never time out.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.deploy.conftest import Server, get

pytestmark = pytest.mark.deploy

PARTIAL_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


@contextmanager
def slow_clients(port: int, count: int, trickle_seconds: float = 1.0) -> Iterator[list[int]]:
    """`count` connections that never finish their request, reopened when the server drops
    them (as an attacker would); yields a one-item list counting the reconnections."""
    reconnections = [0]
    stopping = threading.Event()

    def connect() -> socket.socket | None:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=2)
            conn.sendall(PARTIAL_REQUEST)
            return conn
        except OSError:
            return None

    connections = [connect() for _ in range(count)]

    def trickle() -> None:
        while not stopping.wait(trickle_seconds):
            for index, conn in enumerate(connections):
                try:
                    if conn is None:
                        raise OSError
                    conn.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    if conn is not None:
                        conn.close()
                    connections[index] = connect()
                    reconnections[0] += 1

    worker = threading.Thread(target=trickle, daemon=True)
    worker.start()
    try:
        yield reconnections
    finally:
        stopping.set()
        worker.join()
        for conn in connections:
            if conn is not None:
                conn.close()


def ordinary_requests_for(port: int, seconds: float) -> list[str]:
    """Ordinary requests one after another for `seconds`: what each one got."""
    outcomes = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in ("/healthz", "/api/someone/tasks"):
            try:
                status, headers, _ = get(port, path, timeout=3)
                outcomes.append(f"{status} {headers.get('Content-Type')}")
            except OSError as exc:
                outcomes.append(type(exc).__name__)
    return outcomes


def test_a_dozen_slow_clients_hold_bare_gunicorn(gunicorn: Server):
    """Why gunicorn is never exposed directly: this is what the proxy is for."""
    with slow_clients(gunicorn.port, 12):
        with pytest.raises(TimeoutError):
            get(gunicorn.port, "/healthz", timeout=2)

    assert get(gunicorn.port, "/healthz", timeout=5)[0] == 200  # free again once they leave


def test_two_hundred_slow_clients_do_not_slow_the_proxy(proxy: Server):
    with slow_clients(proxy.port, 200) as reconnections:
        outcomes = ordinary_requests_for(proxy.port, seconds=25)

    assert len(outcomes) > 20
    assert set(outcomes) == {"200 application/json", "401 application/json"}
    # nginx's client_header_timeout (10 s) dropped them, and they came back.
    assert reconnections[0] >= 200
