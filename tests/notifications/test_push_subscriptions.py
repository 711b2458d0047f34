"""The Web Push routes: the public key, and each user's subscriptions."""

import pytest
from rest_framework.test import APIClient

from notifications import push
from notifications.models import PushMessage, PushSubscription
from tests.factories import UserFactory
from tests.notifications.conftest import Browser, b64url

pytestmark = pytest.mark.django_db

# A literal public address: the address rule passes it without DNS (nothing is sent to it).
PUBLIC_ENDPOINT = "https://8.8.8.8/push/v2/abc"


def subscriptions_url(user, subscription_id=None) -> str:
    base = f"/api/{user.id}/push-subscriptions"
    return base if subscription_id is None else f"{base}/{subscription_id}"


def subscribe(client, user, body):
    return client.post(subscriptions_url(user), body, format="json")


class TestPublicKey:
    def test_answers_the_configured_key_without_a_token(self, vapid):
        response = APIClient().get("/api/push/public-key")

        assert response.status_code == 200
        assert response.json() == {"public_key": vapid.public_key}

    def test_touches_no_database(self, vapid, django_assert_num_queries):
        with django_assert_num_queries(0):
            assert APIClient().get("/api/push/public-key").status_code == 200

    def test_the_key_is_an_uncompressed_p256_point_in_base64url(self, vapid):
        key = APIClient().get("/api/push/public-key/").json()["public_key"]

        raw = push.decode_base64url(key)
        assert len(raw) == 65 and raw[0] == 4 and "=" not in key

    def test_is_a_503_while_push_is_not_configured(self, settings):
        settings.VAPID_PRIVATE_KEY = ""

        response = APIClient().get("/api/push/public-key")

        assert response.status_code == 503
        assert response.json() == {"detail": "Web Push is not configured on this server."}


class TestSubscribe:
    def test_creates_a_subscription_and_answers_its_id_endpoint_and_creation(
        self, vapid, owner_client, user, browser
    ):
        response = subscribe(owner_client, user, browser.subscription(PUBLIC_ENDPOINT))

        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"id", "endpoint", "created_at"}
        assert body["endpoint"] == PUBLIC_ENDPOINT and body["created_at"].endswith("Z")
        stored = PushSubscription.objects.get(pk=body["id"])
        assert stored.user == user
        assert stored.p256dh == browser.subscription(PUBLIC_ENDPOINT)["keys"]["p256dh"]

    def test_the_same_endpoint_again_replaces_the_subscription(
        self, vapid, owner_client, user, browser
    ):
        first = subscribe(owner_client, user, browser.subscription(PUBLIC_ENDPOINT)).json()
        renewed = Browser()

        second = subscribe(owner_client, user, renewed.subscription(PUBLIC_ENDPOINT))

        assert second.status_code == 201
        stored = PushSubscription.objects.get()
        assert stored.pk == second.json()["id"] != first["id"]
        assert stored.auth == b64url(renewed.auth)

    def test_an_endpoint_another_user_subscribed_moves_to_the_new_user_unseen_by_the_first(
        self, vapid, client_for, user, other_user, browser
    ):
        first = subscribe(client_for(other_user), other_user, browser.subscription(PUBLIC_ENDPOINT))
        PushMessage.objects.create(subscription_id=first.json()["id"], payload={"type": "x"})

        response = subscribe(client_for(user), user, browser.subscription(PUBLIC_ENDPOINT))

        assert response.status_code == 201
        assert PushSubscription.objects.get().user == user
        # The other user's pending pushes were for them, not for whoever uses the browser now.
        assert not PushMessage.objects.exists()
        assert client_for(other_user).get(subscriptions_url(other_user)).json() == []

    def test_padded_keys_are_accepted_and_stored_unpadded(self, vapid, owner_client, user, browser):
        body = browser.subscription(PUBLIC_ENDPOINT)
        body["keys"] = {key: value + "=" * (-len(value) % 4) for key, value in body["keys"].items()}

        response = subscribe(owner_client, user, body)

        assert response.status_code == 201
        assert "=" not in PushSubscription.objects.get().auth

    def test_expiration_time_may_be_absent_a_number_or_null(
        self, vapid, owner_client, user, browser
    ):
        body = browser.subscription(PUBLIC_ENDPOINT)
        del body["expirationTime"]
        assert subscribe(owner_client, user, body).status_code == 201
        body["expirationTime"] = 1796000000000
        assert subscribe(owner_client, user, body).status_code == 201

    def test_a_body_user_id_is_ignored(self, vapid, owner_client, user, other_user, browser):
        body = {**browser.subscription(PUBLIC_ENDPOINT), "user_id": other_user.id}

        assert subscribe(owner_client, user, body).status_code == 201
        assert PushSubscription.objects.get().user == user

    def test_is_a_503_while_push_is_not_configured(self, settings, owner_client, user, browser):
        settings.VAPID_PRIVATE_KEY = ""

        response = subscribe(owner_client, user, browser.subscription(PUBLIC_ENDPOINT))

        assert response.status_code == 503
        assert not PushSubscription.objects.exists()

    def test_at_most_twenty_per_user_but_replacing_one_still_works(
        self, vapid, owner_client, user, other_user, client_for
    ):
        keys = Browser().subscription("")["keys"]
        for n in range(push.MAX_SUBSCRIPTIONS_PER_USER):
            PushSubscription.objects.create(user=user, endpoint=f"{PUBLIC_ENDPOINT}/{n}", **keys)

        refused = subscribe(owner_client, user, {"endpoint": PUBLIC_ENDPOINT, "keys": keys})
        replaced = subscribe(owner_client, user, {"endpoint": f"{PUBLIC_ENDPOINT}/0", "keys": keys})
        other = subscribe(
            client_for(other_user), other_user, {"endpoint": PUBLIC_ENDPOINT, "keys": keys}
        )

        assert refused.status_code == 400
        assert "20 push subscriptions" in refused.json()["errors"]["endpoint"][0]
        assert replaced.status_code == 201 and other.status_code == 201
        assert PushSubscription.objects.filter(user=user).count() == 20


