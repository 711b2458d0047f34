"""The admin's push subscriptions: per user, searchable, deletable, never hand-made."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications.models import PushMessage, PushSubscription
from tests.factories import UserFactory
from tests.notifications.conftest import Browser

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:notifications_pushsubscription_changelist")
KEYS = Browser().subscription("")["keys"]


def subscription(user, endpoint="https://push.example.com/send/abc") -> PushSubscription:
    return PushSubscription.objects.create(user=user, endpoint=endpoint, **KEYS)


def test_lists_each_subscription_with_its_owner(admin_client, user):
    subscription(user)

    response = admin_client.get(LIST_URL)

    assert response.status_code == 200
    assert "https://push.example.com/send/abc" in response.content.decode()
    assert user.email in response.content.decode()


def test_a_page_costs_the_same_queries_for_1_or_30_subscriptions(
    admin_client, user, django_assert_num_queries
):
    subscription(user)
    admin_client.get(LIST_URL)
    with CaptureQueriesContext(connection) as context:
        admin_client.get(LIST_URL)
    for n in range(29):
        subscription(UserFactory(), f"https://push.example.com/send/{n}")

    with django_assert_num_queries(len(context.captured_queries)):
        response = admin_client.get(LIST_URL)

    assert len(response.context["cl"].result_list) == 30


@pytest.mark.parametrize("term", ["owner", "endpoint", "id"])
def test_search_finds_by_owner_email_or_id_and_by_endpoint(admin_client, user, other_user, term):
    mine = subscription(user, "https://push.example.com/send/mine")
    subscription(other_user, "https://push.example.com/send/theirs")
    query = {"owner": user.email, "endpoint": "send/mine", "id": user.id}[term]

    response = admin_client.get(LIST_URL, {"q": query})

    assert list(response.context["cl"].result_list) == [mine]


def test_staff_can_delete_one_with_its_pending_pushes(admin_client, user):
    one = subscription(user)
    PushMessage.objects.create(subscription=one, payload={"type": "reminder"})
    url = reverse("admin:notifications_pushsubscription_delete", args=[one.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not PushSubscription.objects.exists() and not PushMessage.objects.exists()


def test_staff_can_delete_several_at_once(admin_client, user):
    ones = [subscription(user, f"https://push.example.com/send/{n}") for n in range(3)]

    admin_client.post(
        LIST_URL,
        {"action": "delete_selected", "_selected_action": [s.pk for s in ones[:2]], "post": "yes"},
    )

    assert list(PushSubscription.objects.all()) == [ones[2]]


def test_staff_cannot_add_or_edit_one(admin_client, user):
    one = subscription(user)

    assert admin_client.get(reverse("admin:notifications_pushsubscription_add")).status_code == 403
    change = admin_client.post(
        reverse("admin:notifications_pushsubscription_change", args=[one.pk]),
        {"endpoint": "https://elsewhere.example.com/"},
    )
    assert change.status_code == 403
    one.refresh_from_db()
    assert one.endpoint == "https://push.example.com/send/abc"
