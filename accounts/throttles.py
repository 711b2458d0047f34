from typing import TYPE_CHECKING

from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:  # DRF imports this module while building APIView itself.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class PerUserRateThrottle(SimpleRateThrottle):
    """Limits each authenticated user's API calls (rate `tasks` in settings; API.md §7).

    Counts live in the shared cache, so the limit holds across workers. Anonymous requests
    are not counted here: they are either refused (401) or are the auth routes, which have
    per-address limits of their own.
    """

    scope = "tasks"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
