"""Unknown /api/ routes are a JSON 404 for every method, found by fuzzing."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_unknown_api_route_is_a_json_404_for_every_method(method, user, make_token):
    # CSRF checks on, as for a real client: an unsafe method must not meet an HTML 403.
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user.id)}")

    response = getattr(client, method)(f"/api/{user.id}/tasks/null,null", {}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such route."}


def test_malformed_json_is_a_400_with_a_detail(owner_client, user):
    response = owner_client.post(f"/api/{user.id}/tasks", "\x00", content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
