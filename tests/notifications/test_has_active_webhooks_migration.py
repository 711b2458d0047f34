"""The data migration that sets `has_active_webhooks` for users who had webhooks before it."""

import importlib

import pytest
from django.apps import apps

from accounts.models import User
from notifications.models import Webhook

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "notifications.migrations.0003_has_active_webhooks_of_existing_users"
)


def test_only_users_with_an_active_webhook_get_the_flag(user, other_user, django_user_model):
    paused_only = django_user_model.objects.create_user(email="paused@example.com")
    Webhook.objects.create(user=user, url="https://8.8.8.8/a", events=["reminder"])
    Webhook.objects.create(user=user, url="https://8.8.8.8/b", events=["reminder"], active=False)
    Webhook.objects.create(user=paused_only, url="https://8.8.8.8/c", events=[], active=False)

    migration.mark_users_with_active_webhooks(apps, None)

    flagged = set(User.objects.filter(has_active_webhooks=True).values_list("pk", flat=True))
    assert flagged == {user.pk}
    assert other_user.pk not in flagged
