"""Cross-origin calls from a browser frontend: what it may send and read."""

import pytest

pytestmark = pytest.mark.django_db

ORIGIN = "http://frontend.test"


def test_a_frontend_can_read_the_headers_the_docs_tell_it_to_read(owner_client, user):
    response = owner_client.get(f"/api/{user.id}/tasks", HTTP_ORIGIN=ORIGIN)

    exposed = {
        name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")
    }
    assert {
        "etag",
        "link",
        "x-total-count",
        "location",
        "x-request-id",
        "retry-after",
        "idempotent-replayed",
    } <= exposed


def test_a_reconnecting_event_source_may_send_last_event_id(client, user):
    response = client.options(
        f"/api/{user.id}/tasks",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, last-event-id",
    )

    assert response.status_code == 200
    assert "last-event-id" in response["Access-Control-Allow-Headers"].lower()
