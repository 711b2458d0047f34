"""Live events: the change feed, pushed. A committed write publishes a wake-up call on Redis
(`events:<user id>`); each open stream of that user, in whichever process holds it, wakes up
and reads the change feed from its own cursor. What a stream sends is therefore always the
feed: nothing is lost when Redis drops a message (the hub of each process looks at the feed
for all its streams every HEARTBEAT_SECONDS, and wakes those that are behind), nothing is
sent twice, and while Redis is down (or absent, in development) the hub looks every
POLL_SECONDS instead.

Reminders go the same way: a firing (notifications/tasks.py, in a Celery worker) records a
`FiredReminder` in its own transaction and, once that commits, publishes a wake-up call
marked `reminder`; the user's streams read the reminders fired since each opened, and send
each once, as `event: reminder` without an `id:` (reminders are not replayed).
"""

import asyncio
import json
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import redis
import redis.asyncio
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import User
from notifications.signals import reminder_fired
from sync import cursors, feed
from sync.models import FiredReminder
from tasks.models import Change
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
    (id, fired_at, payload) but those in `sent`; run by the readers."""
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


def read_news(
    user_ids: list[str], fired_since: datetime
) -> tuple[dict[str, int | None], dict[str, list[tuple[int, datetime]]]]:
    """For the hub: each user's latest change id, and the reminders fired since `fired_since`
    (id, fired_at) by user; two queries however many users, run by the readers."""
    latest = dict(
        User.objects.filter(pk__in=user_ids)
        .annotate(
            latest=Subquery(
                Change.objects.filter(user_id=OuterRef("pk")).order_by("-id").values("id")[:1]
            )
        )
        .values_list("pk", "latest")
    )
    fired: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for user_id, pk, at in FiredReminder.objects.filter(
        user_id__in=user_ids, fired_at__gte=fired_since
    ).values_list("user_id", "id", "fired_at"):
        fired[user_id].append((pk, at))
    return latest, fired


class Readers:
    """READERS threads that read the feed for every stream of the process, in turn.

    Each keeps its database connection while reads keep coming and closes it once none has
    come for READER_IDLE_SECONDS, or when a read fails (the connection may be what failed):
    a stream reads at every wake-up (and the hub at every heartbeat), and opening a
    connection for each read cost more than the read (docs/performance.md). A fixed few also
    bounds the connections a realtime process holds however many streams it serves. The
    threads start with the first read; `stop` closes their connections and ends them (they
    start again when needed)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self.lock:
            if not self.threads:
                self.threads = [
                    threading.Thread(target=self.work, name=f"stream-reader-{n}", daemon=True)
                    for n in range(self.count)
                ]
                for thread in self.threads:
                    thread.start()
            self.jobs.put((future, function, args))
        return future

    def work(self) -> None:
        while True:
            try:
                job = self.jobs.get(timeout=READER_IDLE_SECONDS)
            except queue.Empty:
                connection.close()
                continue
            if job is None:
                connection.close()
                return
            future, function, args = job
            if not future.set_running_or_notify_cancel():
                continue  # its stream has gone
            try:
                future.set_result(function(*args))
            except Exception as error:
                connection.close()
                future.set_exception(error)

    def stop(self) -> None:
        with self.lock:
            threads, self.threads = self.threads, []
            for _ in threads:
                self.jobs.put(None)
        for thread in threads:
            thread.join()


READERS = 4
READER_IDLE_SECONDS = 1.0
readers = Readers(READERS)


def event(cursor: str, change: dict[str, Any]) -> str:
    return f"id: {cursor}\nevent: {change['type']}\ndata: {json.dumps(change)}\n\n"


def reminder_event(payload: dict[str, Any]) -> str:
    return f"event: reminder\ndata: {json.dumps(payload)}\n\n"


class Waiter(asyncio.Event):
    """An open stream's wake-up call, with what the hub needs to wake it when a wake-up call
    was lost: the last change it read, when it opened and the reminders it has sent (by id,
    with when they fired). `reminders` says a reminder may have fired for it."""

    def __init__(self, after_id: int, opened_at: datetime) -> None:
        super().__init__()
        self.reminders = True  # the first read looks for them
        self.after_id = after_id
        self.opened_at = opened_at
        self.sent: dict[int, datetime] = {}

    def behind(self, latest_id: int, fired: Iterable[tuple[int, datetime]]) -> bool:
        """Whether the feed or the fired reminders hold something this stream has not sent."""
        self.reminders |= any(at >= self.opened_at and pk not in self.sent for pk, at in fired)
        return self.reminders or latest_id > self.after_id


