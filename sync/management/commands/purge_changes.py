from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from sync.feed import purge_changes


class Command(BaseCommand):
    help = (
        "Delete change feed entries (and so the deletions they remember) older than "
        "CHANGES_RETENTION_DAYS, and report how many. Safe to run at any time, and twice: "
        "cursors expire before what they point past is purged."
    )

    def handle(self, *args, **options) -> None:
        cutoff = timezone.now() - timedelta(days=settings.CHANGES_RETENTION_DAYS)
        count = purge_changes(before=cutoff)
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {count} change(s) from before {cutoff:%Y-%m-%d %H:%M} UTC."
            )
        )
