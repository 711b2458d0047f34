from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks"

    def ready(self) -> None:
        post_migrate.connect(install_sqlite_triggers, sender=self)


def install_sqlite_triggers(using: str, **kwargs: object) -> None:
    """On SQLite, the write triggers of tasks/models.py, after every `migrate`."""
    # Imported here: an app's config loads before its models.
    from tasks.models import SQLITE_WRITE_TRIGGERS

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for statement in SQLITE_WRITE_TRIGGERS:
            cursor.execute(statement)
