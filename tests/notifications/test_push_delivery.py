"""Delivering reminders by Web Push: queued with the firing, sent after commit, encrypted and
signed for real, to a local push service that checks and decrypts what it gets."""

import datetime as dt
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from config.celery import app as celery_app
from notifications import push
from notifications.models import PushMessage, PushSubscription
from notifications.signals import reminder_fired
from notifications.tasks import send_push, sweep_push_messages
from sync.live import record_for_streams
from tasks.serializers import TaskSerializer
from tests.conftest import free_port
from tests.factories import TaskFactory
from tests.notifications.conftest import Browser

pytestmark = pytest.mark.django_db


def reminder_payload(task) -> dict:
    return {"type": "reminder", "task": dict(TaskSerializer(task).data), "fire_at": task.due_at}


@pytest.fixture
def payload(user) -> dict:
    task = TaskFactory(user=user, title="Call the dentist", due_at=timezone.now())
    return {**reminder_payload(task), "fire_at": "2026-12-02T09:00:00Z"}


def subscribed(user, service, browser=None) -> PushSubscription:
    browser = browser or Browser()
    keys = browser.subscription("")["keys"]
    return push.subscribe(user=user, endpoint=service.endpoint(browser), **keys)


def queued(subscription, payload) -> PushMessage:
    return PushMessage.objects.create(subscription=subscription, payload=payload)


def fire(user, payload, django_capture_on_commit_callbacks) -> list:
    """What the reminders' claim does: send the signal inside its transaction."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            reminder_fired.send(sender=None, user_id=user.id, payload=payload)
    return callbacks


@pytest.fixture
def push_alone():
    """Only push hears the firing: the live streams' receiver queues callbacks of its own."""
    reminder_fired.disconnect(record_for_streams)
    yield
    reminder_fired.connect(record_for_streams)


@pytest.mark.usefixtures("push_alone")
class TestQueuedWithTheFiring:
    def test_a_firing_reaches_each_browser_of_the_user_encrypted_and_signed(
        self,
        push_service,
        user,
        other_user,
        payload,
        celery_eager,
        django_capture_on_commit_callbacks,
    ):
        phone, laptop, theirs = Browser(), Browser(), Browser()
        subscribed(user, push_service, phone)
        subscribed(user, push_service, laptop)
        subscribed(other_user, push_service, theirs)

        fire(user, payload, django_capture_on_commit_callbacks)

        assert push_service.rejected == []
        assert sorted(r.path for r in push_service.received) == ["/push/1", "/push/2"]
        for received in push_service.received:
            assert received.payload == payload
            assert received.headers["ttl"] == "3600" and received.headers["urgency"] == "high"
            assert received.claims["aud"] == push_service.origin
            assert received.claims["exp"] > timezone.now().timestamp()
        assert set(PushMessage.objects.values_list("state", flat=True)) == {"sent"}

    def test_messages_are_queued_in_the_firing_transaction_and_sent_only_after_commit(
        self, push_service, user, payload, django_capture_on_commit_callbacks
    ):
        subscribed(user, push_service)

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            with transaction.atomic():
                reminder_fired.send(sender=None, user_id=user.id, payload=payload)
                assert PushMessage.objects.filter(state="pending").count() == 1

        assert len(callbacks) == 1 and push_service.requests == 0

    def test_a_datetime_in_the_payload_arrives_as_rfc_3339_text(
        self, push_service, user, payload, celery_eager, django_capture_on_commit_callbacks
    ):
        subscribed(user, push_service)
        fire_at = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)

        fire(user, {**payload, "fire_at": fire_at}, django_capture_on_commit_callbacks)

        assert push_service.received[0].payload["fire_at"] == "2026-12-02T09:00:00Z"

    def test_a_rolled_back_firing_queues_nothing(self, push_service, user, payload):
        subscribed(user, push_service)

        with pytest.raises(RuntimeError), transaction.atomic():
            reminder_fired.send(sender=None, user_id=user.id, payload=payload)
            raise RuntimeError("the claim failed")

        assert not PushMessage.objects.exists()

    def test_a_user_without_subscriptions_queues_nothing_and_nothing_after_commit(
        self, push_service, user, payload, django_capture_on_commit_callbacks
    ):
        assert fire(user, payload, django_capture_on_commit_callbacks) == []
        assert not PushMessage.objects.exists()

    def test_nothing_is_queued_while_push_is_not_configured(
        self, push_service, settings, user, payload, django_capture_on_commit_callbacks
    ):
        subscribed(user, push_service)
        settings.VAPID_PRIVATE_KEY = ""

        fire(user, payload, django_capture_on_commit_callbacks)

        assert not PushMessage.objects.exists()

    def test_a_broker_that_is_down_does_not_fail_the_commit(
        self, push_service, user, payload, django_capture_on_commit_callbacks
    ):
        subscribed(user, push_service)
        previous = celery_app.conf.broker_url
        celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
        celery_app.conf.broker_connection_retry = False
        celery_app.conf.broker_connection_max_retries = 0
        try:
            fire(user, payload, django_capture_on_commit_callbacks)
        finally:
            celery_app.conf.broker_url = previous
            celery_app.conf.broker_connection_retry = True
            celery_app.conf.broker_connection_max_retries = 100

        # Committed and pending: the sweep sends it when the broker is back.
        assert PushMessage.objects.get().state == "pending"


