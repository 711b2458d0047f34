"""Web Push under concurrent writers and workers (real PostgreSQL transactions)."""

import pytest
from django.utils import timezone

from notifications import push
from notifications.models import PushMessage, PushSubscription
from tests.conftest import requires_postgresql, run_concurrently
from tests.factories import UserFactory
from tests.notifications.conftest import Browser

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

PUBLIC_ENDPOINT = "https://8.8.8.8/push/v2/abc"


def test_users_subscribing_one_endpoint_at_once_leave_it_to_one_of_them(vapid):
    users = [UserFactory() for _ in range(6)]
    keys = Browser().subscription("")["keys"]

    def subscribe(n: int) -> str:
        return push.subscribe(user=users[n], endpoint=PUBLIC_ENDPOINT, **keys).user_id

    owners = run_concurrently(6, subscribe)

    assert len(owners) == 6  # none failed
    assert PushSubscription.objects.get().user_id in owners


def test_the_limit_holds_when_one_user_subscribes_many_browsers_at_once(vapid):
    user = UserFactory()
    keys = Browser().subscription("")["keys"]

    def subscribe(n: int) -> str:
        try:
            push.subscribe(user=user, endpoint=f"{PUBLIC_ENDPOINT}/{n}", **keys)
            return "created"
        except Exception as error:  # the service's ValidationError
            return type(error).__name__

    results = run_concurrently(push.MAX_SUBSCRIPTIONS_PER_USER + 4, subscribe)

    assert results.count("created") == push.MAX_SUBSCRIPTIONS_PER_USER
    assert PushSubscription.objects.filter(user=user).count() == push.MAX_SUBSCRIPTIONS_PER_USER


def test_workers_delivering_one_message_at_once_send_it_once(push_service):
    user = UserFactory()
    browser = Browser()
    keys = browser.subscription("")["keys"]
    subscription = push.subscribe(user=user, endpoint=push_service.endpoint(browser), **keys)
    message = PushMessage.objects.create(
        subscription=subscription, payload={"type": "reminder", "at": timezone.now().isoformat()}
    )

    outcomes = run_concurrently(8, lambda n: push.deliver(message.pk).outcome)

    assert sorted(outcomes) == ["sent"] + ["skipped"] * 7
    assert push_service.requests == 1 and len(push_service.received) == 1
