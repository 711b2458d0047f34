import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import standardwebhooks

from accounts.models import User
from notifications import webhooks
from notifications.models import WEBHOOK_EVENTS, Webhook


@dataclass
class Received:
    """One POST the receiver took, its signature verified by the standardwebhooks library."""

    path: str
    headers: dict[str, str]
    body: str
    payload: Any


@dataclass
class WebhookReceiver:
    """A webhook receiver on loopback, as a user would run one: it verifies each POST's
    Standard Webhooks signature with the secret of the webhook it expects at that path, and
    answers the statuses it is told to, one per request, then 204.

    `answers[path]`: statuses to answer in turn (a 3xx carries `Location: /elsewhere`).
    `stall`: paths whose requests get no answer until `release` is set (timeouts).
    """

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[int]] = field(default_factory=dict)
    stall: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def expect(self, webhook: Webhook, *answers: int) -> None:
        """Verify what comes to `webhook`'s path with its secret; answer `answers` first."""
        path = webhook.url.split(str(self.port), 1)[1]
        self.secrets[path] = webhook.secret
        self.answers[path] = list(answers)

    def payloads(self, path: str = "/hook") -> list[Any]:
        return [item.payload for item in self.received if item.path == path]

    def take(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0))).decode()
        headers = {name.lower(): value for name, value in handler.headers.items()}
        secret = self.secrets.get(handler.path)
        if secret is None:
            self.rejected.append(f"{handler.path}: not expected")
            payload = None
        else:
            try:
                payload = standardwebhooks.Webhook(secret).verify(body, headers)
            except standardwebhooks.webhooks.WebhookVerificationError as error:
                self.rejected.append(f"{handler.path}: {error}")
                payload = None
        self.received.append(Received(handler.path, headers, body, payload))
        if handler.path in self.stall:
            self.release.wait(10)
        script = self.answers.get(handler.path) or []
        status = script.pop(0) if script else 204
        handler.send_response(status)
        if 300 <= status < 400:
            handler.send_header("Location", "/elsewhere")
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@pytest.fixture
def webhook_receiver(settings) -> Iterator[WebhookReceiver]:
    """A `WebhookReceiver` serving on 127.0.0.1 in a thread; loopback URLs allowed."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.take(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_webhook(settings):
    """`make_webhook(user, url, events=[...])`: a webhook made through the service, as the
    API makes it (the loopback and private addresses of the tests are allowed)."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True

    def make(user: User, url: str, events: list[str] | None = None, **fields: Any) -> Webhook:
        data = {"url": url, "events": events or list(WEBHOOK_EVENTS), **fields}
        return webhooks.webhook_create(user=user, data=data)

    return make


def decoded(webhook: Webhook) -> list[dict]:
    """The bodies queued for `webhook`, in order, as JSON."""
    return [
        json.loads(body)
        for body in webhook.deliveries.order_by("id").values_list("body", flat=True)
    ]
