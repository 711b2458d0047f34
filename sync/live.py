"""Live events: the change feed, pushed. A committed write publishes a wake-up call on Redis
(`events:<user id>`); each open stream of that user, in whichever process holds it, wakes up
and reads the change feed from its own cursor. What a stream sends is therefore always the
feed: nothing is lost when Redis drops a message, nothing is sent twice, and while Redis is
down (or absent, in development) streams poll the feed every POLL_SECONDS instead.

Reminders go the same way: a firing (notifications/tasks.py, in a Celery worker) records a
`FiredReminder` in its own transaction and, once that commits, publishes a wake-up call
marked `reminder`; the user's streams read the reminders fired since each opened, and send
each once, as `event: reminder` without an `id:` (reminders are not replayed).
"""

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.dispatch import receiver
from django.utils import timezone

from notifications.signals import reminder_fired
from sync import cursors, feed
from sync.models import FiredReminder
from tasks.signals import ListChange, TaskChange, lists_changed, tasks_changed

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15
# Reconnect after a second (the EventSource default is about three).
RETRY_MILLISECONDS = 1000
# A stream reads the reminders fired within this window (and since it opened) and remembers
# which it sent: longer than a firing transaction can take to commit (Celery's time limit),
# so one that commits late is still seen, and none is sent twice.
REMINDER_WINDOW = timedelta(minutes=2)
# Fired reminders are kept this long for the streams, then purged.
FIRED_REMINDER_RETENTION = timedelta(minutes=10)
WAKE_REMINDER = "reminder"

publisher = (
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.25) if settings.REDIS_URL else None
)


def channel(user_id: str) -> str:
    """Named like the cache's keys, so that deployments sharing a Redis stay apart."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:events:{user_id}"


@receiver(tasks_changed)
@receiver(lists_changed)
def wake_streams(sender: type, changes: list[TaskChange | ListChange], **kwargs: Any) -> None:
    """After a commit: wake the streams of every user whose tasks or lists changed."""
    wake({change.user_id for change in changes}, "1")


@receiver(reminder_fired)
def record_for_streams(sender: type, user_id: str, payload: dict, **kwargs: Any) -> None:
    """In the firing's transaction: record the reminder for the user's open streams, and wake
    them once it has committed."""
    FiredReminder.objects.create(user_id=user_id, fired_at=timezone.now(), payload=payload)
    transaction.on_commit(partial(wake, {user_id}, WAKE_REMINDER))


def wake(user_ids: set[str], message: str) -> None:
    if publisher is None:
        return
    try:
        for user_id in user_ids:
            publisher.publish(channel(user_id), message)
    except redis.RedisError as error:
        # What happened is committed; the streams find it on their next poll.
        logger.warning("Could not wake event streams (%s); they will poll.", error)


def purge_fired_reminders(*, before: datetime) -> int:
    """Delete the reminders fired before `before`; returns how many."""
    return FiredReminder.objects.filter(fired_at__lt=before).delete()[0]


def read_page(
    user_id: str, after_id: int, fired_since: datetime | None, sent: Iterable[int] = ()
) -> tuple[feed.Page, list[tuple[int, datetime, dict]]]:
    """One page of the feed and, when `fired_since` is given, the reminders fired since then
    (id, fired_at, payload) but those in `sent`, from a worker thread. Its connection is
    closed after each read: a stream reads rarely, and the threads of the pool would
    otherwise each keep one."""
    try:
        page = feed.changes_after(user_id, after_id, limit=500)
        fired = []
        if fired_since is not None:
            fired = list(
                FiredReminder.objects.filter(user_id=user_id, fired_at__gte=fired_since)
                .exclude(pk__in=list(sent))
                .order_by("id")
                .values_list("id", "fired_at", "payload")
            )
        return page, fired
    finally:
        connection.close()


def event(cursor: str, change: dict[str, Any]) -> str:
    return f"id: {cursor}\nevent: {change['type']}\ndata: {json.dumps(change)}\n\n"


def reminder_event(payload: dict[str, Any]) -> str:
    return f"event: reminder\ndata: {json.dumps(payload)}\n\n"


class Waiter(asyncio.Event):
    """An open stream's wake-up call; `reminders` says a reminder may have fired for it."""

    def __init__(self) -> None:
        super().__init__()
        self.reminders = False


