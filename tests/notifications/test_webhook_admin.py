"""The webhook admin: support sees webhooks and their deliveries, never a secret."""

import pytest
from django.urls import reverse

from notifications.models import Delivery, DeliveryAttempt
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:notifications_webhook_changelist")


@pytest.fixture
def webhook(user, make_webhook):
    return make_webhook(user, "https://8.8.8.8/hook")


def test_the_list_shows_url_owner_and_state_without_the_secret(admin_client, webhook):
    content = admin_client.get(LIST_URL).content.decode()
    assert "https://8.8.8.8/hook" in content and webhook.user.email in content
    assert webhook.secret not in content


def test_a_webhooks_page_shows_its_deliveries_and_attempts_without_the_secret(
    admin_client, user, webhook
):
    TaskFactory(user=user)
    DeliveryAttempt.objects.create(
        webhook=webhook,
        event_id="msg_logged",
        type="task.changed",
        attempt=2,
        status_code=500,
        error="Answered 500.",
    )
    queued = Delivery.objects.get()

    response = admin_client.get(reverse("admin:notifications_webhook_change", args=[webhook.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert queued.event_id in content and "msg_logged" in content and "Answered 500." in content
    assert webhook.secret not in content
    assert webhook.secret.removeprefix("whsec_") not in content


def test_staff_can_pause_a_webhook_which_drops_what_it_had_queued(admin_client, user, webhook):
    TaskFactory(user=user)

    response = admin_client.post(
        reverse("admin:notifications_webhook_change", args=[webhook.pk]),
        {
            "active": "",
            "deliveries-TOTAL_FORMS": "1",
            "deliveries-INITIAL_FORMS": "1",
            "attempts-TOTAL_FORMS": "0",
            "attempts-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    webhook.refresh_from_db()
    assert webhook.active is False
    assert not Delivery.objects.exists()


def test_staff_cannot_create_a_webhook(admin_client):
    assert admin_client.get(reverse("admin:notifications_webhook_add")).status_code == 403