class TestDeliver:
    def test_sends_once_and_a_second_call_finds_nothing_to_do(self, push_service, user, payload):
        message = queued(subscribed(user, push_service), payload)

        assert push.deliver(message.pk) == push.Delivery("sent")
        assert push.deliver(message.pk) == push.Delivery("skipped")

        assert push_service.requests == 1
        message.refresh_from_db()
        assert message.state == "sent" and message.sent_at is not None and message.attempts == 1

    def test_a_message_another_worker_holds_is_left_to_it(self, push_service, user, payload):
        message = queued(subscribed(user, push_service), payload)
        PushMessage.objects.filter(pk=message.pk).update(
            claimed_until=timezone.now() + dt.timedelta(seconds=60)
        )

        assert push.deliver(message.pk).outcome == "skipped"
        assert push_service.requests == 0

    def test_a_message_whose_attempts_all_died_mid_send_is_given_up(
        self, push_service, user, payload
    ):
        message = queued(subscribed(user, push_service), payload)
        # Four claims that lapsed without an outcome: their workers were killed.
        PushMessage.objects.filter(pk=message.pk).update(
            attempts=len(push.RETRY_DELAYS) + 1,
            claimed_until=timezone.now() - dt.timedelta(seconds=1),
        )

        assert push.deliver(message.pk).outcome == "failed"
        assert push_service.requests == 0

    def test_a_deleted_message_is_skipped(self, push_service):
        assert push.deliver(123456).outcome == "skipped"

    @pytest.mark.parametrize("status", [404, 410])
    def test_a_404_or_410_removes_the_subscription(self, push_service, user, payload, status):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, status)
        message = queued(subscription, payload)

        assert push.deliver(message.pk).outcome == "gone"

        assert not PushSubscription.objects.exists() and not PushMessage.objects.exists()

    @pytest.mark.parametrize("status", [429, 500, 503])
    def test_a_429_or_5xx_is_tried_again_after_a_delay_then_sent(
        self, push_service, user, payload, status
    ):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, status)
        message = queued(subscription, payload)

        with time_machine.travel(timezone.now(), tick=False) as clock:
            assert push.deliver(message.pk) == push.Delivery("retry", retry_in=10)
            assert push.deliver(message.pk).outcome == "skipped"  # not due yet
            clock.shift(dt.timedelta(seconds=10))
            assert push.deliver(message.pk).outcome == "sent"

        assert len(push_service.received) == 2
        message.refresh_from_db()
        assert message.attempts == 2 and message.error == ""

    def test_after_four_failed_attempts_the_message_is_given_up(self, push_service, user, payload):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, 500, 502, 503, 500, 201)
        message = queued(subscription, payload)

        outcomes = []
        with time_machine.travel(timezone.now(), tick=False) as clock:
            for delay in [*push.RETRY_DELAYS, 0]:
                outcomes.append(push.deliver(message.pk))
                clock.shift(dt.timedelta(seconds=delay))
            assert push.deliver(message.pk).outcome == "skipped"

        assert [o.retry_in for o in outcomes] == [10, 60, 300, None]
        assert outcomes[-1].outcome == "failed"
        message.refresh_from_db()
        assert message.state == "failed" and message.error == "The push service answered 500."
        assert PushSubscription.objects.exists()

    def test_a_longer_retry_after_is_honoured(self, push_service, user, payload):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, 429, headers={"Retry-After": "120"})
        message = queued(subscription, payload)

        assert push.deliver(message.pk) == push.Delivery("retry", retry_in=120)

    def test_a_shorter_or_unreadable_retry_after_leaves_the_backoff(
        self, push_service, user, payload
    ):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, 429, headers={"Retry-After": "1"})
        other = subscribed(user, push_service)
        push_service.answer(other.endpoint, 503, headers={"Retry-After": "Wed, 21 Oct 2026"})

        assert push.deliver(queued(subscription, payload).pk).retry_in == 10
        assert push.deliver(queued(other, payload).pk).retry_in == 10

    @pytest.mark.parametrize("status", [400, 403, 413])
    def test_another_error_status_is_given_up_at_once(self, push_service, user, payload, status):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, status)
        message = queued(subscription, payload)

        assert push.deliver(message.pk).outcome == "failed"
        assert PushSubscription.objects.exists()

    def test_a_redirect_is_not_followed(self, push_service, user, payload):
        subscription = subscribed(user, push_service)
        elsewhere = push_service.endpoint(Browser())
        push_service.answer(subscription.endpoint, 307, headers={"Location": elsewhere})
        message = queued(subscription, payload)

        assert push.deliver(message.pk).outcome == "failed"

        assert push_service.requests == 1
        message.refresh_from_db()
        assert message.error == "The push service answered 307."

    def test_a_push_service_that_does_not_answer_in_time_is_tried_again(
        self, push_service, user, payload, monkeypatch
    ):
        monkeypatch.setattr(push, "SEND_TIMEOUT_SECONDS", 0.3)
        subscription = subscribed(user, push_service)
        push_service.hang(subscription.endpoint)
        message = queued(subscription, payload)

        assert push.deliver(message.pk).outcome == "retry"

        message.refresh_from_db()
        assert message.state == "pending" and message.error == (
            "The push service did not answer in time."
        )

    def test_a_refused_connection_is_tried_again(self, push_service, user, payload):
        keys = Browser().subscription("")["keys"]
        endpoint = f"http://127.0.0.1:{free_port()}/push/1"
        message = queued(push.subscribe(user=user, endpoint=endpoint, **keys), payload)

        assert push.deliver(message.pk).outcome == "retry"
        message.refresh_from_db()
        assert message.error.startswith("Could not reach the push service")

    def test_the_address_rule_is_checked_again_at_delivery(
        self, push_service, settings, user, payload
    ):
        message = queued(subscribed(user, push_service), payload)
        settings.WEBHOOKS_ALLOW_PRIVATE = False

        assert push.deliver(message.pk).outcome == "failed"

        assert push_service.requests == 0
        message.refresh_from_db()
        assert message.error == "The URL must start with https://."

    def test_a_host_that_does_not_resolve_now_is_tried_again(self, push_service, user, payload):
        keys = Browser().subscription("")["keys"]
        # Saved when it resolved (subscribe() would refuse it now).
        subscription = PushSubscription.objects.create(
            user=user, endpoint="https://push.invalid/send/1", **keys
        )
        message = queued(subscription, payload)

        assert push.deliver(message.pk).outcome == "retry"
        message.refresh_from_db()
        assert message.error == "The host push.invalid does not resolve."

    def test_a_message_past_its_ttl_is_given_up_unsent(self, push_service, user, payload):
        message = queued(subscribed(user, push_service), payload)

        with time_machine.travel(timezone.now() + dt.timedelta(seconds=push.TTL_SECONDS)):
            assert push.deliver(message.pk).outcome == "failed"

        assert push_service.requests == 0

    def test_a_retry_that_would_come_after_the_ttl_is_given_up_instead(
        self, push_service, user, payload
    ):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, 503)
        message = queued(subscription, payload)

        with time_machine.travel(timezone.now() + dt.timedelta(seconds=push.TTL_SECONDS - 5)):
            assert push.deliver(message.pk).outcome == "failed"

    def test_a_message_is_given_up_when_push_was_turned_off_since(
        self, push_service, settings, user, payload
    ):
        message = queued(subscribed(user, push_service), payload)
        settings.VAPID_PRIVATE_KEY = ""

        assert push.deliver(message.pk).outcome == "failed"
        assert push_service.requests == 0

    def test_a_reminder_too_large_for_a_push_is_cut_to_the_tasks_id_title_and_due_date(
        self, push_service, user, payload
    ):
        large = {**payload, "task": {**payload["task"], "description": "x" * 5000}}
        message = queued(subscribed(user, push_service), large)

        assert push.deliver(message.pk).outcome == "sent"

        received = push_service.received[0].payload
        assert received["truncated"] is True and received["fire_at"] == payload["fire_at"]
        assert received["task"] == {key: payload["task"][key] for key in ("id", "title", "due_at")}


