from django.apps import AppConfig


class SyncConfig(AppConfig):
    """Sync and live updates: the change feed (`GET …/changes`) and the live event stream
    (`GET …/events`). It reads what the write path records (tasks.models.Change) and listens
    to what it announces (tasks.signals); tasks knows nothing of it."""

    name = "sync"

    def ready(self) -> None:
        # Connects the receiver that wakes the streams after each committed write.
        from sync import live  # noqa: F401
