"""Sending: signed POSTs to a real receiver on loopback, retries, order, and what fails."""

import datetime as dt
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from config.celery import app
from notifications import webhooks
from notifications.models import Delivery, DeliveryAttempt, Webhook
from notifications.tasks import fire_batch, send_webhook, sweep_webhooks
from tasks.models import Task
from tasks.serializers import TaskSerializer
from tests.conftest import free_port, requires_postgresql, run_concurrently
from tests.factories import TaskFactory, UserFactory
from tests.notifications.conftest import decoded, due_reminders

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def webhook(user, make_webhook, webhook_receiver) -> Webhook:
    hook = make_webhook(user, webhook_receiver.url("/hook"), events=["task.changed"])
    webhook_receiver.expect(hook)
    return hook


def attempts(webhook: Webhook) -> list[tuple]:
    """The attempts as the deliveries route lists them, oldest first."""
    return list(
        webhook.attempts.order_by("at", "id").values_list(
            "event_id", "attempt", "status_code", "error"
        )
    )


class TestDelivery:
    def test_a_write_reaches_the_receiver_signed_and_is_logged(
        self, owner_client, user, webhook, webhook_receiver
    ):
        task = owner_client.post(f"/api/{user.id}/tasks", {"title": "Milk"}, format="json").json()
        [queued] = Delivery.objects.all()

        assert webhooks.send_pending(webhook.pk) == 1

        assert webhook_receiver.rejected == []
        [received] = webhook_receiver.received
        assert received.payload == {"type": "task.changed", "id": task["id"], "data": task}
        assert received.body == queued.body
        assert received.headers["webhook-id"] == queued.event_id
        assert received.headers["content-type"] == "application/json"
        assert received.headers["webhook-signature"].startswith("v1,")
        assert not Delivery.objects.exists()
        assert attempts(webhook) == [(queued.event_id, 1, 204, None)]
        log = owner_client.get(f"/api/{user.id}/webhooks/{webhook.pk}/deliveries").json()
        assert log == [
            {
                "event_id": queued.event_id,
                "type": "task.changed",
                "attempt": 1,
                "status_code": 204,
                "error": None,
                "at": log[0]["at"],
            }
        ]

    def test_the_signature_is_the_standard_one_over_id_timestamp_and_body(self):
        # The test vector of the Standard Webhooks specification's libraries.
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        headers = webhooks.signature_headers(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            '{"test": 2432232314}',
            dt.datetime.fromtimestamp(1614265330, tz=dt.UTC),
        )
        assert headers == {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        }

    def test_a_receiver_failing_three_times_gets_four_attempts_under_one_id(
        self, user, webhook, webhook_receiver
    ):
        webhook_receiver.expect(webhook, 500, 503, 429)
        with time_machine.travel(START, tick=False) as clock:
            TaskFactory(user=user)
            assert webhooks.send_pending(webhook.pk) == 0
            assert webhooks.send_pending(webhook.pk) == 0  # the retry is not due yet
            for delay in [5, 300, 1800]:
                clock.shift(delay - 1)
                assert webhooks.send_pending(webhook.pk) == 0
                assert len(webhook_receiver.received) == 1 + [5, 300, 1800].index(delay)
                clock.shift(1)
                webhooks.send_pending(webhook.pk)

        assert webhook_receiver.rejected == []
        assert len(webhook_receiver.received) == 4
        ids = {item.headers["webhook-id"] for item in webhook_receiver.received}
        assert len(ids) == 1
        stamps = [int(item.headers["webhook-timestamp"]) for item in webhook_receiver.received]
        start = int(START.timestamp())
        assert stamps == [start, start + 5, start + 305, start + 2105]
        [event_id] = ids
        assert attempts(webhook) == [
            (event_id, 1, 500, "Answered 500."),
            (event_id, 2, 503, "Answered 503."),
            (event_id, 3, 429, "Answered 429."),
            (event_id, 4, 204, None),
        ]
        assert not Delivery.objects.exists()

    def test_after_the_last_retry_it_is_given_up_and_the_next_one_goes(
        self, user, webhook, webhook_receiver, settings
    ):
        settings.WEBHOOK_RETRY_DELAYS = [0, 0]
        webhook_receiver.expect(webhook, 500, 500, 500)
        first, second = TaskFactory(user=user), TaskFactory(user=user)

        for _ in range(3):
            webhooks.send_pending(webhook.pk)

        assert [p["id"] for p in webhook_receiver.payloads()] == [first.pk] * 3 + [second.pk]
        log = attempts(webhook)
        assert [(attempt, code) for _, attempt, code, _ in log] == [
            (1, 500),
            (2, 500),
            (3, 500),
            (1, 204),
        ]
        assert log[2][3] == "Answered 500. Given up after 3 attempts."
        assert not Delivery.objects.exists()

    def test_a_failing_delivery_holds_back_the_later_ones_so_order_is_kept(
        self, user, webhook, webhook_receiver, settings
    ):
        settings.WEBHOOK_RETRY_DELAYS = [0]
        webhook_receiver.expect(webhook, 500)
        tasks = [TaskFactory(user=user) for _ in range(3)]

        assert webhooks.send_pending(webhook.pk) == 0
        assert [p["id"] for p in webhook_receiver.payloads()] == [tasks[0].pk]
        assert webhooks.send_pending(webhook.pk) == 3

        sent = [p["id"] for p in webhook_receiver.payloads()]
        assert sent == [tasks[0].pk, tasks[0].pk, tasks[1].pk, tasks[2].pk]

    def test_sending_twice_sends_once(self, user, webhook, webhook_receiver):
        TaskFactory(user=user)
        webhooks.send_pending(webhook.pk)
        webhooks.send_pending(webhook.pk)
        assert len(webhook_receiver.received) == 1

    def test_the_url_host_is_kept_while_the_checked_address_is_called(
        self, user, make_webhook, webhook_receiver
    ):
        hook = make_webhook(user, f"http://localhost:{webhook_receiver.port}/hook?x=1")
        webhook_receiver.secrets["/hook?x=1"] = hook.secret
        TaskFactory(user=user)

        webhooks.send_pending(hook.pk)

        assert webhook_receiver.rejected == []
        [received] = webhook_receiver.received
        assert received.headers["host"] == f"localhost:{webhook_receiver.port}"


