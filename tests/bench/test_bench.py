"""bench/bench.py's own checks: it says which target is down before it seeds anything."""

import importlib.util
import socket
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench.py"
spec = importlib.util.spec_from_file_location("bench_script", BENCH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_compare_names_the_target_that_does_not_answer_before_seeding(
    live_server, monkeypatch, capsys
):
    seeded = []
    monkeypatch.setattr(bench, "seed", lambda *args: seeded.append(args))
    monkeypatch.setattr(bench.shutil, "which", lambda name: "/usr/bin/wrk")
    down = f"http://127.0.0.1:{closed_port()}"

    status = bench.main(["compare", "--url", f"up={live_server.url}", "--url", f"down={down}"])

    assert status == 2 and seeded == []
    error = capsys.readouterr().err
    assert f"no answer from down at {down}" in error and "up at" not in error


def test_the_error_names_the_target_and_its_url():
    down = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(bench.BenchError, match=f"no answer from down at {down} "):
        bench.check_answers([bench.Target("down", down, down)])


def test_a_redirect_to_https_while_seeding_says_how_to_turn_it_off():
    assert "SECURE_SSL_REDIRECT=false" in bench._hint(301)
