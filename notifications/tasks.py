"""Celery tasks of the notifications app: thin wrappers over notifications/push.py and
notifications/webhooks.py, where the behaviour lives and is tested without a worker. Each is
safe to run twice, and at once (acks_late)."""

from celery import shared_task

from notifications import push, webhooks


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


@shared_task(name="notifications.send_webhook")
def send_webhook(webhook_id: int) -> int:
    """Send the webhook's due deliveries in order (queued after each commit that made some)."""
    return webhooks.send_pending(webhook_id)


@shared_task(name="notifications.sweep_webhooks")
def sweep_webhooks() -> int:
    """Every 5 s (CELERY_BEAT_SCHEDULE): a `send_webhook` for each webhook with a delivery
    due (retries, and deliveries whose task was lost), and the pruning of old attempts.
    Returns how many webhooks it queued."""
    due = webhooks.due_webhooks()
    webhooks.enqueue(due)
    webhooks.prune_old_log()
    return len(due)
