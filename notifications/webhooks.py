"""Webhooks: what a user's webhooks are sent, how it is queued, signed and sent.

What is delivered (docs/webhooks.md is the receiver's side of this):
- Every write of a user's tasks and lists (any path: the services send `tasks_written`
  inside the write's transaction) queues, for each active webhook of that user, one
  `Delivery` per changed object whose change type it subscribed to: the change feed's
  `{"type", "id", "data"}`, `data` being the object exactly as its GET answers it right after
  that write (null for a deletion). What changed is what the database recorded for the change
  feed (`tasks.Change`, written by the triggers in the same statements), so a webhook hears of
  the same changes the feed does: a list whose counts a task write moved, the tasks of a
  deleted list.
- Every firing reminder (`notifications.signals.reminder_fired`, inside its claim's
  transaction) queues one delivery of its payload per webhook subscribed to `reminder`.
The deliveries commit with the write or claim, or not at all (an outbox), and are sent after
the commit by a Celery task (`send_webhook`), and by the periodic sweep (`sweep_webhooks`)
when that task was lost or a retry is due.

How it is sent (`send_pending`): one webhook's deliveries in the order they were queued (the
owner's lock orders their writes, so that is commit order), one at a time, by the one worker
that holds the webhook's lease (a conditional UPDATE, which PostgreSQL and SQLite both make
atomic). A failed attempt holds back the later deliveries until it succeeds or is given up
after `WEBHOOK_RETRY_DELAYS`. Each attempt is a POST signed per Standard Webhooks, with the
same `webhook-id` every time, made only to an address the outbound rule (core/outbound.py)
has just approved: the connection goes to that address, with the URL's host in `Host`, in
TLS's SNI and in certificate verification, so a DNS answer that changes between the check and
the call cannot redirect it. A worker that dies mid-send leaves its lease to expire; the
delivery is then sent again under the same `webhook-id` (receivers deduplicate on it).
"""

import functools
import logging
import secrets
import ssl
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import standardwebhooks
import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Q
from django.dispatch import receiver
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import User
from core.outbound import OutboundURLError, public_addresses
from core.renderers import ORJSONRenderer
from notifications.models import MAX_WEBHOOKS_PER_USER, Delivery, DeliveryAttempt, Webhook
from notifications.signals import reminder_fired
from tasks.models import Change, Task, TaskList
from tasks.serializers import TaskListSerializer, TaskSerializer
from tasks.services import lock_owners
from tasks.signals import ListChange, TaskChange, tasks_written

logger = logging.getLogger(__name__)

# Any 2xx within this many seconds (connection included) is a success.
TIMEOUT_SECONDS = 10.0
# How long a worker's claim on a webhook lasts without renewal (renewed after each attempt;
# longer than one attempt can take).
LEASE = timedelta(seconds=60)
# One `send_pending` call stops after this long (within Celery's time limit); the sweep or
# the next task carries on.
SEND_BUDGET_SECONDS = 30.0
ATTEMPT_LOG_SIZE = 50
ATTEMPT_LOG_DAYS = 7
USER_AGENT = "todo-backend-webhooks/1"
renderer = ORJSONRenderer()


def encode(value: Any) -> str:
    """The JSON text the API would answer for `value` (same renderer, same bytes)."""
    return renderer.render(value).decode()


def check_url(url: str) -> None:
    """The outbound rule for a webhook URL, as a ValidationError for its field (a 400)."""
    try:
        public_addresses(url)
    except OutboundURLError as error:
        raise ValidationError(str(error)) from None


def latest_change_id(user_id: str) -> int:
    last = Change.objects.filter(user_id=user_id).order_by("-id").values_list("id", flat=True)
    return last.first() or 0


