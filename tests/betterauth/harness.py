"""Run a real Better Auth server (jwt + bearer plugins, PostgreSQL) on loopback for tests.

Standard library only. Typical use from a pytest fixture::

    if not node_available():
        pytest.skip("node/npm not on PATH")
    database_url = e2e_database_url()
    if database_url is None or postgresql_unreachable(database_url):
        pytest.skip("no PostgreSQL for Better Auth")
    try:
        with BetterAuthServer(database_url=database_url) as ba:
            user = ba.sign_up("alice@example.com", "correct-horse-battery", "Alice")
            ...  # send user["jwt"] to Django, verify against ba.jwks_url
    except RegistryUnreachableError as exc:
        pytest.skip(f"npm registry unreachable: {exc}")

Run ``python tests/betterauth/harness.py`` for a standalone smoke check.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict

__all__ = [
    "HERE",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_SECRET",
    "BetterAuthHarnessError",
    "NpmInstallError",
    "RegistryUnreachableError",
    "ServerStartError",
    "AuthRequestError",
    "AuthResult",
    "BetterAuthServer",
    "node_available",
    "e2e_database_url",
    "postgresql_unreachable",
    "ensure_node_modules",
    "decode_jwt_unverified",
]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
STAMP_FILE = NODE_MODULES / ".betterauth-harness-stamp"
INSTALL_LOCK = HERE / ".npm-ci.lock"
# For the standalone smoke check only; the tests use e2e_database_url().
DEFAULT_DATABASE_URL = os.environ.get(
    "BA_E2E_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/better_auth_e2e"
)
E2E_DATABASE_NAME = "better_auth_e2e"
# Same default as server.mjs. JWKS private keys are stored encrypted with the secret, so a
# database must always be used with the same secret (use another database_url otherwise).
DEFAULT_SECRET = "better-auth-e2e-test-secret-not-for-production-0123456789"
READY_PREFIX = "BETTER_AUTH_READY "
NPM_CI_TIMEOUT = 600.0

# Substrings in npm's output that mean "could not reach the registry" (not a broken lockfile).
_NETWORK_ERROR_MARKERS = (
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
    "EHOSTUNREACH",
    "ENOTCACHED",
    "ERR_SOCKET_TIMEOUT",
    "network request to",
    "request to http",
    "This is a problem related to network connectivity",
)

# urllib must never send loopback traffic through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BetterAuthHarnessError(RuntimeError):
    """Base class for every error raised by this harness."""


class NpmInstallError(BetterAuthHarnessError):
    """`npm ci` failed for a reason other than the registry being unreachable."""


class RegistryUnreachableError(NpmInstallError):
    """`npm ci` failed because the npm registry could not be reached; tests may skip on this."""


class ServerStartError(BetterAuthHarnessError):
    """The node server exited or did not become ready in time (message has the log tail)."""


class AuthRequestError(BetterAuthHarnessError):
    """A Better Auth endpoint answered with an unexpected status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class AuthResult(TypedDict):
    """What sign_up / sign_in return."""

    user_id: str
    jwt: str  # from GET /api/auth/token (jwt plugin), EdDSA-signed
    session_token: str  # opaque session token (response body "token", DB session.token)
    bearer_token: str  # `set-auth-token` header (bearer plugin): "<session_token>.<hmac>"
    user: dict[str, Any]  # user object as returned by Better Auth


def node_available() -> bool:
    """True when both `node` and `npm` are on PATH."""
    return shutil.which("node") is not None and shutil.which("npm") is not None


def e2e_database_url() -> str | None:
    """Where the tests' Better Auth keeps its data, or None when the environment names no
    PostgreSQL server.

    `BA_E2E_DATABASE_URL` when set; else a `better_auth_e2e` database (created on first use)
    on the server `DATABASE_URL` points at, when that is PostgreSQL. Never a server that the
    environment does not name: a laptop without PostgreSQL skips these tests instead.
    """
    if explicit := os.environ.get("BA_E2E_DATABASE_URL", "").strip():
        return explicit
    url = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", "").strip())
    if url.scheme not in {"postgres", "postgresql", "pgsql"}:
        return None
    return urllib.parse.urlunsplit(url._replace(path=f"/{E2E_DATABASE_NAME}"))


