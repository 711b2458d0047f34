"""Request bodies over 1 MiB are a JSON 413 and change nothing."""

import io
import json

import pytest
from django.conf import settings

from tasks.models import Task

pytestmark = pytest.mark.django_db

LIMIT = settings.REQUEST_BODY_MAX_BYTES


def body_of_size(size: int) -> bytes:
    """A valid task body padded with spaces to exactly `size` bytes."""
    body = json.dumps({"title": "Padded"}).encode()
    return body + b" " * (size - len(body))


def test_limit_is_one_mebibyte():
    assert LIMIT == 1024 * 1024


def test_body_over_the_limit_is_413_and_creates_nothing(owner_client, user):
    response = owner_client.generic(
        "POST", f"/api/{user.id}/tasks", body_of_size(LIMIT + 1), "application/json"
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large (limit 1 MiB)."}
    assert not Task.objects.exists()


def test_body_at_the_limit_is_accepted(owner_client, user):
    response = owner_client.generic(
        "POST", f"/api/{user.id}/tasks", body_of_size(LIMIT), "application/json"
    )

    assert response.status_code == 201


def test_declared_length_over_the_limit_is_refused_before_reading(owner_client, user):
    response = owner_client.generic(
        "POST",
        f"/api/{user.id}/tasks",
        b'{"title": "x"}',
        "application/json",
        CONTENT_LENGTH=str(LIMIT + 1),
    )

    assert response.status_code == 413


def test_a_non_numeric_content_length_is_400(owner_client, user):
    response = owner_client.generic(
        "POST", f"/api/{user.id}/tasks", b"{}", "application/json", CONTENT_LENGTH="12abc"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Content-Length is not a number."}


def chunked_post(client, url: str, body: bytes):
    """A body sent with `Transfer-Encoding: chunked`, which declares no length."""
    return client.generic(
        "POST",
        url,
        b"",
        "application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )


def test_chunked_body_over_the_limit_is_413(owner_client, user):
    response = chunked_post(owner_client, f"/api/{user.id}/tasks", body_of_size(LIMIT + 1))

    assert response.status_code == 413
    assert not Task.objects.exists()


def test_chunked_body_within_the_limit_is_served(owner_client, user):
    response = chunked_post(owner_client, f"/api/{user.id}/tasks", b'{"title": "Chunked"}')

    assert response.status_code == 201
    assert response.json()["title"] == "Chunked"
