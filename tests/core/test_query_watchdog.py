"""core.postgresql's watchdog on a plain socket: a call left unanswered is ended, then the
process fails fast for a while, letting one call through to see whether the server is back."""

import socket
import time

import pytest
from django.db import OperationalError

from core.postgresql.base import QueryWatchdog


@pytest.fixture
def server_that_never_answers():
    ours, theirs = socket.socketpair()
    yield ours
    ours.close()
    theirs.close()


def test_a_call_past_its_deadline_has_its_socket_shut_down(server_that_never_answers):
    watchdog = QueryWatchdog()
    started = time.monotonic()

    with watchdog.watch(server_that_never_answers.fileno(), seconds=0.3, retry_seconds=60):
        answer = server_that_never_answers.recv(1)  # blocks until the watchdog steps in

    assert answer == b""
    assert time.monotonic() - started < 2
    assert watchdog.tripped


def test_after_that_calls_fail_at_once_but_one_may_try_when_the_window_ends(
    server_that_never_answers,
):
    watchdog = QueryWatchdog()
    with watchdog.watch(server_that_never_answers.fileno(), seconds=0.3, retry_seconds=60):
        server_that_never_answers.recv(1)

    with pytest.raises(OperationalError):
        with watchdog.watch(server_that_never_answers.fileno(), seconds=5, retry_seconds=60):
            pass
    watchdog.unavailable_until = 0.0  # as when the window has passed
    with watchdog.watch(server_that_never_answers.fileno(), seconds=5, retry_seconds=60):
        with pytest.raises(OperationalError):  # meanwhile the others still fail at once
            watchdog.admit(retry_seconds=60)
    assert not watchdog.tripped  # the one that tried got an answer: back to normal
    with watchdog.watch(server_that_never_answers.fileno(), seconds=5, retry_seconds=60):
        pass


def test_a_call_that_answers_in_time_is_left_alone(server_that_never_answers):
    watchdog = QueryWatchdog()

    with watchdog.watch(server_that_never_answers.fileno(), seconds=5, retry_seconds=60):
        server_that_never_answers.send(b"x")

    assert not watchdog.tripped and watchdog.waiting == {}
