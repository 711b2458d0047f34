"""Form fields for the admin: tags and reminders typed as staff write them, `home, work`."""

from typing import Any

from django import forms

from tasks import reminders
from tasks.datetimes import rfc3339
from tasks.models import MAX_TAG_LENGTH, MAX_TAGS, normalize_tags


class TagsField(forms.CharField):
    """Comma-separated tags, checked and normalised exactly as the API does (trimmed,
    lower-case, unique, in the order typed), instead of a JSON text area where `home, work`
    is "Enter a valid JSON". Blank items (`home, , work,`) are dropped: a trailing comma is
    an easy slip when typing, not a tag."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            f"Comma-separated, e.g. home, work. At most {MAX_TAGS} tags of 1 to "
            f"{MAX_TAG_LENGTH} characters; stored lower-case.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value)
        return normalize_tags([tag for tag in text.split(",") if tag.strip()])


class RemindersField(forms.CharField):
    """Reminders typed as staff write them: `15, 2026-12-01T09:00:00Z` (minutes before
    due_at, or a datetime with its offset), checked as the API checks them
    (tasks/reminders.py); the write path sets their fire_at."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            f"Comma-separated, at most {reminders.MAX_REMINDERS}: minutes before the due time "
            "(e.g. 15, needs a due time) or a datetime with its offset "
            "(e.g. 2026-12-01T09:00:00Z).",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return reminders.describe(value)
        return value

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        items = [item.strip() for item in super().to_python(value).split(",") if item.strip()]
        given = [
            {"before_due_minutes": int(item)} if item.lstrip("-").isdigit() else {"at": item}
            for item in items
        ]
        # Datetimes as text: the model's JSON column validates what the form puts on it.
        return [
            {"at": rfc3339(reminder["at"])} if "at" in reminder else reminder
            for reminder in reminders.parse(given)
        ]

    def has_changed(self, initial: Any, data: Any) -> bool:
        # The stored reminders carry their fire_at; what was typed does not.
        try:
            return self.to_python(self.prepare_value(initial or [])) != self.to_python(data)
        except forms.ValidationError:
            return True
