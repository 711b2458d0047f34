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


def requests_made(page) -> list[str]:
    """Every URL the page fetches from now on (scripts, styles, fonts, images, XHR), except
    those its Content-Security-Policy stopped before they left the browser."""
    urls: list[str] = []
    page.on("requestfinished", lambda request: urls.append(request.url))
    page.on(
        "requestfailed",
        lambda request: request.failure == "csp" or urls.append(request.url),
    )
    return urls


def test_root_opens_the_api_docs(browser, live_server):
    page = browser.new_page()

    page.goto(f"{live_server.url}/")

    assert page.url == f"{live_server.url}/api/docs/"
    page.locator(".opblock").first.wait_for()


@pytest.mark.parametrize(
    ("path", "ready"),
    [("/api/docs/", ".opblock"), ("/api/redoc/", "[role=menuitem]"), ("/api/schema/", "pre")],
)
def test_the_docs_pages_load_nothing_from_elsewhere(browser, live_server, path, ready):
    page = browser.new_page()
    urls = requests_made(page)

    page.goto(f"{live_server.url}{path}")
    page.locator(ready).first.wait_for()
    page.wait_for_load_state("networkidle")

    elsewhere = [url for url in urls if not url.startswith((live_server.url, "data:", "blob:"))]
    assert elsewhere == []
    assert len(urls) > 1 or path == "/api/schema/"


def test_staff_edit_a_tasks_tags_as_comma_separated_text(browser, live_server, staff):
    task = TaskFactory(user=UserFactory(), title="Plan the trip", tags=["travel"])
    page = browser.new_page()
    urls = requests_made(page)

    page.goto(f"{live_server.url}/admin/tasks/task/{task.pk}/change/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_have_text("Todo backend administration")
    tags = page.locator("[name=tags]")
    expect(tags).to_have_value("travel")

    tags.fill("x" * 33)
    page.click("input[name=_continue]")
    expect(page.locator(".field-tags .errorlist")).to_have_text(
        "Each tag must be 1 to 32 characters long."
    )

    page.locator("[name=tags]").fill("Travel, Summer,  family , summer")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(page.locator("[name=tags]")).to_have_value("travel, summer, family")
    task.refresh_from_db()
    assert task.tags == ["travel", "summer", "family"]
    # The admin is styled: its stylesheets came from this server and loaded.
    assert any(url.endswith("/static/admin/css/base.css") for url in urls)
    assert page.locator("#header").evaluate("e => getComputedStyle(e).display") == "flex"
