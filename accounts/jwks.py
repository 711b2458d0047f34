"""The public keys of Better Auth's jwt() plugin: fetched from its JWKS, cached, rotated.

Each worker keeps the key set in its own memory, so verifying a token costs no I/O. Behind
that copy sits the shared cache (Redis in production): a key set one worker fetched serves
every worker. A token whose `kid` is not in the set triggers a re-fetch, at most one per
minute across all workers (a `cache.add` marker), so made-up key ids cannot hammer the
JWKS endpoint. Fetches are bounded by `JWKS_FETCH_TIMEOUT_SECONDS`; when the endpoint is
down or slow, the keys already known keep working.

Why not PyJWT's `PyJWKClient`: it keeps its key set in one process's memory only, so every
worker fetches on its own and a fetch made by one serves no other; its re-fetch cooldown for
an unknown `kid` is per process too (N workers, N fetches a minute for made-up key ids); and
once its cached set has expired, a failed fetch raises instead of serving the keys it had,
so an identity-provider outage would fail every token after `lifespan` seconds. Each of
those is a guarantee this module gives (and its tests check); `PyJWK`, the part of PyJWT
that parses and checks keys, is used.
"""

import hashlib
import json
import logging
import time
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any

from django.conf import settings
from django.core.cache import cache
from jwt import PyJWK, PyJWTError

logger = logging.getLogger(__name__)

REFETCH_INTERVAL_SECONDS = 60
# While the endpoint is down, known keys keep working this long after their last fetch.
STALE_KEYS_KEPT_SECONDS = 24 * 3600
MAX_JWKS_BYTES = 512 * 1024

# The key type (and curves) each algorithm needs: a token's `alg` must agree with its key.
KEY_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    **{f"{family}{bits}": ("RSA", None) for family in ("RS", "PS") for bits in (256, 384, 512)},
}


class JWKSUnavailable(Exception):
    """The JWKS endpoint did not answer with a usable key set."""


@dataclass
class KeySet:
    """The usable signing keys of one JWKS document, by `kid`, and when it was fetched."""

    document: dict[str, Any]
    fetched_at: float
    keys: dict[str, dict[str, Any]] = field(init=False)
    # When this worker next looks for a newer set while the keys it knows suffice.
    recheck_at: float = field(init=False)
    _prepared: dict[tuple[str, str], PyJWK | None] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = usable_keys(self.document)
        self.recheck_at = self.fetched_at + settings.JWKS_CACHE_TTL_SECONDS

    def __contains__(self, kid: str) -> bool:
        return kid in self.keys

    def key_for(self, kid: str, algorithm: str) -> PyJWK | None:
        """The key with this `kid`, if its type, curve and `alg` agree with `algorithm`."""
        if kid not in self.keys:
            # Not remembered: a forged token can name any kid, and memory must not grow.
            return None
        if (kid, algorithm) not in self._prepared:
            self._prepared[kid, algorithm] = prepare_key(self.keys.get(kid), algorithm)
        return self._prepared[kid, algorithm]


