import anyio
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from mcp.server.stdio import stdio_server

from accounts.models import User
from agents.server import build_server


class Command(BaseCommand):
    help = (
        "Serve the MCP tools over stdin/stdout, acting as one user (for a desktop agent or an "
        "editor that starts its MCP servers as commands). Logs go to stderr."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="The id of the user the tools act as.")

    def handle(self, *args, user: str, **options) -> None:
        """Serves until stdin closes. An unknown or deactivated user id is an error (exit 1)
        before anything is served. Every tool call counts against that user's API rate
        limit; past it, the call's result is the API's 429 body as an error."""
        found = User.objects.filter(pk=user, is_active=True).first()
        if found is None:
            raise CommandError(f"There is no active user with the id {user!r}.")
        # The tools run in Django's thread for synchronous code, with connections of its own.
        connections.close_all()
        server = build_server(user=found)

        async def serve() -> None:
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())

        anyio.run(serve)
