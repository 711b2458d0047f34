"""Form fields for the admin: tags typed as staff write them, `home, work`."""

from typing import Any

from django import forms

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
