"""Celery tasks of the notifications app: thin wrappers over notifications/webhooks.py, where
the behaviour (and its tests) lives. Each is safe to run twice, and at once (acks_late)."""

from celery import shared_task

from notifications import webhooks


@shared_task
def send_webhook(webhook_id: int) -> int:
    """Send the webhook's due deliveries in order (queued after each commit that made some)."""
    return webhooks.send_pending(webhook_id)


@shared_task
def sweep_webhooks() -> int:
    """Every few seconds (CELERY_BEAT_SCHEDULE): a `send_webhook` for each webhook with a
    delivery due (retries, and deliveries whose task was lost), and the pruning of old
    attempts. Returns how many webhooks it queued."""
    due = webhooks.due_webhooks()
    webhooks.enqueue(due)
    webhooks.prune_old_log()
    return len(due)
