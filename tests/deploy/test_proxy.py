"""The proxy's own answers are the API's JSON errors; what it passes, gunicorn accepts."""

import socket
from urllib.parse import urlencode

import pytest

from tests.deploy.conftest import Server, get, stop

pytestmark = pytest.mark.deploy

# The largest filter the API documents: 20 tags of 32 characters, a 200-character search.
LARGEST_FILTER = urlencode(
    [("tag", "東" * 31 + str(n % 10)) for n in range(20)]
    + [("q", "京" * 200), ("priority", "none,low,medium,high"), ("sort", "-due_date")]
    + [("due_after", "2026-01-01T00:00:00+01:00"), ("due_before", "2026-12-31T00:00:00+01:00")]
    + [("status", "pending"), ("limit", "500"), ("offset", "1000000")]
)
USER = "u" * 32


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        answer = b""
        try:
            # Every answer here is a JSON body ending in a newline: stop there rather than
            # wait for nginx's lingering close.
            while not answer.endswith(b"}\n") and (chunk := conn.recv(65536)):
                answer += chunk
        except ConnectionResetError:  # a refused body is not read: the answer came before
            pass
        return answer


def assert_json_error(status: int, headers: dict, body: bytes, expected: int) -> None:
    assert status == expected
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-ID"]
    assert b'"detail"' in body


def test_the_largest_documented_filter_reaches_the_app(proxy: Server, gunicorn: Server):
    path = f"/api/{USER}/tasks?{LARGEST_FILTER}"
    assert len(path) > 7000

    for port in (proxy.port, gunicorn.port):
        status, headers, body = get(port, path)

        assert status == 401  # the app's answer: no token
        assert headers["WWW-Authenticate"].startswith("Bearer")


def test_a_request_line_over_8_kib_is_a_json_414_from_the_proxy(proxy: Server):
    assert_json_error(*get(proxy.port, "/api/x/tasks?q=" + "a" * 9000), expected=414)


def test_a_header_over_8_kib_is_a_json_431_from_the_proxy(proxy: Server):
    response = get(proxy.port, "/healthz", headers={"X-Big": "a" * 9000})

    assert_json_error(*response, expected=431)


def test_a_body_over_1_mib_is_a_json_413_from_the_proxy(proxy: Server):
    answer = raw_request(
        proxy.port,
        b"POST /api/x/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2000000\r\nConnection: close\r\n\r\n{",
    )

    assert answer.startswith(b"HTTP/1.1 413")
    assert b"Content-Type: application/json" in answer
    assert b'{"detail": "The request body is too large' in answer


def test_the_client_request_id_is_kept_through_the_proxy(proxy: Server):
    status, headers, _ = get(proxy.port, "/healthz", headers={"X-Request-ID": "trace-42"})

    assert (status, headers["X-Request-ID"]) == (200, "trace-42")


@pytest.mark.parametrize("port_of", ["proxy", "gunicorn"])
def test_a_script_name_header_changes_nothing(proxy: Server, gunicorn: Server, port_of):
    port = {"proxy": proxy, "gunicorn": gunicorn}[port_of].port
    request = (
        f"GET /api/{USER}/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nSCRIPT_NAME: /evil\r\n"
        "Connection: close\r\n\r\n"
    )

    answer = raw_request(port, request.encode())

    assert answer.startswith(b"HTTP/1.1 401")  # not gunicorn's HTML 500
    assert b"/evil" not in answer


def test_the_event_stream_route_reaches_the_app_through_its_own_location(proxy: Server):
    """Its own upstream (the ASGI process in production; the tests' gunicorn here)."""
    status, headers, body = get(proxy.port, f"/api/{USER}/events")

    assert status == 401  # no token: the app's answer, through the events location
    assert headers["Content-Type"] == "application/json"


def test_gunicorn_down_is_a_json_502_with_retry_after(proxy: Server, gunicorn: Server):
    """Last in this module: it stops the gunicorn the proxy forwards to."""
    stop(gunicorn.process)
    status, headers, body = get(proxy.port, "/healthz")

    assert_json_error(status, headers, body, expected=502)
    assert headers["Retry-After"] == "1"
