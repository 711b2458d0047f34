"""The VAPID settings, the command that makes a key pair, and push turned off without one."""

import os
import socket
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from config.settings import vapid_public_key
from tests.conftest import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
# The development pair in config/settings.py.
DEVELOPMENT_PUBLIC_KEY = (
    "BO3ZIw4A2SMqW31kxXDsfmUffRUwn_Ixe-HLdlC58_8vYxGRW96KYjdJOSXHBP-cjQelpNSKyDYl9AhyBo3IE28"
)


@pytest.fixture
def production(load_settings):
    """`production(**env)`: the settings with DEBUG off and the required secrets set."""

    def load(**env: str) -> dict:
        return load_settings(BETTER_AUTH_SECRET="x" * 32, **env)

    return load


def generated_pair() -> dict[str, str]:
    out = StringIO()
    call_command("generate_vapid_keys", stdout=out)
    return dict(line.split("=", 1) for line in out.getvalue().splitlines())


def test_generate_vapid_keys_prints_a_matching_pair_in_env_form():
    pair = generated_pair()

    assert set(pair) == {"VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}
    assert vapid_public_key(pair["VAPID_PRIVATE_KEY"], "") == pair["VAPID_PUBLIC_KEY"]
    assert pair != generated_pair()


def test_production_without_keys_starts_with_push_off(production):
    values = production(VAPID_PRIVATE_KEY="", VAPID_SUBJECT="")

    assert values["VAPID_PRIVATE_KEY"] == values["VAPID_PUBLIC_KEY"] == ""


def test_development_has_a_key_pair_and_a_subject(production):
    values = production(DEBUG="true", VAPID_PRIVATE_KEY="", VAPID_SUBJECT="")

    assert values["VAPID_PUBLIC_KEY"] == DEVELOPMENT_PUBLIC_KEY
    assert values["VAPID_SUBJECT"].startswith("mailto:")


def test_the_public_key_is_derived_from_the_private_key(production):
    pair = generated_pair()

    values = production(
        VAPID_PRIVATE_KEY=pair["VAPID_PRIVATE_KEY"], VAPID_SUBJECT="https://todo.example.com"
    )

    assert values["VAPID_PUBLIC_KEY"] == pair["VAPID_PUBLIC_KEY"]


def test_a_given_public_key_must_be_the_private_keys(production):
    pair, other = generated_pair(), generated_pair()

    values = production(**pair, VAPID_SUBJECT="mailto:ops@todo.example.com")
    assert values["VAPID_PUBLIC_KEY"] == pair["VAPID_PUBLIC_KEY"]
    with pytest.raises(ImproperlyConfigured, match="VAPID_PUBLIC_KEY is not the public key"):
        production(
            VAPID_PRIVATE_KEY=pair["VAPID_PRIVATE_KEY"],
            VAPID_PUBLIC_KEY=other["VAPID_PUBLIC_KEY"],
            VAPID_SUBJECT="mailto:ops@todo.example.com",
        )


@pytest.mark.parametrize("private_key", ["not-a-key!", "AAAA", "A" * 43, "_" * 43])
def test_a_private_key_that_is_not_one_stops_start_up_naming_it(production, private_key):
    with pytest.raises(ImproperlyConfigured, match="VAPID_PRIVATE_KEY is not a P-256 private key"):
        production(VAPID_PRIVATE_KEY=private_key, VAPID_SUBJECT="mailto:ops@todo.example.com")


@pytest.mark.parametrize("subject", ["", "ops@todo.example.com", "http://todo.example.com"])
def test_keys_need_a_mailto_or_https_subject(production, subject):
    with pytest.raises(ImproperlyConfigured, match="VAPID_SUBJECT must be a mailto: or https:"):
        production(VAPID_PRIVATE_KEY=generated_pair()["VAPID_PRIVATE_KEY"], VAPID_SUBJECT=subject)


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this venv")
def test_gunicorn_says_once_at_start_that_push_is_off(tmp_path):
    port = free_port()
    environment = {
        **os.environ,
        "READ_DOTENV": "false",
        "DEBUG": "false",
        "VAPID_PRIVATE_KEY": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    process = subprocess.Popen(
        [str(GUNICORN), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=PROJECT_ROOT,
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not accepts_connections(port):
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=5)

    warnings = [line for line in lines if "Web Push is off" in line]
    assert len(warnings) == 1 and "VAPID_PRIVATE_KEY is not set" in warnings[0]


def test_a_worker_given_the_push_services_environment_pushes_with_the_tests_keys(
    production, push_service, vapid
):
    values = production(**push_service.worker_environment())

    assert values["VAPID_PUBLIC_KEY"] == vapid.public_key
    assert values["VAPID_SUBJECT"] == vapid.subject and values["WEBHOOKS_ALLOW_PRIVATE"] is True
