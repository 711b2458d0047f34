"""/api/{user_id}/webhooks: create (the secret, once), list, get, PATCH, DELETE, deliveries."""

import base64

import pytest

from notifications.models import DeliveryAttempt, Webhook

HOOK = "https://8.8.8.8/hook"


def webhooks_url(user) -> str:
    return f"/api/{user.id}/webhooks"


@pytest.fixture
def created(owner_client, user) -> dict:
    response = owner_client.post(
        webhooks_url(user), {"url": HOOK, "events": ["task.changed", "reminder"]}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


class TestCreate:
    def test_answers_the_webhook_and_its_secret_once(self, owner_client, user, created):
        assert set(created) == {"id", "url", "events", "active", "created_at", "secret"}
        assert created["url"] == HOOK
        assert created["events"] == ["task.changed", "reminder"]
        assert created["active"] is True
        assert created["created_at"].endswith("Z")
        secret = created["secret"]
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24

        listed = owner_client.get(webhooks_url(user)).json()
        one = owner_client.get(f"{webhooks_url(user)}/{created['id']}").json()
        assert "secret" not in listed[0] and "secret" not in one
        assert one == {key: value for key, value in created.items() if key != "secret"}

    def test_sets_location_and_works_with_a_trailing_slash(self, owner_client, user):
        response = owner_client.post(
            f"{webhooks_url(user)}/", {"url": HOOK, "events": ["task.deleted"]}, format="json"
        )
        assert response.status_code == 201
        assert response["Location"] == f"/api/{user.id}/webhooks/{response.json()['id']}"

    def test_each_webhook_gets_its_own_secret(self, owner_client, user, created):
        again = owner_client.post(
            webhooks_url(user), {"url": HOOK, "events": ["reminder"]}, format="json"
        )
        assert again.json()["secret"] != created["secret"]

    def test_the_body_cannot_choose_owner_secret_or_id(self, owner_client, user, other_user):
        response = owner_client.post(
            webhooks_url(user),
            {
                "url": HOOK,
                "events": ["reminder"],
                "user_id": other_user.id,
                "secret": "whsec_AAAA",
                "id": 999,
            },
            format="json",
        )
        assert response.status_code == 201
        webhook = Webhook.objects.get()
        assert webhook.user_id == user.id
        assert webhook.secret != "whsec_AAAA" and webhook.pk != 999

    def test_an_eleventh_webhook_is_a_400(self, owner_client, user):
        for _ in range(10):
            assert (
                owner_client.post(
                    webhooks_url(user), {"url": HOOK, "events": ["reminder"]}, format="json"
                ).status_code
                == 201
            )
        response = owner_client.post(
            webhooks_url(user), {"url": HOOK, "events": ["reminder"]}, format="json"
        )
        assert response.status_code == 400
        assert "10 webhooks" in response.json()["errors"]["url"][0]
        assert Webhook.objects.filter(user=user).count() == 10

    @pytest.mark.parametrize(
        "url",
        [
            "http://8.8.8.8/hook",
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://localhost/hook",
            "https://no-such-host.invalid/hook",
            "https://user:pw@8.8.8.8/hook",
            "https://8.8.8.8:99999/hook",
            "not a url",
            "",
            "https://8.8.8.8/" + "x" * 2000,
        ],
    )
    def test_a_url_the_outbound_rule_refuses_is_a_400_naming_url(self, owner_client, user, url):
        response = owner_client.post(
            webhooks_url(user), {"url": url, "events": ["reminder"]}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["url"]
        assert not Webhook.objects.exists()

    def test_the_messages_say_what_is_wrong(self, owner_client, user):
        response = owner_client.post(
            webhooks_url(user),
            {"url": "https://localhost/hook", "events": ["task.created"]},
            format="json",
        )
        assert response.json()["errors"] == {
            "url": ["The host localhost resolves to 127.0.0.1, which is not a public address."],
            "events": [
                "'task.created' is not an event; use some of: task.changed, task.deleted, "
                "list.changed, list.deleted, reminder."
            ],
        }

    @pytest.mark.parametrize(
        "events",
        [[], ["task.created"], ["reminder", "reminder"], "reminder", None, [1], [["reminder"]]],
    )
    def test_bad_events_are_a_400_naming_events(self, owner_client, user, events):
        response = owner_client.post(
            webhooks_url(user), {"url": HOOK, "events": events}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["events"]
        assert not Webhook.objects.exists()

    def test_missing_fields_are_a_400_naming_them(self, owner_client, user):
        response = owner_client.post(webhooks_url(user), {}, format="json")
        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"url", "events"}

    def test_a_bad_active_is_a_400(self, owner_client, user):
        response = owner_client.post(
            webhooks_url(user),
            {"url": HOOK, "events": ["reminder"], "active": "maybe"},
            format="json",
        )
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["active"]

    def test_a_form_body_is_a_415(self, owner_client, user):
        response = owner_client.post(
            webhooks_url(user), {"url": HOOK, "events": ["reminder"]}, format="multipart"
        )
        assert response.status_code == 415

    def test_private_urls_are_allowed_when_the_operator_allows_them(
        self, owner_client, user, settings
    ):
        settings.WEBHOOKS_ALLOW_PRIVATE = True
        response = owner_client.post(
            webhooks_url(user),
            {"url": "http://127.0.0.1:9/hook", "events": ["reminder"]},
            format="json",
        )
        assert response.status_code == 201


class TestChange:
    def test_patch_changes_url_events_and_active(self, owner_client, user, created):
        url = f"{webhooks_url(user)}/{created['id']}"
        response = owner_client.patch(
            url,
            {"url": "https://1.1.1.1/other", "events": ["list.deleted"], "active": False},
            format="json",
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["url"], body["events"], body["active"]) == (
            "https://1.1.1.1/other",
            ["list.deleted"],
            False,
        )
        assert "secret" not in body
        webhook = Webhook.objects.get()
        assert webhook.secret == created["secret"]  # a PATCH never changes the secret

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"url": "https://10.0.0.1/hook"}, "url"),
            ({"url": "http://8.8.8.8/hook"}, "url"),
            ({"events": []}, "events"),
            ({"events": ["nope"]}, "events"),
            ({"events": ["reminder", "reminder"]}, "events"),
            ({"active": "maybe"}, "active"),
        ],
    )
    def test_bad_input_is_a_400_and_changes_nothing(self, owner_client, user, created, body, field):
        response = owner_client.patch(f"{webhooks_url(user)}/{created['id']}", body, format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == [field]
        webhook = Webhook.objects.get()
        assert (webhook.url, webhook.events, webhook.active) == (
            HOOK,
            ["task.changed", "reminder"],
            True,
        )

    def test_put_is_not_offered(self, owner_client, user, created):
        response = owner_client.put(
            f"{webhooks_url(user)}/{created['id']}",
            {"url": HOOK, "events": ["reminder"]},
            format="json",
        )
        assert response.status_code == 405

    def test_delete_answers_204_and_removes_it(self, owner_client, user, created):
        response = owner_client.delete(f"{webhooks_url(user)}/{created['id']}")
        assert response.status_code == 204
        assert not Webhook.objects.exists()
        assert owner_client.get(f"{webhooks_url(user)}/{created['id']}").status_code == 404


class TestOwnership:
    def test_another_users_path_is_a_403(self, owner_client, other_user):
        assert owner_client.get(webhooks_url(other_user)).status_code == 403
        assert (
            owner_client.post(
                webhooks_url(other_user), {"url": HOOK, "events": ["reminder"]}, format="json"
            ).status_code
            == 403
        )

    def test_another_users_webhook_is_a_404_for_every_method(
        self, client_for, user, other_user, created
    ):
        url = f"{webhooks_url(other_user)}/{created['id']}"
        intruder = client_for(other_user)
        assert intruder.get(url).status_code == 404
        assert intruder.patch(url, {"active": False}, format="json").status_code == 404
        assert intruder.delete(url).status_code == 404
        assert intruder.get(f"{url}/deliveries").status_code == 404
        assert intruder.get(webhooks_url(other_user)).json() == []
        assert Webhook.objects.get().active is True

    def test_no_token_is_a_401(self, client, user):
        assert client.get(webhooks_url(user)).status_code == 401


class TestDeliveriesRoute:
    def test_answers_the_last_50_attempts_newest_first(self, owner_client, user, created):
        webhook = Webhook.objects.get()
        for n in range(1, 56):
            DeliveryAttempt.objects.create(
                webhook=webhook,
                event_id=f"msg_{n}",
                type="task.changed",
                attempt=1,
                status_code=500 if n % 2 else 200,
                error="Answered 500." if n % 2 else None,
            )
        response = owner_client.get(f"{webhooks_url(user)}/{created['id']}/deliveries")

        assert response.status_code == 200
        attempts = response.json()
        assert len(attempts) == 50
        assert [a["event_id"] for a in attempts[:2]] == ["msg_55", "msg_54"]
        assert attempts[0] == {
            "event_id": "msg_55",
            "type": "task.changed",
            "attempt": 1,
            "status_code": 500,
            "error": "Answered 500.",
            "at": attempts[0]["at"],
        }
        assert attempts[1]["error"] is None and attempts[1]["status_code"] == 200
        assert attempts[0]["at"].endswith("Z")

    def test_a_new_webhook_has_none(self, owner_client, user, created):
        response = owner_client.get(f"{webhooks_url(user)}/{created['id']}/deliveries/")
        assert response.json() == []


class TestQueries:
    @pytest.mark.parametrize("count", [1, 10])
    def test_the_list_costs_two_queries_however_many(
        self, owner_client, user, count, django_assert_num_queries
    ):
        for _ in range(count):
            Webhook.objects.create(user=user, url=HOOK, events=["reminder"])
        with django_assert_num_queries(2):  # the user, the webhooks
            response = owner_client.get(webhooks_url(user))
        assert len(response.json()) == count

    def test_one_costs_two_queries(self, owner_client, user, created, django_assert_num_queries):
        with django_assert_num_queries(2):
            owner_client.get(f"{webhooks_url(user)}/{created['id']}")

    def test_deliveries_cost_three_queries(
        self, owner_client, user, created, django_assert_num_queries
    ):
        webhook = Webhook.objects.get()
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(webhook=webhook, event_id=f"msg_{n}", type="reminder", attempt=1)
            for n in range(20)
        )
        with django_assert_num_queries(3):  # the user, the webhook, its attempts
            owner_client.get(f"{webhooks_url(user)}/{created['id']}/deliveries")

    def test_create_costs_a_fixed_number_of_queries(
        self, owner_client, user, django_assert_num_queries
    ):
        # The user; in a savepoint (test transaction): the lock on them, the count, the
        # latest change, the insert, the owner's has_active_webhooks.
        with django_assert_num_queries(8):
            response = owner_client.post(
                webhooks_url(user), {"url": HOOK, "events": ["reminder"]}, format="json"
            )
        assert response.status_code == 201
