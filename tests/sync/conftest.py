import http.client
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from django.db import connections

from config.asgi import application
from sync import live
from tests.conftest import free_port


@pytest.fixture
def asgi_server(transactional_db, monkeypatch) -> Iterator[str]:
    """The ASGI application under a real uvicorn on loopback, as the realtime process runs
    it; its base URL. Transactional, so that what a test writes is committed for it to see.
    Without persistent connections, as an ASGI process must run (docs/deployment.md)."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            # Streams still open at the end are cut after a second.
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    live.readers.stop()  # their connections, before the test database goes


# The name of the threads that read the test's streams (the server's threads are the others).
READER_THREAD = "test-stream-reader"


@dataclass
class Event:
    id: str | None
    type: str | None
    data: dict | None
    comment: str | None = None


@dataclass
class EventStream:
    """An open `text/event-stream`, read by a thread into a queue of events."""

    response: http.client.HTTPResponse
    connection: http.client.HTTPConnection
    events: "queue.Queue[Event | None]" = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self.read, name=READER_THREAD, daemon=True).start()

    def read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.events.put(Event(None, None, None, comment=line[1:].strip()))
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                elif "data" in fields:
                    data = fields.get("data")
                    self.events.put(
                        Event(
                            fields.get("id"),
                            fields.get("event"),
                            json.loads(data) if data else None,
                        )
                    )
                    fields = {}
                else:
                    fields = {}  # a block without data, such as `retry:`
        except (OSError, ValueError, AttributeError):  # closed by the test
            pass
        self.events.put(None)  # the stream ended

    def next(self, timeout: float = 5, comments: bool = False) -> Event | None:
        """The next event (or comment) within `timeout` seconds; raises queue.Empty."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if event is None or comments or event.comment is None:
                return event

    def changes(self, count: int, timeout: float = 5) -> list[Event]:
        return [self.next(timeout) for _ in range(count)]

    def close(self) -> None:
        """Hang up, as a closed tab does (the reader's file keeps the socket open otherwise)."""
        if self.connection.sock is not None:
            self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


@pytest.fixture
def open_stream(asgi_server):
    """`open_stream(path, headers)`: the response status and body of a refused stream, or
    an EventStream."""
    opened: list[EventStream] = []

    def open_(path: str, headers: dict[str, str] | None = None):
        connection = http.client.HTTPConnection(asgi_server, timeout=30)
        connection.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        response = connection.getresponse()
        if response.status != 200:
            body = json.loads(response.read())
            connection.close()
            return response, body
        stream = EventStream(response, connection)
        opened.append(stream)
        return stream

    yield open_
    for stream in opened:
        stream.close()