def webhook_create(*, user: User, data: dict[str, Any]) -> Webhook:
    """A new webhook of `user` (validated `url`, `events`, optional `active`) with a new
    secret; it hears of the writes that commit after it. An 11th webhook is a
    ValidationError (400). Under the owner's lock, like their writes: a write either commits
    before the webhook exists or is delivered to it."""
    with transaction.atomic():
        lock_owners([user.pk])
        if Webhook.objects.filter(user=user).count() >= MAX_WEBHOOKS_PER_USER:
            raise ValidationError(
                {"url": [f"You have {MAX_WEBHOOKS_PER_USER} webhooks, the most there can be."]}
            )
        webhook = Webhook.objects.create(user=user, change_cursor=latest_change_id(user.pk), **data)
        note_active_webhooks(user.pk)
    return webhook


def webhook_update(*, webhook: Webhook, data: dict[str, Any]) -> Webhook:
    """Write the validated `url`, `events` and/or `active`. Deactivating drops the
    deliveries not yet sent (an inactive webhook gets nothing); reactivating starts from
    the writes that commit after it, as a new webhook does."""
    with transaction.atomic():
        lock_owners([webhook.user_id])
        webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
        was_active = webhook.active
        for name, value in data.items():
            setattr(webhook, name, value)
        fields = set(data)
        if webhook.active and not was_active:
            webhook.change_cursor = latest_change_id(webhook.user_id)
            fields.add("change_cursor")
        if not webhook.active and was_active:
            Delivery.objects.filter(webhook=webhook).delete()
        if fields:
            webhook.save(update_fields=fields)
        if webhook.active != was_active:
            note_active_webhooks(webhook.user_id)
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete the webhook, its queued deliveries and its log. Under the owner's lock, so no
    write of theirs is queueing a delivery for it meanwhile."""
    with transaction.atomic():
        lock_owners([webhook.user_id])
        Webhook.objects.filter(pk=webhook.pk).delete()
        note_active_webhooks(webhook.user_id)


def note_active_webhooks(user_id: str) -> None:
    """Bring `User.has_active_webhooks` in step with the user's webhooks (call under the
    owner's lock, after changing them): the write path reads it to skip `queue_changes`."""
    active = Webhook.objects.filter(user_id=user_id, active=True)
    User.objects.filter(pk=user_id).update(has_active_webhooks=Exists(active))


@receiver(tasks_written)
def queue_changes(
    sender: type,
    changes: list[TaskChange | ListChange],
    webhook_owners: set[str] | None = None,
    **kwargs: Any,
) -> None:
    """Queue the deliveries of one write (inside its transaction, under its owners' locks).

    Nothing to do, and no query, for owners without an active webhook (`webhook_owners`, as
    their lock read `User.has_active_webhooks`); for others: their webhooks, the changes
    recorded since each one's cursor, the objects as they are now (right after the write),
    one insert.
    """
    owners = {change.user_id for change in changes}
    if webhook_owners is not None:
        owners &= webhook_owners
    if not owners:
        return
    webhooks = list(
        Webhook.objects.filter(user_id__in=owners, active=True)
        .order_by("id")
        .only("id", "user_id", "events", "change_cursor")
    )
    if not webhooks:
        return
    by_owner: dict[str, list[Webhook]] = defaultdict(list)
    for webhook in webhooks:
        by_owner[webhook.user_id].append(webhook)
    queued: list[Delivery] = []
    for user_id, hooks in by_owner.items():
        rows = list(
            Change.objects.filter(user_id=user_id, id__gt=min(h.change_cursor for h in hooks))
            .order_by("id")
            .values_list("id", "object_type", "object_id")
        )
        if not rows:
            continue
        current = objects_now(user_id, {(kind, object_id) for _, kind, object_id in rows})
        for hook in hooks:
            queued += deliveries_of(hook, rows, current)
        Webhook.objects.filter(pk__in=[hook.pk for hook in hooks]).update(change_cursor=rows[-1][0])
    send_after_commit(queued)


def objects_now(user_id: str, keys: set[tuple[str, int]]) -> dict[tuple[str, int], dict]:
    """The GET answer of each (kind, id) of `user_id` that still exists; two queries."""
    task_ids = [object_id for kind, object_id in keys if kind == "task"]
    list_ids = [object_id for kind, object_id in keys if kind == "list"]
    current: dict[tuple[str, int], dict] = {}
    if task_ids:
        for task in Task.objects.filter(user_id=user_id, pk__in=task_ids):
            current["task", task.pk] = TaskSerializer(task).data
    if list_ids:
        lists = TaskList.objects.with_counts().filter(user_id=user_id, pk__in=list_ids)
        for task_list in lists:
            current["list", task_list.pk] = TaskListSerializer(task_list).data
    return current