class TestCeleryTasks:
    def test_send_push_delivers_and_queues_a_retry_after_a_failure(
        self, push_service, user, payload, celery_eager
    ):
        subscription = subscribed(user, push_service)
        push_service.answer(subscription.endpoint, 503)
        message = queued(subscription, payload)

        # Eager mode runs the queued retry at once, before it is due: it finds nothing to do.
        send_push(message.pk)

        message.refresh_from_db()
        assert message.state == "pending" and message.attempts == 1

    def test_the_sweep_sends_what_a_lost_task_left_pending(
        self, push_service, user, payload, celery_eager
    ):
        subscription = subscribed(user, push_service)
        lost = queued(subscription, payload)
        abandoned = queued(subscription, payload)
        fresh = queued(subscription, payload)
        held = queued(subscription, payload)
        now = timezone.now()
        PushMessage.objects.filter(pk__in=[lost.pk, abandoned.pk, held.pk]).update(
            created_at=now - dt.timedelta(minutes=5), next_attempt_at=now - dt.timedelta(minutes=5)
        )
        # A claim that outlived its worker, and one a live worker still holds.
        PushMessage.objects.filter(pk=abandoned.pk).update(claimed_until=now - dt.timedelta(1))
        PushMessage.objects.filter(pk=held.pk).update(claimed_until=now + dt.timedelta(minutes=1))

        assert sorted(push.sweep()) == sorted([lost.pk, abandoned.pk])
        sweep_push_messages()

        states = dict(PushMessage.objects.values_list("pk", "state"))
        assert states == {
            lost.pk: "sent",
            abandoned.pk: "sent",
            fresh.pk: "pending",
            held.pk: "pending",
        }

    def test_the_sweep_gives_up_expired_messages_and_forgets_old_finished_ones(
        self, push_service, user, payload
    ):
        subscription = subscribed(user, push_service)
        expired, old_sent, recent_sent = (queued(subscription, payload) for _ in range(3))
        now = timezone.now()
        PushMessage.objects.filter(pk=expired.pk).update(created_at=now - dt.timedelta(hours=1))
        PushMessage.objects.filter(pk=old_sent.pk).update(
            state="sent", created_at=now - dt.timedelta(days=2)
        )
        PushMessage.objects.filter(pk=recent_sent.pk).update(state="sent")

        assert push.sweep() == []

        states = dict(PushMessage.objects.values_list("pk", "state"))
        assert states == {expired.pk: "failed", recent_sent.pk: "sent"}

    def test_beat_runs_the_sweep_every_minute(self):
        entry = django_settings.CELERY_BEAT_SCHEDULE["sweep-push-messages"]

        assert entry == {"task": "notifications.sweep_push_messages", "schedule": 60.0}
        assert entry["task"] in celery_app.tasks


@pytest.fixture
def tls_push_service(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate is for the name push.test only (which
    does not resolve), and the CA file that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "push.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("push.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
            hosts.append(self.headers["Host"])
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server.server_address[1], str(cert_file), hosts
    server.shutdown()
    server.server_close()


class TestPinnedConnection:
    def test_connects_to_the_checked_address_and_verifies_the_certificate_for_the_host(
        self, tls_push_service
    ):
        port, ca_file, hosts = tls_push_service

        with push.PinnedSession("127.0.0.1") as session:
            response = session.post(f"https://push.test:{port}/push/1", data=b"x", verify=ca_file)

        assert response.status_code == 201
        assert hosts == [f"push.test:{port}"]

    def test_a_certificate_for_another_name_is_refused(self, tls_push_service):
        port, ca_file, hosts = tls_push_service

        with (
            push.PinnedSession("127.0.0.1") as session,
            pytest.raises(requests.exceptions.SSLError),
        ):
            session.post(f"https://other.test:{port}/push/1", data=b"x", verify=ca_file)

        assert hosts == []
