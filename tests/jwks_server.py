"""A JWKS served over real HTTP on loopback, and tokens signed exactly as Better Auth's jwt()
plugin signs them: header `{"alg", "kid"}` (no `typ`), the user row as claims plus `sub`,
`iat`, `exp` (15 minutes), `iss` and `aud` (both Better Auth's base URL).

Used through the `jwks_server` and `signing_keys` fixtures in tests/conftest.py.
"""

import json
import secrets
import string
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

JWKS_PATH = "/api/auth/jwks"


def better_auth_kid() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


@dataclass
class SigningKey:
    """A private key with its `kid` and algorithm, as Better Auth keeps one."""

    algorithm: str
    private_key: Any
    kid: str

    @classmethod
    def generate(cls, algorithm: str) -> "SigningKey":
        if algorithm == "EdDSA":
            private_key = ed25519.Ed25519PrivateKey.generate()
        elif algorithm == "ES256":
            private_key = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == "ES384":
            private_key = ec.generate_private_key(ec.SECP384R1())
        elif algorithm == "ES512":
            private_key = ec.generate_private_key(ec.SECP521R1())
        else:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(algorithm, private_key, better_auth_kid())

    def with_kid(self, kid: str) -> "SigningKey":
        return SigningKey(self.algorithm, self.private_key, kid)

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        """The public key as Better Auth's JWKS lists it: no `use`, `alg` and `kid` set."""
        public = get_default_algorithms()[self.algorithm].to_jwk(self.public_key, as_dict=True)
        public.pop("use", None)
        return {"alg": self.algorithm, **public, "kid": self.kid}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """A compact JWS of `claims`; `header` adds to or overrides `{"alg", "kid"}`."""
        headers = {"typ": None, "kid": self.kid, **header}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)


def better_auth_claims(user_id: str, issuer: str, **overrides: Any) -> dict[str, Any]:
    """The claims of a token from Better Auth's jwt() plugin with its default options."""
    now = int(time.time())
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "iat": now,
        "name": "Ada Lovelace",
        "email": f"{user_id.lower()}@example.com",
        "emailVerified": False,
        "image": None,
        "createdAt": created,
        "updatedAt": created,
        "id": user_id,
        "sub": user_id,
        "exp": now + 900,
        "iss": issuer,
        "aud": issuer,
        **overrides,
    }


class JWKSServer:
    """Serves `document` at `url`, counting requests; can answer slowly or with an error."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.body: bytes | None = None  # when set, served instead of `document`
        self.delay = 0.0
        self.requests = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        # A client that gave up on a slow answer is expected here, not worth a traceback.
        self._httpd.handle_error = lambda request, client_address: None
        # A short poll interval makes stop() quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.running = False

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}{JWKS_PATH}"

    def publish(self, *keys: SigningKey) -> None:
        self.document = {"keys": [key.jwk() for key in keys]}

    def start(self) -> "JWKSServer":
        self._thread.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stops answering: connections to `url` are refused from now on."""
        if self.running:
            self._httpd.shutdown()
            self._httpd.server_close()
            self.running = False

    def __enter__(self) -> "JWKSServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.delay:
                    time.sleep(server.delay)
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                body = server.body if server.body is not None else json.dumps(server.document)
                body = body.encode() if isinstance(body, str) else body
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
