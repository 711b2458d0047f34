"""Staff and developers using the app through a real browser (headless Chromium)."""

import re

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import TaskFactory, UserFactory

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = pytest.mark.django_db(transaction=True)

STAFF_PASSWORD = "a sturdy staff passphrase"


@pytest.fixture
def staff() -> User:
    return User.objects.create_user(
        "staff@example.com", STAFF_PASSWORD, is_staff=True, is_superuser=True
    )


def test_staff_completes_a_users_task_in_the_admin_and_the_api_agrees(
    browser, live_server, staff, make_token
):
    owner = UserFactory(email="owner@example.com")
    task = TaskFactory(user=owner, title="Renew the passport")
    TaskFactory(user=owner, title="Water the plants")
    page = browser.new_page()

    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.click("#content-main a[href='/admin/tasks/task/']")
    page.fill("#searchbar", "passport")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(task.title)
    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "mark_complete")
    page.click("button[name=index]")

    expect(page.locator(".messagelist")).to_have_text("Marked 1 task(s) complete.")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(owner.id)}")
    tasks = {
        item["title"]: item["completed"] for item in client.get(f"/api/{owner.id}/tasks").json()
    }
    assert tasks == {task.title: True, "Water the plants": False}


def test_swagger_ui_lists_the_operations(browser, live_server):
    page = browser.new_page()

    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".opblock").first.wait_for()

    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(re.fullmatch(r"/api/\{user_id\}/tasks/?", path.strip()) for path in paths)
    assert any(path.strip().startswith("/api/auth/token") for path in paths)
    methods = {
        method.strip() for method in page.locator(".opblock-summary-method").all_inner_texts()
    }
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