def postgresql_unreachable(database_url: str, timeout: float = 2.0) -> str | None:
    """Why nothing listens at the URL's host and port, or None when something does."""
    url = urllib.parse.urlsplit(database_url)
    host, port = url.hostname or "localhost", url.port or 5432
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"PostgreSQL at {host}:{port} does not answer ({exc.strerror or exc})"


def _lock_digest() -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update((HERE / name).read_bytes())
    return h.hexdigest()


def _node_modules_fresh(digest: str) -> bool:
    try:
        return STAMP_FILE.read_text().strip() == digest
    except OSError:
        return False


def ensure_node_modules(*, force: bool = False) -> bool:
    """Run `npm ci` in this folder when node_modules is missing or stale.

    Staleness: the stamp written after the last successful `npm ci` holds a sha256 of
    package.json + package-lock.json. Safe to call from several processes at once.
    Returns True when an install ran. Raises RegistryUnreachableError / NpmInstallError.
    """
    if not node_available():
        raise BetterAuthHarnessError("node and npm must be on PATH (see node_available())")
    digest = _lock_digest()
    if not force and _node_modules_fresh(digest):
        return False
    with open(INSTALL_LOCK, "w") as lock_fh:
        fcntl.flock(lock_fh, fcntl.LOCK_EX)
        try:
            if not force and _node_modules_fresh(digest):
                return False  # another process installed while we waited
            cmd = ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
            log.info("better-auth harness: running %s in %s", " ".join(cmd), HERE)
            env = {**os.environ, "npm_config_update_notifier": "false"}
            started = time.monotonic()
            try:
                proc = subprocess.run(
                    cmd,
                    cwd=HERE,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=NPM_CI_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                msg = f"npm ci timed out after {NPM_CI_TIMEOUT:.0f}s (registry unreachable?)"
                log.error("better-auth harness: %s", msg)
                raise RegistryUnreachableError(msg) from exc
            output = (proc.stdout or "") + (proc.stderr or "")
            if proc.returncode != 0:
                tail = "\n".join(output.strip().splitlines()[-30:])
                if any(marker in output for marker in _NETWORK_ERROR_MARKERS):
                    log.error("better-auth harness: npm registry unreachable:\n%s", tail)
                    raise RegistryUnreachableError(
                        f"npm ci could not reach the registry (exit {proc.returncode}):\n{tail}"
                    )
                log.error("better-auth harness: npm ci failed:\n%s", tail)
                raise NpmInstallError(f"npm ci failed (exit {proc.returncode}):\n{tail}")
            STAMP_FILE.write_text(digest + "\n")
            log.info("better-auth harness: npm ci done in %.1fs", time.monotonic() - started)
            return True
        finally:
            fcntl.flock(lock_fh, fcntl.LOCK_UN)


def _b64url_json(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a compact JWS, without verifying anything."""
    header, payload, _sig = token.split(".")
    return _b64url_json(header), _b64url_json(payload)


class BetterAuthServer:
    """A Better Auth server (`node server.mjs`) on 127.0.0.1, as a context manager.

    port=None lets the OS pick a free port inside node (no bind/close race); the real port,
    and so base_url / issuer / audience, are known once start() returns.
    jwt_options (optional) is merged into `jwt({jwt: ...})`, e.g. {"expirationTime": "5s"};
    leave it None for the plugin defaults.
    secret: Better Auth's secret (also the HMAC key of bearer tokens). The JWKS private keys
    live encrypted in the database, so a non-default secret needs its own database_url.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        database_url: str = DEFAULT_DATABASE_URL,
        secret: str = DEFAULT_SECRET,
        jwt_options: dict[str, Any] | None = None,
        startup_timeout: float = 60.0,
        install: bool = True,
    ) -> None:
        self.requested_port = port or 0
        self.database_url = database_url
        self.secret = secret
        self.jwt_options = jwt_options
        self.startup_timeout = startup_timeout
        self.install = install
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._info: dict[str, Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> BetterAuthServer:
        if self._proc is not None:
            raise BetterAuthHarnessError("server already started")
        if not node_available():
            raise BetterAuthHarnessError("node and npm must be on PATH (see node_available())")
        if self.install:
            ensure_node_modules()
        elif not NODE_MODULES.is_dir():
            raise BetterAuthHarnessError(f"{NODE_MODULES} missing and install=False")

        # Better Auth reads BETTER_AUTH_* / AUTH_SECRET itself, and the Django test settings
        # set some (pytest-env): the server gets only the BA_E2E_* values chosen here.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BETTER_AUTH_", "BA_E2E_")) and k != "AUTH_SECRET"
        }
        env.update(
            BA_E2E_PORT=str(self.requested_port),
            BA_E2E_DATABASE_URL=self.database_url,
            BA_E2E_SECRET=self.secret,
            NODE_ENV="test",
        )
        if self.jwt_options is not None:
            env["BA_E2E_JWT_OPTIONS"] = json.dumps(self.jwt_options)

        fd, log_name = tempfile.mkstemp(prefix="better-auth-e2e-", suffix=".log")
        self._log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log_fh:
            self._proc = subprocess.Popen(
                ["node", "server.mjs"],
                cwd=HERE,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole in stop()
            )
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # the error message already carries the log tail
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._log_path is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            for line in self.log_text().splitlines():
                if line.startswith(READY_PREFIX):
                    self._info = json.loads(line[len(READY_PREFIX) :])
                    break
            if self._info is not None:
                break
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"better-auth server exited with {self._proc.returncode}:\n{self._log_tail()}"
                )
            time.sleep(0.1)
        else:
            raise ServerStartError(
                f"better-auth server not ready after {self.startup_timeout:.0f}s:\n"
                f"{self._log_tail()}"
            )
        while time.monotonic() < deadline:  # the HTTP side answers too
            with contextlib.suppress(OSError):
                status, _h, body = self._request("GET", "/api/auth/ok", expect=None)
                if status == 200 and body == {"ok": True}:
                    return
            time.sleep(0.1)
        raise ServerStartError(f"/api/auth/ok never answered 200:\n{self._log_tail()}")

    def stop(self, keep_log: bool = False) -> None:
        """SIGTERM the process group, SIGKILL after 10 s. Idempotent."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log_path is not None and not keep_log:
            with contextlib.suppress(OSError):
                self._log_path.unlink()
            self._log_path = None

    def __enter__(self) -> BetterAuthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    def _require_info(self) -> dict[str, Any]:
        if self._info is None:
            raise BetterAuthHarnessError("server not started")
        return self._info

    @property
    def port(self) -> int:
        return int(self._require_info()["port"])

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port> — Better Auth's baseURL."""
        return str(self._require_info()["baseURL"])

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/api/auth/jwks"

    @property
    def issuer(self) -> str:
        """`iss` of issued JWTs (plugin default: baseURL)."""
        return str((self.jwt_options or {}).get("issuer") or self.base_url)

    @property
    def audience(self) -> str:
        """`aud` of issued JWTs (plugin default: baseURL)."""
        return str((self.jwt_options or {}).get("audience") or self.base_url)

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def log_text(self) -> str:
        if self._log_path is None:
            return ""
        try:
            return self._log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- HTTP --------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        expect: int | None = 200,
    ) -> tuple[int, dict[str, str], Any]:
        url = f"{self.base_url}{path}"
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with _OPENER.open(req, timeout=30) as resp:
                status, resp_headers, raw = resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            status, resp_headers, raw = err.code, dict(err.headers.items()), err.read()
        text = raw.decode("utf-8", errors="replace")
        if expect is not None and status != expect:
            raise AuthRequestError(method, url, status, text)
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, {k.lower(): v for k, v in resp_headers.items()}, parsed

    def _auth_result(self, headers: dict[str, str], body: dict[str, Any]) -> AuthResult:
        bearer_token = headers.get("set-auth-token")
        if not bearer_token:
            raise BetterAuthHarnessError(f"no set-auth-token header in {sorted(headers)}")
        return AuthResult(
            user_id=body["user"]["id"],
            jwt=self.get_jwt(bearer_token),
            session_token=body["token"],
            bearer_token=bearer_token,
            user=body["user"],
        )

    def sign_up(self, email: str, password: str, name: str) -> AuthResult:
        """POST /api/auth/sign-up/email, then GET /api/auth/token for a JWT."""
        _s, headers, body = self._request(
            "POST",
            "/api/auth/sign-up/email",
            body={"email": email, "password": password, "name": name},
        )
        return self._auth_result(headers, body)

    def sign_in(self, email: str, password: str) -> AuthResult:
        """POST /api/auth/sign-in/email (a new session), then GET /api/auth/token."""
        _s, headers, body = self._request(
            "POST", "/api/auth/sign-in/email", body={"email": email, "password": password}
        )
        return self._auth_result(headers, body)

    def get_jwt(self, token: str) -> str:
        """A fresh JWT for the session behind `token` (bearer token or raw session token)."""
        _s, _h, body = self._request("GET", "/api/auth/token", token=token)
        return str(body["token"])

    def get_session(self, token: str) -> dict[str, Any] | None:
        """GET /api/auth/get-session; None when the session is gone."""
        _s, _h, body = self._request("GET", "/api/auth/get-session", token=token)
        return body if isinstance(body, dict) else None

    def sign_out(self, token: str) -> None:
        """POST /api/auth/sign-out: revokes the session (JWTs already issued stay valid)."""
        self._request("POST", "/api/auth/sign-out", body={}, token=token)

    def fetch_jwks(self) -> dict[str, Any]:
        _s, _h, body = self._request("GET", "/api/auth/jwks")
        return dict(body)


