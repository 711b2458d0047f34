from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import User
from sync.models import EventTicket, ticket_digest


class TicketAuthentication(BaseAuthentication):
    """`?ticket=<t>` on the event stream: a single-use pass from `POST …/events/ticket`.

    Contract: without the parameter, other authentication goes on (the Bearer header); an
    unknown, used or expired ticket is a 401. The ticket is used up as it is checked, so of
    two requests holding it only one gets in.
    """

    def authenticate(self, request: Request) -> tuple[User, EventTicket] | None:
        ticket = request.query_params.get("ticket")
        if ticket is None:
            return None
        with transaction.atomic():
            found = (
                EventTicket.objects.select_for_update()
                .select_related("user")
                .filter(digest=ticket_digest(ticket), expires_at__gt=timezone.now())
                .first()
            )
            if found is not None:
                found.delete()
        if found is None or not found.user.is_active:
            raise AuthenticationFailed(
                "This ticket is unknown, used or expired: ask for a new one."
            )
        return found.user, found

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class TicketScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes tickets: a query parameter, on the stream only."""

    target_class = TicketAuthentication
    name = "eventTicket"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "query", "name": "ticket"}
