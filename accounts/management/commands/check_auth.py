"""`manage.py check_auth`: which kinds of token this deployment accepts, and from where."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.jwks import JWKSUnavailable, fetch_jwks, usable_keys
from accounts.tokens import better_auth_token_backend


class Command(BaseCommand):
    help = (
        "Show which token modes are on (shared secret, JWKS), and fetch the JWKS to show "
        "its keys. Exits non-zero when a configured JWKS cannot be fetched or holds no key "
        "the allowed algorithms can use."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        backend = better_auth_token_backend()
        if backend.signing_key:
            self.stdout.write("Shared secret (HS256): on (BETTER_AUTH_SECRET is set)")
        else:
            self.stdout.write("Shared secret (HS256): off (BETTER_AUTH_SECRET is not set)")
        self.stdout.write(f"Issuer checked: {backend.issuer or 'no (JWT_ISSUER not set)'}")
        self.stdout.write(f"Audience checked: {backend.audience or 'no (JWT_AUDIENCE not set)'}")
        self.stdout.write(f"Leeway: {backend.get_leeway().total_seconds():g} s")
        if not backend.jwks_url:
            self.stdout.write("JWKS: off (neither BETTER_AUTH_JWKS_URL nor BETTER_AUTH_URL is set)")
            return
        self.stdout.write(f"JWKS: {backend.jwks_url}")
        self.stdout.write(f"Algorithms allowed: {', '.join(sorted(backend.jwks_algorithms))}")
        try:
            keys = usable_keys(fetch_jwks(backend.jwks_url, settings.JWKS_FETCH_TIMEOUT_SECONDS))
        except JWKSUnavailable as exc:
            raise CommandError(f"The JWKS at {backend.jwks_url} is unusable: {exc}") from exc
        self.stdout.write(f"JWKS reachable: {len(keys)} key(s)")
        accepted = 0
        for kid, key in keys.items():
            algorithm = key.get("alg", "(no alg)")
            allowed = algorithm in backend.jwks_algorithms or "alg" not in key
            accepted += allowed
            note = "" if allowed else "  (algorithm not allowed: tokens with it are refused)"
            self.stdout.write(f"  kid={kid} alg={algorithm} kty={key.get('kty')}{note}")
        if not accepted:
            raise CommandError("No key in the JWKS uses an allowed algorithm (JWT_ALGORITHMS).")