def _shape(token: str) -> str:
    """Describe a token without printing a usable secret."""
    parts = token.split(".")
    alphabet = set("".join(parts))
    if alphabet <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"):
        charset = "alnum"
    elif re.fullmatch(r"[A-Za-z0-9+/=]*", "".join(parts)):
        charset = "base64"
    else:
        charset = "mixed"
    return f"{len(parts)} part(s), lengths {[len(p) for p in parts]}, {charset}"


def _main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not node_available():
        print("SKIP: node/npm not on PATH")
        return 0
    t0 = time.monotonic()
    try:
        installed = ensure_node_modules()
    except RegistryUnreachableError as exc:
        print(f"SKIP: npm registry unreachable: {exc}")
        return 0
    t1 = time.monotonic()
    print(f"npm ci: {'ran' if installed else 'not needed'} ({t1 - t0:.1f}s)")
    with BetterAuthServer() as ba:
        t2 = time.monotonic()
        print(f"server ready in {t2 - t1:.1f}s at {ba.base_url}")
        print(f"jwks_url: {ba.jwks_url}")
        email = f"smoke-{secrets.token_hex(4)}@example.com"
        result = ba.sign_up(email, "smoke-password-123", "Smoke Test")
        header, payload = decode_jwt_unverified(result["jwt"])
        print(f"user_id: {result['user_id']}")
        print("JWT header:", json.dumps(header, indent=2))
        print("JWT payload:", json.dumps(payload, indent=2))
        print(f"JWT lifetime: exp - iat = {payload['exp'] - payload['iat']} s")
        print("JWKS:", json.dumps(ba.fetch_jwks(), indent=2))
        print(f"session_token: {_shape(result['session_token'])}")
        print(f"bearer_token:  {_shape(result['bearer_token'])}")
        print(
            "bearer_token starts with session_token + '.':",
            result["bearer_token"].startswith(result["session_token"] + "."),
        )
        again = ba.sign_in(email, "smoke-password-123")
        print(
            f"sign_in: same user {again['user_id'] == result['user_id']}, new session "
            f"{again['session_token'] != result['session_token']}"
        )
    print(f"stopped ({time.monotonic() - t2:.1f}s with server up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
