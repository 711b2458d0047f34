"""A local push service, browsers' subscription keys and the server's VAPID keys, for tests of
Web Push with real cryptography: what the service receives is checked (VAPID signature,
claims) and decrypted as a browser would. A local webhook receiver that verifies every
delivery's Standard Webhooks signature, and webhooks made through the service."""

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
import pytest
import standardwebhooks
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import User
from config.celery import app as celery_app
from notifications import webhooks
from notifications.models import WEBHOOK_EVENTS, Webhook
from tests.conftest import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@dataclass
class VapidKeys:
    private_key: str
    public_key: str
    subject: str
    verifying_key: ec.EllipticCurvePublicKey


@pytest.fixture(scope="session")
def vapid_key_pair() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), b64url(
        public_point(key)
    )


@pytest.fixture
def vapid(settings, vapid_key_pair: tuple[str, str]) -> VapidKeys:
    """Push configured with a key pair of the test run's own (push is off in tests otherwise,
    as in production without keys)."""
    private_key, public_key = vapid_key_pair
    settings.VAPID_PRIVATE_KEY = private_key
    settings.VAPID_PUBLIC_KEY = public_key
    settings.VAPID_SUBJECT = "mailto:ops@todo.test"
    verifying_key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(public_key)
    )
    return VapidKeys(private_key, public_key, settings.VAPID_SUBJECT, verifying_key)


@dataclass
class Browser:
    """One browser's subscription keys: what `PushSubscription.toJSON()` holds, and the
    private half that only the browser has, to decrypt what it receives."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, endpoint: str) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public_point(self.private_key)), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )


@pytest.fixture
def browser() -> Browser:
    return Browser()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    claims: dict[str, Any]
    payload: dict[str, Any]


class PushService:
    """A push service on loopback (plain HTTP: tests set WEBHOOKS_ALLOW_PRIVATE=true).

    `endpoint(browser)` is a new endpoint whose pushes are decrypted with that browser's keys.
    Each POST is checked like a real push service does (RFC 8292 VAPID token signed by the
    configured key, `aud` this origin, `exp` within 24 h, a `sub`; `TTL`; RFC 8291
    `aes128gcm` body) and recorded in `received`, or in `rejected` with the reason (and
    answered 400/401). `answer(path, status, ...)` queues the statuses the next POSTs to a
    path get (default 201); `hang(path)` makes them wait until the test ends.
    """

    def __init__(self, vapid: VapidKeys) -> None:
        self.vapid = vapid
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.browsers: dict[str, Browser] = {}
        self.statuses: dict[str, list[int]] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.hanging: set[str] = set()
        self.released = threading.Event()
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def worker_environment(self) -> dict[str, str]:
        """The variables a Celery worker in another process needs to push here: this test's
        VAPID keys and loopback endpoints allowed."""
        return {
            "VAPID_PRIVATE_KEY": self.vapid.private_key,
            "VAPID_SUBJECT": self.vapid.subject,
            "WEBHOOKS_ALLOW_PRIVATE": "true",
        }

    def endpoint(self, browser: Browser) -> str:
        path = f"/push/{len(self.browsers) + 1}"
        self.browsers[path] = browser
        return self.origin + path

    def answer(self, endpoint: str, *statuses: int, headers: dict[str, str] | None = None):
        path = endpoint.removeprefix(self.origin)
        self.statuses.setdefault(path, []).extend(statuses)
        self.headers[path] = headers or {}

    def hang(self, endpoint: str) -> None:
        self.hanging.add(endpoint.removeprefix(self.origin))

    def verify(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        scheme, _, params = headers.get("authorization", "").partition(" ")
        assert scheme.lower() == "vapid", f"Authorization scheme {scheme!r}, not vapid"
        parts = dict(part.strip().split("=", 1) for part in params.split(","))
        assert parts["k"] == self.vapid.public_key, "k is not the configured VAPID public key"
        claims = jwt.decode(
            parts["t"],
            self.vapid.verifying_key,
            algorithms=["ES256"],
            audience=self.origin,
            options={"require": ["aud", "exp", "sub"]},
        )
        assert claims["exp"] <= time.time() + 24 * 3600, "exp more than 24 h ahead"
        assert claims["sub"] == self.vapid.subject
        assert headers.get("content-encoding") == "aes128gcm"
        assert int(headers["ttl"]) > 0
        payload = json.loads(self.browsers[path].decrypt(body))
        return Received(path, headers, claims, payload)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                service.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path in service.hanging:
                    service.released.wait(timeout=30)
                    return
                if self.path not in service.browsers:
                    return self.reply(404)
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    service.received.append(service.verify(self.path, headers, body))
                except (AssertionError, KeyError, ValueError, jwt.PyJWTError) as error:
                    service.rejected.append(f"{type(error).__name__}: {error}")
                    return self.reply(401)
                queued = service.statuses.get(self.path)
                self.reply(queued.pop(0) if queued else 201, service.headers.get(self.path))

            def reply(self, status: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> "PushService":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service(settings, vapid: VapidKeys) -> Iterator[PushService]:
    """A local push service, VAPID configured, and loopback endpoints allowed."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with PushService(vapid) as service:
        yield service


@pytest.fixture
def celery_eager() -> Iterator[None]:
    """Celery tasks run in the calling thread when queued (`delay`), so a test sees what a
    worker would do, without one; tests/notifications drives the delivery functions directly
    otherwise."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@dataclass
class ReceivedWebhook:
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
    received: list[ReceivedWebhook] = field(default_factory=list)
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
        self.received.append(ReceivedWebhook(handler.path, headers, body, payload))
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