def usable_keys(document: Any) -> dict[str, dict[str, Any]]:
    """Signing keys PyJWT can load that carry a `kid`; anything else in the set is skipped."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JWKSUnavailable("the document has no 'keys' list")
    keys = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            PyJWK(entry)
        except PyJWTError:
            continue
        keys[entry["kid"]] = entry
    if not keys:
        raise JWKSUnavailable("the document holds no usable signing key")
    return keys


def prepare_key(entry: dict[str, Any] | None, algorithm: str) -> PyJWK | None:
    if entry is None or algorithm not in KEY_TYPES:
        return None
    key_type, curves = KEY_TYPES[algorithm]
    if entry.get("kty") != key_type or entry.get("alg", algorithm) != algorithm:
        return None
    if curves is not None and entry.get("crv") not in curves:
        return None
    try:
        return PyJWK(entry, algorithm)
    except PyJWTError:
        return None


def fetch_jwks(url: str, timeout: float) -> dict[str, Any]:
    """GET the JWKS document, giving up after `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = b""
            while chunk := response.read(64 * 1024):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JWKSUnavailable(f"the document is larger than {MAX_JWKS_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise JWKSUnavailable(f"no complete answer within {timeout} s")
        document = json.loads(body)
    except (OSError, HTTPException, ValueError) as exc:
        raise JWKSUnavailable(str(exc) or type(exc).__name__) from exc
    if not isinstance(document, dict):
        raise JWKSUnavailable("the document is not a JSON object")
    return document


def cache_key(url: str, purpose: str) -> str:
    return f"jwks:{purpose}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"


class KeySetCache:
    """Key sets by JWKS URL: this worker's copy first, then the shared cache, then a fetch."""

    def __init__(self) -> None:
        self._local: dict[str, KeySet] = {}
        self._next_fetch_at: dict[str, float] = {}

    def signing_key(self, url: str, kid: str, algorithm: str) -> PyJWK | None:
        """The key to verify a token with this header, or None when there is none."""
        key_set = self.key_set(url, kid)
        return key_set.key_for(kid, algorithm) if key_set else None

    def key_set(self, url: str, kid: str) -> KeySet | None:
        """The newest key set available, re-fetched when it is old or lacks `kid`."""
        local = self._local.get(url)
        if local is not None and kid in local and time.time() < local.recheck_at:
            return local
        local = self.adopt_newer_shared(url, local)
        if local is not None and kid in local and self.is_fresh(local):
            return local
        if self.may_fetch(url, first=local is None):
            local = self.refresh(url) or local
        if local is None or time.time() - local.fetched_at > STALE_KEYS_KEPT_SECONDS:
            return None
        if not self.is_fresh(local):
            # Serve the stale keys without asking the shared cache on every request.
            local.recheck_at = time.time() + REFETCH_INTERVAL_SECONDS
        return local

    def is_fresh(self, key_set: KeySet) -> bool:
        return time.time() - key_set.fetched_at < settings.JWKS_CACHE_TTL_SECONDS

    def may_fetch(self, url: str, *, first: bool) -> bool:
        """Whether this request may fetch: a re-fetch at most once a minute across workers.

        A worker that holds no key set at all fetches without the shared marker (another
        worker's fetch may just have failed, and this one must still be able to start),
        but no more than once a minute after a failure.
        """
        if time.monotonic() < self._next_fetch_at.get(url, 0.0):
            return False
        if first:
            return True
        if not cache.add(cache_key(url, "refetch"), 1, REFETCH_INTERVAL_SECONDS):
            return False
        self.hold_off(url)
        return True

    def hold_off(self, url: str) -> None:
        # This worker's own limit, which still holds when the shared cache is down.
        self._next_fetch_at[url] = time.monotonic() + REFETCH_INTERVAL_SECONDS

    def refresh(self, url: str) -> KeySet | None:
        """Fetch the key set now and share it; None (and a warning) when that fails."""
        try:
            key_set = KeySet(fetch_jwks(url, settings.JWKS_FETCH_TIMEOUT_SECONDS), time.time())
        except JWKSUnavailable as exc:
            self.hold_off(url)
            logger.warning("Could not fetch the JWKS at %s: %s", url, exc)
            return None
        entry = {"document": key_set.document, "fetched_at": key_set.fetched_at}
        cache.set(cache_key(url, "keys"), entry, STALE_KEYS_KEPT_SECONDS)
        self._local[url] = key_set
        return key_set

    def adopt_newer_shared(self, url: str, local: KeySet | None) -> KeySet | None:
        """The shared cache's key set when another worker fetched one newer than ours."""
        entry = cache.get(cache_key(url, "keys"))
        try:
            fetched_at = float(entry["fetched_at"])
            if local is not None and fetched_at <= local.fetched_at:
                return local
            self._local[url] = KeySet(entry["document"], fetched_at)
        except (KeyError, TypeError, ValueError, JWKSUnavailable):
            return local
        return self._local[url]

    def forget(self, url: str) -> None:
        """Drop every cached trace of this JWKS (for tests and `check_auth`)."""
        self._local.pop(url, None)
        self._next_fetch_at.pop(url, None)
        cache.delete_many([cache_key(url, "keys"), cache_key(url, "refetch")])


key_sets = KeySetCache()
