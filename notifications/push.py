"""Web Push: browsers' subscriptions, and reminders pushed to them (docs/push.md).

The write path of subscriptions (`subscribe`, `unsubscribe`), the receiver of
`reminder_fired` that queues one `PushMessage` per subscription of the user, and `deliver`,
which sends one message: RFC 8030 POST, RFC 8291 `aes128gcm` encryption and RFC 8292 VAPID,
all three done by pywebpush (with py-vapid), `TTL: 3600`.

Delivery, in the order things can go wrong:
- A message is claimed before it is sent (a conditional UPDATE, so two workers never send it
  at once) and marked `sent` after; a task retried after that finds nothing to do. A worker
  that dies between the push service's answer and the mark leaves a claim that expires, and
  the sweep sends that message again: a push may then arrive twice, never not at all.
- The endpoint must pass the address rule of core/outbound.py again (DNS may have changed
  since it was saved), and the connection goes to the address that was checked, not to what
  a second lookup might say; TLS still verifies the certificate for the endpoint's host.
  Redirects are not followed, proxies from the environment not used; 10 s timeout.
- 404 or 410: the browser dropped the subscription, so it is deleted (with its messages).
- 429, 5xx, a timeout, a refused connection or a host that does not resolve: tried again
  after RETRY_DELAYS (or the push service's `Retry-After`, when longer), then given up;
  so is anything still pending an hour after it was queued (its TTL: a reminder pushed later
  is noise). Any other answer is given up at once: trying again would get the same.
"""

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from py_vapid import Vapid
from requests.adapters import HTTPAdapter
from rest_framework.exceptions import APIException, ValidationError

from accounts.models import User
from core.outbound import OutboundURLError, public_addresses
from notifications.models import PushMessage, PushSubscription

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS_PER_USER = 20
TTL_SECONDS = 3600
SEND_TIMEOUT_SECONDS = 10
# Seconds before the 2nd, 3rd and 4th attempt; after the 4th failure the message is given up.
RETRY_DELAYS = (10, 60, 300)
# Longer than a send can take (the timeout, twice: connecting and reading), so a claim
# outlives the worker holding it only when that worker is gone.
CLAIM_SECONDS = 120
# The sweep leaves messages this recent to the task queued for them.
SWEEP_GRACE_SECONDS = 30
# The first key of the endpoint locks (pg_advisory_xact_lock's two-key form), so that they
# cannot collide with advisory locks taken for anything else.
ENDPOINT_LOCK_SPACE = 8030
# Sent and given-up messages are kept this long, for the admin, then deleted by the sweep.
KEEP_FINISHED = timedelta(days=1)
# Push services accept 4096 bytes of encrypted body (RFC 8030); aes128gcm adds 103 to the
# plaintext (a 86-byte header, the padding delimiter and the 16-byte tag).
MAX_PAYLOAD_BYTES = 4096 - 103


BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class PushDisabled(APIException):
    status_code = 503
    default_detail = "Web Push is not configured on this server."
    default_code = "push_disabled"


def push_enabled() -> bool:
    """Whether this server has a VAPID key pair, without which no push can be sent."""
    return bool(settings.VAPID_PRIVATE_KEY)


def decode_base64url(value: str) -> bytes:
    """`value` as base64url, padded or not (browsers send it unpadded); ValueError if not,
    also for characters outside the alphabet, which the decoder alone would skip."""
    if not isinstance(value, str) or not BASE64URL.fullmatch(value):
        raise ValueError(value)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as error:
        raise ValueError(value) from error


