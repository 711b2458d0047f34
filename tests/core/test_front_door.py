"""What a person or a client finds first: `/`, the schema in a browser, the offline docs."""

import re

import pytest
from django.template.loader import render_to_string

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html"])
def test_root_sends_a_browser_to_the_api_docs(client, accept):
    response = client.get("/", HTTP_ACCEPT=accept)

    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_root_gives_an_api_client_the_links_as_json(client, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = client.get("/", **headers)

    assert response.status_code == 200
    assert response.json() == {
        "name": "Todo API",
        "docs": "http://testserver/api/docs/",
        "redoc": "http://testserver/api/redoc/",
        "schema": "http://testserver/api/schema/",
        "health": "http://testserver/healthz",
        "readiness": "http://testserver/readyz",
        "admin": "http://testserver/admin/",
    }


def test_root_refuses_writes(client):
    assert client.post("/").status_code == 405


def test_the_schema_is_yaml_by_default_and_json_on_request(client):
    assert client.get("/api/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html"])
def test_the_schema_is_a_readable_page_in_a_browser(client, accept):
    response = client.get("/api/schema/", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    content = response.content.decode()
    assert "<pre>openapi: 3." in content and 'href="/api/docs/"' in content


def test_the_redoc_page_may_load_nothing_from_elsewhere(client):
    content = client.get("/api/redoc/").content.decode()

    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', content)
    assert policy and "default-src 'self'" in policy[1] and "img-src 'self' data:" in policy[1]
    assert not re.search(r"(src|href)=\"https?://", content)


def test_the_redoc_template_names_no_external_url():
    page = render_to_string("drf_spectacular/redoc.html", {"settings": None})

    assert "https://" not in page and "http://" not in page
