from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from core.durations import duration
from tasks.models import Task
from tasks.services import tasks_delete


class Command(BaseCommand):
    help = (
        "Delete tasks that were completed longer ago than --older-than (30d, 12h, 90m, 2w) "
        "and report how many. With --dry-run, only report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=duration,
            required=True,
            help="age of completion to purge from: 90m, 12h, 30d, 2w",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
        )

    def handle(self, *args, older_than: timedelta, dry_run: bool, **options) -> None:
        cutoff = timezone.now() - older_than
        old_completed = Task.objects.filter(completed=True, completed_at__lt=cutoff)
        when = f"completed before {cutoff:%Y-%m-%d %H:%M} UTC"
        if dry_run:
            count = old_completed.count()
            self.stdout.write(f"Would delete {count} task(s) {when} (dry run).")
        else:
            count = tasks_delete(queryset=old_completed)
            self.stdout.write(self.style.SUCCESS(f"Deleted {count} task(s) {when}."))
