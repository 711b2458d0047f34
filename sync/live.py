"""Live events: the change feed, pushed. A committed write publishes a wake-up call on Redis
(`events:<user id>`); each open stream of that user, in whichever process holds it, wakes up
and reads the change feed from its own cursor. What a stream sends is therefore always the
feed: nothing is lost when Redis drops a message, nothing is sent twice, and while Redis is
down (or absent, in development) streams poll the feed every POLL_SECONDS instead.
"""

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.dispatch import receiver

from sync import cursors, feed
from tasks.signals import ListChange, TaskChange, lists_changed, tasks_changed

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15
# Reconnect after a second (the EventSource default is about three).
RETRY_MILLISECONDS = 1000

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
    if publisher is None:
        return
    try:
        for user_id in {change.user_id for change in changes}:
            publisher.publish(channel(user_id), "1")
    except redis.RedisError as error:
        # The write has happened; the streams find it on their next poll.
        logger.warning("Could not wake event streams (%s); they will poll.", error)


def read_page(user_id: str, after_id: int) -> feed.Page:
    """One page of the feed, from a worker thread. Its connection is closed after each read:
    a stream reads rarely, and the threads of the pool would otherwise each keep one."""
    try:
        return feed.changes_after(user_id, after_id, limit=500)
    finally:
        connection.close()


def event(cursor: str, change: dict[str, Any]) -> str:
    return f"id: {cursor}\nevent: {change['type']}\ndata: {json.dumps(change)}\n\n"


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
                        self.wake(message["channel"].decode().removeprefix(prefix))
            except (redis.RedisError, OSError) as error:
                if self.healthy:
                    logger.warning("Event streams lost Redis (%s); polling the change feed.", error)
                self.healthy = False
                self.wake_all()
                await asyncio.sleep(1)
            finally:
                await client.aclose()

    def wake(self, user_id: str) -> None:
        for waiter in self.waiters.get(user_id, ()):
            waiter.set()

    def wake_all(self) -> None:
        for waiters in self.waiters.values():
            for waiter in waiters:
                waiter.set()

    def register(self, user_id: str) -> asyncio.Event:
        waiter = asyncio.Event()
        self.waiters[user_id].add(waiter)
        return waiter

    def unregister(self, user_id: str, waiter: asyncio.Event) -> None:
        self.waiters[user_id].discard(waiter)
        if not self.waiters[user_id]:
            del self.waiters[user_id]


hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    if loop not in hubs:
        hubs[loop] = Hub()
    return hubs[loop]


async def stream(user_id: str, after_id: int, ends_at: float) -> AsyncIterator[str]:
    """`text/event-stream` for one user: every change after `after_id`, then live ones, a
    `: ping` comment at least every HEARTBEAT_SECONDS, until `ends_at` (time.time())."""
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    events = hub()
    waiter = events.register(user_id)
    last_sent = time.monotonic()
    try:
        while time.time() < ends_at:
            waiter.clear()
            page = await sync_to_async(read_page, thread_sensitive=False)(user_id, after_id)
            for change_id, change in page.changes:
                yield event(cursors.issue(user_id, change_id), change)
                last_sent = time.monotonic()
            after_id = page.last_id
            if page.has_more:
                continue
            timeout = HEARTBEAT_SECONDS if events.healthy else POLL_SECONDS
            timeout = min(timeout, max(0.0, ends_at - time.time()))
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except TimeoutError:
                pass
            if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                yield ": ping\n\n"
                last_sent = time.monotonic()
    finally:
        events.unregister(user_id, waiter)
