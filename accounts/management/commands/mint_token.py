from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import USER_ID_RE
from core.durations import duration


class Command(BaseCommand):
    help = (
        "Print an access token for USER_ID that the API accepts (HS256, the same key as "
        "Better Auth), for curl and Swagger UI. The user is created on the token's first use. "
        "Refuses when DEBUG is off unless --force is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id", help="the token's `sub`: an existing or new user id")
        parser.add_argument("--email", default="", help="`email` claim, used if the user is new")
        parser.add_argument("--name", default="", help="`name` claim, used if the user is new")
        parser.add_argument(
            "--ttl",
            type=duration,
            default=timedelta(hours=1),
            help="how long the token lives: 90m, 12h, 30d, 2w (default 1h)",
        )
        parser.add_argument(
            "--force", action="store_true", help="mint even though DEBUG is off (production)"
        )

    def handle(self, *args, user_id: str, email: str, name: str, ttl: timedelta, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off, so this looks like a production deployment, where a minted "
                "token lets whoever holds it act as that user. Pass --force if you mean it."
            )
        if not settings.BETTER_AUTH_SECRET:
            raise CommandError(
                "BETTER_AUTH_SECRET is not set (only JWKS tokens are accepted), so there is no "
                "key to sign a token with. Get one from Better Auth instead."
            )
        if not USER_ID_RE.fullmatch(user_id):
            raise CommandError(f"{user_id!r} is not a user id: 1-128 letters, digits, '-' or '_'.")
        token = AccessToken()
        token.set_exp(lifetime=ttl)
        token["sub"] = user_id
        if email:
            token["email"] = email
        if name:
            token["name"] = name
        self.stdout.write(str(token))