class Hub:
    """One Redis subscription per process and event loop, shared by every stream it holds:
    a wake-up call for a user sets the events of that user's streams. While Redis is down
    `healthy` is false; the hub reconnects by itself.

    A lost wake-up call costs a delay, never an event: every HEARTBEAT_SECONDS (POLL_SECONDS
    while Redis is down) the hub looks at the feed and the fired reminders once for all its
    streams, and wakes those that are behind. One read for all, where each stream used to
    read on every heartbeat itself: 1,000 idle streams made 67 reads a second."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.waiters: dict[str, set[Waiter]] = defaultdict(set)
        self.healthy = False
        self.task = self.loop.create_task(self.listen()) if settings.REDIS_URL else None
        self.watching = self.loop.create_task(self.watch())

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

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS if self.healthy else POLL_SECONDS)
            if not self.waiters:
                continue
            user_ids = list(self.waiters)
            since = timezone.now() - REMINDER_WINDOW
            try:
                latest, fired = await asyncio.wrap_future(
                    readers.submit(read_news, user_ids, since)
                )
            except Exception as error:
                logger.warning("Event streams could not look at the change feed (%s).", error)
                continue
            for user_id in user_ids:
                for waiter in self.waiters.get(user_id, ()):
                    if waiter.behind(latest.get(user_id) or 0, fired.get(user_id, ())):
                        waiter.set()

    def wake(self, user_id: str, reminder: bool = False) -> None:
        for waiter in self.waiters.get(user_id, ()):
            waiter.reminders |= reminder
            waiter.set()

    def wake_all(self) -> None:
        for waiters in self.waiters.values():
            for waiter in waiters:
                waiter.reminders = True
                waiter.set()

    def register(self, user_id: str, after_id: int, opened_at: datetime) -> Waiter:
        waiter = Waiter(after_id, opened_at)
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


def let_go_of_the_request_thread() -> None:
    """Shut down the thread Django's ASGI handler ran this request's sync code in.

    asgiref gives each request a thread of its own for its sync code (the middleware, the
    DRF view that checked the token and the cursor) and keeps it until the request ends: for
    a stream, for as long as it is open, idle, with its stack. When the stream is first
    read, that code has all run (the response has come back through every middleware) and
    the database connection is closed, so the stream lets the thread go and holds only its
    coroutine. Should the request need a thread again (Django closes the response in one at
    the end), asgiref starts a new one for it."""
    # These are asgiref's own (3.x); should a release rename them, streams keep their threads
    # (more memory, nothing else) and tests/sync/test_event_stream.py says so.
    contexts = getattr(SyncToAsync, "thread_sensitive_context", None)
    executors = getattr(SyncToAsync, "context_to_thread_executor", None)
    context = contexts.get(None) if contexts is not None else None
    executor = executors.pop(context, None) if context is not None and executors else None
    if executor is not None:
        executor.shutdown(wait=False)


async def stream(
    user_id: str, after_id: int, ends_at: float, opened_at: datetime | None = None
) -> AsyncIterator[str]:
    """`text/event-stream` for one user: every change after `after_id`, then live ones, and
    every reminder fired after `opened_at` (default: now), each once; a `: ping` comment at
    least every HEARTBEAT_SECONDS, until `ends_at` (time.time()).

    The stream reads when it is woken: by a wake-up call, or by the hub when it finds the
    stream behind. Reminders are read when a wake-up call says one fired, when the hub
    finds one unsent, and whenever Redis is lost."""
    opened_at = opened_at or timezone.now()
    let_go_of_the_request_thread()
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    events = hub()
    waiter = events.register(user_id, after_id, opened_at)
    last_sent = time.monotonic()
    woken = True
    try:
        while time.time() < ends_at:
            if woken:
                waiter.clear()
                since = None
                if waiter.reminders:
                    since = max(opened_at, timezone.now() - REMINDER_WINDOW)
                waiter.reminders = False
                page, fired = await asyncio.wrap_future(
                    readers.submit(read_page, user_id, waiter.after_id, since, waiter.sent)
                )
                for change_id, change in page.changes:
                    yield event(cursors.issue(user_id, change_id), change)
                    last_sent = time.monotonic()
                for reminder_id, fired_at, payload in fired:
                    if reminder_id not in waiter.sent:
                        waiter.sent[reminder_id] = fired_at
                        yield reminder_event(payload)
                        last_sent = time.monotonic()
                if since is not None:
                    # What fired before the window is never read again.
                    waiter.sent = {pk: at for pk, at in waiter.sent.items() if at >= since}
                waiter.after_id = page.last_id
                if page.has_more:
                    continue
            timeout = min(HEARTBEAT_SECONDS, max(0.0, ends_at - time.time()))
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
                woken = True
            except TimeoutError:
                woken = False
            if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                yield ": ping\n\n"
                last_sent = time.monotonic()
    finally:
        events.unregister(user_id, waiter)
