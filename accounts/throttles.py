"""Rate limits counted in the shared cache with one atomic increment per request; on a cached
read, the increment and the read of the cache entry share one Redis round trip."""

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.throttling import SimpleRateThrottle

from core.cache import count_and_get

if TYPE_CHECKING:  # DRF imports this module while building APIView itself.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class FixedWindowRateThrottle(SimpleRateThrottle):
    """A fixed window counted with one atomic increment, rather than DRF's sliding window.

    DRF's reads the list of every request time in the window and writes it back: that costs
    more the higher the rate, and concurrent requests (other threads, other workers) read the
    same list and overwrite each other's entries, so 100 requests at once got 14-17 through
    a limit of 10. An increment cannot lose a count. Counts live in the shared cache, so the
    limit holds across workers; while the cache is down, requests are let through.
    """

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.seconds_left = (window + 1) * self.duration - now
        count = self.count(f"{key}:{window}", request, view)
        return count is None or count <= self.num_requests

    def count(self, counter: str, request: "Request", view: "APIView | None") -> int | None:
        """Add this request to the window's counter, which outlives the window by a second,
        and return the count (None when the cache does not answer)."""
        return count_and_get(counter, self.duration + 1)[0]

    def wait(self) -> float:
        return self.seconds_left


class PerUserRateThrottle(FixedWindowRateThrottle):
    """Limits each authenticated user's API calls (rate `tasks` in settings).

    Anonymous requests are not counted here: they are either refused (401) or are the auth
    routes, which have per-address limits of their own.
    """

    scope = "tasks"

    def count(self, counter: str, request: "Request", view: "APIView | None") -> int | None:
        """A view whose answer may come from the cache (`read_cache_key()`, tasks/caching.py)
        gets its entry read in the count's round trip, left in `request.prefetched_read` as
        (key, value or None)."""
        read_key = getattr(view, "read_cache_key", lambda: None)()
        count, value = count_and_get(counter, self.duration + 1, read_key)
        if read_key is not None and count is not None:
            request.prefetched_read = (read_key, value)
        return count

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class PerAddressRateThrottle(FixedWindowRateThrottle):
    """Limits the public auth routes per client address (rate `auth` in settings).

    The address is the peer's, or the one `NUM_PROXIES` trusted proxies put in
    `X-Forwarded-For` (DRF's `get_ident`), so a client cannot pick a fresh one per request.
    """

    scope = "auth"

    def get_cache_key(self, request: "Request", view: "APIView") -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AdminLoginRateThrottle(PerAddressRateThrottle):
    """Sign-in attempts at /admin/login/ per client address (rate `admin_login`)."""

    scope = "admin_login"


def throttle_sign_in_attempts(
    login_view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Wraps the admin's login view: each POST draws on `AdminLoginRateThrottle`'s budget.

    Past the rate, the form is not even checked (so the right password does not help
    either) and the answer is a 429 with `Retry-After`. Showing the form stays free.
    """

    @functools.wraps(login_view)
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST":
            throttle = AdminLoginRateThrottle()
            if not throttle.allow_request(request, None):
                response = JsonResponse(
                    {"detail": "Too many sign-in attempts from this address; try again later."},
                    status=429,
                )
                response["Retry-After"] = str(max(1, math.ceil(throttle.wait())))
                return response
        return login_view(request, *args, **kwargs)

    return view
