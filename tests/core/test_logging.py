"""Logs: one line per request with its fields, JSON on demand, and never a secret."""

import json
import logging
import sys

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.logging import JsonFormatter, PlainFormatter
from tasks.views import TaskViewSet

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-91"


def test_one_access_line_per_request_with_its_fields(caplog, owner_client, user):
    caplog.set_level(logging.INFO, logger="api.access")

    response = owner_client.get(f"/api/{user.id}/tasks", HTTP_X_REQUEST_ID="trace-123")

    [record] = [r for r in caplog.records if r.name == "api.access"]
    line = json.loads(JsonFormatter().format(record))
    assert response["X-Request-ID"] == "trace-123"
    assert line["request_id"] == "trace-123"
    assert line["method"] == "GET"
    assert line["path"] == f"/api/{user.id}/tasks"
    assert line["status"] == 200
    assert line["user_id"] == user.id
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO"


def test_json_lines_carry_the_traceback_of_an_error():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "failed"
    assert "ValueError: boom" in line["exception"]


def test_a_500_logs_its_traceback_but_answers_without_it(caplog, owner_client, user, monkeypatch):
    def explode(self):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(TaskViewSet, "get_queryset", explode)
    caplog.set_level(logging.DEBUG)

    response = owner_client.get(f"/api/{user.id}/tasks")

    assert response.status_code == 500
    assert response.json() == {"detail": "The server hit an unexpected error; it has been logged."}
    assert "database on fire" not in response.content.decode()
    assert "RuntimeError: database on fire" in caplog.text


def test_tokens_and_passwords_never_reach_the_logs(caplog, make_token, user, monkeypatch):
    token = make_token(user.id)
    expired = make_token(user.id, exp=1)
    caplog.set_level(logging.DEBUG)
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.post(f"/api/{user.id}/tasks", {"title": "x", "password": PASSWORD}, format="json")
    client.post(
        f"/api/{user.id}/tasks", f'{{"password": "{PASSWORD}"', content_type="application/json"
    )
    client.post("/api/auth/token", {"email": user.email, "password": PASSWORD}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    client.get(f"/api/{user.id}/tasks")
    monkeypatch.setattr(TaskViewSet, "get_queryset", lambda self: 1 / 0)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get(f"/api/{user.id}/tasks/1")

    logged = caplog.text + "".join(JsonFormatter().format(r) for r in caplog.records)
    assert "ZeroDivisionError" in logged
    for secret in (token, expired, PASSWORD, token.split(".")[2]):
        assert secret not in logged


PLAIN_FORMAT = settings.LOGGING["formatters"]["plain"]["fmt"]


@pytest.mark.parametrize("forged", ["%0A", "%0D", "%0D%0A", "%1B[2J", "%E2%80%A8"])
def test_control_characters_in_the_path_cannot_forge_a_log_line(caplog, client, forged):
    caplog.set_level(logging.INFO, logger="api.access")
    path = f"/api/u1/tasks{forged}2026-01-01 00:00:00,000 INFO api.access [x] GET /admin 200"

    client.get(path)

    [record] = [r for r in caplog.records if r.name == "api.access"]
    plain = PlainFormatter(PLAIN_FORMAT).format(record)
    as_json = JsonFormatter().format(record)
    for line in (plain, as_json):
        assert "\n" not in line and "\r" not in line and "\x1b" not in line
        assert "\u2028" not in line
    assert "2026-01-01 00:00:00,000 INFO api.access" in plain  # still there, on one line
    assert json.loads(as_json)["path"].startswith("/api/u1/tasks")


def test_a_traceback_keeps_its_line_breaks_in_plain_logs():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "a\nb", (), sys.exc_info())
    record.request_id = "-"

    text = PlainFormatter(PLAIN_FORMAT).format(record)

    first, *traceback = text.splitlines()
    assert first.endswith("a\\nb")
    assert traceback[-1] == "ValueError: boom"


def test_json_lines_keep_only_the_known_fields(caplog):
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "m", (), None)
    record.request = object()
    record.status_code = 500
    record.user_id = None

    line = json.loads(JsonFormatter().format(record))

    assert list(line) == ["time", "level", "logger", "message"]
    assert line["time"].endswith("+00:00") and len(line["time"]) == len(
        "2026-11-23T10:00:00.123+00:00"
    )