def deliveries_of(
    hook: Webhook, rows: list[tuple[int, str, int]], current: dict[tuple[str, int], dict]
) -> list[Delivery]:
    """The deliveries of the changes after `hook`'s cursor it subscribed to: each object once,
    at its last place, as the change feed orders them."""
    last_place = {
        (kind, object_id): change_id
        for change_id, kind, object_id in rows
        if change_id > hook.change_cursor
    }
    deliveries = []
    for kind, object_id in sorted(last_place, key=last_place.__getitem__):
        data = current.get((kind, object_id))
        change_type = f"{kind}.{'deleted' if data is None else 'changed'}"
        if change_type in hook.events:
            body = encode({"type": change_type, "id": object_id, "data": data})
            deliveries.append(Delivery(webhook_id=hook.pk, type=change_type, body=body))
    return deliveries


@receiver(reminder_fired)
def queue_reminder(sender: Any, user_id: str, payload: dict, **kwargs: Any) -> None:
    """Queue a firing reminder's payload for each active webhook of `user_id` subscribed to
    `reminder` (inside the claim's transaction)."""
    body = encode(payload)
    # Locked, since a firing does not hold the owner's lock: a webhook deleted or paused
    # meanwhile is either waited for (and then skipped) or still there at the commit.
    hooks = (
        Webhook.objects.filter(user_id=user_id, active=True)
        .select_for_update(no_key=True)
        .only("id", "events")
    )
    send_after_commit(
        [
            Delivery(webhook_id=hook.pk, type="reminder", body=body)
            for hook in hooks
            if "reminder" in hook.events
        ]
    )


def send_after_commit(deliveries: list[Delivery]) -> None:
    """Insert `deliveries` and, once the transaction commits, ask a worker to send them."""
    if not deliveries:
        return
    Delivery.objects.bulk_create(deliveries, batch_size=1000)
    webhook_ids = sorted({delivery.webhook_id for delivery in deliveries})
    transaction.on_commit(lambda: enqueue(webhook_ids))


def enqueue(webhook_ids: list[int]) -> None:
    """A `send_webhook` task per webhook. A broker that is down loses nothing (the
    deliveries are in the database, and the sweep sends them), so it is logged, not raised."""
    # Imported here: notifications.tasks imports this module.
    from notifications.tasks import send_webhook

    for webhook_id in webhook_ids:
        try:
            send_webhook.apply_async((webhook_id,), retry=False)
        except Exception:
            logger.warning(
                "Could not queue webhook %s; the sweep will send it.", webhook_id, exc_info=True
            )


