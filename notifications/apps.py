from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What the service does on its own, at a time nobody asked: reminders firing, Web Push
    and webhooks. Its work runs in Celery (notifications/tasks.py). It reads what the write
    path records and listens to what it announces; tasks knows nothing of it."""

    name = "notifications"

    def ready(self) -> None:
        from notifications import push
        from notifications.signals import reminder_fired

        reminder_fired.connect(push.queue_reminder, dispatch_uid="notifications.push")