GOOD = Browser().subscription(PUBLIC_ENDPOINT)
GOOD_KEYS = GOOD["keys"]
# A point that is 65 bytes and starts with 4, but is not on the curve.
OFF_CURVE = b64url(b"\x04" + b"\x01" * 64)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"keys": GOOD_KEYS}, "endpoint"),
        ({**GOOD, "endpoint": ""}, "endpoint"),
        ({**GOOD, "endpoint": 42}, "endpoint"),
        ({**GOOD, "endpoint": "https://8.8.8.8/" + "a" * 2048}, "endpoint"),
        ({**GOOD, "endpoint": "http://8.8.8.8/push"}, "endpoint"),
        ({**GOOD, "endpoint": "not a url"}, "endpoint"),
        ({**GOOD, "endpoint": "https://127.0.0.1/push"}, "endpoint"),
        ({**GOOD, "endpoint": "https://10.1.2.3/push"}, "endpoint"),
        ({**GOOD, "endpoint": "https://169.254.169.254/latest"}, "endpoint"),
        ({**GOOD, "endpoint": "https://push.invalid/x"}, "endpoint"),
        ({**GOOD, "endpoint": "https://user:pw@8.8.8.8/push"}, "endpoint"),
        ({"endpoint": PUBLIC_ENDPOINT}, "keys"),
        ({**GOOD, "keys": "p256dh"}, "keys"),
        ({**GOOD, "keys": {"auth": GOOD_KEYS["auth"]}}, "keys"),
        ({**GOOD, "keys": {"p256dh": GOOD_KEYS["p256dh"]}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "p256dh": "not base64!"}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "p256dh": GOOD_KEYS["p256dh"] + "!!!!"}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "auth": "+/" + GOOD_KEYS["auth"][2:]}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "p256dh": b64url(b"\x04" + b"\x01" * 32)}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "p256dh": b64url(b"\x02" + b"\x01" * 64)}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "p256dh": OFF_CURVE}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "p256dh": "é" * 87}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "auth": b64url(b"x" * 15)}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "auth": "%%%%"}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "auth": 16}}, "keys"),
        ({**GOOD, "keys": {**GOOD_KEYS, "auth": "a" * 101}}, "keys"),
        ({**GOOD, "expirationTime": "tomorrow"}, "expirationTime"),
        ({**GOOD, "expirationTime": -1}, "expirationTime"),
    ],
)
def test_a_bad_subscription_is_a_400_naming_the_field_and_stores_nothing(
    vapid, owner_client, user, body, field
):
    response = subscribe(owner_client, user, body)

    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not PushSubscription.objects.exists()


def test_the_key_errors_name_the_key(vapid, owner_client, user):
    body = {**GOOD, "keys": {"p256dh": OFF_CURVE, "auth": "short"}}

    errors = subscribe(owner_client, user, body).json()["errors"]["keys"]

    assert any(message.startswith("p256dh:") for message in errors)
    assert any(message.startswith("auth:") for message in errors)


