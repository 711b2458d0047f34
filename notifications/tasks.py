"""Celery tasks of the notifications app: thin wrappers over notifications/push.py, where
the behaviour lives and is tested without a worker."""

from celery import shared_task

from notifications import push


@shared_task(name="notifications.send_push")
def send_push(message_id: int) -> None:
    """Send one queued push (`push.deliver`); a failure worth another try queues this task
    again after the backoff delay. Safe to run twice: a message is sent at most once per
    claim, and never again once marked sent."""
    delivery = push.deliver(message_id)
    if delivery.retry_in is not None:
        send_push.apply_async((message_id,), countdown=delivery.retry_in)


@shared_task(name="notifications.sweep_push_messages")
def sweep_push_messages() -> None:
    """Every minute (CELERY_BEAT_SCHEDULE): queue again the pushes whose task was lost, give
    up those past their TTL and forget old finished ones (`push.sweep`)."""
    for message_id in push.sweep():
        send_push.delay(message_id)
