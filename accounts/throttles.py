from typing import TYPE_CHECKING

from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:  # DRF imports this module while building APIView itself.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class PerUserRateThrottle(SimpleRateThrottle):
    """Limits each authenticated user's API calls (rate `tasks` in settings; API.md §7).

    Counts live in the shared cache, so the limit holds across workers. Anonymous requests
    are not counted here: they are either refused (401) or are the auth routes, which have
    per-address limits of their own.

    A fixed window counted with one atomic increment, rather than DRF's sliding window: that
    one reads and rewrites the list of every request time in the window, which costs more the
    higher the rate and can lose counts between workers. While the cache is down, requests
    are let through.
    """

    scope = "tasks"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.seconds_left = (window + 1) * self.duration - now
        count = count_in_window(f"{key}:{window}", self.duration)
        return count is None or count <= self.num_requests

    def wait(self) -> float:
        return self.seconds_left


def count_in_window(key: str, window_seconds: int) -> int | None:
    """Add one to the window's counter and return it; None when the cache does not answer."""
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request
        if cache.add(key, 1, window_seconds + 1):
            return 1
        try:
            return cache.incr(key)
        except ValueError:
            return None
