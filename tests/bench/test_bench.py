"""bench/'s own checks: it says which target is down before it seeds anything, and refuses
options it cannot measure before it touches a server or the database."""

import importlib.util
import socket
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench.py"
spec = importlib.util.spec_from_file_location("bench_script", BENCH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def load_script(name: str):
    path = BENCH.with_name(f"{name}.py")
    module_spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


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


def test_cpu_names_the_scenarios_it_knows_for_one_it_does_not(capsys):
    cpu = load_script("cpu")

    with pytest.raises(SystemExit) as exit_info:
        cpu.main(["--target", f"x=http://127.0.0.1:{closed_port()}", "--scenarios", "get,mixed"])

    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "unknown scenarios mixed" in error and "list,get,create,update,toggle,healthz" in error


def test_calls_refuses_a_negative_inbox_before_touching_the_database(monkeypatch, capsys):
    calls = load_script("calls")
    monkeypatch.setattr("sys.argv", ["calls.py", "--inbox", "-5"])

    with pytest.raises(SystemExit) as exit_info:
        calls.main()

    assert exit_info.value.code == 2
    assert "--inbox is a number of tasks, not -5" in capsys.readouterr().err
