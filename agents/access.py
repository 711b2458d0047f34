"""Who calls the tools, and how often: the API's authentication and its per-user rate limit,
applied to requests that never pass through Django's views.

Both answers are the API's own: the same authentication class verifies the token (every kind
it accepts), the same throttle counts the call in the same per-user window (one budget for
REST requests and tool calls together), and the same exception handler shapes the refusal.
"""

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from rest_framework import exceptions

from accounts.authentication import BearerTokenAuthentication
from accounts.models import User
from accounts.throttles import PerUserRateThrottle
from core.errors import api_exception_handler


@dataclass(frozen=True)
class Refusal:
    """An error answer as the API gives it: status, JSON body and headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class ToolAccess:
    """Stands for the view in the API's exception handler (its log lines name it)."""


def refusal(error: Exception) -> Refusal:
    response = api_exception_handler(error, {"view": ToolAccess()})
    return Refusal(response.status_code, response.data, dict(response.items()))


def authenticate(authorization: str | None) -> User | Refusal:
    """The user of an `Authorization: Bearer` header, or the API's 401 for it (also for no
    header at all), with `WWW-Authenticate: Bearer`; the API's 503 when the database that
    knows the users is out of reach."""
    authentication = BearerTokenAuthentication()
    request = HttpRequest()
    if authorization is not None:
        request.META["HTTP_AUTHORIZATION"] = authorization
    try:
        found = authentication.authenticate(request)
        if found is None:
            raise exceptions.NotAuthenticated()
    except (exceptions.AuthenticationFailed, exceptions.NotAuthenticated) as error:
        answer = refusal(error)
        answer.headers["WWW-Authenticate"] = authentication.authenticate_header(request)
        return answer
    except Exception as error:  # noqa: BLE001 - e.g. the database is down: the API's 503
        return refusal(error)
    return found[0]


def throttle(user: User, calls: int = 1) -> Refusal | None:
    """Counts `calls` tool calls against the user's API rate limit; the API's 429 (with
    `Retry-After`) once it is spent, else None."""
    limit = PerUserRateThrottle()
    request = HttpRequest()
    request.user = user
    for _ in range(calls):
        if not limit.allow_request(request, None):
            return refusal(exceptions.Throttled(limit.wait()))
    return None
