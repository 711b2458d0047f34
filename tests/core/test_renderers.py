"""orjson renders what DRF's JSON renderer renders, byte for byte."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from core.renderers import ORJSONRenderer


@pytest.mark.parametrize(
    "data",
    [
        [{"id": 1, "title": 'Ünïcödé ✓ "quoted" \\ slash', "tags": [], "due_at": None}],
        {"detail": ErrorDetail("Not found.", code="not_found")},
        {"detail": gettext_lazy("Lazy text")},
        {"errors": {"title": ["This field may not be blank."]}, "nested": {"a": [1, 2.5, True]}},
        {"when": datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "amount": Decimal("1.50")},
        [],
        {},
    ],
)
def test_renders_the_same_bytes_as_drf(data):
    assert ORJSONRenderer().render(data) == JSONRenderer().render(data)


def test_no_data_renders_an_empty_body():
    assert ORJSONRenderer().render(None) == b""