class TestFailures:
    def test_a_redirect_is_a_failure_and_is_not_followed(self, user, webhook, webhook_receiver):
        webhook_receiver.expect(webhook, 302)
        TaskFactory(user=user)

        webhooks.send_pending(webhook.pk)

        assert [item.path for item in webhook_receiver.received] == ["/hook"]
        [(_, _, code, error)] = attempts(webhook)
        assert code == 302 and "redirect, which is not followed" in error
        assert Delivery.objects.get().attempts == 1

    def test_no_answer_in_time_is_a_failure(self, user, webhook, webhook_receiver, monkeypatch):
        monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.3)
        webhook_receiver.stall.add("/hook")
        TaskFactory(user=user)

        webhooks.send_pending(webhook.pk)
        webhook_receiver.release.set()

        assert attempts(webhook)[0][2:] == (None, "No answer within 0.3 s.")
        assert Delivery.objects.get().attempts == 1

    def test_a_refused_connection_is_a_failure(self, user, make_webhook):
        hook = make_webhook(user, f"http://127.0.0.1:{free_port()}/hook")
        TaskFactory(user=user)

        webhooks.send_pending(hook.pk)

        assert attempts(hook)[0][2:] == (None, "Could not connect to 127.0.0.1.")

    @pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]"])
    def test_a_private_address_is_refused_at_delivery_without_connecting(
        self, user, make_webhook, settings, host
    ):
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        listener.bind((host.strip("[]"), 0) if host in ("127.0.0.1", "[::1]") else ("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        hook = make_webhook(user, f"https://{host}:{port}/hook")
        TaskFactory(user=user)
        settings.WEBHOOKS_ALLOW_PRIVATE = False

        webhooks.send_pending(hook.pk)

        [(_, _, code, error)] = attempts(hook)
        assert code is None and "not a public address" in error
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
        listener.close()

    def test_an_inactive_webhook_is_sent_nothing(self, user, webhook, webhook_receiver):
        TaskFactory(user=user)
        webhooks.webhook_update(webhook=webhook, data={"active": False})

        assert webhooks.send_pending(webhook.pk) == 0
        assert webhook_receiver.received == []

    def test_a_deleted_webhook_is_sent_nothing(self, user, webhook, webhook_receiver):
        TaskFactory(user=user)
        webhooks.webhook_delete(webhook=webhook)

        assert webhooks.send_pending(webhook.pk) == 0
        assert webhook_receiver.received == []


class TestWorkers:
    def test_a_webhook_another_worker_is_sending_is_left_to_it_until_its_lease_ends(
        self, user, webhook, webhook_receiver
    ):
        with time_machine.travel(START, tick=False) as clock:
            TaskFactory(user=user)
            assert webhooks.claim(webhook.pk, "another-worker")
            assert webhooks.due_webhooks() == []

            assert webhooks.send_pending(webhook.pk) == 0
            assert webhook_receiver.received == []

            clock.shift(webhooks.LEASE.total_seconds() + 1)  # that worker died
            assert webhooks.due_webhooks() == [webhook.pk]
            assert webhooks.send_pending(webhook.pk) == 1
        assert len(webhook_receiver.received) == 1
        assert Webhook.objects.get().lease_until is None

    def test_the_sweep_finds_what_is_due(self, user, webhook, make_webhook, settings):
        idle = make_webhook(user, "https://1.1.1.1/idle", events=["reminder"])
        with time_machine.travel(START, tick=False) as clock:
            TaskFactory(user=user)
            assert webhooks.due_webhooks() == [webhook.pk]
            Delivery.objects.update(next_attempt_at=START + dt.timedelta(seconds=5))
            assert webhooks.due_webhooks() == []
            clock.shift(5)
            assert webhooks.due_webhooks() == [webhook.pk]
        assert idle.pk not in webhooks.due_webhooks()

    def test_the_tasks_send_through_the_plain_functions(
        self, user, webhook, webhook_receiver, monkeypatch
    ):
        monkeypatch.setitem(app.conf, "task_always_eager", True)
        TaskFactory(user=user)
        TaskFactory(user=user)

        assert sweep_webhooks() == 1
        assert len(webhook_receiver.received) == 2
        assert send_webhook(webhook.pk) == 0

    def test_a_broker_that_cannot_take_the_task_leaves_it_to_the_sweep(
        self, user, webhook, monkeypatch, caplog
    ):
        def refuse(*args, **kwargs):
            raise ConnectionError("broker down")

        monkeypatch.setattr(send_webhook, "apply_async", refuse)
        webhooks.enqueue([webhook.pk])
        assert "the sweep will send it" in caplog.text


class TestLog:
    def test_only_the_last_50_attempts_are_kept(self, user, webhook):
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(webhook=webhook, event_id=f"msg_{n}", type="reminder", attempt=1)
            for n in range(60)
        )
        TaskFactory(user=user)

        webhooks.send_pending(webhook.pk)

        assert webhook.attempts.count() == 50
        assert webhook.attempts.filter(status_code=204).exists()

    def test_attempts_older_than_a_week_are_forgotten(self, webhook):
        old = START - dt.timedelta(days=webhooks.ATTEMPT_LOG_DAYS, seconds=1)
        DeliveryAttempt.objects.create(webhook=webhook, event_id="old", type="x", attempt=1, at=old)
        DeliveryAttempt.objects.create(
            webhook=webhook, event_id="new", type="x", attempt=1, at=START
        )

        with time_machine.travel(START, tick=False):
            assert webhooks.prune_old_log() == 1
        assert list(webhook.attempts.values_list("event_id", flat=True)) == ["new"]


def test_what_is_queued_is_what_is_sent(user, webhook, webhook_receiver):
    TaskFactory(user=user)
    queued = decoded(webhook)
    webhooks.send_pending(webhook.pk)
    assert webhook_receiver.payloads() == queued


def certificate_for(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for the DNS name `name`, and its key (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass
class TLSReceiver:
    port: int
    server_names: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def read_request(connection: socket.socket) -> str:
    """One HTTP request, head and body, as text; ValueError when the client sent none."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ValueError("no request")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return (head + b"\r\n\r\n" + body).decode()


class TestTLS:
    """https URLs: the connection goes to the checked address, while TLS speaks to the URL's
    host name (SNI) and verifies the certificate against that name."""

    @pytest.fixture
    def tls_receiver(self, settings, monkeypatch) -> Callable[[str], TLSReceiver]:
        """`tls_receiver(name)`: a one-request HTTPS receiver on 127.0.0.1 with a certificate
        for `name`, which the sender is made to trust (the system's authorities would not)."""
        settings.WEBHOOKS_ALLOW_PRIVATE = True

        def serve(certificate_name: str) -> TLSReceiver:
            certificate, key = certificate_for(certificate_name)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as folder:
                Path(folder, "cert.pem").write_bytes(certificate)
                Path(folder, "key.pem").write_bytes(key)
                context.load_cert_chain(Path(folder, "cert.pem"), Path(folder, "key.pem"))
            raw = socket.create_server(("127.0.0.1", 0))
            receiver = TLSReceiver(port=raw.getsockname()[1])
            context.sni_callback = lambda sock, name, ctx: receiver.server_names.append(name)

            def run() -> None:
                with context.wrap_socket(raw, server_side=True) as listener:
                    try:
                        connection, _ = listener.accept()
                        with connection:
                            receiver.requests.append(read_request(connection))
                            connection.sendall(
                                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
                            )
                    except (ssl.SSLError, OSError, ValueError):
                        return  # the client gave up on the handshake

            threading.Thread(target=run, daemon=True).start()
            trusted = ssl.create_default_context(cadata=certificate.decode())
            monkeypatch.setattr(webhooks, "ssl_context", lambda: trusted)
            return receiver

        return serve

    def test_a_certificate_for_the_url_host_is_accepted_over_sni(
        self, user, make_webhook, tls_receiver
    ):
        receiver = tls_receiver("localhost")
        hook = make_webhook(user, f"https://localhost:{receiver.port}/hook")
        TaskFactory(user=user)

        webhooks.send_pending(hook.pk)

        assert attempts(hook)[0][2:] == (204, None)
        assert receiver.server_names == ["localhost"]
        [request] = receiver.requests
        assert request.startswith("POST /hook HTTP/1.1")
        assert f"Host: localhost:{receiver.port}" in request

    def test_a_certificate_for_another_name_is_refused(self, user, make_webhook, tls_receiver):
        receiver = tls_receiver("elsewhere.test")
        hook = make_webhook(user, f"https://localhost:{receiver.port}/hook")
        TaskFactory(user=user)

        webhooks.send_pending(hook.pk)

        [(_, _, code, error)] = attempts(hook)
        assert code is None and "doesn't match 'elsewhere.test'" in error
        assert receiver.requests == []


@requires_postgresql
def test_workers_sending_one_webhook_at_once_send_each_delivery_once_in_order(
    transactional_db, make_webhook, webhook_receiver
):
    owner = UserFactory()
    hook = make_webhook(owner, webhook_receiver.url("/hook"), events=["task.changed"])
    webhook_receiver.expect(hook)
    tasks = [TaskFactory(user=owner) for _ in range(5)]

    sent = run_concurrently(4, lambda n: webhooks.send_pending(hook.pk))

    assert sorted(sent) == [0, 0, 0, 5]
    assert webhook_receiver.rejected == []
    assert [p["id"] for p in webhook_receiver.payloads()] == [task.pk for task in tasks]


class TestReminderFiring:
    def test_a_firing_reaches_the_webhooks_subscribed_to_reminders_signed(
        self, user, make_webhook, webhook_receiver
    ):
        reminders = make_webhook(user, webhook_receiver.url("/reminders"), events=["reminder"])
        changes = make_webhook(user, webhook_receiver.url("/changes"), events=["task.changed"])
        webhook_receiver.expect(reminders)
        webhook_receiver.expect(changes)
        [task] = due_reminders(user, [START])

        with time_machine.travel(START + dt.timedelta(seconds=1), tick=False):
            assert fire_batch(timezone.now()) == (1, False)
            webhooks.send_pending(reminders.pk)
            webhooks.send_pending(changes.pk)

        assert webhook_receiver.rejected == []
        [payload] = webhook_receiver.payloads("/reminders")
        assert payload == {
            "type": "reminder",
            "task": TaskSerializer(Task.objects.get(pk=task.pk)).data,
            "fire_at": "2026-12-01T09:00:00Z",
        }
        assert webhook_receiver.payloads("/changes") == []
        assert attempts(reminders)[0][1:] == (1, 204, None)