def claim(webhook_id: int, token: str) -> bool:
    """Take (or renew, with the same token) the webhook's lease; False when another worker
    holds it or the webhook is gone."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_token=token)
    return bool(
        Webhook.objects.filter(free, pk=webhook_id).update(
            lease_until=now + LEASE, lease_token=token
        )
    )


def send_pending(webhook_id: int) -> int:
    """Send the webhook's deliveries that are due, in order, if no other worker is sending
    them; returns how many ended (delivered or given up). Safe to run twice, and at once."""
    token = secrets.token_hex(16)
    if not claim(webhook_id, token):
        return 0
    ended = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < SEND_BUDGET_SECONDS:
            webhook = Webhook.objects.filter(pk=webhook_id, lease_token=token, active=True).first()
            delivery = Delivery.objects.filter(webhook_id=webhook_id).order_by("id").first()
            if webhook is None or delivery is None or delivery.next_attempt_at > timezone.now():
                break
            if not attempt(webhook, delivery):
                break
            ended += 1
            if not claim(webhook_id, token):
                break
    finally:
        Webhook.objects.filter(pk=webhook_id, lease_token=token).update(
            lease_until=None, lease_token=""
        )
    prune_log(webhook_id)
    return ended


def attempt(webhook: Webhook, delivery: Delivery) -> bool:
    """POST `delivery` once and record it; True when it has ended (delivered, or failed for
    the last time), False when it waits for a retry."""
    number = delivery.attempts + 1
    status_code, error = post(webhook.url, webhook.secret, delivery.event_id, delivery.body)
    delays = settings.WEBHOOK_RETRY_DELAYS
    ended = error is None or number > len(delays)
    if error is not None and ended:
        error = f"{error} Given up after {number} attempts."
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            webhook=webhook,
            event_id=delivery.event_id,
            type=delivery.type,
            attempt=number,
            status_code=status_code,
            error=error[:300] if error else None,
        )
        if ended:
            delivery.delete()
        else:
            Delivery.objects.filter(pk=delivery.pk).update(
                attempts=number,
                next_attempt_at=timezone.now() + timedelta(seconds=delays[number - 1]),
            )
    return ended


def signature_headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for `body` sent at `at`."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(secret).sign(event_id, at, body),
    }


def post(url: str, secret: str, event_id: str, body: str) -> tuple[int | None, str | None]:
    """One signed POST of `body` to `url`: (the status code or None, None on success or why
    it failed). Redirects are not followed; the outbound rule is checked first, and only the
    addresses it approved are connected to."""
    try:
        addresses = public_addresses(url)
    except OutboundURLError as error:
        return None, str(error)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": parts.netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(secret, event_id, body, timezone.now()),
    }
    deadline = time.monotonic() + TIMEOUT_SECONDS
    error = "No address to connect to."
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        with connection_pool(parts, address, remaining) as pool:
            try:
                # Only the status matters: the body is never read, and the connection closes.
                status = pool.urlopen(
                    "POST",
                    path,
                    body=body.encode(),
                    headers=headers,
                    redirect=False,
                    retries=False,
                    assert_same_host=False,
                    preload_content=False,
                ).status
            except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
                error = f"Could not connect to {address}."
                continue
            except urllib3.exceptions.ReadTimeoutError:
                return None, f"No answer within {TIMEOUT_SECONDS:g} s."
            except urllib3.exceptions.HTTPError as failure:
                return None, f"The request failed: {failure}"[:300]
        if time.monotonic() > deadline:
            return status, f"No complete answer within {TIMEOUT_SECONDS:g} s."
        if 200 <= status < 300:
            return status, None
        if 300 <= status < 400:
            return status, f"Answered {status}, a redirect, which is not followed."
        return status, f"Answered {status}."
    return None, error


def connection_pool(parts: Any, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to `address` that speaks to it as the URL's host: TLS with SNI
    and certificate verification for that host name."""
    options = {
        "port": parts.port or (443 if parts.scheme == "https" else 80),
        "timeout": urllib3.Timeout(total=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if parts.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            **options,
            ssl_context=ssl_context(),
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
        )
    return urllib3.HTTPConnectionPool(address, **options)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The system's trusted certificate authorities, verification on (loaded once)."""
    return ssl.create_default_context()


def due_webhooks() -> list[int]:
    """The webhooks with a delivery due and no worker sending them (the sweep's work)."""
    now = timezone.now()
    due = Delivery.objects.filter(next_attempt_at__lte=now).values("webhook_id")
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return list(
        Webhook.objects.filter(free, pk__in=due, active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def prune_log(webhook_id: int) -> int:
    """Keep the webhook's last `ATTEMPT_LOG_SIZE` attempts (what its deliveries route shows)."""
    older = list(
        DeliveryAttempt.objects.filter(webhook_id=webhook_id)
        .order_by("-at", "-id")
        .values_list("id", flat=True)[ATTEMPT_LOG_SIZE:]
    )
    return DeliveryAttempt.objects.filter(pk__in=older).delete()[0] if older else 0


def prune_old_log() -> int:
    """Forget attempts older than `ATTEMPT_LOG_DAYS`."""
    before = timezone.now() - timedelta(days=ATTEMPT_LOG_DAYS)
    return DeliveryAttempt.objects.filter(at__lt=before).delete()[0]