class Hub:
    """One Redis subscription per process and event loop, shared by every stream it holds:
    a wake-up call for a user sets the events of that user's streams. While Redis is down
    `healthy` is false and streams poll; the hub reconnects by itself."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.healthy = False
        self.task = self.loop.create_task(self.listen()) if settings.REDIS_URL else None

    async def listen(self) -> None:
        prefix = channel("")
        while True:
            client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as listener:
                    await listener.psubscribe(f"{prefix}*")
                    self.healthy = True
                    async for message in listener.listen():
                        self.wake(
                            message["channel"].decode().removeprefix(prefix),
                            reminder=message["data"] == WAKE_REMINDER.encode(),
                        )
            except (redis.RedisError, OSError) as error:
                if self.healthy:
                    logger.warning("Event streams lost Redis (%s); polling the change feed.", error)
                self.healthy = False
                self.wake_all()
                await asyncio.sleep(1)
            finally:
                await client.aclose()

    def wake(self, user_id: str, reminder: bool = False) -> None:
        for waiter in self.waiters.get(user_id, ()):
            waiter.reminders |= reminder
            waiter.set()

    def wake_all(self) -> None:
        for waiters in self.waiters.values():
            for waiter in waiters:
                waiter.reminders = True
                waiter.set()

    def register(self, user_id: str) -> Waiter:
        waiter = Waiter()
        self.waiters[user_id].add(waiter)
        return waiter

    def unregister(self, user_id: str, waiter: Waiter) -> None:
        self.waiters[user_id].discard(waiter)
        if not self.waiters[user_id]:
            del self.waiters[user_id]


hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    if loop not in hubs:
        hubs[loop] = Hub()
    return hubs[loop]


async def stream(
    user_id: str, after_id: int, ends_at: float, opened_at: datetime | None = None
) -> AsyncIterator[str]:
    """`text/event-stream` for one user: every change after `after_id`, then live ones, and
    every reminder fired after `opened_at` (default: now), each once; a `: ping` comment at
    least every HEARTBEAT_SECONDS, until `ends_at` (time.time()).

    Reminders are read when a wake-up call says one fired, when a heartbeat passes without
    one (a lost wake-up call costs a delay, never the reminder), and on every poll while
    Redis is away."""
    opened_at = opened_at or timezone.now()
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    events = hub()
    waiter = events.register(user_id)
    last_sent = time.monotonic()
    sent: dict[int, datetime] = {}  # reminders sent, by id, with when they fired
    read_reminders = True
    try:
        while time.time() < ends_at:
            waiter.clear()
            read_reminders |= waiter.reminders or not events.healthy
            waiter.reminders = False
            since = max(opened_at, timezone.now() - REMINDER_WINDOW) if read_reminders else None
            page, fired = await sync_to_async(read_page, thread_sensitive=False)(
                user_id, after_id, since, sent
            )
            for change_id, change in page.changes:
                yield event(cursors.issue(user_id, change_id), change)
                last_sent = time.monotonic()
            for reminder_id, fired_at, payload in fired:
                if reminder_id not in sent:
                    sent[reminder_id] = fired_at
                    yield reminder_event(payload)
                    last_sent = time.monotonic()
            if since is not None:
                # What fired before the window is never read again.
                sent = {pk: at for pk, at in sent.items() if at >= since}
            read_reminders = False
            after_id = page.last_id
            if page.has_more:
                continue
            timeout = HEARTBEAT_SECONDS if events.healthy else POLL_SECONDS
            timeout = min(timeout, max(0.0, ends_at - time.time()))
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except TimeoutError:
                read_reminders = True
            if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                yield ": ping\n\n"
                last_sent = time.monotonic()
    finally:
        events.unregister(user_id, waiter)
