"""Every existing task is in the inbox, top level: its manual order starts as today's order,
newest first, so a frontend that switches to `sort=position` shows what it showed before."""

from django.db import migrations

from tasks.positions import positions_for

BATCH_SIZE = 1000


def assign_positions(apps, schema_editor):
    Task = apps.get_model("tasks", "Task")
    owners = list(Task.objects.order_by().values_list("user_id", flat=True).distinct())
    # One owner at a time: only one user's ids are in memory, however big the table.
    for owner in owners:
        ids = list(
            Task.objects.filter(user_id=owner)
            .order_by("-created_at", "-id")
            .values_list("pk", flat=True)
        )
        rows = [Task(pk=pk, position=key) for pk, key in zip(ids, positions_for(len(ids)))]
        Task.objects.bulk_update(rows, ["position"], batch_size=BATCH_SIZE)


class Migration(migrations.Migration):
    dependencies = [("tasks", "0009_lists_subtasks_positions")]

    operations = [migrations.RunPython(assign_positions, migrations.RunPython.noop, elidable=True)]