def check_browser_keys(p256dh: str, auth: str) -> dict[str, list[str]]:
    """What is wrong with a subscription's keys, per key: `p256dh` must be an uncompressed
    point on P-256 (65 bytes), `auth` 16 bytes, both base64url."""
    errors: dict[str, list[str]] = {}
    try:
        point = decode_base64url(p256dh)
        if len(point) != 65 or point[0] != 4:
            raise ValueError(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        errors["p256dh"] = ["Must be the browser's P-256 public key: 65 bytes, base64url."]
    try:
        if len(decode_base64url(auth)) != 16:
            raise ValueError(auth)
    except ValueError:
        errors["auth"] = ["Must be the browser's 16-byte authentication secret, base64url."]
    return errors


def subscribe(*, user: User, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """`user`'s subscription for `endpoint`, replacing any there was for that endpoint.

    The endpoint is checked against the address rule (a 400 naming `endpoint`). A browser
    belongs to whoever signed in on it last: an endpoint another user had subscribed moves to
    `user`, with a new id, and that user's pending pushes for it are dropped (they were not
    meant for `user`); that user is told nothing. At most MAX_SUBSCRIPTIONS_PER_USER each
    (a 400). Push must be configured (PushDisabled, a 503).
    """
    if not push_enabled():
        raise PushDisabled()
    try:
        public_addresses(endpoint)
    except OutboundURLError as error:
        raise ValidationError({"endpoint": [str(error)]}) from None
    with transaction.atomic():
        # The user's row lock serialises their subscribes, so the limit holds under races;
        # then the endpoint's lock, always second, serialises the users racing for it.
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        lock_endpoint(endpoint)
        PushSubscription.objects.filter(endpoint=endpoint).delete()
        if PushSubscription.objects.filter(user=user).count() >= MAX_SUBSCRIPTIONS_PER_USER:
            raise ValidationError(
                {
                    "endpoint": [
                        f"You have {MAX_SUBSCRIPTIONS_PER_USER} push subscriptions, the most "
                        "there can be: delete one first."
                    ]
                }
            )
        return PushSubscription.objects.create(
            user=user, endpoint=endpoint, p256dh=p256dh.rstrip("="), auth=auth.rstrip("=")
        )


def lock_endpoint(endpoint: str) -> None:
    """Hold `endpoint` until the transaction ends, whether or not a row has it yet: two
    transactions that both found none would both insert it, and one would fail. PostgreSQL
    takes an advisory lock (in a key space of this module's own); SQLite runs one writing
    transaction at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ENDPOINT_LOCK_SPACE, endpoint]
            )


def unsubscribe(*, subscription: PushSubscription) -> None:
    """Delete `subscription` and whatever was still to be pushed to it."""
    subscription.delete()


def queue_reminder(sender: Any, *, user_id: str, payload: dict[str, Any], **kwargs: Any) -> None:
    """The receiver of `reminder_fired`: one pending message per subscription of the user,
    in the transaction that fired the reminder; each is handed to a worker after it commits.
    Nothing is queued while push is not configured."""
    if not push_enabled():
        return
    messages = PushMessage.objects.bulk_create(
        PushMessage(subscription_id=pk, payload=payload)
        for pk in PushSubscription.objects.filter(user_id=user_id).values_list("pk", flat=True)
    )
    if not messages:
        return
    message_ids = [message.pk for message in messages]

    def queue_sends() -> None:
        from notifications.tasks import send_push

        for message_id in message_ids:
            send_push.delay(message_id)

    # robust: a broker that is down must not fail the reminder's commit; the sweep sends.
    transaction.on_commit(queue_sends, robust=True)


@dataclass(frozen=True)
class Delivery:
    """What one `deliver` call did: `sent`, `retry` (in `retry_in` seconds), `failed` (given
    up), `gone` (the push service dropped the subscription) or `skipped` (nothing to do: sent,
    given up, claimed by another worker, not yet due, or deleted)."""

    outcome: str
    retry_in: int | None = None


def deliver(message_id: int) -> Delivery:
    """Send pending message `message_id` once, if it is due and no other worker holds it.

    Safe to call any number of times, from any number of workers, for the same message: it
    is claimed first, and a message already sent is never sent again.
    """
    now = timezone.now()
    claimed = (
        PushMessage.objects.filter(
            pk=message_id, state=PushMessage.State.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    )
    message = PushMessage.objects.select_related("subscription").filter(pk=message_id).first()
    if not claimed or message is None:
        return Delivery("skipped")
    if now >= message.created_at + timedelta(seconds=TTL_SECONDS):
        return give_up(message, "Its time to live ran out before it could be sent.")
    if message.attempts > len(RETRY_DELAYS) + 1:
        # Every attempt so far ended without an outcome (the worker died or was killed mid-send,
        # say by a push service trickling its answer past the task's time limit).
        return give_up(message, "Too many attempts ended without an answer.")
    if not push_enabled():
        return give_up(message, "Web Push is not configured on this server.")
    try:
        response = post(message.subscription, push_body(message.payload))
    except OutboundURLError as error:
        if isinstance(error.__cause__, OSError):
            # The endpoint's host did not resolve: DNS may answer on the next attempt.
            return retry_or_give_up(message, str(error))
        return give_up(message, str(error))
    except requests.Timeout:
        return retry_or_give_up(message, "The push service did not answer in time.")
    except requests.RequestException as error:
        return retry_or_give_up(message, f"Could not reach the push service: {error}")
    status = response.status_code
    if 200 <= status < 300:
        PushMessage.objects.filter(pk=message.pk).update(
            state=PushMessage.State.SENT, sent_at=timezone.now(), claimed_until=None, error=""
        )
        return Delivery("sent")
    if status in (404, 410):
        logger.info("push service dropped subscription %s (%s)", message.subscription_id, status)
        message.subscription.delete()
        return Delivery("gone")
    if status == 429 or status >= 500:
        retry_after = response.headers.get("Retry-After", "")
        return retry_or_give_up(
            message,
            f"The push service answered {status}.",
            at_least=int(retry_after) if retry_after.isdigit() else 0,
        )
    return give_up(message, f"The push service answered {status}.")


def give_up(message: PushMessage, error: str) -> Delivery:
    logger.warning("push message %s given up: %s", message.pk, error)
    PushMessage.objects.filter(pk=message.pk).update(
        state=PushMessage.State.FAILED, claimed_until=None, error=error[:200]
    )
    return Delivery("failed")


def retry_or_give_up(message: PushMessage, error: str, at_least: int = 0) -> Delivery:
    """Try `message` again after the next of RETRY_DELAYS (or `at_least` seconds, a push
    service's `Retry-After`, if longer), unless it has had them all or that would be past
    its TTL."""
    attempts = message.attempts  # read after the claim, which counted this attempt
    expires = message.created_at + timedelta(seconds=TTL_SECONDS)
    if attempts > len(RETRY_DELAYS):
        return give_up(message, error)
    delay = max(RETRY_DELAYS[attempts - 1], at_least)
    next_attempt_at = timezone.now() + timedelta(seconds=delay)
    if next_attempt_at >= expires:
        return give_up(message, error)
    PushMessage.objects.filter(pk=message.pk).update(
        next_attempt_at=next_attempt_at, claimed_until=None, error=error[:200]
    )
    return Delivery("retry", retry_in=delay)


def push_body(payload: dict[str, Any]) -> str:
    """The JSON a service worker receives: the reminder as fired, or, when that would not
    fit in a push, the same with the task cut to its id, title and due date."""
    body = json_dumps(payload)
    if len(body.encode()) <= MAX_PAYLOAD_BYTES:
        return body
    task = payload.get("task") or {}
    return json_dumps(
        {
            **payload,
            "task": {key: task.get(key) for key in ("id", "title", "due_at")},
            "truncated": True,
        }
    )


def json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def post(subscription: PushSubscription, body: str) -> requests.Response:
    """POST `body`, encrypted to `subscription`'s keys and signed with the VAPID key, to its
    endpoint at an address the address rule allows; the push service's answer, whatever its
    status. OutboundURLError when the endpoint may not be called now."""
    # Imported here: pywebpush loads aiohttp, over half a second that every web process,
    # command and test run would pay at start-up for what only a worker's sends use.
    from pywebpush import WebPushException, webpush

    address = public_addresses(subscription.endpoint)[0]
    parts = urlsplit(subscription.endpoint)
    with PinnedSession(address) as session:
        try:
            response = webpush(
                subscription_info={
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                data=body,
                vapid_private_key=vapid_key(settings.VAPID_PRIVATE_KEY),
                vapid_claims={
                    "sub": settings.VAPID_SUBJECT,
                    "aud": f"{parts.scheme}://{parts.netloc}",
                },
                ttl=TTL_SECONDS,
                # A reminder is due now: a phone may wake its radio for it (RFC 8030).
                headers={"Urgency": "high"},
                timeout=SEND_TIMEOUT_SECONDS,
                requests_session=session,
            )
        except WebPushException as error:
            # pywebpush raises for any answer above 202, with the response attached.
            if error.response is None:
                raise requests.RequestException(error.message) from error
            return error.response
    return response


@lru_cache(maxsize=2)
def vapid_key(private_key: str) -> Vapid:
    return Vapid.from_string(private_key)


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to `address` whatever the URL's host resolves to by now, as the address rule
    requires; the `Host` header, TLS's server name and the certificate check still use the
    URL's host. No retries of its own: deliver() decides what is tried again."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        hostname = host_params["host"]
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": hostname, "assert_hostname": hostname}
        return self.poolmanager.connection_from_host(
            **{**host_params, "host": self.address}, pool_kwargs=pool_kwargs
        )

    def add_headers(self, request, **kwargs) -> None:
        request.headers["Host"] = urlsplit(request.url).netloc


class PinnedSession(requests.Session):
    """A session for one push: every request to `address` (PinnedAddressAdapter), redirects
    never followed (a redirect could lead anywhere), no proxy or .netrc from the environment."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.trust_env = False
        adapter = PinnedAddressAdapter(address)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


def sweep() -> list[int]:
    """The housekeeping a beat schedule runs every minute: gives up pending messages past
    their TTL, deletes finished ones older than KEEP_FINISHED, and returns the ids of pending
    messages that are due and unclaimed but older than SWEEP_GRACE_SECONDS — those whose
    task was lost (a worker died, the broker was down) — for the caller to queue again."""
    now = timezone.now()
    pending = PushMessage.objects.filter(state=PushMessage.State.PENDING)
    pending.filter(created_at__lte=now - timedelta(seconds=TTL_SECONDS)).update(
        state=PushMessage.State.FAILED,
        claimed_until=None,
        error="Its time to live ran out before it could be sent.",
    )
    PushMessage.objects.exclude(state=PushMessage.State.PENDING).filter(
        created_at__lt=now - KEEP_FINISHED
    ).delete()
    return list(
        pending.filter(next_attempt_at__lte=now - timedelta(seconds=SWEEP_GRACE_SECONDS))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