def test_a_form_body_is_a_415(vapid, owner_client, user):
    response = owner_client.post(subscriptions_url(user), {"endpoint": PUBLIC_ENDPOINT})

    assert response.status_code == 415


class TestListAndDelete:
    def test_lists_the_users_subscriptions_oldest_first_without_their_keys(
        self, vapid, owner_client, user, other_user
    ):
        keys = Browser().subscription("")["keys"]
        mine = [
            PushSubscription.objects.create(user=user, endpoint=f"{PUBLIC_ENDPOINT}/{n}", **keys)
            for n in range(2)
        ]
        PushSubscription.objects.create(user=other_user, endpoint=PUBLIC_ENDPOINT, **keys)

        response = owner_client.get(subscriptions_url(user))

        assert response.status_code == 200
        assert [s["id"] for s in response.json()] == [s.pk for s in mine]
        assert set(response.json()[0]) == {"id", "endpoint", "created_at"}

    @pytest.mark.parametrize("count", [1, 20])
    def test_the_list_costs_two_queries_however_many(
        self, vapid, owner_client, user, count, django_assert_num_queries
    ):
        keys = Browser().subscription("")["keys"]
        for n in range(count):
            PushSubscription.objects.create(user=user, endpoint=f"{PUBLIC_ENDPOINT}/{n}", **keys)

        # The user (authentication) and the subscriptions.
        with django_assert_num_queries(2):
            response = owner_client.get(subscriptions_url(user) + "/")

        assert len(response.json()) == count

    def test_delete_removes_the_subscription_and_its_pending_pushes(
        self, vapid, owner_client, user, django_assert_max_num_queries
    ):
        keys = Browser().subscription("")["keys"]
        subscription = PushSubscription.objects.create(user=user, endpoint=PUBLIC_ENDPOINT, **keys)
        PushMessage.objects.create(subscription=subscription, payload={"type": "reminder"})

        with django_assert_max_num_queries(5):
            response = owner_client.delete(subscriptions_url(user, subscription.pk))

        assert response.status_code == 204
        assert not PushSubscription.objects.exists() and not PushMessage.objects.exists()

    def test_another_users_subscription_is_a_404_and_stays(
        self, vapid, owner_client, user, other_user
    ):
        keys = Browser().subscription("")["keys"]
        theirs = PushSubscription.objects.create(user=other_user, endpoint=PUBLIC_ENDPOINT, **keys)

        response = owner_client.delete(subscriptions_url(user, theirs.pk))

        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
        assert PushSubscription.objects.filter(pk=theirs.pk).exists()

    @pytest.mark.parametrize("subscription_id", ["999999", "abc", "9" * 30])
    def test_an_unknown_id_is_a_404(self, vapid, owner_client, user, subscription_id):
        response = owner_client.delete(f"{subscriptions_url(user)}/{subscription_id}")

        assert response.status_code == 404

    def test_one_subscription_cannot_be_read_or_changed_only_deleted(
        self, vapid, owner_client, user
    ):
        keys = Browser().subscription("")["keys"]
        mine = PushSubscription.objects.create(user=user, endpoint=PUBLIC_ENDPOINT, **keys)

        response = owner_client.patch(subscriptions_url(user, mine.pk), {}, format="json")

        assert response.status_code == 405
        assert response["Allow"] == "DELETE, OPTIONS"
        assert owner_client.get(subscriptions_url(user, mine.pk)).status_code == 405

    def test_the_subscribe_route_costs_a_handful_of_queries(
        self, vapid, owner_client, user, browser, django_assert_max_num_queries
    ):
        # The user, its lock, the endpoint's old row, the count, the insert (and savepoints).
        with django_assert_max_num_queries(8):
            response = subscribe(owner_client, user, browser.subscription(PUBLIC_ENDPOINT))

        assert response.status_code == 201


class TestOwnership:
    def test_another_users_path_is_a_403_for_every_method(self, vapid, owner_client, browser):
        other = UserFactory()
        url = subscriptions_url(other)

        assert owner_client.get(url).status_code == 403
        assert (
            subscribe(owner_client, other, browser.subscription(PUBLIC_ENDPOINT)).status_code == 403
        )
        assert owner_client.delete(f"{url}/1").status_code == 403
        assert not PushSubscription.objects.exists()

    def test_no_token_is_a_401(self, vapid, user):
        response = APIClient().get(subscriptions_url(user))

        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
